"""pytorch-grad-cam 1.5.4's ROAD metrics for ROADTests.swift, with the imputation noise set to 0
(pytorch-grad-cam draws it from torch's generator, which Sightline does not replay): on the
reduced torchvision ResNet18 of `torchvision/resnet18_reduced.pth` (the weights Sightline reads
natively), input x[i] = 2·sin(0.37·i) (NHWC order, batch 1, 32×32), class 3 (ClassifierOutputTarget:
the logit), and the map m(y, x) = (sin(0.31·y + 0.05·x) + cos(0.23·x − 0.07·y) + 2) / 4.

Writes road_expected.json: ROADMostRelevantFirstAverage, ROADLeastRelevantFirstAverage and
ROADCombined over the percentiles 10 … 90, and the image imputed by RemoveMostRelevantFirst(50)
(NHWC).

Run: /usr/bin/python3 Tests/Fixtures/make_road_fixtures.py
(Debian python3-torch python3-torchvision python3-scipy; pip install grad-cam==1.5.4 ttach
opencv-python-headless==4.8.1.78 --no-deps)
"""
import json, os, sys

import numpy as np
import torch
import pytorch_grad_cam.metrics.road as road
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

original_init = road.NoisyLinearImputer.__init__
road.NoisyLinearImputer.__init__ = lambda self, noise=0.0, weighting=road.neighbors_weights: original_init(
    self, 0.0, weighting)

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
size, target = 32, 3
nhwc = (2 * np.sin(0.37 * np.arange(size * size * 3))).astype(np.float32).reshape(1, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
y, xx = np.mgrid[0:size, 0:size]
cam = ((np.sin(0.31 * y + 0.05 * xx) + np.cos(0.23 * xx - 0.07 * y) + 2) / 4).astype(np.float32)[None]
targets = [ClassifierOutputTarget(target)]
morf = road.ROADMostRelevantFirstAverage()(x, cam, targets, model)
lerf = road.ROADLeastRelevantFirstAverage()(x, cam, targets, model)
combined = road.ROADCombined()(x, cam, targets, model)
imputed = road.RemoveMostRelevantFirst(50, road.NoisyLinearImputer())(x[0], torch.from_numpy(cam[0]))
out = {"input_shape": [1, size, size, 3], "class": target,
       "map": {"shape": [size, size], "data": cam.reshape(-1).tolist()},
       "most_relevant_first": float(morf[0]), "least_relevant_first": float(lerf[0]), "combined": float(combined[0]),
       "imputed_50": {"shape": [1, size, size, 3],
                      "data": [float(f"{v:.7g}") for v in imputed.numpy().transpose(1, 2, 0).reshape(-1)]}}
with open(os.path.join(here, "road_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote road_expected.json", out["most_relevant_first"], out["least_relevant_first"], out["combined"])
