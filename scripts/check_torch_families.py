"""Full-size check of the PyTorch route: torchvision's and timm's published architectures at
full size (random weights; BatchNorm statistics, norm weights and layer scales randomised as in
Tests/Fixtures/make_torch_family_fixtures.py), each saved as torch saves a state dict, then read
natively by Sightline (`TorchFamilyTests.fullSizeStateDicts`, run by this script with
SIGHTLINE_TORCH_FULL_DIR set) and compared with torch's logits for x[i] = 2·sin(0.37·i) at
224×224 within 1e-4 of scale. CI runs the same builders on small variants of each family.

Run: /usr/bin/python3 scripts/check_torch_families.py [--keep DIR] [--only NAME,...]
(Debian: apt-get install python3-torch python3-torchvision; pip install --no-deps timm==0.9.16;
about 1 GB of temporary files and 10 minutes on 2 cores.)
"""
import argparse, json, os, subprocess, sys, tempfile

import numpy as np
import torch
import torchvision.models as tv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures"))
from make_torch_family_fixtures import randomise  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--keep", help="write the files here and keep them")
parser.add_argument("--only", help="comma-separated model names")
args = parser.parse_args()

MODELS = {
    "resnet50": lambda: tv.resnet50(), "resnext50_32x4d": lambda: tv.resnext50_32x4d(),
    "wide_resnet50_2": lambda: tv.wide_resnet50_2(), "vgg16_bn": lambda: tv.vgg16_bn(),
    "mobilenet_v2": lambda: tv.mobilenet_v2(), "mobilenet_v3_large": lambda: tv.mobilenet_v3_large(),
    "mobilenet_v3_small": lambda: tv.mobilenet_v3_small(), "efficientnet_b0": lambda: tv.efficientnet_b0(),
    "efficientnet_b5": lambda: tv.efficientnet_b5(), "efficientnet_v2_s": lambda: tv.efficientnet_v2_s(),
    "densenet121": lambda: tv.densenet121(), "convnext_tiny": lambda: tv.convnext_tiny(),
    "regnet_y_400mf": lambda: tv.regnet_y_400mf(), "regnet_x_400mf": lambda: tv.regnet_x_400mf(),
}
try:
    import timm
    for name in ["resnet50", "efficientnet_b0", "convnext_tiny", "regnety_008"]:
        MODELS[f"timm_{name}"] = (lambda n: lambda: timm.create_model(n, pretrained=False))(name)
except ImportError:
    print("timm is not installed: its names are not checked")
names = args.only.split(",") if args.only else list(MODELS)
directory = args.keep or tempfile.mkdtemp(prefix="sightline-torch-")
os.makedirs(directory, exist_ok=True)
torch.manual_seed(0)
x = (2 * np.sin(0.37 * np.arange(2 * 224 * 224 * 3))).astype(np.float32).reshape(2, 224, 224, 3)
expected = {}
for name in names:
    model = randomise(MODELS[name]())
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    torch.save(model.state_dict(), os.path.join(directory, f"{name}.pth"))
    expected[name] = {"input_shape": [2, 224, 224, 3],
                      "logits": {"shape": list(logits.shape), "data": logits.reshape(-1).tolist()}}
    print(f"wrote {name}.pth", flush=True)
with open(os.path.join(directory, "expected.json"), "w") as f:
    json.dump(expected, f)
environment = dict(os.environ, SIGHTLINE_TORCH_FULL_DIR=directory)
result = subprocess.run(["swift", "test", "--filter", "TorchFamilyTests/fullSizeStateDicts"], env=environment)
sys.exit(result.returncode)
