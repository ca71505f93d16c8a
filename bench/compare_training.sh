#!/usr/bin/env bash
# Training throughput side by side: one SGD-momentum step of ResNet50 (forward in training mode,
# cross-entropy, backward, update) at 224x224, Sightline `bench --job train` vs Keras on TF
# `train_on_batch` (../shared/bench/peer_train_keras.py), same machine, same run.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${SIGHTLINE_PEERS:-../shared/bench}
batch=${1:-16}
.build/release/sightline bench --arch resnet50 --batch "$batch" --job train --repeats 3 --warmup 1
KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 ${PYTHON:-python3} "$peers/peer_train_keras.py" "$batch" 2>/dev/null | tail -n 1
