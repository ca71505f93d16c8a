"""Weight-file layouts from the wild, written by real Keras, for KerasLayoutWildTests.swift.

- keras3_subclassed.weights.h5: a Keras 3 *subclassed* model's weights (groups named after
  attributes: block1/layers/sequential/layers/conv2d/vars with the layer `name` attribute);
  keras3_subclassed_twin.json: the config of a functional model with the same layer names, the
  graph Sightline loads those weights into.
- tfkeras_slash_names.h5: a tf.keras 2.x full model whose layer names contain '/' (as DenseNet's
  `conv1/conv`), so its HDF5 groups nest one level per '/'.
expected.json: each model's outputs for input x[i] = sin(0.37 i) (NHWC, batch 2).

Run: python3 Tests/Fixtures/make_layout_fixtures.py  (pip install keras tensorflow-cpu tf-keras)
"""
import json, os
import numpy as np

out = os.path.join(os.path.dirname(__file__), "layouts")
os.makedirs(out, exist_ok=True)


def formula_input(shape):
    return np.sin(0.37 * np.arange(int(np.prod(shape)))).reshape(shape).astype(np.float32)


def subclassed():
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(5)

    class Block(keras.Model):
        def __init__(self, filters, name):
            super().__init__(name=name)
            self.convs = keras.Sequential([
                L.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1"),
                L.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv2"),
            ], name=f"{name}_convs")
            self.pool = L.MaxPooling2D(name=f"{name}_pool")

        def call(self, x):
            return self.pool(self.convs(x))

    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.block1, self.block2 = Block(8, "block1"), Block(16, "block2")
            self.gap = L.GlobalAveragePooling2D(name="avg_pool")
            self.head = L.Dense(4, activation="softmax", name="predictions")

        def call(self, x):
            return self.head(self.gap(self.block2(self.block1(x))))

    net = Net()
    x = formula_input((2, 32, 32, 3))
    y = np.asarray(net(x))
    net.save_weights(os.path.join(out, "keras3_subclassed.weights.h5"))
    # The functional twin: the same layers by name, so the test has a graph to load into.
    i = keras.Input((32, 32, 3), name="image")
    t = i
    for b, f in (("block1", 8), ("block2", 16)):
        t = L.Conv2D(f, 3, padding="same", activation="relu", name=f"{b}_conv1")(t)
        t = L.Conv2D(f, 3, padding="same", activation="relu", name=f"{b}_conv2")(t)
        t = L.MaxPooling2D(name=f"{b}_pool")(t)
    t = L.GlobalAveragePooling2D(name="avg_pool")(t)
    t = L.Dense(4, activation="softmax", name="predictions")(t)
    twin = keras.Model(i, t)
    with open(os.path.join(out, "keras3_subclassed_twin.json"), "w") as f:
        f.write(twin.to_json())
    return y


def slash_names():
    import tf_keras as keras
    keras.utils.set_random_seed(6)
    L = keras.layers
    x = keras.Input((16, 16, 3), name="input_1")
    y = L.Conv2D(4, 3, name="conv1/conv")(x)
    y = L.BatchNormalization(name="conv1/bn")(y)
    y = L.Activation("relu", name="conv1/relu")(y)
    y = L.Conv2D(6, 1, name="pool1/conv")(y)
    y = L.GlobalAveragePooling2D(name="avg_pool")(y)
    y = L.Dense(3, activation="softmax", name="predictions")(y)
    model = keras.Model(x, y)
    bn = model.get_layer("conv1/bn")
    bn.set_weights([w + np.linspace(0.1, 0.4, w.size).astype(np.float32) for w in bn.get_weights()])
    model.save(os.path.join(out, "tfkeras_slash_names.h5"))
    return model.predict(formula_input((2, 16, 16, 3)), verbose=0)


expected = {"keras3_subclassed": subclassed().tolist(), "tfkeras_slash_names": slash_names().tolist()}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print({k: np.round(v, 4).tolist() for k, v in expected.items()})
