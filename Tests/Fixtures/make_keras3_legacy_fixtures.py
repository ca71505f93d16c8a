"""A Keras 3 functional model saved as a legacy `.h5`, the way Keras 3 writes what tf.keras used
to: operator nodes (`x + 3`, `x * (1/6)`, `x[:, 1:]`) lose their `module` in the config, and a
nested `Sequential`'s weights are scoped by its name (`stem/stem_conv/kernel`), as in Keras 3's
ConvNeXt and MobileNetV3 `.h5` files. Writes layouts/keras3_legacy_ops.h5 and
layouts/keras3_legacy_ops.json (input and Keras's output). Needs: pip install keras tensorflow-cpu."""
import json, os
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(3)
here = os.path.join(os.path.dirname(__file__), "layouts")
i = keras.Input((12, 12, 3))
stem = keras.Sequential([layers.Conv2D(8, 3, name="stem_conv"), layers.LayerNormalization(epsilon=1e-6, name="stem_layernorm")], name="stem")
x = stem(i)
x = x * (keras.ops.relu6(x + 3.0) * (1.0 / 6.0))
x = x[:, 1:, :, :]
x = layers.GlobalAveragePooling2D()(x)
out = layers.Dense(5, activation="softmax", name="predictions")(x)
model = keras.Model(i, out)
for layer in model.layers + stem.layers:
    if layer.weights:
        layer.set_weights([np.random.default_rng(len(w.shape)).normal(0, 0.5, w.shape) for w in layer.weights])
model.save(os.path.join(here, "keras3_legacy_ops.h5"))
x = (np.arange(2 * 12 * 12 * 3, dtype=np.float32).reshape(2, 12, 12, 3) % 17 - 8) / 4.0
with open(os.path.join(here, "keras3_legacy_ops.json"), "w") as f:
    json.dump({"made_by": f"Tests/Fixtures/make_keras3_legacy_fixtures.py, keras {keras.__version__}", "input": x.reshape(-1).tolist(),
               "input_shape": list(x.shape), "output": np.asarray(model(x)).reshape(-1).tolist()}, f)
print("ok")
