import Foundation
import SightlineCore

/// Adam and AdamW with Keras's update rule (epsilon added to `sqrt(v)`, bias correction folded
/// into the step size):
///
/// `m ← β₁m + (1 − β₁)g`; `v ← β₂v + (1 − β₂)g²`;
/// `w ← w − lr · sqrt(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (sqrt(v) + ε)`.
///
/// AdamW (`decoupledWeightDecay > 0`) first shrinks `w ← w − lr · decay · w`, as Keras's
/// `AdamW`; plain `weightDecay` instead adds `decay · w` to the gradient (L2).
public final class Adam: Optimizer {
    public var learningRate: Float
    /// β₁ (cycled by one-cycle schedules), β₂ and ε.
    public var beta1: Float
    public let beta2: Float, epsilon: Float
    public let weightDecay: Float
    public let decoupledWeightDecay: Float
    public let clipping: GradientClipping
    public var iterations = 0
    /// First and second moments per slot key.
    public var firstMoments: [String: Tensor] = [:], secondMoments: [String: Tensor] = [:]

    public init(
        learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
        weightDecay: Float = 0, decoupledWeightDecay: Float = 0, clipping: GradientClipping = .none
    ) {
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        self.clipping = clipping
    }

    /// Keras's `AdamW` (default weight decay 0.004).
    public static func adamW(
        learningRate: Float = 0.001, weightDecay: Float = 0.004, clipping: GradientClipping = .none
    ) -> Adam {
        Adam(learningRate: learningRate, decoupledWeightDecay: weightDecay, clipping: clipping)
    }

    public func step(_ slots: [ParameterSlot]) {
        clipping.apply(to: slots)
        iterations += 1
        let t = Float(iterations)
        let (beta1, beta2, epsilon) = (self.beta1, self.beta2, self.epsilon)
        let (root, denominator) = ((1 - powf(beta2, t)).squareRoot(), 1 - powf(beta1, t))
        let (decoupled, decay) = (decoupledWeightDecay, weightDecay)
        // In place (weights and moments are not copied), in parallel over chunks of each parameter.
        for slot in slots {
            guard let gradient = slot.parameter.gradient else { continue }
            let rate = learningRate * slot.rateScale
            let stepSize = rate * root / denominator  // Keras's order of operations
            let parameter = slot.parameter
            var m = firstMoments.removeValue(forKey: slot.key) ?? Tensor(zeros: parameter.value.shape)
            var v = secondMoments.removeValue(forKey: slot.key) ?? Tensor(zeros: parameter.value.shape)
            gradient.withUnsafeBufferPointer { dg in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        parameter.value.withUnsafeMutableBufferPointer { w in
                            Parallel.forEachChunk(w.count, costPerItem: 8) { range in
                                for i in range {
                                    if decoupled > 0 { w[i] -= rate * decoupled * w[i] }
                                    let g = dg[i] + decay * w[i]
                                    m[i] += (g - m[i]) * (1 - beta1)
                                    v[i] += (g * g - v[i]) * (1 - beta2)
                                    w[i] -= stepSize * m[i] / (v[i].squareRoot() + epsilon)
                                }
                            }
                        }
                    }
                }
            }
            firstMoments[slot.key] = m
            secondMoments[slot.key] = v
        }
    }

    public var cycledMomentum: Float? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }
}
