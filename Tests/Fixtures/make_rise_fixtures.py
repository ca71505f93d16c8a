"""RISE as its authors' code computes it (eclique/RISE, `explanations.py`: `generate_masks` and
`forward`, copied below), for RISETests.swift, on the reduced torchvision ResNet18 of
`torchvision/resnet18_reduced.pth` followed by a softmax (as the authors wrap their models),
input x[i] = 2·sin(0.37·i) (NHWC order, batch 1, 32×32), class 3, with N = 24 masks on a 4×4
grid, p1 = 0.5. The random draws are replaced by a pattern Sightline replays: cell (a, b) of mask
i is kept when sin(1.7·i + 0.9·a + 0.31·b) > 0, and mask i is shifted by (i mod 8, 3·i mod 8)
pixels (the cell is 8 pixels). Writes rise_expected.json: the draws and the class-3 saliency.

Run: /usr/bin/python3 Tests/Fixtures/make_rise_fixtures.py
(Debian python3-torch python3-torchvision; pip install scikit-image==0.22.0 lazy_loader --no-deps)
"""
import json, os, sys

import numpy as np
import torch
from skimage.transform import resize

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1))
size, target, N, s, p1 = 32, 3, 24, 4, 0.5
input_size = (size, size)


def generate_masks(N, s, p1):  # the authors' code, with the pattern instead of np.random
    cell_size = np.ceil(np.array(input_size) / s)
    up_size = (s + 1) * cell_size
    grid = np.array([[[np.sin(1.7 * i + 0.9 * a + 0.31 * b) > 0 for b in range(s)] for a in range(s)]
                     for i in range(N)]).astype("float32")
    masks = np.empty((N, *input_size))
    shifts = []
    for i in range(N):
        x, y = i % int(cell_size[0]), (3 * i) % int(cell_size[1])
        shifts.append([x, y])
        masks[i, :, :] = resize(grid[i], up_size, order=1, mode="reflect",
                                anti_aliasing=False)[x:x + input_size[0], y:y + input_size[1]]
    masks = masks.reshape(-1, 1, *input_size)
    return torch.from_numpy(masks).float(), grid, shifts


masks, grid, shifts = generate_masks(N, s, p1)
nhwc = (2 * np.sin(0.37 * np.arange(size * size * 3))).astype(np.float32).reshape(1, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
with torch.no_grad():  # the authors' `forward`
    _, _, H, W = x.size()
    stack = torch.mul(masks, x.data)
    p = torch.cat([model(stack[i:min(i + 8, N)]) for i in range(0, N, 8)])
    CL = p.size(1)
    sal = torch.matmul(p.data.transpose(0, 1), masks.view(N, H * W))
    sal = sal.view((CL, H, W))
    sal = sal / N / p1
out = {"input_shape": [1, size, size, 3], "class": target, "grid": s, "probability": p1,
       "cells": grid.reshape(N, -1).tolist(), "shifts": shifts,
       "masks": [float(f"{v:.7g}") for v in masks[:2].reshape(-1).numpy()],
       "saliency": {"shape": [size, size], "data": [float(f"{v:.7g}") for v in sal[target].reshape(-1).numpy()]}}
with open(os.path.join(here, "rise_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote rise_expected.json")
