"""A TensorFlow guided-backpropagation reference on MobileNetV2 for GuidedBackpropTests.swift.

Keras 3 MobileNetV2 (alpha 0.35, 32×32 input, 10 classes, logits out), its config written as
Keras writes it and every weight set by make_zoo_fixtures.py's formula (so no weight file is
committed; ZooFormula sets the same weights in the test). The guided gradient of logit 3 with
respect to the input x[i] = 127.5 · sin(0.37·i) / 127.5 (the formula input at scale 1, offset 0)
is computed by TensorFlow with each ReLU6 replaced by one whose gradient is the guided rule,
∂L/∂x = [0 < x < 6] · max(∂L/∂y, 0) (tf.custom_gradient), and written with the config to
guided_mobilenet_v2.json.

Run: /work/.peers/bin/python Tests/Fixtures/make_guided_fixtures.py
(pip install keras tensorflow-cpu)
"""
import json, os, sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
import tensorflow as tf

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from make_zoo_fixtures import compact, formula_input, set_weights  # noqa: E402


@tf.custom_gradient
def guided_relu6(x):
    def gradient(dy):
        return tf.cast((x > 0) & (x < 6), dy.dtype) * tf.nn.relu(dy)
    return tf.clip_by_value(x, 0.0, 6.0), gradient


class GuidedReLU6(keras.layers.Layer):
    def call(self, x):
        return guided_relu6(x)


model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10,
                                       classifier_activation=None)
set_weights(model)
relus = [layer.name for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
assert all(model.get_layer(name).max_value == 6 for name in relus)
guided = keras.models.clone_model(
    model, clone_function=lambda layer: GuidedReLU6(name=layer.name) if layer.name in relus else layer.__class__.from_config(layer.get_config()))
guided.set_weights(model.get_weights())
x = tf.constant(formula_input((1, 32, 32, 3), 1.0, 0.0), dtype=tf.float32)
with tf.GradientTape() as tape:
    tape.watch(x)
    score = guided(x)[:, 3]
gradient = tape.gradient(score, x).numpy()
plain = model(x).numpy()
assert np.allclose(guided(x).numpy(), plain, atol=1e-5), "the guided copy computes the same logits"
out = {"model_config": compact(json.loads(model.to_json())), "input_shape": [1, 32, 32, 3], "class": 3,
       "relu6_layers": len(relus), "logits": plain.reshape(-1).tolist(),
       "guided_gradient": {"shape": list(gradient.shape), "data": [float(f"{v:.7g}") for v in gradient.reshape(-1)]}}
with open(os.path.join(here, "guided_mobilenet_v2.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(f"wrote guided_mobilenet_v2.json ({len(relus)} ReLU6 layers guided; Keras {keras.__version__}, TF {tf.__version__})")
