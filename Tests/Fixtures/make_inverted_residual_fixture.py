#!/usr/bin/env python3
"""Writes keras_inverted_residual.json: two MobileNetV2 inverted residual blocks in real Keras, for
the training-pass test of depthwise layers (Tests/SightlineNNTests/KerasInvertedResidualTests.swift).

Run from the repository root (needs TensorFlow and Keras 3 from PyPI: `pip install tensorflow-cpu`):

    KERAS_BACKEND=tensorflow python3 Tests/Fixtures/make_inverted_residual_fixture.py

The model, as keras.applications.MobileNetV2 builds its blocks (BatchNorm frozen, as `finetune`
runs it: `trainable = False`, which Keras runs with its moving statistics):
- block a, stride 1: 1x1 expansion 8 -> 48, BN, ReLU6, 3x3 depthwise (same), BN, ReLU6, 1x1
  projection 48 -> 8, BN, added to the block's input;
- block b, stride 2: 1x1 expansion 8 -> 40 (two blocks of 16 channels and a tail of 8), BN, ReLU6,
  ZeroPadding2D bottom and right, 3x3 depthwise stride 2 (valid), BN, ReLU6, 1x1 projection 40 -> 16,
  BN;
- global average pooling and a dense layer of 5 logits.
BatchNorm statistics and scales are randomised and the input scaled so that every ReLU6 clips at
both ends. Stored: the weights, the input, the logits in training mode, an upstream gradient, and
tf.GradientTape gradients of sum(logits * upstream) with respect to the input and every kernel
(by layer name), and the fraction of each ReLU6's outputs at 0 and at 6. Float32 values are
printed exactly.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261207)
keras.utils.set_random_seed(20261207)


def t(array):
    array = np.asarray(array, dtype=np.float32)
    return {"shape": list(array.shape), "data": [float(v) for v in array.reshape(-1)]}


L = keras.layers
inp = keras.Input((10, 9, 8), name="image")


def block(x, name, expanded, out, stride):
    y = L.Conv2D(expanded, 1, use_bias=False, name=f"{name}_expand")(x)
    y = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{name}_expand_BN")(y)
    y = L.ReLU(6.0, name=f"{name}_expand_relu")(y)
    if stride == 2:
        y = L.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(y)
    y = L.DepthwiseConv2D(3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                          name=f"{name}_depthwise")(y)
    y = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{name}_depthwise_BN")(y)
    y = L.ReLU(6.0, name=f"{name}_depthwise_relu")(y)
    y = L.Conv2D(out, 1, use_bias=False, name=f"{name}_project")(y)
    y = L.BatchNormalization(epsilon=1e-3, momentum=0.999, name=f"{name}_project_BN")(y)
    return L.Add(name=f"{name}_add")([x, y]) if stride == 1 and out == x.shape[-1] else y


x = block(inp, "block_a", 48, 8, 1)
x = block(x, "block_b", 40, 16, 2)
x = L.GlobalAveragePooling2D(name="gap")(x)
out = L.Dense(5, name="logits")(x)
model = keras.Model(inp, out)
for layer in model.layers:
    if isinstance(layer, L.BatchNormalization):
        c = layer.weights[0].shape[0]
        layer.set_weights([rng.uniform(1.0, 3.0, c).astype(np.float32), rng.normal(0.5, 0.5, c).astype(np.float32),
                           rng.normal(0, 0.3, c).astype(np.float32), rng.uniform(0.5, 1.5, c).astype(np.float32)])
        layer.trainable = False
    if isinstance(layer, L.DepthwiseConv2D):  # larger outputs, so that its ReLU6 clips at 6 too
        layer.set_weights([layer.get_weights()[0] * 4])

image = (rng.normal(size=(3, 10, 9, 8)) * 2).astype(np.float32)
upstream = rng.normal(size=(3, 5)).astype(np.float32)
relus = [layer.name for layer in model.layers if isinstance(layer, L.ReLU)]
probe = keras.Model(inp, [model.get_layer(name).output for name in relus])
clipping = {name: [float(np.mean(v == 0)), float(np.mean(v == 6))] for name, v in zip(relus, probe(image))}
x_var = tf.Variable(image)
with tf.GradientTape() as tape:
    logits = model(x_var, training=True)
    loss = tf.reduce_sum(logits * upstream)
kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
grads = tape.gradient(loss, [x_var] + kernels)
fixture = {
    "keras": keras.__version__,
    "tensorflow": tf.__version__,
    "weights": {layer.name: {w.path.split("/")[-1]: t(w.numpy()) for w in layer.weights}
                for layer in model.layers if layer.weights},
    "input": t(image),
    "training_output": t(logits.numpy()),
    "upstream": t(upstream),
    "input_gradient": t(grads[0].numpy()),
    "kernel_gradients": {w.path.split("/")[0]: t(g.numpy()) for w, g in zip(kernels, grads[1:])},
    "relu6_clipping": clipping,
}
with open(os.path.join(HERE, "keras_inverted_residual.json"), "w") as f:
    json.dump(fixture, f)
print({name: [round(a, 2), round(b, 2)] for name, (a, b) in clipping.items()})
