"""PyTorch files as torch itself writes them, for TorchStateDictTests.swift: the same random
torchvision models as the converted fixtures next to them (pretrained/convert_torchvision.py,
seed 0, BatchNorm statistics randomised), so the expected logits are those files'
`*_expected.json` (checked here against torch again).

- resnet18_reduced.pth: torch.save(state_dict), the zip format (torch >= 1.6).
- resnet18_reduced_legacy.pth: the legacy pickle stream (_use_new_zipfile_serialization=False)
  of a training checkpoint {"state_dict": {"module." + key: …}, "epoch": 3}, as
  DataParallel-wrapped training scripts save it.
- resnet18_reduced.safetensors: safetensors.torch.save_file(state_dict).
- vgg16_reduced.pth: the zip format, VGG16 (fc1 rows in torch's C,H,W order).
- custom_cnn.pth: a small network of the user's own (no torchvision architecture).
- vgg11_bn_reduced.pth, vgg13_reduced.pth: torchvision's VGG11 with BatchNorm (statistics
  randomised) and VGG13 at 1/32 width, 10 classes, seed 0, with their logits for x[i] =
  2·sin(0.37·i) at 224×224 in vgg11_bn_expected.json and vgg13_expected.json (written here).

Run: /usr/bin/python3 Tests/Fixtures/make_torch_fixtures.py
(Debian: apt-get install python3-torch python3-torchvision; pip install safetensors)
"""
import json, os, sys

import numpy as np
import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import random_model  # noqa: E402

out = os.path.join(here, "torchvision")
FIXTURES = {"resnet18": (16, 64), "vgg16": (32, 224)}  # reduced width, input size (as the .h5 fixtures)

for arch, (reduced, size) in FIXTURES.items():
    model = random_model(arch, reduced, 10, 0)
    state = model.state_dict()
    with open(os.path.join(out, f"{arch}_expected.json")) as f:
        expected = json.load(f)
    nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
    with torch.no_grad():
        logits = model(torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()).reshape(-1).numpy()
    assert np.allclose(logits, expected["logits"]["data"], atol=1e-5), f"{arch}: not the model of {arch}_expected.json"
    torch.save(state, os.path.join(out, f"{arch}_reduced.pth"))
    if arch == "resnet18":
        checkpoint = {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3}
        torch.save(checkpoint, os.path.join(out, f"{arch}_reduced_legacy.pth"), _use_new_zipfile_serialization=False)
        save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(out, f"{arch}_reduced.safetensors"))
from convert_torchvision import randomise_batchnorm  # noqa: E402
from torchvision.models import vgg as tv_vgg  # noqa: E402

for arch, blocks, batch_norm in [("vgg11_bn", [1, 1, 2, 2, 2], True), ("vgg13", [2, 2, 2, 2, 2], False)]:
    torch.manual_seed(0)
    cfg = []
    for convs, width in zip(blocks, [64, 128, 256, 512, 512]):
        cfg += [width // 32] * convs + ["M"]
    model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=batch_norm), num_classes=10)
    model.classifier = torch.nn.Sequential(
        torch.nn.Linear(16 * 49, 128), torch.nn.ReLU(True), torch.nn.Dropout(),
        torch.nn.Linear(128, 128), torch.nn.ReLU(True), torch.nn.Dropout(), torch.nn.Linear(128, 10))
    model = randomise_batchnorm(model)
    nhwc = (2 * np.sin(0.37 * np.arange(2 * 224 * 224 * 3))).astype(np.float32).reshape(2, 224, 224, 3)
    with torch.no_grad():
        logits = model(torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()).numpy()
    torch.save(model.state_dict(), os.path.join(out, f"{arch}_reduced.pth"))
    with open(os.path.join(out, f"{arch}_expected.json"), "w") as f:
        json.dump({"input_shape": [2, 224, 224, 3],
                   "logits": {"shape": list(logits.shape), "data": [float(v) for v in logits.reshape(-1)]}}, f)
torch.manual_seed(1)
custom = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                             torch.nn.Flatten(), torch.nn.Linear(4, 2))
torch.save(custom.state_dict(), os.path.join(out, "custom_cnn.pth"))
print(f"wrote torch {torch.__version__} files to {out}")
