/// The weights of a PyTorch state dict, by module, in Sightline's layouts: what the torchvision
/// builders read their widths, depths, kernel sizes and groups from.
///
/// Modules are the keys without their last component (`features.1.0.block.0` for
/// `features.1.0.block.0.weight`); roles are Sightline's (`kernel` HWIO `[kh, kw, in/groups, out]`
/// for convolutions, `[in, out]` for linear layers, `bias`, `gamma`/`beta`/`moving_mean`/
/// `moving_variance` for BatchNorm, `weight` for LayerNorm).
public struct StateDictShapes: Sendable {
    /// The modules in the state dict's order.
    public let modules: [String]
    private let roles: [String: [String: [Int]]]
    /// True when the keys were timm's, renamed to torchvision's: a few constants differ
    /// (timm's EfficientNets all use BatchNorm ε 1e-5).
    public let timm: Bool

    /// `layers`: each module with its weights' roles and shapes, in the file's order.
    public init(_ layers: [(module: String, weights: [(role: String, shape: [Int])])], timm: Bool = false) {
        self.timm = timm
        modules = layers.map(\.module)
        var roles: [String: [String: [Int]]] = [:]
        for layer in layers {
            for weight in layer.weights { roles[layer.module, default: [:]][weight.role] = weight.shape }
        }
        self.roles = roles
    }

    /// The shape of `module`'s weight with `role`, if the state dict has it.
    public func shape(_ module: String, _ role: String = "kernel") -> [Int]? { roles[module]?[role] }

    /// Whether the state dict has weights for `module`.
    public func has(_ module: String) -> Bool { roles[module] != nil }

    /// Whether `module` is a BatchNorm (it has running statistics).
    public func isBatchNorm(_ module: String) -> Bool { roles[module]?["moving_mean"] != nil }

    /// The number of consecutive children `prefix.0`, `prefix.1`, … (`start`, `start + 1`, …)
    /// that hold weights (directly or in their submodules).
    public func count(_ prefix: String, from start: Int = 0) -> Int {
        var children = Set<Int>()
        let head = prefix + "."
        for module in modules where module.hasPrefix(head) {
            let rest = module.dropFirst(head.count)
            if let index = Int(rest.prefix { $0 != "." }) { children.insert(index) }
        }
        var n = 0
        while children.contains(start + n) { n += 1 }
        return n
    }

    /// Whether some module lies under `prefix` (is `prefix` or starts with `prefix.`).
    public func hasChildren(_ prefix: String) -> Bool {
        has(prefix) || modules.contains { $0.hasPrefix(prefix + ".") }
    }
}
