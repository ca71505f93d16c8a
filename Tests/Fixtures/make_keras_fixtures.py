#!/usr/bin/env python3
"""Writes the Keras reference fixtures that Sightline's engine tests compare against.

Run from the repository root (needs TensorFlow and Keras 3 from PyPI: `pip install tensorflow-cpu`):

    KERAS_BACKEND=tensorflow python3 Tests/Fixtures/make_keras_fixtures.py

Outputs (all JSON, float32 values printed exactly):
- keras_layers.json: per layer case, the layer's Keras config (`get_config()`), inputs, weights, the Keras
  output, and TensorFlow GradientTape gradients of L = sum(output * upstream) with respect to
  the inputs and trainable weights (plus the moving statistics after a BatchNorm training step).
- keras_graph.json: a small functional model with a residual Add, a Concatenate, BatchNorm,
  pooling and a softmax head: weights, input, inference output, training-mode output, gradients.
- keras_training.json: optimizer trajectories (SGD, momentum, Nesterov, Adam, AdamW, clipping)
  and softmax cross-entropy with label smoothing.
- keras_topology.json: per layer name, output shape and parameter count of Keras Applications
  VGG16/19 and ResNet50/101/152 (with and without the top).
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261124)
keras.utils.set_random_seed(20261124)  # Keras initialisers too, so reruns give identical files


def t(array):
    array = np.asarray(array, dtype=np.float32)
    return {"shape": list(array.shape), "data": [float(v) for v in array.reshape(-1)]}


def layer_case(name, layer, input_shapes, training=False, weights=None, inputs=None):
    """Runs `layer` on random inputs (or `inputs`) and records its Keras config (what Sightline's
    config importer reads), output and gradients."""
    if inputs is None:
        inputs = [rng.normal(size=s).astype(np.float32) for s in input_shapes]
    tensors = [tf.Variable(x) for x in inputs]
    layer_input = tensors if len(tensors) > 1 else tensors[0]
    layer(layer_input if len(tensors) > 1 else tensors[0])  # build
    if weights is not None:
        layer.set_weights(weights)
    before = {w.path.split("/")[-1]: w.numpy() for w in layer.weights}
    with tf.GradientTape() as tape:
        out = layer(layer_input, training=training)
        upstream = rng.normal(size=out.shape).astype(np.float32)
        loss = tf.reduce_sum(out * upstream)
    trainable = layer.trainable_weights
    grads = tape.gradient(loss, tensors + trainable)
    case = {
        "name": name,
        "keras": {"class_name": type(layer).__name__, "config": layer.get_config(), "trainable": layer.trainable},
        "mode": "training" if training else "inference",
        "inputs": [t(x) for x in inputs],
        "weights": {k: t(v) for k, v in before.items()},
        "output": t(out.numpy()),
        "upstream": t(upstream),
        "input_gradients": [t(g.numpy()) for g in grads[: len(tensors)]],
        "weight_gradients": {w.path.split("/")[-1]: t(g.numpy()) for w, g in zip(trainable, grads[len(tensors):])},
        "weights_after": {w.path.split("/")[-1]: t(w.numpy()) for w in layer.weights},
    }
    return case


def bn_weights(c):
    return [rng.uniform(0.5, 1.5, c), rng.normal(size=c), rng.normal(size=c) * 0.5, rng.uniform(0.5, 2.0, c)]


def layers_fixture():
    L = keras.layers
    cases = []
    x = (2, 7, 6, 3)
    cases.append(layer_case("conv2d_valid_relu", L.Conv2D(4, 3, activation="relu"), [x]))
    cases.append(layer_case("conv2d_same_stride2_nobias", L.Conv2D(5, 3, strides=2, padding="same", use_bias=False), [x]))
    cases.append(layer_case("conv2d_same_even_kernel_stride2", L.Conv2D(3, (4, 2), strides=(2, 3), padding="same"), [(2, 9, 8, 3)]))
    cases.append(layer_case("conv2d_dilated_same", L.Conv2D(4, 3, padding="same", dilation_rate=2, activation="tanh"), [x]))
    cases.append(layer_case("conv2d_pointwise_sigmoid", L.Conv2D(6, 1, activation="sigmoid"), [x]))
    cases.append(layer_case("conv2d_1x1_stride2", L.Conv2D(6, 1, strides=2), [x]))
    cases.append(layer_case("conv2d_7x7_stride2_valid", L.Conv2D(4, 7, strides=2), [(1, 15, 13, 3)]))
    cases.append(layer_case("depthwise_same_stride2_mult2", L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2), [x]))
    cases.append(layer_case("depthwise_valid_relu6", L.DepthwiseConv2D(3, activation="relu6", use_bias=False), [x]))
    cases.append(layer_case("separable_same_relu", L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2, activation="relu"), [x]))
    cases.append(layer_case("dense_tanh", L.Dense(5, activation="tanh"), [(3, 7)]))
    cases.append(layer_case("dense_softmax", L.Dense(4, activation="softmax"), [(3, 6)]))
    cases.append(layer_case("dense_rank3_nobias", L.Dense(4, use_bias=False), [(2, 3, 5)]))
    bn = L.BatchNormalization(epsilon=1.001e-5)
    cases.append(layer_case("batchnorm_inference", bn, [x],
                            weights=bn_weights(3)))
    bn = L.BatchNormalization(epsilon=1e-3, momentum=0.9)
    cases.append(layer_case("batchnorm_training", bn, [(4, 5, 3, 3)],
                            training=True, weights=bn_weights(3)))
    bn = L.BatchNormalization(epsilon=1e-3, momentum=0.9)
    bn.trainable = False
    cases.append(layer_case("batchnorm_frozen_training", bn, [(4, 5, 3, 3)],
                            training=True, weights=bn_weights(3)))
    for name, layer in [
        ("relu_max6", L.ReLU(max_value=6.0)),
        ("relu_negative_slope", L.ReLU(negative_slope=0.1)),
        ("leaky_relu", L.LeakyReLU(negative_slope=0.3)),
        ("elu", L.ELU(alpha=1.0)),
        ("sigmoid", L.Activation("sigmoid")),
        ("hard_sigmoid", L.Activation("hard_sigmoid")),
        ("tanh", L.Activation("tanh")),
        ("softmax", L.Softmax()),
    ]:
        inputs = [(rng.normal(size=(2, 3, 4, 5)) * 4).astype(np.float32)]
        cases.append(layer_case(name, layer, None, inputs=inputs))
    cases.append(layer_case("maxpool_2_valid", L.MaxPooling2D(2), [x]))
    cases.append(layer_case("maxpool_3_stride2_same", L.MaxPooling2D(3, strides=2, padding="same"), [x]))
    cases.append(layer_case("avgpool_3_stride2_same", L.AveragePooling2D(3, strides=2, padding="same"), [x]))
    cases.append(layer_case("avgpool_2_valid", L.AveragePooling2D(2), [x]))
    cases.append(layer_case("global_avg", L.GlobalAveragePooling2D(), [x]))
    cases.append(layer_case("global_max", L.GlobalMaxPooling2D(), [x]))
    cases.append(layer_case("zero_padding", L.ZeroPadding2D(((1, 2), (3, 0))), [x]))
    cases.append(layer_case("flatten", L.Flatten(), [x]))
    cases.append(layer_case("add3", L.Add(), [x, x, x]))
    cases.append(layer_case("multiply2", L.Multiply(), [x, x]))
    cases.append(layer_case("concatenate", L.Concatenate(), [x, (2, 7, 6, 5)]))
    cases.append(layer_case("rescaling", L.Rescaling(1 / 127.5, offset=-1), [x]))
    return {"keras": keras.__version__, "tensorflow": tf.__version__, "cases": cases}


def graph_fixture():
    L = keras.layers
    inp = keras.Input((12, 10, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", name="stem_conv")(inp)
    x = L.BatchNormalization(epsilon=1.001e-5, name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    y = L.Conv2D(8, 3, padding="same", name="res_conv")(x)
    y = L.BatchNormalization(name="res_bn")(y)
    x = L.Add(name="res_add")([x, y])
    x = L.Activation("relu", name="res_out")(x)
    a = L.Conv2D(4, 1, name="branch_a")(x)
    b = L.MaxPooling2D(3, strides=1, padding="same", name="branch_b_pool")(x)
    x = L.Concatenate(name="concat")([a, b])
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="down_conv")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, activation="softmax", name="predictions")(x)
    model = keras.Model(inp, out)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights(bn_weights(layer.weights[0].shape[0]))
    image = rng.normal(size=(3, 12, 10, 3)).astype(np.float32)
    weights = {layer.name: {w.path.split("/")[-1]: t(w.numpy()) for w in layer.weights} for layer in model.layers if layer.weights}
    inference = model(image, training=False).numpy()
    logits_model = keras.Model(inp, [model.get_layer("res_out").output, model.get_layer("predictions").output])
    upstream = rng.normal(size=(3, 5)).astype(np.float32)
    x_var = tf.Variable(image)
    with tf.GradientTape() as tape:
        res_out, probs = logits_model(x_var, training=True)
        loss = tf.reduce_sum(probs * upstream)
    grads = tape.gradient(loss, [x_var, res_out] + model.trainable_weights)
    return {
        "input": t(image),
        "weights": weights,
        "inference_output": t(inference),
        "training_output": t(probs.numpy()),
        "upstream": t(upstream),
        "input_gradient": t(grads[0].numpy()),
        "res_out_gradient": t(grads[1].numpy()),
        "weight_gradients": {w.path: t(g.numpy()) for w, g in zip(model.trainable_weights, grads[2:])},
        "moving_after_training": {layer.name: {w.path.split("/")[-1]: t(w.numpy()) for w in layer.non_trainable_weights}
                                  for layer in model.layers if isinstance(layer, L.BatchNormalization)},
    }


def training_fixture():
    w0 = rng.normal(size=(3, 4)).astype(np.float32)
    grads = [rng.normal(size=(3, 4)).astype(np.float32) * 3 for _ in range(3)]
    O = keras.optimizers
    optimizers = {
        "sgd": O.SGD(learning_rate=0.1),
        "sgd_momentum": O.SGD(learning_rate=0.1, momentum=0.9),
        "sgd_nesterov": O.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        "adam": O.Adam(learning_rate=0.01),
        "adamw": O.AdamW(learning_rate=0.01, weight_decay=0.1),
        "sgd_clipnorm": O.SGD(learning_rate=0.1, clipnorm=1.0),
        "sgd_global_clipnorm": O.SGD(learning_rate=0.1, global_clipnorm=1.0),
        "sgd_clipvalue": O.SGD(learning_rate=0.1, clipvalue=0.5),
    }
    trajectories = {}
    for name, opt in optimizers.items():
        var = keras.Variable(w0)
        steps = []
        for g in grads:
            opt.apply_gradients([(tf.constant(g), var)])
            steps.append(t(var.numpy()))
        trajectories[name] = steps
    logits = rng.normal(size=(4, 5)).astype(np.float32) * 2
    labels = np.array([0, 3, 4, 1])
    losses = {}
    for s in [0.0, 0.1]:
        lv = tf.Variable(logits)
        with tf.GradientTape() as tape:
            loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=s)(tf.one_hot(labels, 5), lv)
        losses[str(s)] = {"loss": float(loss.numpy()), "gradient": t(tape.gradient(loss, lv).numpy())}
    return {"initial": t(w0), "gradients": [t(g) for g in grads], "trajectories": trajectories,
            "logits": t(logits), "labels": labels.tolist(), "cross_entropy": losses}


def topology_fixture():
    A = keras.applications
    models = {}
    for name, ctor in [("vgg16", A.VGG16), ("vgg19", A.VGG19), ("resnet50", A.ResNet50), ("resnet101", A.ResNet101), ("resnet152", A.ResNet152)]:
        for top, pooling in [(True, None), (False, "avg")]:
            m = ctor(weights=None, include_top=top, pooling=pooling, input_shape=(224, 224, 3))
            key = f"{name}_{'top' if top else 'notop_avg'}"
            models[key] = {
                "parameters": int(m.count_params()),
                "layers": [[l.name, list(l.output.shape[1:]), int(l.count_params())] for l in m.layers[1:]],
            }
            del m
            keras.backend.clear_session()
    return models


def write(name, payload):
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        json.dump(payload, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB)")


if __name__ == "__main__":
    write("keras_layers.json", layers_fixture())
    write("keras_graph.json", graph_fixture())
    write("keras_training.json", training_fixture())
    write("keras_topology.json", topology_fixture())
