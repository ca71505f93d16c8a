"""The weighted layer names tf.keras (2.x, what the official MobileNetV3 weight files were saved
with) gives MobileNetV3Small and MobileNetV3Large, with and without the top: Keras 3 renamed
them (`Conv/BatchNorm` is `conv_bn`), and Sightline maps them to recognise those files.
Writes layouts/tfkeras_mobilenet_v3_names.json. Needs: pip install tf-keras."""
import json, os
import tf_keras

out = {}
for name, build in (("mobilenetv3small", tf_keras.applications.MobileNetV3Small), ("mobilenetv3large", tf_keras.applications.MobileNetV3Large)):
    for top in (True, False):
        model = build(weights=None, include_top=top, input_shape=(224, 224, 3))
        out[name + ("" if top else "_notop")] = [layer.name for layer in model.layers if layer.weights]
        tf_keras.backend.clear_session()
path = os.path.join(os.path.dirname(__file__), "layouts", "tfkeras_mobilenet_v3_names.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
print(path, {k: len(v) for k, v in out.items()})
