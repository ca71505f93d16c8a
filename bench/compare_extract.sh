#!/usr/bin/env bash
# End-to-end feature extraction over a folder of real JPEGs (varied sizes, scikit-image's photos):
# Sightline `extract` vs Keras `image_dataset_from_directory` + `predict` (../shared/bench), same
# machine, same run. ResNet50 without top, average pooling, 224x224, random weights.
# Needs: swift build -c release; pip install tensorflow-cpu scikit-image pillow
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${SIGHTLINE_PEERS:-../shared/bench}
work=${1:-bench/out/extract}
mkdir -p "$work"
[ -d "$work/jpegs" ] || ${PYTHON:-python3} "$peers/make_jpeg_folder.py" "$work/jpegs" 200 >/dev/null
[ -f "$work/resnet50_notop.h5" ] || KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 ${PYTHON:-python3} -c "
import keras; keras.applications.ResNet50(weights=None, include_top=False, pooling='avg').save('$work/resnet50_notop.h5')" 2>/dev/null
# Per run: the whole command (process start, model load, plan, 200 images) and the rate after the
# first progress line past 0 images (the one-time start-up and first batch excluded, as the Keras
# peer excludes model construction and its warm-up run), then the forward pass alone at the same
# batch (`bench`), for the pipeline's share.
for run in 1 2 3; do
    rm -rf "$work/features.h5" "$work/features.h5.partial"
    start=$(date +%s.%N)
    .build/release/sightline extract "$work/resnet50_notop.h5" "$work/jpegs" -o "$work/features.h5" --batch 8 2>&1 >/dev/null |
        while IFS= read -r line; do echo "$(date +%s.%N) $line"; done >"$work/progress.txt"
    end=$(date +%s.%N)
    forward=$(.build/release/sightline bench --arch resnet50 --batch 8 --repeats 5 | tail -n 1)
    python3 bench/extract_rate.py "$start" "$end" "$work/progress.txt" "$forward" arch=resnet50 batch=8 "run=$run"
done
KERAS_BACKEND=tensorflow ${PYTHON:-python3} "$peers/peer_extract_keras.py" "$work/jpegs" 2>/dev/null | tail -n 1
