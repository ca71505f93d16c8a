import SightlineCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// with Keras's update rule:
///
/// `g ← g + weightDecay · w`; `v ← momentum · v − lr · g`; then `w ← w + v`, or with Nesterov
/// `w ← w + momentum · v − lr · g`.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    /// L2 penalty coefficient added to the gradient (coupled weight decay).
    public let weightDecay: Float
    public let clipping: GradientClipping
    public var iterations = 0
    /// Velocity per slot key.
    public var velocities: [String: Tensor] = [:]

    public init(
        learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0,
        clipping: GradientClipping = .none
    ) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.clipping = clipping
    }

    public func step(_ slots: [ParameterSlot]) {
        clipping.apply(to: slots)
        for slot in slots {
            guard let gradient = slot.parameter.gradient else { continue }
            var weights = slot.parameter.value
            var velocity = velocities[slot.key] ?? Tensor(zeros: weights.shape)
            weights.withUnsafeMutableBufferPointer { w in
                velocity.withUnsafeMutableBufferPointer { v in
                    for i in 0..<w.count {
                        let g = gradient.scalars[i] + weightDecay * w[i]
                        if momentum == 0 {
                            w[i] -= learningRate * g
                        } else {
                            v[i] = momentum * v[i] - learningRate * g
                            w[i] += nesterov ? momentum * v[i] - learningRate * g : v[i]
                        }
                    }
                }
            }
            if momentum != 0 { velocities[slot.key] = velocity }
            slot.parameter.value = weights
        }
        iterations += 1
    }
}
