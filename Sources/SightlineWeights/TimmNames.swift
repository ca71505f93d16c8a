import SightlineCore

/// timm's state-dict keys for its EfficientNet, ConvNeXt and RegNet as torchvision's, so timm
/// checkpoints build with the torchvision builders (`TorchVisionFamily`); timm's ResNets already
/// use torchvision's names. The mapping is the tables below and the one function `torchvisionKeys`.
///
/// - EfficientNet (`conv_stem`, `blocks.S.B.*`, `conv_head`): stem `features.0`, stage `S` →
///   `features.S+1`, head `features.N`, `classifier` → `classifier.1`. Inside a block each
///   convolution (`conv_pw`, `conv_dw`, `conv_pwl`, `conv_exp`) opens the next
///   `Conv2dNormActivation` `block.K` (`.0`, its BatchNorm `.1`), and `se.conv_reduce`/
///   `se.conv_expand` are the next `block.K.fc1`/`fc2`: timm's and torchvision's blocks hold the
///   same modules in the same order. timm's own EfficientNets use BatchNorm ε 1e-5 and symmetric
///   padding; its `tf_` ports (TensorFlow's asymmetric padding) are not these networks.
/// - ConvNeXt (`stem`, `stages.I.downsample`, `stages.I.blocks.J`, `head`): stage `I` →
///   `features.2I+1`, its downsampling `features.2I`; `conv_dw`, `norm`, `mlp.fc1`, `mlp.fc2` →
///   `block.0`, `.2`, `.3`, `.5`; `gamma` → `layer_scale`; `head.norm`/`head.fc` → `classifier.0`/`.2`.
/// - RegNet (`stem.conv`, `sI.bJ.*`, `head.fc`): `trunk_output.blockI.blockI-(J−1)`, `conv1`/
///   `conv2`/`conv3` → `f.a`/`f.b`/`f.c` (`.conv` → `.0`, `.bn` → `.1`), `se` → `f.se`,
///   `downsample` → `proj`, `head.fc` → `fc`.
enum TimmNames {
    static let stems = [
        "stem.conv": "stem.0", "stem.bn": "stem.1", "stem.0": "features.0.0",
        "stem.1": "features.0.1", "head.norm": "classifier.0", "head.fc": "classifier.2",
    ]
    static let convnextBlock = ["conv_dw": "block.0", "norm": "block.2", "mlp.fc1": "block.3", "mlp.fc2": "block.5"]
    static let regnetBlock = [
        "conv1.conv": "f.a.0", "conv1.bn": "f.a.1", "conv2.conv": "f.b.0", "conv2.bn": "f.b.1", "conv3.conv": "f.c.0",
        "conv3.bn": "f.c.1", "se.fc1": "f.se.fc1", "se.fc2": "f.se.fc2", "downsample.conv": "proj.0",
        "downsample.bn": "proj.1",
    ]

    /// torchvision's key for each of timm's `keys` (in the state dict's order), or nil when the
    /// keys are not timm's EfficientNet, ConvNeXt or RegNet.
    static func torchvisionKeys(_ keys: [String]) -> [String]? {
        let set = Set(keys)
        if set.contains("conv_stem.weight") && keys.contains(where: { $0.hasPrefix("blocks.0.0.") }) {
            return efficientNet(keys)
        }
        if set.contains("stem.0.weight") && keys.contains(where: { $0.hasPrefix("stages.0.blocks.0.") }) {
            return keys.map(convnext)
        }
        if set.contains("stem.conv.weight") && keys.contains(where: { $0.hasPrefix("s1.b1.") }) {
            return keys.map(regnet)
        }
        return nil
    }

    /// `key` split into its module and its last component.
    static func split(_ key: String) -> (module: String, kind: String) {
        guard let dot = key.lastIndex(of: ".") else { return ("", key) }
        return (String(key[..<dot]), String(key[key.index(after: dot)...]))
    }

    static func efficientNet(_ keys: [String]) -> [String] {
        let stages = keys.compactMap { $0.hasPrefix("blocks.") ? Int($0.split(separator: ".")[1]) : nil }.max() ?? 0
        let head = "features.\(stages + 2)"
        var (block, part, index) = ("", "", -1)
        return keys.map { key in
            let (module, kind) = split(key)
            switch module {
            case "conv_stem": return "features.0.0.\(kind)"
            case "bn1": return "features.0.1.\(kind)"
            case "conv_head": return "\(head).0.\(kind)"
            case "bn2": return "\(head).1.\(kind)"
            case "classifier": return "classifier.1.\(kind)"
            default: break
            }
            let parts = module.split(separator: ".", maxSplits: 3).map(String.init)
            guard parts.count == 4, parts[0] == "blocks", let stage = Int(parts[1]) else { return key }
            let name = "features.\(stage + 1).\(parts[2]).block"
            if name != block { (block, part, index) = (name, "", -1) }
            let sub = parts[3]
            if sub != part, sub.hasPrefix("conv") || sub == "se.conv_reduce" { index += 1 }
            part = sub
            switch sub {
            case "se.conv_reduce": return "\(name).\(index).fc1.\(kind)"
            case "se.conv_expand": return "\(name).\(index).fc2.\(kind)"
            default: return "\(name).\(index).\(sub.hasPrefix("bn") ? 1 : 0).\(kind)"
            }
        }
    }

    static func convnext(_ key: String) -> String {
        let (module, kind) = split(key)
        if let renamed = stems[module] { return "\(renamed).\(kind)" }
        let parts = module.split(separator: ".", maxSplits: 4).map(String.init)
        guard parts.count >= 3, parts[0] == "stages", let stage = Int(parts[1]) else { return key }
        if parts[2] == "downsample", parts.count == 4 { return "features.\(2 * stage).\(parts[3]).\(kind)" }
        guard parts[2] == "blocks", parts.count >= 4 else { return key }
        let block = "features.\(2 * stage + 1).\(parts[3])"
        if parts.count == 4 { return kind == "gamma" ? "\(block).layer_scale" : "\(block).\(kind)" }
        return convnextBlock[parts[4]].map { "\(block).\($0).\(kind)" } ?? key
    }

    static func regnet(_ key: String) -> String {
        let (module, kind) = split(key)
        if module == "head.fc" { return "fc.\(kind)" }
        if let renamed = stems[module] { return "\(renamed).\(kind)" }
        let parts = module.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0].hasPrefix("s"), parts[1].hasPrefix("b"), let stage = Int(parts[0].dropFirst()),
            let index = Int(parts[1].dropFirst()), let sub = regnetBlock[parts[2]]
        else { return key }
        return "trunk_output.block\(stage).block\(stage)-\(index - 1).\(sub).\(kind)"
    }
}
