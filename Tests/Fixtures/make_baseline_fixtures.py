"""Captum 0.7 with baselines other than zero, for AttributionBaselineTests.swift: on the reduced
torchvision ResNet18 of `torchvision/resnet18_reduced.pth` (the weights Sightline reads natively),
class 3, input x[i] = 2·sin(0.37·i) (NHWC order, batch 1, 32×32):

- IntegratedGradients (`riemann_trapezoid`, 8 steps) from a black image through torchvision's
  normalisation ((0 − mean) / std per channel) and from the image blurred by
  `scipy.ndimage.gaussian_filter(channel, 2, mode="nearest", truncate=3)`;
- Occlusion with a 8×8 window moved by 4 whose patches are filled with that blurred image.

The per-channel attributions (NHWC) go to baseline_expected.json.

Run: /usr/bin/python3 Tests/Fixtures/make_baseline_fixtures.py
(Debian python3-torch python3-torchvision python3-scipy; pip install captum==0.7.0 --no-deps)
"""
import json, os, sys

import numpy as np
import torch
from captum.attr import IntegratedGradients, Occlusion
from scipy.ndimage import gaussian_filter

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
size, target = 32, 3
nhwc = (2 * np.sin(0.37 * np.arange(size * size * 3))).astype(np.float32).reshape(1, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
black = torch.from_numpy((-mean / std).astype(np.float32)).reshape(1, 3, 1, 1).expand_as(x).contiguous()
blurred = torch.from_numpy(np.stack([gaussian_filter(x[0, c].numpy(), 2, mode="nearest", truncate=3)
                                     for c in range(3)])[None].astype(np.float32))


def nhwc_list(tensor):
    array = tensor.detach().numpy().transpose(0, 2, 3, 1)
    return {"shape": list(array.shape), "data": [float(f"{v:.7g}") for v in array.reshape(-1)]}


ig = IntegratedGradients(model)
out = {"input_shape": [1, size, size, 3], "class": target, "black": [float(v) for v in (-mean / std)],
       "blurred": nhwc_list(blurred),
       "ig_black": nhwc_list(ig.attribute(x, baselines=black, target=target, n_steps=8, method="riemann_trapezoid")),
       "ig_blur": nhwc_list(ig.attribute(x, baselines=blurred, target=target, n_steps=8, method="riemann_trapezoid")),
       "occlusion_blur": nhwc_list(Occlusion(model).attribute(x, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4),
                                                              baselines=blurred, target=target))}
with open(os.path.join(here, "baseline_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote baseline_expected.json")
