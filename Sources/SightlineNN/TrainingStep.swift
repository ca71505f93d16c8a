import SightlineCore

/// The one supervised training step, used by fine-tuning, head training and `bench --job train`:
/// forward in training mode to the logits, softmax cross-entropy, backward into the trainable
/// parameters' gradients, then the optimizer step.
public enum TrainingStep {
    /// What one step saw: the loss summed over its images, how many it classified right, how many.
    public struct Figures: Sendable, Equatable {
        public var loss: Float = 0
        public var correct = 0
        public var count = 0

        public init(loss: Float = 0, correct: Int = 0, count: Int = 0) {
            (self.loss, self.correct, self.count) = (loss, correct, count)
        }

        /// Adds another step's (or process's) figures.
        public static func + (a: Figures, b: Figures) -> Figures {
            Figures(loss: a.loss + b.loss, correct: a.correct + b.correct, count: a.count + b.count)
        }
    }

    /// Zeroes the gradients, then computes those of the batch's loss with respect to every
    /// trainable parameter. `graph` must output logits at `output` `[N, classes]` (see
    /// `Graph.withLogitsOutput`); `labels` has one class index per image. With `summed`, the
    /// gradient is of the summed loss (several processes divide their sum by the global count
    /// later); else of the mean. `mix` gives mixed targets (the images were mixed by the caller;
    /// accuracy still counts `labels`), `weights` one loss weight per image. The caller steps the optimizer (after combining, if it must).
    public static func gradients(
        _ graph: Graph, inputs: [String: Tensor], output: String, labels: [Int],
        loss: SoftmaxCrossEntropy = SoftmaxCrossEntropy(), mix: SoftmaxCrossEntropy.Mix? = nil,
        weights: [Float]? = nil, summed: Bool = false
    ) throws -> Figures {
        graph.zeroGradients()
        let (outputs, tape) = try graph.record(inputs, outputs: [output], mode: .training, request: GradientRequest())
        guard let logits = outputs[output] else { return Figures() }
        let (value, meanGradient) = loss(logits: logits, labels: labels, mix: mix, weights: weights)
        var gradient = meanGradient
        if summed {
            let count = Float(labels.count)
            gradient.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= count } }
        }
        _ = graph.backward(tape, seeds: [output: gradient])
        let correct = zip(logits.argmaxPerRow(), labels).filter { $0 == $1 }.count
        return Figures(loss: value * Float(labels.count), correct: correct, count: labels.count)
    }

    /// `gradients` followed by `optimizer.step`: the whole step for one process.
    @discardableResult
    public static func run(
        _ graph: Graph, inputs: [String: Tensor], output: String, labels: [Int], optimizer: any Optimizer,
        loss: SoftmaxCrossEntropy = SoftmaxCrossEntropy()
    ) throws -> Figures {
        let figures = try gradients(graph, inputs: inputs, output: output, labels: labels, loss: loss)
        optimizer.step(graph.trainableSlots)
        return figures
    }
}
