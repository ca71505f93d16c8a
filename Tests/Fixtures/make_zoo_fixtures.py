"""Keras Applications families as Sightline test fixtures, without committing their weights.

Each fixture is the model's config as real Keras writes it (Keras 3 `model.to_json()`, or tf.keras
2.x through `tf_keras` for the `TFOpLambda` operator nodes), with every weight set by a formula
that Tests/SightlineModelsTests/ZooTests.swift computes the same way, and Keras's logits for a
formula input. So the test proves the config import, every layer's numerics and the weight
layout names, for models whose weight files are 20-200 MB.

Weights: for weight `w` of layer `L`, phase = (sum of the UTF-8 bytes of "L/w") mod 1000 / 1000 * 2π,
base[i] = sin(0.7 i + phase) over the flat (Keras-layout) index i, and
  kernel-like (kernel, depthwise_kernel, pointwise_kernel): sqrt(6 / fan_in) * base
      (fan_in = KH*KW for depthwise kernels, else the product of all axes but the last),
  gamma: 1 + 0.2 base;  beta, bias, moving_mean, mean: 0.1 base;
  moving_variance, variance: 1 + 0.25 (1 + base);  count: 0.
Input: x[i] = offset + scale * sin(0.37 i) over the flat NHWC batch.
Reference: the same model built in float64 (Keras's float32 error against it is recorded too).

Run: python3 Tests/Fixtures/make_zoo_fixtures.py [--full OUT_DIR] | --fuzz-model
  (pip install keras==3.* tensorflow-cpu tf-keras). Without --full it writes the small-input
  fixtures CI uses to Tests/Fixtures/zoo; with --full, 224x224 (or the family's size) fixtures
  to OUT_DIR, run by `SIGHTLINE_ZOO_FIXTURES=OUT_DIR swift test --filter ZooTests`.
"""
import json, math, os, sys
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NOISY = ("initializer", "regularizer", "constraint")


def compact(value):
    """Drops config keys Sightline never reads (initializers, regularizers, constraints) to keep
    the committed files small; everything Sightline reads is kept as Keras wrote it."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if not any(n in k for n in NOISY)}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def formula(layer, weight, shape):
    key = f"{layer}/{weight}"
    phase = (sum(key.encode()) % 1000) / 1000 * 2 * math.pi
    n = int(np.prod(shape)) if len(shape) else 1
    base = np.sin(0.7 * np.arange(n, dtype=np.float64) + phase)
    if weight in ("kernel", "depthwise_kernel", "pointwise_kernel"):
        fan_in = shape[0] * shape[1] if weight == "depthwise_kernel" else int(np.prod(shape[:-1]))
        values = math.sqrt(6 / fan_in) * base
    elif weight == "gamma":
        values = 1 + 0.2 * base
    elif weight in ("beta", "bias", "moving_mean", "mean"):
        values = 0.1 * base
    elif weight in ("moving_variance", "variance"):
        values = 1 + 0.25 * (1 + base)
    elif weight == "count":
        values = np.zeros(n)
    else:
        raise SystemExit(f"no formula for weight {key}")
    return values.reshape(shape)


def leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from leaf_layers(layer)
        else:
            yield layer


def set_weights(model):
    for layer in leaf_layers(model):
        values = []
        for w in layer.weights:
            name = w.name.split("/")[-1].split(":")[0]
            if type(layer).__name__ == "LayerScale":
                name = "gamma"  # Keras 3 leaves ConvNeXt's LayerScale weight unnamed ("variable")
            if type(layer).__name__ == "DepthwiseConv2D" and name == "kernel":
                name = "depthwise_kernel"  # Keras 3's name for it; tf.keras and Sightline say depthwise_kernel
            values.append(formula(layer.name, name, tuple(w.shape)).astype(w.dtype.name if hasattr(w.dtype, "name") else w.dtype))
        if values:
            layer.set_weights(values)


def formula_input(shape, scale, offset):
    n = int(np.prod(shape))
    return (offset + scale * np.sin(0.37 * np.arange(n, dtype=np.float64))).reshape(shape).astype(np.float32)


def float64(module, on):
    """Switches Keras 3 (`keras`) or tf.keras (`tf_keras`) to build float64 models, or back."""
    if module.__name__ == "keras":
        module.config.set_dtype_policy("float64" if on else "float32")
    else:
        module.backend.set_floatx("float64" if on else "float32")


def fixture(name, module, build, scale, offset, batch=2):
    """The float32 model's config; logits of the same model built in float64 as the reference,
    with Keras's own float32 deviation from them (the formula weights make some families, e.g.
    ConvNeXt, sensitive to float32 rounding: Keras float32 itself is off by up to 3e-4 there)."""
    # Fresh name counters for each build, so unnamed layers get the same names (and weights) in both.
    module.backend.clear_session()
    model = build()
    set_weights(model)
    shape = (batch,) + tuple(model.input_shape[1:])
    x = formula_input(shape, scale, offset)
    logits32 = np.asarray(model(x, training=False)).astype(np.float64)
    module.backend.clear_session()
    float64(module, True)
    try:
        model64 = build()
        set_weights(model64)
        logits = np.asarray(model64(x.astype(np.float64), training=False)).astype(np.float64)
    finally:
        float64(module, False)
    return {
        "name": name,
        "made_by": f"Tests/Fixtures/make_zoo_fixtures.py, {module.__name__} {module.__version__}",
        "input_shape": list(shape), "input_scale": scale, "input_offset": offset,
        "expected": logits.reshape(batch, -1).tolist(),
        "keras_float32_error": float(np.abs(logits32 - logits).max()),
        "model_config": compact(json.loads(model.to_json())),
    }


def keras3_families(size):
    import keras
    A = keras.applications
    s = lambda n: (size or n, size or n, 3)
    common = dict(weights=None, classes=10, classifier_activation=None)
    # (name, builder, input scale, input offset): models with preprocessing inside take 0..255.
    return [
        ("keras3_mobilenet_v3_small", lambda: A.MobileNetV3Small(input_shape=s(224), **common), 127.5, 127.5),
        ("keras3_mobilenet_v3_large", lambda: A.MobileNetV3Large(input_shape=s(224), **common), 127.5, 127.5),
        ("keras3_efficientnet_b0", lambda: A.EfficientNetB0(input_shape=s(224), **common), 127.5, 127.5),
        ("keras3_efficientnet_v2_b0", lambda: A.EfficientNetV2B0(input_shape=s(224), **common), 127.5, 127.5),
        ("keras3_convnext_tiny", lambda: A.ConvNeXtTiny(input_shape=s(224), **common), 127.5, 127.5),
        ("keras3_densenet121", lambda: A.DenseNet121(input_shape=s(224), **common), 1.0, 0.0),
        ("keras3_nasnet_mobile", lambda: A.NASNetMobile(input_shape=s(224), **common), 1.0, 0.0),
        ("keras3_inception_resnet_v2", lambda: A.InceptionResNetV2(input_shape=(max(size or 299, 75),) * 2 + (3,), **common), 1.0, 0.0),
        ("keras3_resnet50_v2", lambda: A.ResNet50V2(input_shape=s(224), **common), 1.0, 0.0),
    ]


def tf_keras_families(size):
    import tf_keras
    A = tf_keras.applications
    s = lambda n: (size or n, size or n, 3)
    common = dict(weights=None, classes=10, classifier_activation=None)
    return [
        ("tfkeras_mobilenet_v3_small", lambda: A.MobileNetV3Small(input_shape=s(224), **common), 127.5, 127.5),
        ("tfkeras_efficientnet_b0", lambda: A.EfficientNetB0(input_shape=s(224), **common), 127.5, 127.5),
        ("tfkeras_densenet121", lambda: A.DenseNet121(input_shape=s(224), **common), 1.0, 0.0),
        # RegNet exists in tf.keras only (Keras 3 dropped it); its preprocessing is inside the model.
        ("tfkeras_regnetx002", lambda: A.RegNetX002(input_shape=s(224), **common), 127.5, 127.5),
        ("tfkeras_regnety002", lambda: A.RegNetY002(input_shape=s(224), **common), 127.5, 127.5),
    ]


def main():
    full = "--full" in sys.argv
    out = sys.argv[sys.argv.index("--full") + 1] if full else os.path.join(os.path.dirname(__file__), "zoo")
    size = None if full else 64
    os.makedirs(out, exist_ok=True)
    only = [a for a in sys.argv[1:] if not a.startswith("--") and a != out]
    import keras
    import tf_keras
    for module, family in ((keras, keras3_families(size)), (tf_keras, tf_keras_families(size))):
        for name, build, scale, offset in family:
            if only and name not in only:
                continue
            data = fixture(name, module, build, scale, offset)
            path = os.path.join(out, name + ".json")
            with open(path, "w") as f:
                json.dump(data, f, separators=(",", ":"))
            print(f"{path}: {os.path.getsize(path)} bytes, logits range {np.ptp(data['expected']):.3g}, "
                  f"Keras float32 error {data['keras_float32_error']:.3g}")


if __name__ == "__main__" and "--fuzz-model" not in sys.argv:
    main()


def fuzz_model():
    """A small Keras 3 model with one of every layer type Sightline imports, whose config
    Tests/SightlineWeightsTests/ConfigFuzzTests.swift mutates value by value."""
    import keras
    from keras import layers as L
    x = keras.Input((12, 12, 3), name="image")
    y = L.Rescaling(1 / 127.5, offset=-1, name="rescale")(x)
    y = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 3.0], name="normalise")(y)
    y = L.ZeroPadding2D(((1, 0), (1, 0)), name="pad")(y)
    y = L.Conv2D(8, 3, strides=2, padding="valid", activation="relu", name="conv")(y)
    y = L.BatchNormalization(name="bn")(y)
    d = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="swish", name="depthwise")(y)
    s = L.SeparableConv2D(16, 3, padding="same", activation="gelu", name="separable")(y)
    y = L.Add(name="join")([d, s])
    g = L.GlobalAveragePooling2D(keepdims=True, name="squeeze")(y)
    g = L.Conv2D(16, 1, activation="hard_sigmoid", name="excite")(g)
    y = L.Multiply(name="gate")([y, g])
    y = L.LayerNormalization(epsilon=1e-6, name="layernorm")(y)
    y = L.Dense(16, name="pointwise")(y)
    y = L.ReLU(max_value=6.0, name="relu6")(y)
    y = y * 0.5 + 1.0
    u = L.UpSampling2D(2, name="up")(y)
    u = L.Cropping2D(((1, 1), (2, 0)), name="crop")(u)
    u = L.MaxPooling2D(2, name="maxpool")(u)
    u = L.Dropout(0.2, noise_shape=(None, 1, 1, 1), name="drop_path")(u)
    y = L.AveragePooling2D(2, strides=1, padding="same", name="avgpool")(y)
    y = L.Concatenate(name="concat")([L.Cropping2D(((1, 0), (1, 0)), name="trim")(y), u])
    y = L.Activation("softplus", name="softplus")(y)
    y = L.Reshape((-1, 32), name="reshape")(y)
    y = L.Flatten(name="flatten")(y)
    y = L.Dropout(0.5, name="dropout")(y)
    y = L.Dense(4, activation="softmax", name="predictions")(y)
    model = keras.Model(x, y, name="fuzz")
    path = os.path.join(os.path.dirname(__file__), "fuzz_model.json")
    with open(path, "w") as f:
        json.dump(compact(json.loads(model.to_json())), f, separators=(",", ":"))
    print(f"{path}: {model.count_params()} parameters")


if __name__ == "__main__" and "--fuzz-model" in sys.argv:
    fuzz_model()
