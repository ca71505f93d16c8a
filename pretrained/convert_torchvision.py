#!/usr/bin/env python3
"""Converts torchvision VGG16/19 and ResNet18/34/50/101/152 weights to an HDF5 file Sightline
loads (the Keras legacy weights-only layout), with `torch` preprocessing recorded.

    /usr/bin/python3 pretrained/convert_torchvision.py --arch resnet50 --weights resnet50-0676ba61.pth --output resnet50_torchvision.h5
    sightline inspect resnet50_torchvision.h5

Needs torch, torchvision and h5py (Debian: apt-get install python3-torch python3-torchvision python3-h5py).
Without --weights, the model keeps torchvision's random initialisation from --seed, with
BatchNorm statistics randomised (for tests). --reduced K divides every width by K using
torchvision's own block classes (small test fixtures); --expected FILE writes torch's outputs on
the input x[i] = 2·sin(0.37·i) over the flat NHWC index i (batch 2, already preprocessed; a test
recomputes it) so a test can compare without storing the input.

Layouts: conv weights OIHW -> HWIO; Linear (out, in) -> (in, out); BatchNorm weight, bias,
running_mean, running_var -> gamma, beta, moving_mean, moving_variance (epsilon 1e-5 is part of
Sightline's torchvision builders). VGG keeps Keras's layer names (block1_conv1 ... predictions),
and fc1's rows are permuted from torch's C,H,W flatten order to Keras's H,W,C. ResNet keeps
torchvision's module names (conv1, bn1, layer1.0.conv1, ..., fc).
"""
import argparse
import json

import h5py
import numpy as np
import torch
import torchvision
from torchvision.models import resnet as tv_resnet
from torchvision.models import vgg as tv_vgg

VGG_BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
RESNET = {"resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2]), "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3]),
          "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3]), "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3]),
          "resnet152": (tv_resnet.Bottleneck, [3, 8, 36, 3])}


def build(arch, reduced, classes):
    """The torchvision model; with reduced > 1, the same classes at 1/reduced width."""
    if reduced == 1:
        return getattr(torchvision.models, arch)(num_classes=classes)
    if arch in VGG_BLOCKS:
        cfg = []
        for convs, width in zip(VGG_BLOCKS[arch], [64, 128, 256, 512, 512]):
            cfg += [width // reduced] * convs + ["M"]
        model = tv_vgg.VGG(tv_vgg.make_layers(cfg), num_classes=classes)
        hidden, flat = 4096 // reduced, 512 // reduced * 49
        model.classifier = torch.nn.Sequential(
            torch.nn.Linear(flat, hidden), torch.nn.ReLU(True), torch.nn.Dropout(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(True), torch.nn.Dropout(), torch.nn.Linear(hidden, classes))
        return model
    block, layers = RESNET[arch]
    model = tv_resnet.ResNet(block, layers, num_classes=classes)
    model.inplanes = 64 // reduced
    model.conv1 = torch.nn.Conv2d(3, model.inplanes, 7, 2, 3, bias=False)
    model.bn1 = torch.nn.BatchNorm2d(model.inplanes)
    model.layer1 = model._make_layer(block, 64 // reduced, layers[0])
    model.layer2 = model._make_layer(block, 128 // reduced, layers[1], stride=2)
    model.layer3 = model._make_layer(block, 256 // reduced, layers[2], stride=2)
    model.layer4 = model._make_layer(block, 512 // reduced, layers[3], stride=2)
    model.fc = torch.nn.Linear(512 // reduced * block.expansion, classes)
    return model


def randomise_batchnorm(model):
    """BatchNorm statistics and affine weights drawn at random (so a wrong normalisation shows)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.7, 1.3)
                m.bias.normal_(0, 0.2)
    return model.eval()


def random_model(arch, reduced, classes, seed):
    """torchvision's random initialisation from `seed`, with BatchNorm statistics randomised."""
    torch.manual_seed(seed)
    return randomise_batchnorm(build(arch, reduced, classes).eval())


def keras_layers(arch, state):
    """[(layer name, [(weight name, array)])] in model order, in Keras layouts."""
    conv = lambda w: w.permute(2, 3, 1, 0).numpy()
    linear = lambda w: w.t().numpy()
    layers = []
    if arch in VGG_BLOCKS:
        convs = [k[: -len(".weight")] for k in state if k.startswith("features.") and k.endswith(".weight")]
        names = [f"block{b + 1}_conv{i + 1}" for b, n in enumerate(VGG_BLOCKS[arch]) for i in range(n)]
        for name, key in zip(names, convs):
            layers.append((name, [("kernel", conv(state[key + ".weight"])), ("bias", state[key + ".bias"].numpy())]))
        fc1 = state["classifier.0.weight"]
        channels = fc1.shape[1] // 49
        fc1 = fc1.reshape(fc1.shape[0], channels, 7, 7).permute(2, 3, 1, 0).reshape(49 * channels, fc1.shape[0])
        layers.append(("fc1", [("kernel", fc1.numpy()), ("bias", state["classifier.0.bias"].numpy())]))
        layers.append(("fc2", [("kernel", linear(state["classifier.3.weight"])), ("bias", state["classifier.3.bias"].numpy())]))
        layers.append(("predictions", [("kernel", linear(state["classifier.6.weight"])), ("bias", state["classifier.6.bias"].numpy())]))
        return layers
    for key, value in state.items():
        module, _, kind = key.rpartition(".")
        if kind == "num_batches_tracked":
            continue
        if value.dim() == 4:
            layers.append((module, [("kernel", conv(value))]))
        elif module == "fc":
            if kind == "weight":
                layers.append(("fc", [("kernel", linear(value))]))
            else:
                layers[-1][1].append(("bias", value.numpy()))
        else:
            role = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}[kind]
            if not layers or layers[-1][0] != module:
                layers.append((module, []))
            layers[-1][1].append((role, value.numpy()))
    return layers


def write(path, arch, layers, source):
    def fixed(strings):
        return np.array([s.encode() for s in strings], dtype=f"S{max(len(s) for s in strings)}")

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = fixed([name for name, _ in layers])
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["sightline_preprocessing"] = b"torch"
        f.attrs["sightline_architecture"] = f"torchvision-{arch}".encode()
        f.attrs["sightline_source"] = source.encode()
        for name, weights in layers:
            group = f.create_group(name)
            group.attrs["weight_names"] = fixed([f"{name}/{w}:0" for w, _ in weights])
            for w, value in weights:
                group.create_dataset(f"{name}/{w}:0", data=np.ascontiguousarray(value, dtype=np.float32))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, choices=list(VGG_BLOCKS) + list(RESNET))
    parser.add_argument("--weights", help="a torchvision state_dict (.pth)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reduced", type=int, default=1)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--expected")
    args = parser.parse_args()
    if args.weights:
        torch.manual_seed(args.seed)
        model = build(args.arch, args.reduced, args.classes).eval()
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
        source = args.weights
    else:
        model = random_model(args.arch, args.reduced, args.classes, args.seed)
        source = f"torchvision {torchvision.__version__} random initialisation, seed {args.seed}"
    write(args.output, args.arch, keras_layers(args.arch, model.state_dict()), source)
    if args.expected:
        size = args.input_size
        nhwc = (2 * np.sin(0.37 * np.arange(2 * size * size * 3))).astype(np.float32).reshape(2, size, size, 3)
        with torch.no_grad():
            logits = model(torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous())
        out = {"input_shape": [2, size, size, 3], "logits": {"shape": list(logits.shape), "data": logits.reshape(-1).tolist()}}
        with open(args.expected, "w") as f:
            json.dump(out, f, separators=(",", ":"))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
