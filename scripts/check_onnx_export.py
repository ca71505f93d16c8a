"""Checks `sightline convert MODEL -o OUT.onnx` against ONNX Runtime: for the shipped model and
Keras Applications families with random weights (written by real Keras 3), the ONNX file Sightline
writes, run by ONNX Runtime on NCHW input, must give what Keras gives on the same images (NHWC)
within 1e-4 of scale (Sightline itself matches Keras within 1e-5 on these, ZooTests); and a
torchvision ResNet18 and every torchvision and timm family fixture read from its `.pth` must give
torch's logits.

Run: python3 scripts/check_onnx_export.py [--sightline .build/release/sightline]
(pip install keras tensorflow-cpu onnxruntime; not part of CI, which has no Python stack; the
round trip through Sightline's own ONNX reader is, ONNXWriterTests.)
"""
import argparse, os, subprocess, sys, tempfile

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--sightline", default=".build/release/sightline")
args = parser.parse_args()

import keras  # noqa: E402
import onnxruntime  # noqa: E402

work = tempfile.mkdtemp(prefix="sightline-onnx-")
keras.utils.set_random_seed(3)
A = keras.applications
models = {
    "digits_resnet": keras.models.load_model("pretrained/digits_resnet.h5", compile=False),
    "mobilenetv2": A.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35, classes=10),
    "resnet50": A.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10),
    "vgg16": A.VGG16(weights=None, input_shape=(64, 64, 3), classes=10),
    "densenet121": A.DenseNet121(weights=None, input_shape=(64, 64, 3), classes=10),
    "mobilenet": A.MobileNet(weights=None, input_shape=(64, 64, 3), alpha=0.25, classes=10),
    "xception": A.Xception(weights=None, input_shape=(71, 71, 3), classes=10),
}
failures = 0
for name, model in models.items():
    # Random BatchNorm statistics, so a wrong normalisation cannot hide.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([np.random.uniform(0.7, 1.3, gamma.shape), np.random.normal(0, 0.2, beta.shape),
                               np.random.normal(0, 0.2, mean.shape), np.random.uniform(0.5, 1.5, var.shape)])
    source = os.path.join(work, f"{name}.keras")
    model.save(source)
    onnx = os.path.join(work, f"{name}.onnx")
    result = subprocess.run([args.sightline, "convert", source, "-o", onnx], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{name:14s} convert failed: {result.stderr.strip()}")
        failures += 1
        continue
    shape = model.input_shape[1:]
    x = np.random.default_rng(1).uniform(-1, 1, (2,) + shape).astype(np.float32)
    expected = model.predict(x, verbose=0)
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2).copy()})[0]
    error = np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12)
    verdict = "ok" if error <= 1e-4 else "DIFFERS"
    failures += verdict != "ok"
    print(f"{name:14s} ONNX Runtime {onnxruntime.__version__} vs Keras {keras.__version__}: {error:.2e} of scale  {verdict}")
# A torchvision ResNet read from its .pth (a linear Dense output) against torch's own logits.
import json  # noqa: E402
onnx = os.path.join(work, "resnet18_torchvision.onnx")
subprocess.run([args.sightline, "convert", "Tests/Fixtures/torchvision/resnet18_reduced.pth", "--input-size", "64",
                "-o", onnx], check=True, capture_output=True)
with open("Tests/Fixtures/torchvision/resnet18_expected.json") as f:
    expected = np.array(json.load(f)["logits"]["data"]).reshape(2, 10)
x = (2 * np.sin(0.37 * np.arange(2 * 64 * 64 * 3))).astype(np.float32).reshape(2, 64, 64, 3)
session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
got = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2).copy()})[0]
error = np.abs(got - expected).max() / np.abs(expected).max()
failures += error > 1e-4
print(f"{'resnet18 .pth':14s} ONNX Runtime {onnxruntime.__version__} vs torch 1.13: {error:.2e} of scale  {'ok' if error <= 1e-4 else 'DIFFERS'}")
# Every torchvision and timm family read from its state dict (Tests/Fixtures/make_torch_family_fixtures.py).
with open("Tests/Fixtures/torchvision/families_expected.json") as f:
    families = json.load(f)
for name, entry in families.items():
    source = f"Tests/Fixtures/torchvision/{name if name.startswith('timm') else 'family_' + name}.pth"
    onnx = os.path.join(work, f"{name}.onnx")
    result = subprocess.run([args.sightline, "convert", source, "--input-size", "64", "-o", onnx],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{name:14s} convert failed: {result.stderr.strip()}")
        failures += 1
        continue
    expected = np.array(entry["logits"]["data"]).reshape(entry["logits"]["shape"])
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2).copy()})[0]
    error = np.abs(got - expected).max() / np.abs(expected).max()
    failures += error > 1e-4
    print(f"{name:22s} .pth → ONNX Runtime vs torch: {error:.2e} of scale  {'ok' if error <= 1e-4 else 'DIFFERS'}")
sys.exit(1 if failures else 0)
