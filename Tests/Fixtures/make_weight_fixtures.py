#!/usr/bin/env python3
"""Keras weight files in every layout Sightline reads, with Keras's outputs on a fixed input.

    python3 Tests/Fixtures/make_weight_fixtures.py                 # reduced width -> Tests/Fixtures/weights (CI)
    python3 Tests/Fixtures/make_weight_fixtures.py --full DIR      # full-size VGG16/ResNet50 -> DIR
    SIGHTLINE_WEIGHT_FIXTURES=DIR swift test --filter KerasWeightFileTests   # check them

Needs `pip install tensorflow-cpu tf_keras h5py` (Keras 3 and Keras 2 = tf_keras).

The reduced models are Keras Applications VGG16 and ResNet50 with every filter count (and VGG's
fc units) divided by 32, a 32x32 input and 10 classes: the same topology and layer names, small
enough to commit. BatchNorm gamma, beta and moving statistics are randomised so that loading
them wrongly shows. Files written (manifest.json lists them with what each must reproduce):
- *_keras3.h5          Keras 3 model.save (legacy full-model .h5, weight names without ':0')
- *_keras3.weights.h5  Keras 3 save_weights (layers/<key>/vars/<i> with the 'name' attribute)
- *_keras35.weights.h5 the same with the 'name' attributes removed (files from Keras 3.0-3.5)
- *.keras              Keras 3 archive (zip: config.json + model.weights.h5)
- *_keras2.h5          tf_keras (Keras 2) save_weights, 'kernel:0' names, vlen strings
- *_keras2_model.h5    tf_keras model.save, model_config in the Keras 2 format
- *_keras1.h5          Keras 1 style (fixed-length strings, no keras_version, 'block1_conv1_W_1:0',
                       BatchNorm 'running_std' holding the variance), written with h5py exactly as
                       the official VGG16 weights are laid out
- *_nested_keras2.h5   tf_keras full model with the base nested as a layer under a new head
"""
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import h5py
import numpy as np
import keras
import tf_keras

FULL = "--full" in sys.argv
OUT = sys.argv[sys.argv.index("--full") + 1] if FULL else os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
DIV = 1 if FULL else 32
SIZE = 224 if FULL else 32
CLASSES = 1000 if FULL else 10
rng = np.random.default_rng(7)


def vgg16(K):
    L = K.layers
    inp = L.Input((SIZE, SIZE, 3))
    x = inp
    for block, (convs, filters) in enumerate(zip([2, 2, 3, 3, 3], [64, 128, 256, 512, 512]), start=1):
        for i in range(1, convs + 1):
            x = L.Conv2D(filters // DIV, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
        x = L.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(4096 // DIV, activation="relu", name="fc1")(x)
    x = L.Dense(4096 // DIV, activation="relu", name="fc2")(x)
    out = L.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return K.Model(inp, out, name="vgg16")


def legacy_name(name):
    """Keras <= 2.2 ResNet50 names (keras_applications resnet50.py) for the weighted layers."""
    fixed = {"conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"}
    if name in fixed:
        return fixed[name]
    parts = name.split("_")
    if len(parts) == 4 and parts[0].startswith("conv") and parts[1].startswith("block") and parts[3] in ("conv", "bn"):
        letter = "abcdefghijklmnopqrstuvwxyz"[int(parts[1][5:]) - 1]
        branch = "branch1" if parts[2] == "0" else "branch2" + "abc"[int(parts[2]) - 1]
        return f"{'res' if parts[3] == 'conv' else 'bn'}{parts[0][4:]}{letter}_{branch}"
    return name


def resnet50(K, include_top=True, legacy=False):
    """keras/src/applications/resnet.py (ResNet50, stack1/block1), widths divided by DIV.
    With legacy=True: Keras <= 2.2 names for weighted layers and BatchNorm epsilon 1e-3."""
    L = K.layers
    eps = 1e-3 if legacy else 1.001e-5
    rename = legacy_name if legacy else (lambda n: n)
    Conv2D = lambda *a, name, **k: L.Conv2D(*a, name=rename(name), **k)
    BatchNormalization = lambda name, **k: L.BatchNormalization(name=rename(name), **k)
    Dense = lambda *a, name, **k: L.Dense(*a, name=rename(name), **k)

    def block(x, filters, stride, shortcut, name):
        if shortcut:
            s = Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
            s = BatchNormalization(epsilon=eps, name=name + "_0_bn")(s)
        else:
            s = x
        x = Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
        x = BatchNormalization(epsilon=eps, name=name + "_1_bn")(x)
        x = L.Activation("relu", name=name + "_1_relu")(x)
        x = Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
        x = BatchNormalization(epsilon=eps, name=name + "_2_bn")(x)
        x = L.Activation("relu", name=name + "_2_relu")(x)
        x = Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
        x = BatchNormalization(epsilon=eps, name=name + "_3_bn")(x)
        x = L.Add(name=name + "_add")([s, x])
        return L.Activation("relu", name=name + "_out")(x)

    inp = L.Input((SIZE, SIZE, 3))
    x = L.ZeroPadding2D(3, name="conv1_pad")(inp)
    x = Conv2D(64 // DIV, 7, strides=2, name="conv1_conv")(x)
    x = BatchNormalization(epsilon=eps, name="conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(1, name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, blocks in enumerate([3, 4, 6, 3]):
        filters = (64 << stage) // DIV
        for b in range(1, blocks + 1):
            x = block(x, filters, 2 if (b == 1 and stage > 0) else 1, b == 1, f"conv{stage + 2}_block{b}")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = Dense(CLASSES, activation="softmax", name="predictions")(x)
    return K.Model(inp, x, name="resnet50")


def randomise(model):
    """Random weights everywhere (seeded), BatchNorm statistics included."""
    values = []
    for w in model.weights:
        shape = tuple(w.shape)
        name = w.name
        if "moving_variance" in name:
            values.append(rng.uniform(0.5, 1.5, shape))
        elif "moving_mean" in name or "beta" in name:
            values.append(rng.normal(0, 0.2, shape))
        elif "gamma" in name:
            values.append(rng.uniform(0.7, 1.3, shape))
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
            values.append(rng.normal(0, 1.0 / np.sqrt(max(fan_in, 1)) * (1.4 if len(shape) > 1 else 0.1), shape))
    model.set_weights([v.astype(np.float32) for v in values])


def t(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def outputs(model, x, names):
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names]) if hasattr(model, "get_layer") else model
    values = probe(x, training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    return {n: t(np.asarray(v)) for n, v in zip(names, values)}


def sequential(K):
    """A small Sequential model exercising more layer types than the applications use."""
    L = K.layers
    return K.Sequential([
        L.Input((12, 12, 3)),
        L.Conv2D(6, 3, activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.LeakyReLU(name="leaky"),
        L.MaxPooling2D(2, padding="same", name="pool"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6", name="depthwise"),
        L.SeparableConv2D(5, 3, padding="same", activation="tanh", name="separable"),
        L.AveragePooling2D(2, name="avg"),
        L.Flatten(name="flatten"),
        L.Dropout(0.3, name="dropout"),
        L.Dense(4, activation="softmax", name="probabilities"),
    ], name="small_sequential")


def keras1_file(model, path, tf_suffix="_1"):
    """The Keras 1 layout of the official VGG16/old ResNet50 files, written with h5py
    (`tf_suffix` "_1" as in `block1_conv1_W_1:0`, "" as in the old ResNet50's `conv1_W:0`)."""
    def fixed(strings):
        return np.array([s.encode() for s in strings], dtype=f"S{max(len(s) for s in strings)}")

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = fixed([l.name for l in model.layers])
        for layer in model.layers:
            g = f.create_group(layer.name)
            kinds = {"kernel": "W" + tf_suffix, "bias": "b" + tf_suffix, "gamma": "gamma", "beta": "beta",
                     "moving_mean": "running_mean", "moving_variance": "running_std"}
            names = []
            for w in layer.weights:
                kind = w.path.split("/")[-1]
                name = f"{layer.name}_{kinds[kind]}:0"
                g.create_dataset(name, data=w.numpy())
                names.append(name)
            g.attrs["weight_names"] = fixed(names) if names else np.array([], dtype=np.float64)


def main():
    if os.path.isdir(OUT) and not FULL:
        shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    x = (rng.normal(size=(2, SIZE, SIZE, 3)) * 60).astype(np.float32)
    for arch, build, probes in [("vgg16", vgg16, ["block5_pool", "predictions"]), ("resnet50", resnet50, ["avg_pool", "predictions"])]:
        k3 = build(keras)
        randomise(k3)
        expected = outputs(k3, x, probes)
        weights = [w.numpy() for w in k3.weights]
        files = []
        p = f"{arch}_keras3.h5"; k3.save(os.path.join(OUT, p)); files.append((p, "legacyModel"))
        p = f"{arch}_keras3.weights.h5"; k3.save_weights(os.path.join(OUT, p)); files.append((p, "keras3Weights"))
        p35 = f"{arch}_keras35.weights.h5"
        shutil.copy(os.path.join(OUT, p), os.path.join(OUT, p35))
        with h5py.File(os.path.join(OUT, p35), "a") as f:
            f.visit(lambda n: f[n].attrs.__delitem__("name") if "name" in f[n].attrs else None)
            if "name" in f["vars"].attrs:
                del f["vars"].attrs["name"]
        files.append((p35, "keras3Weights"))
        p = f"{arch}.keras"; k3.save(os.path.join(OUT, p)); files.append((p, "kerasArchive"))
        k2 = build(tf_keras)
        k2.set_weights(weights)
        p = f"{arch}_keras2.h5"; k2.save_weights(os.path.join(OUT, p)); files.append((p, "legacyWeights"))
        p = f"{arch}_keras2_model.h5"; k2.save(os.path.join(OUT, p)); files.append((p, "legacyModel"))
        p = f"{arch}_keras1.h5"; keras1_file(k3, os.path.join(OUT, p)); files.append((p, "legacyWeights"))
        for name, fmt in files:
            manifest.append({"file": name, "format": fmt, "arch": arch, "width_divisor": DIV, "input_size": SIZE,
                             "classes": CLASSES, "outputs": list(expected.keys())})
        np_expected = expected
        with open(os.path.join(OUT, f"{arch}_expected.json"), "w") as f:
            json.dump({"input": t(x), "outputs": np_expected}, f, separators=(",", ":"))
    # Keras <= 2.2 ResNet50 names, Keras 1 layout (as the v0.2 resnet50 file).
    legacy = resnet50(keras, legacy=True)
    randomise(legacy)
    keras1_file(legacy, os.path.join(OUT, "resnet50_legacy_keras1.h5"), tf_suffix="")
    with open(os.path.join(OUT, "resnet50_legacy_expected.json"), "w") as f:
        json.dump({"input": t(x), "outputs": outputs(legacy, x, ["avg_pool", "fc1000"])}, f, separators=(",", ":"))
    manifest.append({"file": "resnet50_legacy_keras1.h5", "format": "legacyWeights", "arch": "resnet50_legacy", "width_divisor": DIV,
                     "input_size": SIZE, "classes": CLASSES, "outputs": ["avg_pool", "fc1000"]})
    # A small Sequential model saved by Keras 3 and Keras 2 (architecture from model_config).
    small = sequential(keras)
    randomise(small)
    xs = (rng.normal(size=(2, 12, 12, 3)) * 2).astype(np.float32)
    small.save(os.path.join(OUT, "sequential_keras3.h5"))
    small2 = sequential(tf_keras)
    small2.set_weights([w.numpy() for w in small.weights])
    small2.save(os.path.join(OUT, "sequential_keras2_model.h5"))
    with open(os.path.join(OUT, "sequential_expected.json"), "w") as f:
        json.dump({"input": t(xs), "outputs": {"probabilities": t(small(xs, training=False).numpy())}}, f, separators=(",", ":"))
    for name in ["sequential_keras3.h5", "sequential_keras2_model.h5"]:
        manifest.append({"file": name, "format": "legacyModel", "arch": "sequential", "width_divisor": 1, "input_size": 12,
                         "classes": 4, "outputs": ["probabilities"]})
    # A nested model: tf_keras ResNet50 (no top) as a layer under a new head, base left trainable
    # so that weight_names lists all trainable weights before all moving statistics.
    base = resnet50(tf_keras, include_top=False)
    randomise(base)
    inp = tf_keras.layers.Input((SIZE, SIZE, 3))
    out = tf_keras.layers.Dense(3, activation="softmax", name="head")(base(inp))
    outer = tf_keras.Model(inp, out)
    head = outer.get_layer("head")
    head.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in head.get_weights()])
    outer.save(os.path.join(OUT, "resnet50_nested_keras2.h5"))
    with open(os.path.join(OUT, "resnet50_nested_expected.json"), "w") as f:
        json.dump({"input": t(x), "outputs": {"head": t(outer(x, training=False).numpy())}}, f, separators=(",", ":"))
    manifest.append({"file": "resnet50_nested_keras2.h5", "format": "legacyModel", "arch": "resnet50_nested", "width_divisor": DIV,
                     "input_size": SIZE, "classes": 3, "outputs": ["head"]})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"keras": keras.__version__, "tf_keras": tf_keras.__version__, "files": manifest}, f, indent=1)
    print("wrote", OUT, sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
