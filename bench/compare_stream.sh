#!/usr/bin/env bash
# Streamed fine-tuning vs the bare training step, side by side in one run on one machine:
# `sightline bench --job train` (one SGD-momentum step of ResNet50 on random pixels, the
# median of 3) against a phase-2 epoch of `sightline finetune` over real JPEGs (scikit-image's
# photos cropped and rescaled, ../shared/bench/make_jpeg_folder.py) decoded, resized and
# augmented by ImageBatchStream workers while the network trains. Same architecture (ResNet50,
# random weights, 224x224), same batch, SGD with momentum, alternating the two jobs.
# Prints one JSON line per run and the ratio streamed / bench per round.
# Needs: swift build -c release; pip install scikit-image pillow
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${SIGHTLINE_PEERS:-../shared/bench}
batch=${1:-16}
images=${2:-160}
rounds=${3:-2}
work=${WORK:-bench/out/stream}
bin=.build/release/sightline
mkdir -p "$work"
[ -d "$work/jpegs/photos" ] || ${PYTHON:-python3} "$peers/make_jpeg_folder.py" "$work/jpegs" "$images" >/dev/null
# Two class folders of symbolic links (fine-tuning needs classes; the labels do not matter here).
if [ ! -d "$work/data" ]; then
    mkdir -p "$work/data/a" "$work/data/b"
    i=0
    for f in "$work"/jpegs/photos/*.jpg; do
        ln -s "$(realpath "$f")" "$work/data/$([ $((i % 2)) -eq 0 ] && echo a || echo b)/$(basename "$f")"
        i=$((i + 1))
    done
fi
[ -f "$work/resnet50.h5" ] || $bin init --arch resnet50 -o "$work/resnet50.h5" >/dev/null
for round in $(seq "$rounds"); do
    bench=$($bin bench --arch resnet50 --batch "$batch" --job train --repeats 3 --warmup 1 | tail -n 1)
    echo "$bench"
    rm -f "$work"/tuned.h5*
    $bin finetune "$work/resnet50.h5" --data "$work/data" -o "$work/tuned.h5" --head-epochs 0 --epochs 1 --optimizer sgd \
        --validation-split 0 --batch "$batch" >/dev/null 2>&1
    python3 - "$work/tuned.h5.metrics.csv" "$bench" "$round" "$batch" <<'PY'
import csv, json, sys
row = list(csv.DictReader(open(sys.argv[1])))[-1]
bench = json.loads(sys.argv[2])
streamed = float(row["images_per_second"])
print(json.dumps({"tool": "sightline finetune (streamed epoch)", "round": int(sys.argv[3]), "batch": int(sys.argv[4]),
                  "img_per_s": streamed, "data_wait_fraction": float(row["data_wait_fraction"]),
                  "peak_resident_mib": int(row["peak_resident_mib"]),
                  "bench_train_img_per_s": bench.get("img_per_s"), "ratio": round(streamed / bench["img_per_s"], 3)}))
PY
done
