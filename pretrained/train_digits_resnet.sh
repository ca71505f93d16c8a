#!/usr/bin/env bash
# Trains the model Sightline ships, pretrained/digits_resnet.h5, with Sightline itself:
# a 1/8-width Keras-topology ResNet50 at 32x32 on scikit-learn's bundled handwritten digits
# (all ten classes, 1797 real 8x8 scans from the UCI ML repository, BSD-3-Clause via
# scikit-learn, upscaled to 32x32). The last scan of each digit is held out of training and
# written to pretrained/samples/ (the sample images the README's first command explains); the
# first ten training scans of each digit go to pretrained/digits-mini/ for the walkthroughs. Needs: swift build -c release; apt-get install python3-sklearn python3-pil.
set -euo pipefail
cd "$(dirname "$0")/.."
S="$PWD/.build/release/sightline"
work=${1:-/tmp/sightline-digits-all}
rm -rf "$work" pretrained/digits-mini && mkdir -p "$work"
/usr/bin/python3 - "$work" <<'PY'
import os, sys
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
out = sys.argv[1]
digits = load_digits()
last = {int(label): index for index, label in enumerate(digits.target)}
os.makedirs("pretrained/samples", exist_ok=True)
for index, (image, label) in enumerate(zip(digits.images, digits.target)):
    pixels = np.kron((image * 255 / 16).astype(np.uint8), np.ones((4, 4), dtype=np.uint8))
    picture = Image.fromarray(np.stack([pixels] * 3, axis=-1))
    if last[int(label)] == index:
        picture.save(os.path.join("pretrained", "samples", f"digit_{label}.png"))
        continue
    folder = os.path.join(out, "data", str(label))
    os.makedirs(folder, exist_ok=True)
    picture.save(os.path.join(folder, f"{index:04d}.png"))
    # pretrained/digits-mini: the first ten training scans of each digit, for the walkthroughs.
    mini = os.path.join("pretrained", "digits-mini", str(label))
    os.makedirs(mini, exist_ok=True)
    if len(os.listdir(mini)) < 10:
        picture.save(os.path.join(mini, f"{index:04d}.png"))
PY
$S init --arch resnet50 --width-divisor 8 --input-size 32 --classes 10 -o "$work/init.h5" --seed 7
$S finetune "$work/init.h5" --data "$work/data" -o "$work/digits_resnet.h5" --head-epochs 0 --epochs 60 --lr 2e-3 \
    --schedule cosine:2 --bn train --batch 32 --no-augmentation --validation-split 0.2 --seed 7 | tee "$work/training.log"
cp "$work/digits_resnet.h5" pretrained/digits_resnet.h5
