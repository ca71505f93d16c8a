import SightlineCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// with Keras's update rule:
///
/// `g ← g + weightDecay · w`; `v ← momentum · v − lr · g`; then `w ← w + v`, or with Nesterov
/// `w ← w + momentum · v − lr · g`.
public final class SGD: Optimizer {
    public var learningRate: Float
    /// The momentum (cycled by one-cycle schedules when it is not 0).
    public var momentum: Float
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

    /// Updates every slot with a gradient in place (weights and velocity are not copied), in
    /// parallel over chunks of each parameter.
    public func step(_ slots: [ParameterSlot]) {
        clipping.apply(to: slots)
        let (momentum, nesterov, decay) = (self.momentum, self.nesterov, weightDecay)
        for slot in slots {
            guard let gradient = slot.parameter.gradient else { continue }
            let rate = learningRate * slot.rateScale
            let parameter = slot.parameter
            var velocity =
                velocities.removeValue(forKey: slot.key) ?? Tensor(zeros: momentum == 0 ? [0] : parameter.value.shape)
            gradient.withUnsafeBufferPointer { dg in
                velocity.withUnsafeMutableBufferPointer { v in
                    parameter.value.withUnsafeMutableBufferPointer { w in
                        Parallel.forEachChunk(w.count, costPerItem: 4) { range in
                            // One loop per case, without branches inside, so each vectorises.
                            if momentum == 0 {
                                for i in range { w[i] -= rate * (dg[i] + decay * w[i]) }
                            } else if nesterov {
                                for i in range {
                                    let g = dg[i] + decay * w[i]
                                    v[i] = momentum * v[i] - rate * g
                                    w[i] += momentum * v[i] - rate * g
                                }
                            } else {
                                for i in range {
                                    v[i] = momentum * v[i] - rate * (dg[i] + decay * w[i])
                                    w[i] += v[i]
                                }
                            }
                        }
                    }
                }
            }
            if momentum != 0 { velocities[slot.key] = velocity }
        }
        iterations += 1
    }

    public var cycledMomentum: Float? {
        get { momentum == 0 ? nil : momentum }
        set { if momentum != 0, let newValue { momentum = newValue } }
    }
}
