"""References for the explanation methods beyond Grad-CAM, from the libraries users compare
Sightline with, for AttributionMethodTests.swift: pytorch-grad-cam 1.5.4 (HiResCAM,
GradCAMElementWise, XGradCAM, LayerCAM, EigenCAM, EigenGradCAM, AblationCAM: the raw map at the target layer
before its ReLU and resize, from each class's own `get_cam_image`) and Captum 0.7 (Saliency,
InputXGradient, IntegratedGradients with `riemann_trapezoid`, 16 steps, zero baseline, Occlusion
with an 8×8 window over all channels moved by 4, baseline 0: the per-channel attribution; and with
the options, IntegratedGradients at 8 steps and Occlusion with a 16×16 window moved by 8), on the reduced torchvision ResNet18 of `torchvision/resnet18_reduced.pth`
(the same weights Sightline reads natively) with target layer `layer4` (Sightline's
`layer4.1.out`), the input x[i] = 2·sin(0.37·i) (NHWC order, batch 2) and target class 3.

Also writes noise_tunnel_expected.json: Captum's NoiseTunnel (SmoothGrad, SmoothGrad², VarGrad; 3
samples) over Saliency and InputXGradient on one 32×32 image x[i] = 2·sin(0.37·i), class 3, with
Captum's Gaussian draw replaced by a fixed pattern, noise(k, c, y, x) = σ·sin(1.7k + 0.9c + 0.13y +
0.071x) for the k-th noisy copy (image i, sample s: k = 3i + s), so Sightline can replay it.

Run: /usr/bin/python3 Tests/Fixtures/make_attribution_fixtures.py
(Debian python3-torch python3-torchvision python3-matplotlib python3-sklearn; pip install
grad-cam==1.5.4 captum==0.7.0 ttach opencv-python-headless==4.8.1.78 --no-deps)
"""
import json, os, sys

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from pytorch_grad_cam import AblationCAM, EigenCAM, EigenGradCAM, GradCAMElementWise, HiResCAM, LayerCAM, XGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "pretrained"))
from convert_torchvision import build  # noqa: E402

model = build("resnet18", 16, 10).eval()
model.load_state_dict(torch.load(os.path.join(here, "torchvision", "resnet18_reduced.pth")))
size, target = 64, 3
nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
x = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
targets = [ClassifierOutputTarget(target)] * 2
out = {"input_shape": [2, size, size, 3], "class": target, "layer": "layer4.1.out"}


def nhwc_list(array, first_only=False):
    """NHWC (maps [N, h, w] as they are), 7 significant digits; input-sized attributions keep the
    first image only (the file stays small)."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 4:
        array = array.transpose(0, 2, 3, 1)
    if first_only:
        array = array[:1]
    return {"shape": list(array.shape), "data": [float(f"{v:.7g}") for v in array.reshape(-1)]}


for name, method in {"hirescam": HiResCAM, "gradcam-elementwise": GradCAMElementWise, "xgradcam": XGradCAM,
                     "layercam": LayerCAM, "eigencam": EigenCAM, "eigengradcam": EigenGradCAM,
                     "ablationcam": AblationCAM}.items():
    cam = method(model=model, target_layers=[model.layer4])
    outputs = cam.activations_and_grads(x)
    cam.model.zero_grad()
    loss = sum(t(o) for t, o in zip(targets, outputs))
    loss.backward(retain_graph=True)
    activations = cam.activations_and_grads.activations[0].cpu().data.numpy()
    grads = cam.activations_and_grads.gradients[0].cpu().data.numpy()
    raw = cam.get_cam_image(x, model.layer4, targets, activations, grads, False)
    out[name] = nhwc_list(raw)  # [N, h, w], before ReLU
    cam.activations_and_grads.release()

out["saliency"] = nhwc_list(Saliency(model).attribute(x, target=target, abs=True).detach().numpy(), True)
out["input-x-gradient"] = nhwc_list(InputXGradient(model).attribute(x, target=target).detach().numpy(), True)
ig = IntegratedGradients(model).attribute(x, target=target, n_steps=16, method="riemann_trapezoid")
out["integrated-gradients"] = nhwc_list(ig.detach().numpy(), True)
occlusion = Occlusion(model).attribute(x, target=target, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4),
                                       baselines=0)
out["occlusion"] = nhwc_list(occlusion.detach().numpy(), True)
# The options: 8 steps, and a 16×16 window moved by 8 (`gradcam --steps 8`, `--window 16 --stride 8`).
ig8 = IntegratedGradients(model).attribute(x, target=target, n_steps=8, method="riemann_trapezoid")
out["integrated-gradients-8"] = nhwc_list(ig8.detach().numpy(), True)
occlusion16 = Occlusion(model).attribute(x, target=target, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8),
                                         baselines=0)
out["occlusion-16-8"] = nhwc_list(occlusion16.detach().numpy(), True)
# NoiseTunnel with a replayable draw: torch.normal(0, std) -> std * pattern over (k, c, y, x).
real_normal = torch.normal


def pattern_normal(mean, std, *args, **kwargs):
    k, c, h, w = torch.meshgrid(*[torch.arange(n, dtype=torch.float64) for n in std.shape], indexing="ij")
    return (std * torch.sin(1.7 * k + 0.9 * c + 0.13 * h + 0.071 * w)).to(std.dtype)


small = torch.from_numpy(np.ascontiguousarray(
    (2 * np.sin(0.37 * np.arange(32 * 32 * 3))).astype(np.float32).reshape(1, 32, 32, 3).transpose(0, 3, 1, 2)))
tunnel = {"input_shape": [1, 32, 32, 3], "class": target, "samples": 3, "sigma": 0.3}
torch.normal = pattern_normal
for name, method in {"saliency": Saliency, "input-x-gradient": InputXGradient}.items():
    for kind in ["smoothgrad", "smoothgrad_sq", "vargrad"]:
        attribution = NoiseTunnel(method(model)).attribute(small, nt_type=kind, nt_samples=3, stdevs=0.3,
                                                           target=target)
        tunnel[f"{name}/{kind}"] = nhwc_list(attribution.detach().numpy())
torch.normal = real_normal
with open(os.path.join(here, "noise_tunnel_expected.json"), "w") as f:
    json.dump(tunnel, f, separators=(",", ":"))
with open(os.path.join(here, "attribution_expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote attribution_expected.json", sorted(k for k in out if isinstance(out[k], dict)))
