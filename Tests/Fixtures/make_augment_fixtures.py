"""References for TrivialAugment (`finetune --trivial-augment`): torchvision 0.14's
TrivialAugmentWide operations (`torchvision.transforms.autoaugment._apply_op`, nearest
interpolation, no fill) on one uint8 image, at chosen magnitudes from the wide space.

Run: /usr/bin/python3 Tests/Fixtures/make_augment_fixtures.py  (Debian python3-torchvision)
Writes augment_expected.json: the image (HWC, 16x20x3) and, per case, the op, the magnitude and
the output (HWC); and RandAugment's magnitude space for that image's size (`rand_space`).
"""
import json
import os

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import RandAugment, TrivialAugmentWide, _apply_op

torch.manual_seed(0)
image = torch.randint(0, 256, (3, 16, 20), dtype=torch.uint8)
image[:, 4:10, 5:13] = torch.tensor([200, 40, 90], dtype=torch.uint8).view(3, 1, 1)  # a block to move
space = TrivialAugmentWide()._augmentation_space(31)
cases = []
for name, (magnitudes, signed) in space.items():
    bins = [7, 30] if magnitudes.ndim > 0 else [None]
    for b in bins:
        magnitude = float(magnitudes[b].item()) if b is not None else 0.0
        for sign in ([1.0, -1.0] if signed and b else [1.0]):
            out = _apply_op(image, name, sign * magnitude, interpolation=InterpolationMode.NEAREST, fill=None)
            cases.append({"op": name, "magnitude": sign * magnitude, "bin": b,
                          "output": out.permute(1, 2, 0).flatten().tolist()})
out = {"shape": [16, 20, 3], "image": image.permute(1, 2, 0).flatten().tolist(), "cases": cases,
       "space": {k: (v[0].tolist() if v[0].ndim > 0 else []) for k, v in space.items()},
       "rand_space": {k: (v[0].tolist() if v[0].ndim > 0 else [])
                      for k, v in RandAugment()._augmentation_space(31, (16, 20)).items()}}
path = os.path.join(os.path.dirname(__file__), "augment_expected.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote", path, len(cases), "cases")
