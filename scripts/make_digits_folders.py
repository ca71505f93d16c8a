#!/usr/bin/env python3
"""Exports scikit-learn's bundled digits (1797 real 8x8 handwritten digits, UCI ML, shipped inside
the package; Debian: apt-get install python3-sklearn python3-pil) as 32x32 RGB PNG class folders
for Sightline's transfer-learning experiment:

    /usr/bin/python3 scripts/make_digits_folders.py DIR

DIR/source/0..4: every image of digits 0-4 (the task the backbone is pretrained on).
DIR/target/5..9: the first 60 images of each digit 5-9 (the small new task).
DIR/test/5..9: every other image of digits 5-9 (about 120 per digit), held out: no route trains on
them or chooses anything by them, so their accuracy measures a route ten times as finely as the
60-image validation split does.
Pixels: 0-16 intensities scaled to 0-255, 4x nearest-neighbour upscaling.
"""
import os
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

out = sys.argv[1] if len(sys.argv) > 1 else "digits"
digits = load_digits()
counts = {}
for image, label in zip(digits.images, digits.target):
    task = "source" if label < 5 else "target"
    counts[label] = counts.get(label, 0) + 1
    if task == "target" and counts[label] > 60:
        task = "test"
    folder = os.path.join(out, task, str(label))
    os.makedirs(folder, exist_ok=True)
    pixels = np.kron((image * 255 / 16).astype(np.uint8), np.ones((4, 4), dtype=np.uint8))
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(os.path.join(folder, f"{counts[label]:04d}.png"))
print(out, {task: sum(len(files) for _, _, files in os.walk(os.path.join(out, task))) for task in ["source", "target", "test"]})
