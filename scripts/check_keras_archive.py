#!/usr/bin/env python3
"""Checks that `.keras` archives Sightline writes open in Keras 3 and give Keras's outputs.

    swift build && python3 scripts/check_keras_archive.py [--sightline .build/debug/sightline] [--full] [family ...]

For every Keras Applications family of Tests/Fixtures/make_zoo_fixtures.py (64x64 inputs, or
the family's full size with --full), builds the model in Keras 3 with the formula weights, saves
it as .keras, runs `sightline convert` to a new .keras archive, loads that with
`keras.saving.load_model` and compares its outputs with the original model's (tolerance 1e-5
of the output scale). Also tries the legacy .h5 Sightline writes from the same model in
Keras 3 (`load_model`); families with operator nodes (MobileNetV3) are written as tf.keras
`TFOpLambda` there, which Keras 3 cannot load from .h5, and are reported, not failed.
Needs `pip install keras tensorflow-cpu tf-keras`. Exit status 1 on any archive mismatch.
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Fixtures"))
import numpy as np
import keras
import make_zoo_fixtures as zoo

SIGHTLINE = sys.argv[sys.argv.index("--sightline") + 1] if "--sightline" in sys.argv else os.path.join(ROOT, ".build", "debug", "sightline")


def main():
    only = [a for a in sys.argv[1:] if not a.startswith("--") and a != SIGHTLINE]
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for name, build, scale, offset in zoo.keras3_families(None if "--full" in sys.argv else 64):
            if only and name not in only:
                continue
            keras.backend.clear_session()
            model = build()
            zoo.set_weights(model)
            x = zoo.formula_input((2,) + tuple(model.input_shape[1:]), scale, offset)
            want = np.asarray(model(x, training=False))
            source, archive, legacy = (os.path.join(scratch, f"{name}{suffix}") for suffix in (".keras", "_sightline.keras", "_sightline.h5"))
            model.save(source)
            for output in (archive, legacy):
                subprocess.run([SIGHTLINE, "convert", source, "-o", output], check=True, stdout=subprocess.DEVNULL)
            scale_ = max(np.abs(want).max(), 1e-6)
            got = np.asarray(keras.saving.load_model(archive, compile=False)(x, training=False))
            error = np.abs(got - want).max() / scale_
            ok = error <= 1e-5
            failures += not ok
            try:
                h5 = np.asarray(keras.saving.load_model(legacy, compile=False)(x, training=False))
                h5_note = f"legacy .h5 {np.abs(h5 - want).max() / scale_:.1e}"
            except Exception as e:  # reported, not failed: see the docstring
                h5_note = f"legacy .h5 not loadable in Keras 3 ({type(e).__name__})"
            print(f"{'ok  ' if ok else 'FAIL'} {name}: .keras relative error {error:.1e}; {h5_note}", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
