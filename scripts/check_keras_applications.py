#!/usr/bin/env python3
"""Checks weights-only files of the Keras Applications families against Keras, at full size.

    swift build && python3 scripts/check_keras_applications.py [--sightline PATH] [family ...]

For each family, tf.keras 2.x (`tf_keras`, what wrote the official `*_weights_tf_dim_ordering*`
files) builds the model with include_top=True and Keras's seeded random weights and saves them
with `save_weights` to a legacy weights-only .h5 (the official files' layout; they cannot be
downloaded here). Sightline then predicts with that file alone (architecture from
`--arch FAMILY`, and again recognised from the layer names), and the full 1000-class
probability vectors are compared with Keras `predict` on the same 224x224 (299x299) PNG with
the family's `preprocess_input`. Tolerance 1e-4 of the largest probability. Exit 1 on a mismatch.
Needs `pip install tensorflow-cpu tf-keras scikit-image pillow`.
"""
import h5py, json, os, subprocess, sys, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from PIL import Image
import skimage.data
import tf_keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
SIGHTLINE = os.path.join(ROOT, ".build", "debug", "sightline")
if "--sightline" in args:
    SIGHTLINE = args[args.index("--sightline") + 1]
    del args[args.index("--sightline"):args.index("--sightline") + 2]
A = tf_keras.applications
FAMILIES = {  # family: (constructor, preprocess_input)
    "mobilenet": (A.MobileNet, A.mobilenet.preprocess_input), "mobilenetv2": (A.MobileNetV2, A.mobilenet_v2.preprocess_input),
    "mobilenetv3small": (A.MobileNetV3Small, A.mobilenet_v3.preprocess_input), "mobilenetv3large": (A.MobileNetV3Large, A.mobilenet_v3.preprocess_input),
    "densenet121": (A.DenseNet121, A.densenet.preprocess_input), "efficientnetb0": (A.EfficientNetB0, A.efficientnet.preprocess_input),
    "efficientnetv2b0": (A.EfficientNetV2B0, A.efficientnet_v2.preprocess_input), "xception": (A.Xception, A.xception.preprocess_input),
    "inceptionv3": (A.InceptionV3, A.inception_v3.preprocess_input), "resnet50v2": (A.ResNet50V2, A.resnet_v2.preprocess_input),
    "nasnetmobile": (A.NASNetMobile, A.nasnet.preprocess_input), "convnexttiny": (A.ConvNeXtTiny, A.convnext.preprocess_input),
    "inceptionresnetv2": (A.InceptionResNetV2, A.inception_resnet_v2.preprocess_input),
    "regnetx002": (A.RegNetX002, A.regnet.preprocess_input), "regnety002": (A.RegNetY002, A.regnet.preprocess_input),
}


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for family in (args or FAMILIES):
            build, preprocess = FAMILIES[family]
            tf_keras.backend.clear_session()
            tf_keras.utils.set_random_seed(1)
            model = build(weights=None)
            if model.input_shape[1] is None:  # MobileNetV3 leaves the size open; its weights are for 224
                tf_keras.backend.clear_session()
                tf_keras.utils.set_random_seed(1)
                model = build(weights=None, input_shape=(224, 224, 3))
            size = model.input_shape[1]
            sys.path.insert(0, os.path.join(ROOT, "Tests", "Fixtures"))
            import make_zoo_fixtures
            make_zoo_fixtures.set_weights(model)  # formula weights: outputs that differ per class
            weights = os.path.join(scratch, f"{family}_weights.h5")
            model.save_weights(weights)
            image = os.path.join(scratch, f"coffee{size}.png")
            Image.fromarray(skimage.data.coffee()).resize((size, size), Image.BILINEAR).save(image)
            x = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32)[None]
            want = model.predict(preprocess(x.copy()), verbose=0)[0].astype(np.float64)
            # tf.keras's RegNet outputs logits (it has no softmax): compare them, read from
            # `extract --layer <head> --pool none`, relative to the largest logit.
            logits = abs(want.sum() - 1) > 1e-3 or want.min() < 0
            # With --arch, and recognised from the layer names (tf.keras's MobileNetV3 names are
            # mapped to Keras 3's: `Conv/BatchNorm` is `conv_bn`).
            for arch in (["--arch", family], []):
                features = os.path.join(scratch, f"{family}_logits.h5")
                command = ([SIGHTLINE, "extract", weights, image, "-o", features, "--layer", model.layers[-1].name, "--pool", "none"] if logits
                           else [SIGHTLINE, "predict", weights, image, "--json", "--top", "1000"])
                run = subprocess.run(command + arch, capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"FAIL {family} {' '.join(arch) or '(recognised)'}: {run.stderr.strip()[:300]}", flush=True)
                    failures += 1
                    continue
                got = np.zeros(1000)
                if logits:
                    with h5py.File(features) as f:
                        got = f["features"][0].astype(np.float64)
                    os.remove(features)
                else:
                    for entry in json.loads(run.stdout)[0]["top"]:
                        got[entry["class"]] = entry["probability"]
                error = np.abs(got - want).max() / max(np.abs(want).max(), 1e-9)
                ok = error <= 1e-4 and got.argmax() == want.argmax()
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {family} {' '.join(arch) or '(recognised)'}: relative error {error:.1e} "
                      f"(top class {want.argmax()} at {want.max():.4f}, Sightline {got.argmax()} at {got.max():.4f})", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
