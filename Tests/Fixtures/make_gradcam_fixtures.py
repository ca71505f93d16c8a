#!/usr/bin/env python3
"""Grad-CAM raw maps computed the keras.io way (examples/vision/grad_cam.py: GradientTape on the
pre-softmax score, pooled gradients, channel-weighted sum), the reference for Sightline's maps.

    python3 Tests/Fixtures/make_gradcam_fixtures.py   (after make_weight_fixtures.py)

Models: the reduced VGG16 (Tests/Fixtures/weights/vgg16_keras3.h5, 32x32, layer block5_conv3)
and the reduced ResNet50 (resnet50_keras3.h5) rebuilt from its own config with a 96x96 input
and the same weights (layer conv5_block3_out). Two inputs x[i] = 50·sin(0.37·i) over the flat NHWC index (already
preprocessed; the Swift test recomputes them): image 0 explains the top
class, image 1 class 3. Written per model: input shape, classes, and ReLU(heatmap) before any
normalisation, to Tests/Fixtures/gradcam.json.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
# TF 2.21's oneDNN conv-backprop kernel aborts on these tiny-channel shapes ("invalid fastbin
# entry"); TF's own kernels give the same maps.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import keras
import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))



def gradcam(model, layer, images, classes):
    model.layers[-1].activation = None  # as the keras.io example: differentiate the pre-softmax score
    grad_model = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
    maps, chosen = [], []
    for image, pred_index in zip(images, classes):
        with tf.GradientTape() as tape:
            conv_output, preds = grad_model(image[None])
            if pred_index is None:
                pred_index = int(tf.argmax(preds[0]))
            class_channel = preds[:, pred_index]
        grads = tape.gradient(class_channel, conv_output)
        pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
        heatmap = tf.squeeze(conv_output[0] @ pooled_grads[..., tf.newaxis])
        maps.append(np.maximum(np.asarray(heatmap).reshape(conv_output.shape[1], conv_output.shape[2]), 0))
        chosen.append(pred_index)
    return np.stack(maps), chosen


def entry(model, layer, size, source):
    images = (50 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
    maps, classes = gradcam(model, layer, images, [None, 3])
    return {"source": source, "layer": layer, "input_size": size, "classes": classes,
            "input_shape": list(images.shape),
            "maps": {"shape": list(maps.shape), "data": [float(v) for v in maps.reshape(-1)]}}


vgg = keras.models.load_model(os.path.join(HERE, "weights", "vgg16_keras3.h5"), compile=False)
small = keras.models.load_model(os.path.join(HERE, "weights", "resnet50_keras3.h5"), compile=False)
config = small.get_config()
config["layers"][0]["config"]["batch_shape"] = [None, 96, 96, 3]
resnet = keras.Model.from_config(config)
resnet.set_weights(small.get_weights())
out = {"keras": keras.__version__, "tensorflow": tf.__version__,
       "vgg16": entry(vgg, "block5_conv3", 32, "weights/vgg16_keras3.h5"),
       "resnet50": entry(resnet, "conv5_block3_out", 96, "weights/resnet50_keras2.h5")}
with open(os.path.join(HERE, "gradcam.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote gradcam.json", {k: out[k]["maps"]["shape"] for k in ["vgg16", "resnet50"]}, out["vgg16"]["classes"], out["resnet50"]["classes"])
