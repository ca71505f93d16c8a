"""ONNX models exported by torch.onnx from the same random torchvision models as the `.pth` and
converted `.h5` fixtures (pretrained/convert_torchvision.py, seed 0, BatchNorm statistics
randomised), for ONNXModelTests.swift. Each export is run by ONNX Runtime here, and its outputs
for x[i] = 2·sin(0.37·i) (NHWC order, transposed to NCHW for the model) are written to
onnx_expected.json; they are checked against torch's own logits (`*_expected.json`) within 1e-4.

- resnet18_reduced_opset9.onnx, resnet18_reduced_opset13.onnx: ResNet18 at 1/16 width, 64×64.
- vgg16_reduced.onnx: VGG16 at 1/32 width, 224×224 (Flatten of a 7×7 map feeding Gemm), opset 13.
- resnet18_reduced_external.onnx (+ .data): the opset-13 model with its weights in an external
  data file, as large models are saved.

Run: /usr/bin/python3 Tests/Fixtures/make_onnx_fixtures.py
(Debian: apt-get install python3-torch python3-torchvision; pip install onnx onnxruntime)
"""
import json, os, sys

import numpy as np
import onnx
import onnxruntime
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import random_model  # noqa: E402

out = os.path.join(here, "torchvision")
expected = {}


def export(arch, reduced, size, opset, name):
    model = random_model(arch, reduced, 10, 0)
    path = os.path.join(out, name)
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(model, dummy, path, opset_version=opset, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    logits = session.run(None, {"image": np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))})[0]
    with open(os.path.join(out, f"{arch}_expected.json")) as f:
        torch_logits = np.array(json.load(f)["logits"]["data"]).reshape(logits.shape)
    assert np.abs(logits - torch_logits).max() <= 1e-4 * max(1, np.abs(torch_logits).max()), name
    expected[name] = {"input_shape": [2, size, size, 3], "logits": {"shape": list(logits.shape),
                                                                   "data": logits.reshape(-1).tolist()}}
    return path


export("resnet18", 16, 64, 9, "resnet18_reduced_opset9.onnx")
path = export("resnet18", 16, 64, 13, "resnet18_reduced_opset13.onnx")
export("vgg16", 32, 224, 13, "vgg16_reduced.onnx")
external = onnx.load(path)
onnx.save_model(external, os.path.join(out, "resnet18_reduced_external.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="resnet18_reduced_external.onnx.data", size_threshold=0)
expected["resnet18_reduced_external.onnx"] = expected["resnet18_reduced_opset13.onnx"]
with open(os.path.join(out, "onnx_expected.json"), "w") as f:
    json.dump(expected, f, separators=(",", ":"))
print(f"wrote {sorted(expected)} (torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__})")
