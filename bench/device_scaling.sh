#!/usr/bin/env bash
# Sightline against ONNX Runtime on a machine without a Swift toolchain (the device tool's
# 16-core Xeon), tool and peer alternating per configuration, JSON lines on standard output.
# Here: `swift build -c release`, then `bash bench/device_scaling.sh bundle` packs the binary, its
# resources and its shared libraries (not libc/libm) with ../shared/bench/make_jpeg_folder.py and
# peer_train_torch.py into .devicebundle/ (carry it). There, each step unpacks the bundle once and runs:
#   threads [T...]   ResNet50 batch 32 at each thread count (default 16 2 8 4), VGG16 batch 32 at
#                    16 threads, each against ORT at the same count
#   twocore [ROUNDS] pinned to cores 0-1 (taskset), 2 threads: ResNet50 and VGG16 at batch 1 and
#                    8 against ORT, ROUNDS rounds (default 3)
#   extract [N]      N JPEGs (default 200; scikit-image photos) through `sightline extract`
#                    (ResNet50, batch 8; bench/extract_rate.py) against `bench --batch 8`, on 2
#                    pinned cores and on 16
#   layers           per layer kind, ResNet50 batch 8, 1 and 2 threads (`bench --profile`)
#   bf16             `--precision bf16` against fp32: ResNet50 b8 on 2 cores, b32 and VGG16 b32 on 16
#   train            one SGD-momentum step of ResNet50 against PyTorch's (../shared/bench/peer_train_torch.py
#                    at the same thread count): batch 16 on 2 pinned cores, batch 32 on 16
# ORT runs torchvision's ResNet50 v1.5 / VGG16 (random weights) exported here by
# bench/peer_onnxruntime_threads.py; Sightline the Keras architectures (random weights).
# Usage: bash bench/device_scaling.sh bundle | threads [T...] | twocore [ROUNDS] | extract [N] | layers | bf16 | train
set -uo pipefail
cd "$(dirname "$0")/.."
step=${1:-threads}
shift || true
if [ "$step" = bundle ]; then
    rm -rf /tmp/slbundle && mkdir -p /tmp/slbundle/sl/lib .devicebundle
    cp .build/release/sightline /tmp/slbundle/sl/
    cp -r .build/release/*.resources /tmp/slbundle/sl/
    for lib in $(ldd .build/release/sightline | awk '{print $3}' | grep /); do
        case $(basename "$lib") in libc.so* | libm.so* | libpthread* | libdl.so* | librt.so* | ld-linux*) ;;
        *) cp -L "$lib" /tmp/slbundle/sl/lib/ ;; esac
    done
    tar cf - -C /tmp/slbundle sl | xz -T0 -6 >.devicebundle/sl.tar.xz
    cp "${SIGHTLINE_PEERS:-../shared/bench}/make_jpeg_folder.py" "${SIGHTLINE_PEERS:-../shared/bench}/peer_train_torch.py" .devicebundle/
    exit
fi
export PYTHONUNBUFFERED=1
[ -x /tmp/slrun/sl/sightline ] || { mkdir -p /tmp/slrun && tar xJf .devicebundle/sl.tar.xz -C /tmp/slrun; }
sl() { LD_LIBRARY_PATH=/tmp/slrun/sl/lib timeout 120 /tmp/slrun/sl/sightline "$@"; }
ort() { timeout 120 python3 bench/peer_onnxruntime_threads.py "$@"; }
# The same, pinned to two cores.
sl2() { LD_LIBRARY_PATH=/tmp/slrun/sl/lib taskset -c 0,1 timeout 120 /tmp/slrun/sl/sightline "$@"; }
ort2() { taskset -c 0,1 timeout 120 python3 bench/peer_onnxruntime_threads.py "$@"; }
[ -f resnet50.onnx ] || ort resnet50 1 1 1 >/dev/null
case $step in
threads)
    for t in ${*:-16 2 8 4}; do
        sl bench --arch resnet50 --batch 32 --repeats 3 --threads "$t"
        ort resnet50 32 "$t" 3
    done
    [ -f vgg16.onnx ] || ort vgg16 1 1 1 >/dev/null
    sl bench --arch vgg16 --batch 32 --repeats 3 --threads 16
    ort vgg16 32 16 3
    ;;
twocore)
    [ -f vgg16.onnx ] || ort vgg16 1 1 1 >/dev/null
    for round in $(seq "${1:-3}"); do
        for arch in resnet50 vgg16; do
            for batch in 1 8; do
                sl2 bench --arch "$arch" --batch "$batch" --repeats 5 --threads 2
                ort2 "$arch" "$batch" 2 5
            done
        done
    done
    ;;
extract)
    images=${1:-200}
    [ -d /tmp/jpegs-$images ] || python3 .devicebundle/make_jpeg_folder.py /tmp/jpegs-$images "$images" >/dev/null
    [ -f /tmp/r50.h5 ] || sl init --arch resnet50 -o /tmp/r50.h5 >/dev/null
    for cores in 2 16; do
        run=sl; [ "$cores" = 2 ] && run=sl2
        rm -f /tmp/features.h5*
        start=$(date +%s.%N)
        $run extract /tmp/r50.h5 /tmp/jpegs-$images -o /tmp/features.h5 --batch 8 2>&1 >/dev/null |
            while IFS= read -r line; do echo "$(date +%s.%N) $line"; done >/tmp/progress.txt
        end=$(date +%s.%N)
        forward=$($run bench --arch resnet50 --batch 8 --repeats 5 --threads "$cores" | tail -n 1)
        python3 bench/extract_rate.py "$start" "$end" /tmp/progress.txt "$forward" "cores=$cores"
    done
    ;;
layers)
    for t in 1 2 1 2; do echo "# threads $t" >&2; sl bench --arch resnet50 --batch 8 --repeats 3 --threads "$t" --profile; done
    ;;
bf16)
    for precision in fp32 bf16; do
        sl2 bench --arch resnet50 --batch 8 --repeats 5 --threads 2 --precision $precision
        sl bench --arch resnet50,vgg16 --batch 32 --repeats 3 --threads 16 --precision $precision
    done
    ;;
train)
    sed 's/set_num_threads(2)/set_num_threads(16)/' .devicebundle/peer_train_torch.py >/tmp/peer_train_16.py
    for round in 1 2; do
        sl2 bench --arch resnet50 --batch 16 --job train --repeats 3 --threads 2
        taskset -c 0,1 timeout 300 python3 .devicebundle/peer_train_torch.py 16
        sl bench --arch resnet50 --batch 32 --job train --repeats 3 --threads 16
        timeout 300 python3 /tmp/peer_train_16.py 32
    done
    ;;
esac
