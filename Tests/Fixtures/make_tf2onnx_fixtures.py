"""ONNX files as tf2onnx writes them from Keras models, for TF2ONNXTests.swift: NHWC input
transposed to NCHW by the graph's first node, BatchNorm folded into convolutions or left as a
per-channel Mul and Add, TensorFlow's asymmetric `same` padding as explicit pads, ReLU6 as Clip,
global pooling squeezed before MatMul, a bias Add after it.

- small_cnn.onnx: a small Keras 3 functional model with those layer kinds (a strided `same`
  convolution, BatchNorm, a depthwise convolution, a residual add, ReLU6, global average pooling,
  a softmax Dense), random weights and randomised BatchNorm statistics, exported by tf2onnx at
  opset 13; Keras's own probabilities for the NHWC input x[i] = 2·sin(0.37·i), shape [2, 32, 32, 3],
  are written to small_cnn_expected.json (ONNX Runtime's agree within 1e-5, checked here).

With --full DIR, also exports Keras Applications MobileNetV2, ResNet50 and DenseNet121 (random
weights, randomised BatchNorm, 224×224) to DIR with Keras's outputs in DIR/expected.json, for
`SIGHTLINE_TF2ONNX_DIR=DIR swift test --filter TF2ONNXTests`.

Run: /work/.peers/bin/python Tests/Fixtures/make_tf2onnx_fixtures.py [--full DIR]
(pip install keras tensorflow-cpu tf2onnx onnx onnxruntime)
"""
import json, os, sys

import numpy as np
import keras
import onnxruntime
import tensorflow as tf
import tf2onnx

here = os.path.dirname(os.path.abspath(__file__))


def randomise_batchnorm(model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([np.random.uniform(0.7, 1.3, gamma.shape), np.random.normal(0, 0.2, beta.shape),
                               np.random.normal(0, 0.2, mean.shape), np.random.uniform(0.5, 1.5, var.shape)])
    return model


def small_cnn():
    L = keras.layers
    x = inputs = keras.Input((32, 32, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    y = L.BatchNormalization(name="dw_bn")(y)
    y = L.ReLU(6.0, name="dw_relu")(y)
    y = L.Conv2D(8, 1, name="project")(y)
    x = L.Add(name="residual")([x, y])
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="down")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x)


def export(model, path, size):
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, output_path=path)
    x = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
    expected = model.predict(x, verbose=0)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.abs(got - expected).max() <= 1e-5 * max(1, np.abs(expected).max()), path
    return {"input_shape": [2, size, size, 3], "outputs": {"shape": list(expected.shape),
                                                           "data": expected.reshape(-1).tolist()}}


keras.utils.set_random_seed(5)
out = os.path.join(here, "tf2onnx")
with open(os.path.join(out, "small_cnn_expected.json"), "w") as f:
    json.dump(export(randomise_batchnorm(small_cnn()), os.path.join(out, "small_cnn.onnx"), 32), f)
if "--full" in sys.argv:
    directory = sys.argv[sys.argv.index("--full") + 1]
    os.makedirs(directory, exist_ok=True)
    A = keras.applications
    expected = {}
    for name, build in [("mobilenetv2", A.MobileNetV2), ("resnet50", A.ResNet50), ("densenet121", A.DenseNet121)]:
        model = randomise_batchnorm(build(weights=None, input_shape=(224, 224, 3)))
        expected[name] = export(model, os.path.join(directory, f"{name}.onnx"), 224)
        print(f"wrote {name}.onnx", flush=True)
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump(expected, f)
print(f"wrote tf2onnx {tf2onnx.__version__} files (Keras {keras.__version__}, TensorFlow {tf.__version__})")
