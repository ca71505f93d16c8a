#!/usr/bin/env python3
"""Images in class folders and the features real Keras extracts from them.

    python3 Tests/Fixtures/make_extract_fixtures.py   (after make_weight_fixtures.py)

Writes Tests/Fixtures/extract/{apples,pears}/*.png: seeded random 32x32 RGB images (lossless and
already at the model's input size, so no resizing is involved), and expected.json with the
avg_pool features of Tests/Fixtures/weights/resnet50_keras3.h5 computed by Keras 3:
load_model, keras.applications.imagenet_utils.preprocess_input(mode="caffe"), then a Model
ending at avg_pool, for the images in sorted path order.
"""
import glob
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "extract")
rng = np.random.default_rng(11)
for cls, count in [("apples", 4), ("pears", 3)]:
    os.makedirs(os.path.join(OUT, cls), exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(os.path.join(OUT, cls, f"{cls}_{i}.png"))
paths = sorted(glob.glob(os.path.join(OUT, "*", "*.png")))
images = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths])
model = keras.models.load_model(os.path.join(HERE, "weights", "resnet50_keras3.h5"), compile=False)
features = keras.Model(model.inputs, model.get_layer("avg_pool").output)(
    keras.applications.imagenet_utils.preprocess_input(images, mode="caffe"), training=False)
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"paths": [os.path.relpath(p, OUT) for p in paths],
               "features": {"shape": list(features.shape), "data": [float(v) for v in np.asarray(features).reshape(-1)]}}, f)
print("wrote", OUT, len(paths), "images")
