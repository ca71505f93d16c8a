#!/usr/bin/env python3
"""Full-size Keras Applications models from real Keras files give Keras's class probabilities.

    swift build -c release && python3 scripts/check_zoo_full.py [--sightline PATH] [family ...]

For each family: the model as Keras builds it (224×224, 299×299 for the Inception family, 331
never: NASNetMobile is 224), random weights from Keras's initialisers (seeded) and randomised
BatchNorm statistics and affine parameters, saved by Keras as `.keras` and `.h5` (Keras 3
families) or `.h5` (tf.keras families: RegNet and the tf.keras variants). Sightline reads each
file and returns the output layer's values for one real photo (scikit-image's coffee, raw 0…255
pixels, no preprocessing on either side) through `extract --layer OUTPUT --pool none`; they must
be within 1e-4 of the largest probability of Keras's, with the same top class. tf.keras's RegNet
outputs logits: they are compared as logits, relative to the largest magnitude. Exit status 1
on any mismatch.
Needs: pip install keras tensorflow-cpu tf-keras scikit-image pillow h5py
"""
import os, subprocess, sys, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import h5py
import numpy as np
import skimage.data
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
args = sys.argv[1:]
SIGHTLINE = os.path.join(ROOT, ".build", "release", "sightline")
if "--sightline" in args:
    SIGHTLINE = args[args.index("--sightline") + 1]
    del args[args.index("--sightline"):args.index("--sightline") + 2]


def families():
    import keras
    import tf_keras
    K, T = keras.applications, tf_keras.applications
    keras3 = ["MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "InceptionV3", "InceptionResNetV2",
              "Xception", "EfficientNetB0", "EfficientNetV2B0", "ResNet50V2", "NASNetMobile", "ConvNeXtTiny"]
    tfkeras = ["MobileNetV3Small", "DenseNet121", "EfficientNetB0", "RegNetX002", "RegNetY002"]
    return [("keras3_" + n.lower(), keras, getattr(K, n), (".keras", ".h5")) for n in keras3] + \
           [("tfkeras_" + n.lower(), tf_keras, getattr(T, n), (".h5",)) for n in tfkeras]


def randomise_batchnorm(model, rng):
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = (w for w in layer.get_weights()) if len(layer.get_weights()) == 4 else (None,) * 4
            if gamma is None:
                continue
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for name, module, build, suffixes in families():
            if args and name not in args:
                continue
            module.backend.clear_session()
            module.utils.set_random_seed(1)
            model = build(weights=None)
            randomise_batchnorm(model, np.random.default_rng(2))
            size = model.input_shape[1] or 224
            image = os.path.join(scratch, f"coffee{size}.png")
            Image.fromarray(skimage.data.coffee()).resize((size, size), Image.BILINEAR).save(image)
            x = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32)[None]
            want = np.asarray(model(x, training=False), dtype=np.float64)[0]
            logits = abs(want.sum() - 1) > 1e-3 or want.min() < 0
            for suffix in suffixes:
                path = os.path.join(scratch, name + suffix)
                model.save(path)
                features = os.path.join(scratch, "out.h5")
                run = subprocess.run([SIGHTLINE, "extract", path, image, "-o", features, "--layer", model.layers[-1].name, "--pool", "none",
                                      "--preprocessing", "none"], capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"FAIL {name}{suffix}: {run.stderr.strip()[:300]}", flush=True)
                    failures += 1
                    continue
                with h5py.File(features) as f:
                    got = f["features"][0].astype(np.float64)
                os.remove(features)
                error = np.abs(got - want).max() / np.abs(want).max()
                ok = error <= 1e-4 and got.argmax() == want.argmax()
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name}{suffix} {size}x{size}: relative error {error:.1e} "
                      f"(top class {want.argmax()} at {want.max():.4f}, Sightline {got.argmax()} at {got.max():.4f})", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
