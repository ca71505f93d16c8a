#!/usr/bin/env bash
# Side-by-side forward throughput: Sightline vs Keras 3 on TensorFlow (and ONNX Runtime when
# it is installed and ./resnet50.onnx / ./vgg16.onnx exist), alternating per configuration on
# the same machine in the same run. Prints one JSON line per measurement.
#
# Needs: a release build (swift build -c release), and for the peers
#   pip install tensorflow-cpu        (Keras 3 comes with it)
#   pip install onnxruntime torch torchvision && python3 ../shared/bench/export_onnx.py   (optional)
# Usage: bash bench/compare_peers.sh [archs] [batches]     e.g. bash bench/compare_peers.sh "resnet50 vgg16" "1 8"
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${SIGHTLINE_PEERS:-../shared/bench}
archs=${1:-"resnet50 vgg16"}
batches=${2:-"1 8"}
for arch in $archs; do
    for batch in $batches; do
        .build/release/sightline bench --arch "$arch" --batch "$batch" --repeats 5
        KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 ${PYTHON:-python3} "$peers/peer_keras.py" "$arch" "$batch" 2>/dev/null | tail -n 1
        if ${PYTHON:-python3} -c "import onnxruntime" 2>/dev/null && [ -f "./$arch.onnx" ]; then
            ${PYTHON:-python3} "$peers/peer_onnxruntime.py" "$arch" "$batch" 2>/dev/null | tail -n 1
        fi
    done
done
