import Foundation
import SightlineCore

/// A named trainable parameter as optimizers see it: `key` identifies its state across
/// checkpoints (e.g. `conv1_conv/kernel`).
public struct ParameterSlot {
    public let key: String
    public let parameter: Parameter
    /// This parameter's learning rate as a multiple of the optimizer's (discriminative learning
    /// rates: lower for early layers); 1 for most runs.
    public var rateScale: Float

    public init(key: String, parameter: Parameter, rateScale: Float = 1) {
        self.key = key
        self.parameter = parameter
        self.rateScale = rateScale
    }

    /// The layer the parameter belongs to (the key's part before the last `/`).
    public var layerName: String {
        key.lastIndex(of: "/").map { String(key[..<$0]) } ?? key
    }
}

extension Graph {
    /// The trainable parameters as `layer/weight` slots, in topological order.
    public var trainableSlots: [ParameterSlot] {
        layers.flatMap { layer in
            layer.parameters.filter(\.isTrainable).map { ParameterSlot(key: "\(layer.name)/\($0.name)", parameter: $0) }
        }
    }
}

/// Gradient clipping applied before an optimizer step, as Keras's `clipnorm`,
/// `global_clipnorm` and `clipvalue`.
public enum GradientClipping: Sendable, Equatable {
    case none
    /// Each gradient is rescaled to L2 norm at most the value.
    case norm(Float)
    /// All gradients together are rescaled to global L2 norm at most the value.
    case globalNorm(Float)
    /// Each element is clipped to `±value`.
    case value(Float)

    /// Clips the gradients of `slots` in place.
    public func apply(to slots: [ParameterSlot]) {
        func norm(_ t: Tensor) -> Double { t.scalars.reduce(0) { $0 + Double($1) * Double($1) } }
        switch self {
        case .none: return
        case .norm(let limit):
            for slot in slots {
                guard let g = slot.parameter.gradient else { continue }
                let n = norm(g).squareRoot()
                if n > Double(limit) {
                    slot.parameter.gradient = Tensor(
                        shape: g.shape, scalars: g.scalars.map { $0 * Float(Double(limit) / n) })
                }
            }
        case .globalNorm(let limit):
            let n = slots.reduce(0) { $0 + ($1.parameter.gradient.map(norm) ?? 0) }.squareRoot()
            guard n > Double(limit) else { return }
            for slot in slots {
                guard let g = slot.parameter.gradient else { continue }
                slot.parameter.gradient = Tensor(
                    shape: g.shape, scalars: g.scalars.map { $0 * Float(Double(limit) / n) })
            }
        case .value(let limit):
            for slot in slots {
                guard let g = slot.parameter.gradient else { continue }
                slot.parameter.gradient = Tensor(shape: g.shape, scalars: g.scalars.map { min(max($0, -limit), limit) })
            }
        }
    }
}

/// An optimizer updates trainable parameters from their accumulated gradients. Its state
/// (moments, step count) is keyed by `ParameterSlot.key` so it can be saved and restored.
public protocol Optimizer: AnyObject {
    /// The learning rate for the next step (schedules set it between steps).
    var learningRate: Float { get set }
    /// Number of steps taken (settable so a checkpoint can restore it).
    var iterations: Int { get set }
    /// The momentum a one-cycle schedule cycles (`OneCycle`): SGD's momentum, Adam's β₁; nil,
    /// and setting it does nothing, for SGD without momentum.
    var cycledMomentum: Float? { get set }
    /// Applies one update to every slot that has a gradient, each at `learningRate` times the
    /// slot's `rateScale`.
    func step(_ slots: [ParameterSlot])
}
