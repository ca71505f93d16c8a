#!/usr/bin/env python3
"""Checks that models Sightline writes load in real Keras and give the same outputs.

    swift build && python3 scripts/check_keras_roundtrip.py [--sightline .build/debug/sightline]

For each weight fixture (Tests/Fixtures/weights, made by make_weight_fixtures.py), runs
`sightline convert` to a full-model .h5 and a weights-only .h5, then in Keras 3 and in tf_keras
(Keras 2) loads the full model with `load_model`, loads the weights-only file with
`load_weights` into a fresh copy of that architecture, and compares both models' outputs on
the fixture input with the outputs Keras computed on the original file (tolerance 1e-4 of the
output scale). Needs `pip install tensorflow-cpu tf_keras`. Exit status 1 on any mismatch.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras
import tf_keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "weights")
SIGHTLINE = sys.argv[sys.argv.index("--sightline") + 1] if "--sightline" in sys.argv else os.path.join(ROOT, ".build", "debug", "sightline")
CASES = [  # fixture file, expected outputs, output layer, input size
    ("vgg16_keras1.h5", "vgg16_expected.json", "predictions", 32),
    ("vgg16_keras3.weights.h5", "vgg16_expected.json", "predictions", 32),
    ("resnet50_keras3.h5", "resnet50_expected.json", "predictions", 32),
    ("resnet50.keras", "resnet50_expected.json", "predictions", 32),
    ("resnet50_legacy_keras1.h5", "resnet50_legacy_expected.json", "fc1000", 32),
    ("resnet50_nested_keras2.h5", "resnet50_nested_expected.json", "head", 32),
    ("sequential_keras2_model.h5", "sequential_expected.json", "probabilities", 12),
]


def tensor(entry):
    return np.array(entry["data"], dtype=np.float32).reshape(entry["shape"])


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for source, expected_file, output, size in CASES:
            with open(os.path.join(FIXTURES, expected_file)) as f:
                expected = json.load(f)
            x, want = tensor(expected["input"]), tensor(expected["outputs"][output])
            full = os.path.join(scratch, source.split(".")[0] + "_full.h5")
            weights = os.path.join(scratch, source.split(".")[0] + "_weights.h5")
            for path, extra in [(full, []), (weights, ["--weights-only"])]:
                subprocess.run([SIGHTLINE, "convert", os.path.join(FIXTURES, source), "-o", path, "--input-size", str(size)] + extra,
                               check=True, stdout=subprocess.DEVNULL)
            for name, K in [("keras " + keras.__version__, keras), ("tf_keras " + tf_keras.__version__, tf_keras)]:
                model = K.models.load_model(full, compile=False)
                fresh = K.models.clone_model(model)
                fresh.load_weights(weights)
                for how, m in [("load_model", model), ("load_weights", fresh)]:
                    got = np.asarray(m(x, training=False))
                    error = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-3))
                    ok = got.shape == want.shape and error <= 1e-4
                    failures += 0 if ok else 1
                    print(f"{'ok  ' if ok else 'FAIL'} {source:30} {name:16} {how:12} max |diff| / scale = {error:.2e}")
        # A model fine-tuned by Sightline: Keras's load_model gives the same predictions.
        tuned = os.path.join(scratch, "finetuned.h5")
        subprocess.run([SIGHTLINE, "finetune", os.path.join(FIXTURES, "resnet50_keras3.h5"), "--data", os.path.join(ROOT, "Tests", "Fixtures", "extract"),
                        "-o", tuned, "--head-epochs", "1", "--epochs", "1", "--batch", "4"], check=True, stdout=subprocess.DEVNULL)
        images = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(ROOT, "Tests", "Fixtures", "extract")) for f in fs if f.endswith(".png"))
        rows = json.loads(subprocess.run([SIGHTLINE, "predict", tuned, *images, "--json", "--top", "2"], check=True, capture_output=True, text=True).stdout)
        from PIL import Image
        for name, K in [("keras " + keras.__version__, keras), ("tf_keras " + tf_keras.__version__, tf_keras)]:
            model = K.models.load_model(tuned, compile=False)
            worst, same = 0.0, True
            for row in rows:
                x = np.asarray(Image.open(row["path"]).convert("RGB"), dtype=np.float32)[None]
                p = np.asarray(model(keras.applications.imagenet_utils.preprocess_input(x, mode="caffe"), training=False))[0]
                same = same and int(np.argmax(p)) == row["top"][0]["class"]
                worst = max(worst, max(abs(float(p[t["class"]]) - t["probability"]) for t in row["top"]))
            ok = same and worst <= 1e-4
            failures += 0 if ok else 1
            print(f"{'ok  ' if ok else 'FAIL'} {'finetuned.h5':30} {name:16} load_model   same top class, max |probability diff| = {worst:.2e}")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
