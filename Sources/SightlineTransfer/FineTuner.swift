import Foundation

/// Fine-tunes a pretrained model on class folders while keeping its pretrained normalization.
///
/// The model: the backbone up to the layer that fed its classifier (or its output), global
/// average pooling for spatial outputs, dropout and a new `Dense` head for the classes found
/// (or the layers of a `train-head` head). Phase 1 trains the head with the backbone frozen;
/// phase 2 unfreezes everything (or everything from `unfreezeFrom`) at a low learning rate.
/// BatchNorm is frozen by default: moving statistics are used in training and never updated,
/// gamma and beta are not trained (`batchNorm: .train` gives fastai-style behaviour). The
/// backbone's preprocessing is applied unchanged. Training is seeded end to end (split, head
/// initialisation, shuffling, augmentation, dropout), so the same seed gives the same weights,
/// and `resume` restores weights, optimizer state, epoch, schedule and random state.
public final class FineTuner {
    public enum BatchNormPolicy: String, Sendable { case frozen, train }
    public enum OptimizerKind: String, Sendable { case adam, adamw, sgd }

    public struct Options: Sendable {
        public var headEpochs = 2
        public var epochs = 3
        public var batchSize = 16
        public var headLearningRate: Float = 1e-3
        /// Phase 2's base rate (low, to keep the pretrained features).
        public var learningRate: Float = 1e-4
        public var optimizer: OptimizerKind = .adam
        public var schedule: LearningRateSchedule = .constant
        public var unfreezeFrom: String?
        public var batchNorm: BatchNormPolicy = .frozen
        public var augmentation = Augmentation()
        public var dropout: Float = 0.2
        public var validationFraction = 0.2
        /// Stop phase 2 after this many epochs without a better validation accuracy and restore
        /// the best weights; nil trains every epoch.
        public var earlyStoppingPatience: Int?
        /// End with the weights of the epoch with the best validation accuracy (Keras's
        /// `ModelCheckpoint(save_best_only=True)`); false keeps the last epoch's.
        public var keepBest = true
        public var seed: UInt64 = 0

        public init() {}
    }

    /// Where a run stands after an optimizer step.
    public struct StepProgress: Sendable {
        public var phase: Int
        /// 1-based, of `epochs` in this phase.
        public var epoch: Int
        public var epochs: Int
        /// 1-based batch within the epoch.
        public var batch: Int
        /// Images done in this epoch, of `total`.
        public var done: Int
        public var total: Int
        /// Mean loss over the epoch's images so far.
        public var loss: Float
    }

    /// A run stopped by its `step` callback (an interrupt) after a completed step.
    public struct Interrupted: Error, CustomStringConvertible {
        public var position: StepProgress
        public var description: String {
            "interrupted at phase \(position.phase) epoch \(position.epoch) batch \(position.batch); the last completed epoch is saved; rerun the same command with --resume"
        }
    }

    /// One epoch's figures (also written to `OUTPUT.metrics.csv` and `.jsonl`).
    public struct EpochRecord: Codable, Sendable, Equatable {
        public var phase: Int
        public var epoch: Int
        public var learningRate: Float
        public var loss: Float
        public var trainingAccuracy: Double
        public var validationAccuracy: Double?
        /// Mean cross-entropy on the validation part (absent in states written before it was kept).
        public var validationLoss: Float?

        public init(
            phase: Int, epoch: Int, learningRate: Float, loss: Float, trainingAccuracy: Double, validationAccuracy: Double? = nil,
            validationLoss: Float? = nil
        ) {
            (self.phase, self.epoch, self.learningRate, self.loss) = (phase, epoch, learningRate, loss)
            (self.trainingAccuracy, self.validationAccuracy, self.validationLoss) = (trainingAccuracy, validationAccuracy, validationLoss)
        }

        /// True from the second epoch of a phase when the training loss is within 2% of
        /// ln(classes), what predicting uniform probabilities gives: the model is not learning.
        public func isAtChance(classes: Int) -> Bool {
            let chance = log(Double(max(classes, 2)))
            return epoch >= 2 && abs(Double(loss) - chance) < 0.02 * chance
        }
    }

    public struct TrainingError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public let backbone: LoadedModel
    public let options: Options
    /// The training graph; its head `head_predictions` outputs logits.
    public let graph: Graph
    public let classNames: [String]
    let training: [(Tensor, Int)]
    let validation: [(Tensor, Int)]
    /// The files of `validation`, in its order.
    let validationPaths: [String]
    /// Images that could not be read, with the error.
    public let skipped: [(String, String)]
    let featureLayer: String
    var generator: SeededGenerator
    /// The kept model evaluated on the validation part at the end of `run` (nil without one).
    public internal(set) var finalEvaluation: Evaluation?
    /// Where `run(resume: true)` continued: (phase, 1-based epoch); nil for a fresh run.
    public internal(set) var resumedAt: (phase: Int, epoch: Int)?

    public init(backbone: LoadedModel, data: ImageFolder, options: Options = Options(), head: LoadedModel? = nil) throws {
        guard let classNames = data.classNames, classNames.count >= 2 else {
            throw TrainingError(message: "fine-tuning needs a folder with one subfolder per class (at least two)")
        }
        // Check the options that name layers before decoding any image.
        if let from = options.unfreezeFrom, backbone.graph.node(named: from) == nil {
            throw TrainingError(message: "--unfreeze-from: " + backbone.graph.unknownLayerMessage(from))
        }
        self.backbone = backbone
        self.options = options
        self.classNames = classNames
        generator = SeededGenerator(seed: options.seed)
        featureLayer = FeatureExtractor.defaultLayer(of: backbone.graph)
        graph = try Self.assemble(backbone.graph, featureLayer: featureLayer, classes: classNames.count, dropout: options.dropout, head: head, generator: &generator)
        guard let input = graph.inputNames.first, let shape = graph.shape(of: input), shape.count == 3, ImageChannels.supported.contains(shape[2]) else {
            throw TrainingError(message: "the model's input is not an image of 1, 3 or 4 channels")
        }
        if let problem = backbone.preprocessing.problem(channels: shape[2]) { throw TrainingError(message: problem) }
        var skipped: [(String, String)] = []
        var loadedPaths: [String] = []
        func load(_ folder: ImageFolder) -> [(Tensor, Int)] {
            loadedPaths = []
            return folder.items.compactMap { item in
                do {
                    let image = try RGBImage(contentsOf: item.path).prepared(height: shape[0], width: shape[1], policy: .squash, channels: shape[2])
                    loadedPaths.append(item.path)
                    return (image, item.label ?? 0)
                } catch {
                    skipped.append((item.path, (error as? ImageError)?.message ?? "\(error)"))
                    return nil
                }
            }
        }
        let (trainingPart, validationPart) = data.split(validationFraction: options.validationFraction, seed: options.seed)
        training = load(trainingPart)
        validation = load(validationPart)
        validationPaths = loadedPaths
        self.skipped = skipped
        guard !training.isEmpty else { throw TrainingError(message: "no readable training images") }
    }

    /// Backbone nodes up to `featureLayer`, then pooling, dropout and the head (logits).
    static func assemble(_ source: Graph, featureLayer: String, classes: Int, dropout: Float, head: LoadedModel?, generator: inout SeededGenerator) throws -> Graph {
        let graph = try source.prefix(through: featureLayer)
        /// `base`, or `base_2`, `base_3`… when the backbone already has a layer of that name.
        func unique(_ base: String) -> String {
            var name = base, index = 1
            while graph.node(named: name) != nil {
                index += 1
                name = "\(base)_\(index)"
            }
            return name
        }
        var last = featureLayer
        if graph.shape(of: last)?.count == 3 { last = try graph.add(GlobalPooling2D(name: unique("head_pool"), kind: .average), inputs: [last]) }
        if dropout > 0 { last = try graph.add(Dropout(name: unique("head_dropout"), rate: dropout, seed: generator.next()), inputs: [last]) }
        if let head {
            for node in head.graph.nodes {
                guard let layer = node.layer else { continue }
                let inputs = node.inputs.map { head.graph.inputNames.contains($0) ? last : $0 }
                if let dense = layer as? Dense, node.name == head.graph.outputNames.first, dense.activation == .softmax {
                    last = try graph.add(Dense(name: unique("head_predictions"), kernel: dense.kernel.value, bias: dense.bias?.value), inputs: inputs)
                } else {
                    last = try graph.add(layer, inputs: inputs)
                }
            }
            guard graph.shape(of: last) == [classes] else { throw TrainingError(message: "the head has \(graph.shape(of: last) ?? []) outputs for \(classes) classes") }
        } else {
            let features = graph.shape(of: last)?.last ?? 0
            last = try graph.add(Dense(name: unique("head_predictions"), inputFeatures: features, units: classes, generator: &generator), inputs: [last])
        }
        graph.outputNames = [last]
        return graph
    }

    /// Sets what trains in `phase` (1: head only; 2: from `unfreezeFrom`, or everything) and
    /// freezes BatchNorm unless `batchNorm == .train`.
    func configure(phase: Int) throws {
        // The head is everything after the feature layer.
        let firstHead = graph.nodes.firstIndex { $0.name == featureLayer }.flatMap { $0 + 1 < graph.nodes.count ? graph.nodes[$0 + 1].name : nil }
        try graph.setTrainable(true, from: phase == 1 ? firstHead : options.unfreezeFrom)
        for layer in graph.layers {
            guard let bn = layer as? BatchNormalization else { continue }
            if options.batchNorm == .frozen || phase == 1 { bn.isTrainable = false }
        }
    }

    func makeOptimizer(_ rate: Float) -> any Optimizer {
        switch options.optimizer {
        case .adam: return Adam(learningRate: rate)
        case .adamw: return Adam.adamW(learningRate: rate)
        case .sgd: return SGD(learningRate: rate, momentum: 0.9)
        }
    }

    /// A batch `[B, H, W, 3]`, augmented (training) and preprocessed.
    func batch(_ samples: ArraySlice<(Tensor, Int)>, augment: Bool) -> Tensor {
        let images = samples.map { sample -> Tensor in
            let image = augment ? options.augmentation.apply(to: sample.0, generator: &generator) : sample.0
            return image.reshaped([1] + image.shape)
        }
        return backbone.preprocessing.apply(to: Tensor.concatenatingBatches(images))
    }

    /// Accuracy of argmax predictions on `samples` in `mode`.
    public func accuracy(_ samples: [(Tensor, Int)], mode: Mode = .inference) throws -> Double {
        try measure(samples, mode: mode).accuracy
    }

    /// Accuracy, mean cross-entropy and the class probabilities (one row per sample) on `samples`.
    func measure(_ samples: [(Tensor, Int)], mode: Mode = .inference) throws -> (accuracy: Double, loss: Float, probabilities: [[Float]]) {
        guard let input = graph.inputNames.first, let output = graph.outputNames.first, !samples.isEmpty else { return (0, 0, []) }
        var correct = 0, loss: Float = 0, probabilities: [[Float]] = []
        for start in stride(from: 0, to: samples.count, by: options.batchSize) {
            let part = samples[start..<min(start + options.batchSize, samples.count)]
            guard let logits = try graph.forward([input: batch(part, augment: false)], outputs: [output], mode: mode)[output] else { continue }
            correct += zip(logits.argmaxPerRow(), part).filter { $0 == $1.1 }.count
            loss += SoftmaxCrossEntropy()(logits: logits, labels: part.map(\.1)).loss * Float(part.count)
            let p = ActivationFunction.softmax.applied(to: logits), classes = logits.shape[1]
            probabilities += (0..<part.count).map { Array(p.scalars[($0 * classes)..<(($0 + 1) * classes)]) }
        }
        return (Double(correct) / Double(samples.count), loss / Float(samples.count), probabilities)
    }

    /// The trained model measured on the validation part (nil without one), in `evaluate`'s terms.
    public func validationEvaluation(topK: Int = 5) throws -> Evaluation? {
        guard !validation.isEmpty else { return nil }
        let probabilities = try measure(validation).probabilities
        return Evaluation(
            classNames: classNames, probabilities: probabilities, labels: validation.map(\.1), paths: validationPaths, topK: topK)
    }

    /// The dropout layer of the new head, if any (its random state is part of a checkpoint).
    var headDropout: Dropout? {
        guard let start = graph.nodes.firstIndex(where: { $0.name == featureLayer }) else { return nil }
        return graph.nodes[(start + 1)...].lazy.compactMap { $0.layer as? Dropout }.first
    }

    /// Accuracy on the training images without augmentation, in `mode`.
    public func trainingAccuracy(mode: Mode) throws -> Double { try accuracy(training, mode: mode) }
}
