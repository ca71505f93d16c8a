#!/usr/bin/env python3
"""Pillow's bilinear resize on float ("F" mode) images, the reference for Sightline's Resize.

    pip install pillow && python3 Tests/Fixtures/make_resize_fixtures.py

A seeded random 3-channel 23×17 image is resized per channel with Image.BILINEAR (which
antialiases when shrinking) to several sizes; Tests/Fixtures/resize.json holds input and outputs.
"""
import json
import os

import numpy as np
from PIL import Image

rng = np.random.default_rng(5)
image = (rng.random((17, 23, 3)) * 255).astype(np.float32)
cases = []
for height, width in [(8, 11), (5, 5), (40, 31), (17, 9), (3, 50)]:
    channels = [np.asarray(Image.fromarray(image[:, :, k], mode="F").resize((width, height), Image.BILINEAR)) for k in range(3)]
    cases.append({"height": height, "width": width, "data": [float(v) for v in np.stack(channels, axis=-1).reshape(-1)]})
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resize.json")
with open(path, "w") as f:
    json.dump({"input": {"shape": list(image.shape), "data": [float(v) for v in image.reshape(-1)]}, "cases": cases}, f, separators=(",", ":"))
print("wrote", path)
