"""A tf.keras model whose graph is operator nodes, as tf.keras writes them for code such as
MobileNetV3's and user models: SlicingOpLambda (`x[:, :, :, :8]`, `x[:, 1:, ::2, 8:]`,
`x[:, -3:]`) and TFOpLambda (relu6, truediv, multiply, subtract, reduce_mean over the spatial
axes, with and without keepdims). Writes layouts/tfkeras_slicing.h5 (full model, no weights)
and layouts/tfkeras_slicing.json (the input and tf.keras's outputs).
Needs: pip install tensorflow-cpu tf-keras."""
import json, os
import numpy as np
import tensorflow as tf
import tf_keras as K

here = os.path.join(os.path.dirname(__file__), "layouts")
i = K.Input((8, 8, 16))
a = i[:, :, :, :8]
b = i[:, 1:, ::2, 8:]
c = tf.nn.relu6(a) / 3.0
d = tf.math.multiply(c, 2.0) - 1.0
e = tf.reduce_mean(d, axis=[1, 2])
f = tf.reduce_mean(i[:, -3:], axis=[-3, -2], keepdims=True)
model = K.Model(i, [b, e, f])
model.save(os.path.join(here, "tfkeras_slicing.h5"))
x = (np.arange(2 * 8 * 8 * 16, dtype=np.float32).reshape(2, 8, 8, 16) % 23 - 11) / 2.0
outputs = model.predict(x, verbose=0)
with open(os.path.join(here, "tfkeras_slicing.json"), "w") as out:
    json.dump({"made_by": f"Tests/Fixtures/make_slicing_fixtures.py, tf_keras {K.__version__}",
               "input": x.reshape(-1).tolist(), "input_shape": list(x.shape),
               "outputs": {name: o.reshape(-1).tolist() for name, o in zip(model.output_names, outputs)},
               "output_shapes": {name: list(o.shape) for name, o in zip(model.output_names, outputs)}}, out)
print({name: o.shape for name, o in zip(model.output_names, outputs)})
