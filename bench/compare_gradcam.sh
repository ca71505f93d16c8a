#!/usr/bin/env bash
# Grad-CAM throughput side by side: Sightline (ResNet50, conv5_block3_out) vs the keras.io
# GradientTape method (../shared/bench/peer_gradcam_keras.py) and pytorch-grad-cam 1.5.7 on
# torchvision ResNet50 (../shared/bench/peer_gradcam_torch.py), same machine, same run.
# Needs: swift build -c release; pip install tensorflow-cpu; for pytorch-grad-cam:
#   apt-get install python3-torch python3-torchvision python3-matplotlib python3-sklearn python3-tqdm python3-opencv
#   and PGC_PATH=<folder holding pytorch_grad_cam/ (grad-cam sdist) and ttach/ (wheel)>.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${SIGHTLINE_PEERS:-../shared/bench}
for batch in ${1:-1 8}; do
    .build/release/sightline bench --arch resnet50 --batch "$batch" --job gradcam
    KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 ${PYTHON:-python3} "$peers/peer_gradcam_keras.py" "$batch" 2>/dev/null | tail -n 1
    if [ -n "${PGC_PATH:-}" ]; then PYTHONPATH="$PGC_PATH" /usr/bin/python3 "$peers/peer_gradcam_torch.py" "$batch" 2>/dev/null | tail -n 1; fi
done
