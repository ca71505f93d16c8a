import Foundation
import SightlineCore

/// Softmax cross-entropy on logits, averaged over the batch (Keras
/// `CategoricalCrossentropy(from_logits=True, label_smoothing=s)`).
///
/// With `K` classes and smoothing `s`, the target for the true class is `1 − s + s/K` and
/// `s/K` for the others. Logits `[N, K]`; labels are class indices in `0..<K`.
public struct SoftmaxCrossEntropy: Sendable {
    public var labelSmoothing: Float

    public init(labelSmoothing: Float = 0) {
        precondition(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1)")
        self.labelSmoothing = labelSmoothing
    }

    /// Mixed targets (mixup and cutmix): image i's target is `weight` times its own label's
    /// (smoothed) target plus `1 − weight` times that of `partners[i]`, the label of the image
    /// mixed into it (timm's `mixup_target`).
    public struct Mix: Sendable, Equatable {
        public var partners: [Int]
        public var weight: Float

        public init(partners: [Int], weight: Float) { (self.partners, self.weight) = (partners, weight) }
    }

    /// The mean loss and its gradient with respect to the logits (`(softmax − target) / N`),
    /// with `mix`'s targets when given; with `weights` (one per image), image i's loss and
    /// gradient are multiplied by `weights[i]` and the mean stays over N (Keras's `class_weight`).
    public func callAsFunction(logits: Tensor, labels: [Int], mix: Mix? = nil, weights: [Float]? = nil) -> (
        loss: Float, gradient: Tensor
    ) {
        precondition(
            logits.rank == 2 && logits.shape[0] == labels.count,
            "logits \(logits.shape) do not match \(labels.count) labels")
        let n = logits.shape[0]
        let k = logits.shape[1]
        var gradient = ActivationFunction.softmax.applied(to: logits)
        var loss: Double = 0
        let off = labelSmoothing / Float(k)
        let on = 1 - labelSmoothing + off
        gradient.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                precondition(labels[i] >= 0 && labels[i] < k, "label \(labels[i]) outside 0..<\(k)")
                let weight = weights?[i] ?? 1
                for j in 0..<k {
                    var target = j == labels[i] ? on : off
                    if let mix {
                        target = mix.weight * target + (1 - mix.weight) * (j == mix.partners[i] ? on : off)
                    }
                    if target > 0 {
                        loss -=
                            Double(weight) * Double(target)
                            * Foundation.log(Double(max(p[i * k + j], .leastNormalMagnitude)))
                    }
                    p[i * k + j] =
                        weights == nil
                        ? (p[i * k + j] - target) / Float(n) : weight * (p[i * k + j] - target) / Float(n)
                }
            }
        }
        return (Float(loss / Double(n)), gradient)
    }
}
