#!/usr/bin/env python3
"""Writes Sources/SightlineWeights/Resources/keras_applications.zip: the architectures of the
Keras Applications families as real Keras 3 writes them, so that the official weights-only
files (`*_weights_tf_dim_ordering_tf_kernels*.h5`, `*_notop.h5`) load with `--arch NAME` or are
recognised from their layer names.

For each family: NAME.json (include_top=True, 1000 classes, the family's default input size)
and NAME_notop.json (include_top=False, any input size), both `model.to_json()` of
`keras.applications.<Family>(weights=None)` with the keys Sightline never reads (initialisers,
regularisers, constraints) dropped; and index.json: per entry the weighted layer names (for
recognising a file) and the preprocessing the official weights expect.

Run: python3 scripts/make_keras_applications.py  (pip install keras==3.* tensorflow-cpu)
"""
import io, json, os, sys, zipfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures"))
import keras
from make_zoo_fixtures import compact, leaf_layers

A = keras.applications
# name: (constructor, preprocessing the official weights expect)
FAMILIES = {
    "mobilenet": (A.MobileNet, "tf"), "mobilenetv2": (A.MobileNetV2, "tf"),
    "mobilenetv3small": (A.MobileNetV3Small, "none"), "mobilenetv3large": (A.MobileNetV3Large, "none"),
    "densenet121": (A.DenseNet121, "torch"), "densenet169": (A.DenseNet169, "torch"), "densenet201": (A.DenseNet201, "torch"),
    "inceptionv3": (A.InceptionV3, "tf"), "inceptionresnetv2": (A.InceptionResNetV2, "tf"), "xception": (A.Xception, "tf"),
    "resnet50v2": (A.ResNet50V2, "tf"), "resnet101v2": (A.ResNet101V2, "tf"), "resnet152v2": (A.ResNet152V2, "tf"),
    "nasnetmobile": (A.NASNetMobile, "tf"),
    **{f"efficientnetb{i}": (getattr(A, f"EfficientNetB{i}"), "none") for i in range(8)},
    **{f"efficientnetv2{v}": (getattr(A, f"EfficientNetV2{v.upper()}"), "none") for v in ("b0", "b1", "b2", "b3", "s")},
    "convnexttiny": (A.ConvNeXtTiny, "none"), "convnextsmall": (A.ConvNeXtSmall, "none"), "convnextbase": (A.ConvNeXtBase, "none"),
}
# RegNet is in tf.keras only (Keras 3 dropped it): its entries are tf.keras's `to_json()`, which
# Sightline imports the same way; the model scales its own input.
REGNET_SIZES = ("002", "004", "006", "008", "016", "032", "040", "064", "080", "120", "160", "320")


def tf_keras_families():
    import tf_keras
    return {f"regnet{kind.lower()}{size}": (getattr(tf_keras.applications, f"RegNet{kind}{size}"), "none", tf_keras)
            for kind in ("X", "Y") for size in REGNET_SIZES}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "SightlineWeights", "Resources", "keras_applications.zip")
    index = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        families = {name: (build, preprocessing, keras) for name, (build, preprocessing) in FAMILIES.items()}
        for name, (build, preprocessing, module) in {**families, **tf_keras_families()}.items():
            for top in (True, False):
                module.backend.clear_session()
                kwargs = {"weights": None, "include_top": top}
                if not top:
                    kwargs["input_shape"] = (None, None, 3)
                model = build(**kwargs)
                entry = name if top else name + "_notop"
                archive.writestr(entry + ".json", json.dumps(compact(json.loads(model.to_json())), separators=(",", ":")))
                index[entry] = {
                    "family": name, "include_top": top, "preprocessing": preprocessing,
                    "input_size": list(model.input_shape[1:3]) if top else None,
                    "weighted_layers": [layer.name for layer in leaf_layers(model) if layer.weights],
                }
                print(entry, len(index[entry]["weighted_layers"]), "weighted layers", flush=True)
        archive.writestr("index.json", json.dumps(index, separators=(",", ":"), sort_keys=True))
    with open(out, "wb") as f:
        f.write(buffer.getvalue())
    print(out, len(buffer.getvalue()), "bytes")


if __name__ == "__main__":
    main()
