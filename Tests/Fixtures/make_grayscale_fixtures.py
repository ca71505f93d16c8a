"""A grayscale Keras 2 model and real photos for Sightline's any-channel input test.

Writes Tests/Fixtures/grayscale/: model.h5 (tf.keras 2.x through `tf_keras`, a seeded small CNN
on 48x48x1 input with Rescaling(1/255) inside, saved with its config), three 48x48 RGB PNGs cut
from scikit-image's sample photos (astronaut, coffee, chelsea), and expected.json with Keras's
class probabilities for each image loaded as Keras users do: PIL `convert("L")`, then the model.

Run: python3 Tests/Fixtures/make_grayscale_fixtures.py  (pip install tf-keras tensorflow-cpu scikit-image pillow)
"""
import json, os
import numpy as np
from PIL import Image
import skimage.data
import tf_keras as keras

out = os.path.join(os.path.dirname(__file__), "grayscale")
os.makedirs(out, exist_ok=True)
keras.utils.set_random_seed(7)
L = keras.layers
x = keras.Input((48, 48, 1), name="image")
y = L.Rescaling(1 / 255, name="rescale")(x)
y = L.Conv2D(8, 3, activation="relu", name="conv1")(y)
y = L.MaxPooling2D(name="pool1")(y)
y = L.Conv2D(16, 3, activation="relu", name="conv2")(y)
y = L.GlobalAveragePooling2D(name="gap")(y)
y = L.Dense(5, activation="softmax", name="predictions")(y)
model = keras.Model(x, y, name="grayscale_cnn")
# Larger weights than the default initialisation so the probabilities differ clearly per image.
model.set_weights([w * 4 for w in model.get_weights()])
model.save(os.path.join(out, "model.h5"))

expected = {}
for name in ("astronaut", "coffee", "chelsea"):
    photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((48, 48), Image.BILINEAR)
    path = os.path.join(out, f"{name}.png")
    photo.save(path)
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)[None, :, :, None]
    expected[f"{name}.png"] = model.predict(gray, verbose=0)[0].astype(float).tolist()
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print(expected)
