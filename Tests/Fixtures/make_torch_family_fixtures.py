"""State dicts of the torchvision families beyond ResNet and VGG, as torch writes them
(`torch.save(model.state_dict())`, zip format), for TorchFamilyTests.swift, with torch's logits.

Each model is built by torchvision's own classes at a small width (random initialisation, seed 3;
BatchNorm statistics and affine weights, LayerNorm weights and ConvNeXt's layer scales drawn at
random so a wrong normalisation or a dropped scale shows, linear weights N(0, 1/fan-in) so the
logits are not near zero), 10 classes. Its logits for the NHWC
input x[i] = 2·sin(0.37·i), shape [2, 64, 64, 3] (transposed to NCHW for torch), are written to
families_expected.json.

- family_mobilenet_v2.pth: MobileNetV2, width 0.25 (ReLU6, inverted residuals).
- family_mobilenet_v3_small.pth / family_mobilenet_v3_large.pth: MobileNetV3 at width 0.25
  (hardswish, squeeze-excitation with hardsigmoid).
- family_efficientnet_b0.pth: EfficientNet-B0 at width 0.25, depth 0.25 (SiLU, squeeze-excitation).
- family_efficientnet_v2.pth: EfficientNetV2-S's stage table at 1/4 width and one block per stage
  (fused MBConv stages, then MBConv).
- family_densenet.pth: DenseNet, growth 8, blocks 2-2-2-2, 16 initial features.
- family_resnext.pth / family_wide_resnet.pth: torchvision's Bottleneck ResNet at 1/16 width,
  one block per stage, 4 groups of 64 (ResNeXt) or one group twice as wide (Wide ResNet).
- family_convnext.pth: ConvNeXt with stages 8-16-32-64 wide, blocks 1-1-2-1 (7×7 depthwise,
  LayerNorm, GELU, layer scale).
- family_regnet.pth: RegNet (Y-style, squeeze-excitation 0.25) with stages 16-32-48-64 wide, depths
  1-1-2-1, group width 8.
- timm_efficientnet_b0.pth, timm_convnext.pth, timm_convnext_conv_mlp.pth, timm_regnet.pth: the
  same kind of small models built by timm 0.9's own classes under timm's module names
  (EfficientNet-B0 at channel and depth multipliers 0.25; ConvNeXt 8-16-32-64 wide, blocks
  1-1-2-1, with linear and with 1×1-convolution MLPs; RegNetY depth 6, w0 16, wa 16, wm 2, group
  size 8, SE 0.25).

- family_mobilenet_v3_large.onnx, family_efficientnet_v2.onnx, family_regnet.onnx (opset 14) and
  family_convnext.onnx (opset 17): torch.onnx exports of those models, run by ONNX Runtime here
  and checked against torch within 1e-4 of scale (the other families' exports are
  make_onnx_fixtures.py's).

Run: /usr/bin/python3 Tests/Fixtures/make_torch_family_fixtures.py
(Debian: apt-get install python3-torch python3-torchvision; pip install --no-deps timm==0.9.16
onnx onnxruntime)
"""
import json, os, sys

import numpy as np
import torch
from torchvision.models import convnext, densenet, efficientnet, mobilenetv2, mobilenetv3, regnet, resnet

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "torchvision")
SIZE = 64


def grouped(groups, width_per_group, reduced=16):
    model = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=10, groups=groups,
                          width_per_group=width_per_group)
    model.inplanes = 64 // reduced
    model.conv1 = torch.nn.Conv2d(3, model.inplanes, 7, 2, 3, bias=False)
    model.bn1 = torch.nn.BatchNorm2d(model.inplanes)
    for index, planes in enumerate([64, 128, 256, 512]):
        setattr(model, f"layer{index + 1}", model._make_layer(resnet.Bottleneck, planes // reduced, 1,
                                                           stride=1 if index == 0 else 2))
    model.fc = torch.nn.Linear(512 // reduced * 4, 10)
    return model


def models():
    small, small_last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
    large, large_last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.25)
    b0, b0_last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    F, M = efficientnet.FusedMBConvConfig, efficientnet.MBConvConfig
    v2 = [F(1, 3, 1, 8, 8, 1), F(4, 3, 2, 8, 12, 1), F(4, 3, 2, 12, 16, 1), M(4, 3, 2, 16, 32, 1, 1.0, 1.0),
          M(6, 3, 1, 32, 40, 1, 1.0, 1.0), M(6, 3, 2, 40, 64, 1, 1.0, 1.0)]
    C = convnext.CNBlockConfig
    block = regnet.BlockParams(depths=[1, 1, 2, 1], widths=[16, 32, 48, 64], group_widths=[8, 8, 8, 8],
                               bottleneck_multipliers=[1.0] * 4, strides=[2] * 4, se_ratio=0.25)
    return {
        "mobilenet_v2": mobilenetv2.MobileNetV2(num_classes=10, width_mult=0.25),
        "mobilenet_v3_small": mobilenetv3.MobileNetV3(small, small_last, num_classes=10),
        "mobilenet_v3_large": mobilenetv3.MobileNetV3(large, large_last, num_classes=10),
        "efficientnet_b0": efficientnet.EfficientNet(b0, 0.2, num_classes=10, last_channel=b0_last),
        "efficientnet_v2": efficientnet.EfficientNet(v2, 0.2, num_classes=10, last_channel=96,
                                                     norm_layer=lambda c: torch.nn.BatchNorm2d(c, eps=1e-3)),
        "densenet": densenet.DenseNet(8, (2, 2, 2, 2), 16, num_classes=10),
        "resnext": grouped(4, 64),
        "wide_resnet": grouped(1, 128),
        "convnext": convnext.ConvNeXt([C(8, 16, 1), C(16, 32, 1), C(32, 64, 2), C(64, None, 1)], num_classes=10),
        "regnet": regnet.RegNet(block, num_classes=10),
    }


def timm_models():
    from timm.models import convnext as timm_convnext, efficientnet as timm_efficientnet, regnet as timm_regnet
    cfg = timm_regnet.RegNetCfg(depth=6, w0=16, wa=16, wm=2.0, group_size=8, se_ratio=0.25, stem_width=16)
    return {
        "timm_efficientnet_b0": timm_efficientnet._gen_efficientnet(
            "efficientnet_b0", channel_multiplier=0.25, depth_multiplier=0.25, pretrained=False, num_classes=10),
        "timm_convnext": timm_convnext.ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), num_classes=10),
        "timm_convnext_conv_mlp": timm_convnext.ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), num_classes=10,
                                                         conv_mlp=True),
        "timm_regnet": timm_regnet.RegNet(cfg, num_classes=10),
    }


# torch.onnx exports of the same models (opset 17 for ConvNeXt's LayerNormalization), checked
# against torch in ONNX Runtime here; the .pth's logits are theirs.
ONNX_EXPORTS = {"mobilenet_v3_large": 14, "efficientnet_v2": 14, "convnext": 17, "regnet": 14}


def randomise(model):
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.7, 1.3)
                m.bias.normal_(0, 0.2)
            elif isinstance(m, torch.nn.Linear):  # torchvision draws N(0, 0.01): logits near zero
                m.weight.normal_(0, m.in_features ** -0.5)
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.7, 1.3)
                m.bias.normal_(0, 0.2)
            elif isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and "mlp" in name:
                m.weight.normal_(0, m.in_channels ** -0.5)  # timm's conv_mlp: as the linear layers
            elif hasattr(m, "weight") and "norm" in type(m).__name__.lower() and m.weight is not None:
                m.weight.uniform_(0.7, 1.3)  # timm's LayerNorm2d
                m.bias.normal_(0, 0.2)
            if hasattr(m, "layer_scale"):
                m.layer_scale.uniform_(0.5, 1.5)
            if isinstance(getattr(m, "gamma", None), torch.nn.Parameter):
                m.gamma.uniform_(0.5, 1.5)  # timm's layer scale
    return model.eval()


if __name__ == "__main__":
    torch.manual_seed(3)
    nhwc = (2 * np.sin(0.37 * np.arange(2 * SIZE * SIZE * 3))).astype(np.float32).reshape(2, SIZE, SIZE, 3)
    nchw = torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
    expected = {}
    for name, model in list(models().items()) + list(timm_models().items()):
        model = randomise(model)
        with torch.no_grad():
            logits = model(nchw).numpy()
        torch.save(model.state_dict(), os.path.join(out, f"{name}.pth" if name.startswith("timm") else f"family_{name}.pth"))
        if name in ONNX_EXPORTS:
            path = os.path.join(out, f"family_{name}.onnx")
            torch.onnx.export(model, nchw[:1], path, opset_version=ONNX_EXPORTS[name], input_names=["image"],
                              output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
            import onnxruntime
            session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            exported = session.run(None, {"image": nchw.numpy()})[0]
            assert np.abs(exported - logits).max() <= 1e-4 * np.abs(logits).max(), name
        expected[name] = {"input_shape": [2, SIZE, SIZE, 3],
                          "logits": {"shape": list(logits.shape), "data": logits.reshape(-1).tolist()}}
        if "--keys" in sys.argv:
            for k, v in model.state_dict().items():
                print(name, k, list(v.shape))
    with open(os.path.join(out, "families_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print(f"wrote {sorted(expected)} (torch {torch.__version__})")
