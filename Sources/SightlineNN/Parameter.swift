import SightlineCore

/// A named array of a layer: a weight the optimizer may train, or state such as BatchNorm's
/// moving statistics that is loaded and saved but never trained.
public final class Parameter {
    /// What a parameter is for.
    public enum Role: Sendable {
        /// Learned by gradient descent when trainable (kernels, biases, gamma, beta).
        case weight
        /// Kept by the layer itself and never given a gradient (moving mean and variance).
        case state
    }

    /// The Keras weight name within its layer (`kernel`, `bias`, `moving_mean`, …).
    public let name: String
    /// Weight or state.
    public let role: Role
    /// The current value. Assigning it bumps `version`, which invalidates cached folded weights.
    public var value: Tensor {
        didSet { version &+= 1 }
    }
    /// The accumulated gradient since the last `zeroGradient()`, `nil` when none was computed.
    public var gradient: Tensor?
    /// Whether optimizers update this parameter. Always false for `.state`.
    public var isTrainable: Bool {
        didSet { if role == .state { isTrainable = false } }
    }
    /// Increases whenever `value` is assigned.
    public private(set) var version: Int = 0

    public init(name: String, value: Tensor, role: Role = .weight) {
        self.name = name
        self.value = value
        self.role = role
        self.isTrainable = role == .weight
    }

    /// Adds `delta` into `gradient` when the parameter is trainable.
    public func accumulateGradient(_ delta: Tensor) {
        guard isTrainable else { return }
        if gradient == nil { gradient = delta } else { gradient?.add(delta) }
    }

    /// Clears the accumulated gradient.
    public func zeroGradient() { gradient = nil }
}
