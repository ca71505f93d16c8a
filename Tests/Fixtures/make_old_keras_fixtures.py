"""Full-model .h5 files in the layouts Keras 1.2.1 and Keras 2.0.6 wrote, and a two-input model,
for KerasOldLayoutTests.swift (issue 22 item 4: files found in the wild that Sightline refused).

Those Keras releases do not install on today's Python, so the files are written here with h5py in
their layout as the shared study of Keras's HDF5 layouts (docs/keras-hdf5.md, from
keras/engine/topology.py at 1.2.2 and 2.0.0) describes it; the Keras 1 weight names are the
TensorFlow backend's variable names (`convolution2d_1_W:0`):
- keras121_sequential.h5: Keras 1.2.1 `Sequential`: `model_config` is {"class_name":
  "Sequential", "config": [layers]} (a plain list), Keras 1 layer configs (`Convolution2D` with
  nb_filter/nb_row/nb_col/border_mode/subsample/dim_ordering, `Dense` with output_dim), weight
  names `convolution2d_1_W:0`, `convolution2d_1_b:0`, and layer names `convolution2d_1`, `flatten_1`,
  `dense_1`.
- keras206_sequential.h5: Keras 2.0.6 `Sequential`: the same plain-list config with Keras 2 layer
  configs and weight names `conv2d_1/kernel:0`.
- two_inputs.h5: a tf.keras 2 functional model with an image input and a vector input.
expected.json: each Sequential model's softmax output for x[i] = sin(0.37 i) (NHWC, batch 2),
computed here with numpy (float64) from the same weights.

Run: python3 Tests/Fixtures/make_old_keras_fixtures.py  (pip install h5py numpy)
"""
import json, os
import h5py
import numpy as np

out = os.path.join(os.path.dirname(__file__), "layouts")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(22)


def formula_input(shape):
    return np.sin(0.37 * np.arange(int(np.prod(shape)))).reshape(shape).astype(np.float32)


def conv_same_relu(x, kernel, bias):
    n, h, w, c = x.shape
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.zeros((n, h, w, kernel.shape[3]))
    for i in range(3):
        for j in range(3):
            y += np.einsum("nhwc,co->nhwo", padded[:, i:i + h, j:j + w, :], kernel[i, j].astype(np.float64))
    return np.maximum(y + bias, 0)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write(path, root_attrs, config, layers, weights_attrs=True):
    """layers: [(layer name, [(weight name, array)])] in model.layers order; Keras 1 wrote only
    `layer_names` on the weights group, Keras 2 also `keras_version` and `backend`."""
    with h5py.File(path, "w") as f:
        for key, value in root_attrs.items():
            f.attrs[key] = value
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name, _ in layers]
        if weights_attrs:
            group.attrs["keras_version"] = root_attrs["keras_version"]
            group.attrs["backend"] = b"tensorflow"
        for name, weights in layers:
            g = group.create_group(name)
            g.attrs["weight_names"] = [w.encode() for w, _ in weights]
            for weight_name, array in weights:
                g.create_dataset(weight_name, data=array)


x = formula_input((2, 8, 8, 3))
expected = {}

# Keras 1.2.1: Convolution2D(4, 3, 3, border_mode='same') → Flatten → Dense(2, softmax).
kernel = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
bias = rng.normal(0, 0.1, (4,)).astype(np.float32)
dense = rng.normal(0, 0.1, (8 * 8 * 4, 2)).astype(np.float32)
dense_bias = rng.normal(0, 0.1, (2,)).astype(np.float32)
config = {"class_name": "Sequential", "config": [
    {"class_name": "Convolution2D", "config": {
        "name": "convolution2d_1", "trainable": True, "batch_input_shape": [None, 8, 8, 3],
        "input_dtype": "float32", "nb_filter": 4, "nb_row": 3, "nb_col": 3, "init": "glorot_uniform",
        "activation": "relu", "border_mode": "same", "subsample": [1, 1], "dim_ordering": "tf",
        "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
        "W_constraint": None, "b_constraint": None, "bias": True}},
    {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
    {"class_name": "Dense", "config": {
        "name": "dense_1", "trainable": True, "output_dim": 2, "input_dim": 256, "init": "glorot_uniform",
        "activation": "softmax", "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
        "W_constraint": None, "b_constraint": None, "bias": True}},
]}
write(os.path.join(out, "keras121_sequential.h5"), {"keras_version": b"1.2.1", "backend": b"tensorflow"}, config, [
    ("convolution2d_1", [("convolution2d_1_W:0", kernel), ("convolution2d_1_b:0", bias)]),
    ("flatten_1", []),
    ("dense_1", [("dense_1_W:0", dense), ("dense_1_b:0", dense_bias)]),
], weights_attrs=False)
features = conv_same_relu(x, kernel, bias).reshape(2, -1)
expected["keras121_sequential.h5"] = softmax(features @ dense + dense_bias).tolist()

# Keras 2.0.6: Conv2D(4, 3, padding='same', relu) → GlobalAveragePooling2D → Dense(2, softmax).
kernel = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
bias = rng.normal(0, 0.1, (4,)).astype(np.float32)
dense = rng.normal(0, 0.5, (4, 2)).astype(np.float32)
dense_bias = rng.normal(0, 0.1, (2,)).astype(np.float32)
config = {"class_name": "Sequential", "config": [
    {"class_name": "Conv2D", "config": {
        "name": "conv2d_1", "trainable": True, "batch_input_shape": [None, 8, 8, 3], "dtype": "float32",
        "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
        "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu", "use_bias": True,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {
            "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}},
    {"class_name": "GlobalAveragePooling2D", "config": {
        "name": "global_average_pooling2d_1", "trainable": True, "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {
        "name": "dense_1", "trainable": True, "units": 2, "activation": "softmax", "use_bias": True,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {
            "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}},
]}
write(os.path.join(out, "keras206_sequential.h5"), {"keras_version": b"2.0.6", "backend": b"tensorflow"}, config, [
    ("conv2d_1", [("conv2d_1/kernel:0", kernel), ("conv2d_1/bias:0", bias)]),
    ("global_average_pooling2d_1", []),
    ("dense_1", [("dense_1/kernel:0", dense), ("dense_1/bias:0", dense_bias)]),
])
features = conv_same_relu(x, kernel, bias).mean(axis=(1, 2))
expected["keras206_sequential.h5"] = softmax(features @ dense + dense_bias).tolist()

# tf.keras 2: image [8, 8, 3] → Conv2D → GlobalAveragePooling2D ┐
#             vector [4] ───────────────────────────────────────┴ Concatenate → Dense(2).
kernel = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
dense = rng.normal(0, 0.5, (8, 2)).astype(np.float32)
layers = [
    {"class_name": "InputLayer", "name": "image", "config": {
        "batch_input_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False, "name": "image"},
     "inbound_nodes": []},
    {"class_name": "InputLayer", "name": "meta", "config": {
        "batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "meta"},
     "inbound_nodes": []},
    {"class_name": "Conv2D", "name": "conv", "config": {
        "name": "conv", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
        "data_format": "channels_last", "activation": "relu", "use_bias": False},
     "inbound_nodes": [[["image", 0, 0, {}]]]},
    {"class_name": "GlobalAveragePooling2D", "name": "pool", "config": {"name": "pool"},
     "inbound_nodes": [[["conv", 0, 0, {}]]]},
    {"class_name": "Concatenate", "name": "joined", "config": {"name": "joined", "axis": -1},
     "inbound_nodes": [[["pool", 0, 0, {}], ["meta", 0, 0, {}]]]},
    {"class_name": "Dense", "name": "scores", "config": {
        "name": "scores", "units": 2, "activation": "softmax", "use_bias": False},
     "inbound_nodes": [[["joined", 0, 0, {}]]]},
]
config = {"class_name": "Functional", "config": {
    "name": "two_inputs", "layers": layers, "input_layers": [["image", 0, 0], ["meta", 0, 0]],
    "output_layers": [["scores", 0, 0]]}}
write(os.path.join(out, "two_inputs.h5"), {"keras_version": b"2.15.0", "backend": b"tensorflow"}, config, [
    ("conv", [("conv/kernel:0", kernel)]), ("scores", [("scores/kernel:0", dense)]),
])

with open(os.path.join(out, "old_keras_expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", sorted(expected), "and two_inputs.h5 to", out)
