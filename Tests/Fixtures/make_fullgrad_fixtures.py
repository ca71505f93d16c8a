"""pytorch-grad-cam 1.5.4's FullGrad for FullGradTests.swift, on the reduced torchvision ResNet18 of
`torchvision/resnet18_reduced.pth` (the weights Sightline reads natively), class 5, input
x[i] = 2·sin(0.37·i) (NHWC order, batch 2, 64×64); the first image's 64×64 map is written to
fullgrad_expected.json. The network's ReLUs are made out-of-place first: pytorch-grad-cam hooks
each BatchNorm's output, and torchvision's in-place ReLU would overwrite that tensor before its
gradient is read (FullGrad's bias gradient is the one at the BatchNorm's output).

Run: /usr/bin/python3 Tests/Fixtures/make_fullgrad_fixtures.py
(Debian python3-torch python3-torchvision; pip install grad-cam==1.5.4 ttach
opencv-python-headless==4.8.1.78 --no-deps)
"""
import json, os, sys

import numpy as np
import torch
from pytorch_grad_cam import FullGrad
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
for module in model.modules():
    if isinstance(module, torch.nn.ReLU):
        module.inplace = False
size, target = 64, 5
nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
with FullGrad(model=model, target_layers=[]) as cam:
    maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2)
out = {"input_shape": [2, size, size, 3], "class": target, "layers": len(cam.bias_data),
       "fullgrad": {"shape": [size, size], "data": [float(f"{v:.7g}") for v in maps[0].reshape(-1)]}}
with open(os.path.join(here, "fullgrad_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(f"wrote fullgrad_expected.json ({len(cam.bias_data)} bias layers)")
