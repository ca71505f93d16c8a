"""pytorch-grad-cam 1.5.4 references on the reduced torchvision ResNet18 of
`torchvision/resnet18_reduced.pth` (the weights Sightline reads natively), input
x[i] = 2·sin(0.37·i) (NHWC order, batch 2, 64×64), class 5 (one whose layer3 Grad-CAM is not
all zero for this input; most are, with random weights); the first image's 64×64 maps:

- aug_smooth_expected.json (AugmentationSmoothingTests): GradCAM at `layer3` (Sightline's
  `layer3.1.out`, a 4×4 map) with aug_smooth=True (ttach's HorizontalFlip × Multiply([0.9, 1,
  1.1])) and with aug_smooth=False, and its GradCAMPlusPlus and ScoreCAM, which depart from the
  official code (Sightline's `gradcam++-pgc`, `scorecam-pgc`), and LayerCAM at `layer2` and
  `layer3` fused (`--layer layer2.1.out,layer3.1.out`).
- fullgrad_expected.json (FullGradTests): FullGrad, with the network's ReLUs made out-of-place
  first: pytorch-grad-cam hooks each BatchNorm's output, and torchvision's in-place ReLU would
  overwrite that tensor before its gradient is read (FullGrad's bias gradient is the one at the
  BatchNorm's output).

Run: /usr/bin/python3 Tests/Fixtures/make_pytorch_grad_cam_fixtures.py
(Debian python3-torch python3-torchvision; pip install grad-cam==1.5.4 ttach
opencv-python-headless==4.8.1.78 --no-deps)
"""
import json, os, sys

import numpy as np
import torch
from pytorch_grad_cam import FullGrad, GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
size = 64
nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
target = 5  # a class whose layer3 Grad-CAM is not all zero for this input (most are, random weights)
out = {"input_shape": [2, size, size, 3], "class": target, "layer": "layer3.1.out"}
with GradCAM(model=model, target_layers=[model.layer3]) as cam:
    for key, smooth in [("aug_smooth", True), ("plain", False)]:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2, aug_smooth=smooth)
        out[key] = {"shape": [size, size], "data": [float(f"{v:.7g}") for v in maps[0].reshape(-1)]}
# pytorch-grad-cam's own Grad-CAM++ and Score-CAM (its departures from the official code), the
# same way: scaled, resized maps of the first image.
from pytorch_grad_cam import GradCAMPlusPlus, LayerCAM, ScoreCAM  # noqa: E402
for key, method in [("gradcam++-pgc", GradCAMPlusPlus), ("scorecam-pgc", ScoreCAM)]:
    with method(model=model, target_layers=[model.layer3]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2)
        out[key] = {"shape": [size, size], "data": [float(f"{v:.7g}") for v in maps[0].reshape(-1)]}
# LayerCAM at two layers (layer2, 8×8, and layer3, 4×4) fused as pytorch-grad-cam fuses target layers.
with LayerCAM(model=model, target_layers=[model.layer2, model.layer3]) as cam:
    maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2)
    out["layercam-layer2-layer3"] = {"shape": [size, size],
                                     "data": [float(f"{v:.7g}") for v in maps[0].reshape(-1)]}
with open(os.path.join(here, "aug_smooth_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote aug_smooth_expected.json")

for module in model.modules():
    if isinstance(module, torch.nn.ReLU):
        module.inplace = False
with FullGrad(model=model, target_layers=[]) as cam:
    maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * 2)
full = {"input_shape": [2, size, size, 3], "class": target, "layers": len(cam.bias_data),
        "fullgrad": {"shape": [size, size], "data": [float(f"{v:.7g}") for v in maps[0].reshape(-1)]}}
with open(os.path.join(here, "fullgrad_expected.json"), "w") as f:
    json.dump(full, f, separators=(",", ":"))
print(f"wrote fullgrad_expected.json ({len(cam.bias_data)} bias layers)")
