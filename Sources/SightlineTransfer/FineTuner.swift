import Foundation
import SightlineCore
import SightlineData
import SightlineModels
import SightlineNN
import SightlineVision
import SightlineWeights

/// Fine-tunes a pretrained model on class folders while keeping its pretrained normalization.
///
/// The model: the backbone up to the layer that fed its classifier (or its output), global
/// average pooling for spatial outputs, dropout and a new `Dense` head for the classes found;
/// or, given a `train-head` head (`HeadAttachment`), the backbone up to the head's recorded
/// feature layer with its recorded pooling, dropout and the head's layers. Phase 1 trains the head with the backbone frozen;
/// phase 2 unfreezes everything (or everything from `unfreezeFrom`) at a low learning rate.
/// BatchNorm is frozen by default: moving statistics are used in training and never updated,
/// gamma and beta are not trained (`batchNorm: .train` gives fastai-style behaviour). The
/// backbone's preprocessing is applied unchanged. Training is seeded end to end (split, head
/// initialisation, shuffling, augmentation, dropout), so the same seed gives the same weights,
/// and `resume` restores weights, optimizer state, epoch, schedule and random state. Shuffling
/// is seeded per epoch and augmentation and dropout per sample (seed, phase, epoch, index), so
/// neither thread timing nor the number of processes changes what a sample sees.
///
/// Images are streamed (`BatchLoop`): memory does not grow with the dataset. With a
/// `Communicator` of N processes (`mpirun -np N`), every process takes its contiguous slice of
/// each global batch, gradients are summed over processes and divided by the global number of
/// images before every optimizer step, and only rank 0 writes files: with BatchNorm frozen the
/// result equals one process with the same global batch, up to float32 summation order. With
/// `batchNorm: .train`, batch statistics are computed per process over its slice (as DDP and
/// Horovod do without SyncBatchNorm).
public final class FineTuner {
    public enum BatchNormPolicy: String, Sendable { case frozen, train }
    public enum OptimizerKind: String, Sendable { case adam, adamw, sgd }

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
        /// The mean loss of this step's batch (0 when none of its images could be read).
        public var batchLoss: Float = 0
    }

    /// How fast an epoch ran on this machine, and what held it back (rank 0's view).
    public struct Throughput: Codable, Sendable {
        /// Training images per second over all processes (validation not included).
        public var imagesPerSecond: Double
        /// The share of the epoch's training time spent waiting for decoded batches: near 0
        /// when compute is the bottleneck, large when decoding is (add `--data-workers` or
        /// `--cache`).
        public var dataWaitFraction: Double
        /// Peak resident memory of the process so far, MiB.
        public var peakResidentMiB: Int

        public init(imagesPerSecond: Double, dataWaitFraction: Double, peakResidentMiB: Int) {
            (self.imagesPerSecond, self.dataWaitFraction, self.peakResidentMiB) = (
                imagesPerSecond, dataWaitFraction, peakResidentMiB
            )
        }

        /// `peak_resident_mib`, as in the CSV (the snake-case strategy alone splits "MiB" into
        /// `mi_b`).
        enum CodingKeys: String, CodingKey {
            case imagesPerSecond, dataWaitFraction
            case peakResidentMiB = "peak_resident_mib"
        }
        /// The key state files written before 2026-12-06 (fourth session) used.
        enum EarlierKeys: String, CodingKey { case peakResidentMiB }

        public init(from decoder: any Decoder) throws {
            let keys = try decoder.container(keyedBy: CodingKeys.self)
            imagesPerSecond = try keys.decode(Double.self, forKey: .imagesPerSecond)
            dataWaitFraction = try keys.decode(Double.self, forKey: .dataWaitFraction)
            peakResidentMiB =
                try keys.decodeIfPresent(Int.self, forKey: .peakResidentMiB)
                ?? decoder.container(keyedBy: EarlierKeys.self).decode(Int.self, forKey: .peakResidentMiB)
        }
    }

    /// One epoch's figures (also written to `OUTPUT.metrics.csv` and `.jsonl`). Equality compares
    /// the training figures, not `throughput`, which measures the machine.
    public struct EpochRecord: Codable, Sendable, Equatable {
        public var phase: Int
        public var epoch: Int
        public var learningRate: Float
        public var loss: Float
        public var trainingAccuracy: Double
        public var validationAccuracy: Double?
        /// Mean cross-entropy on the validation part (absent in states written before it was kept).
        public var validationLoss: Float?
        /// The validation accuracy of the weights' moving average (`Options.emaDecay`), phase 2.
        public var averageValidationAccuracy: Double?
        public var throughput: Throughput?

        public init(
            phase: Int, epoch: Int, learningRate: Float, loss: Float, trainingAccuracy: Double,
            validationAccuracy: Double? = nil,
            validationLoss: Float? = nil, averageValidationAccuracy: Double? = nil, throughput: Throughput? = nil
        ) {
            (self.phase, self.epoch, self.learningRate, self.loss) = (phase, epoch, learningRate, loss)
            (self.trainingAccuracy, self.validationAccuracy, self.validationLoss) = (
                trainingAccuracy, validationAccuracy, validationLoss
            )
            self.averageValidationAccuracy = averageValidationAccuracy
            self.throughput = throughput
        }

        public static func == (a: EpochRecord, b: EpochRecord) -> Bool {
            (a.phase, a.epoch, a.learningRate, a.loss, a.trainingAccuracy) == (
                b.phase, b.epoch, b.learningRate, b.loss, b.trainingAccuracy
            )
                && a.validationAccuracy == b.validationAccuracy && a.validationLoss == b.validationLoss
                && a.averageValidationAccuracy == b.averageValidationAccuracy
        }

        /// True from the second epoch of a phase when the training loss is within 2% of
        /// ln(classes), what predicting uniform probabilities gives: the model is not learning.
        public func isAtChance(classes: Int) -> Bool {
            let chance = log(Double(max(classes, 2)))
            return epoch >= 2 && abs(Double(loss) - chance) < 0.02 * chance
        }
    }

    public let backbone: LoadedModel
    public let options: Options
    /// The training graph; its head `head_predictions` outputs logits.
    public let graph: Graph
    public let classNames: [String]
    /// The training and validation images (decoded batch by batch while training runs).
    let training: [ImageFolder.Item]
    let validation: [ImageFolder.Item]
    /// The processes training together (`SingleProcess` unless launched by mpirun or srun).
    public let communicator: any Communicator
    /// Images this process could not read so far, with the error, in the order found.
    public private(set) var skipped: [(String, String)] = []
    var skippedPaths = Set<String>()
    /// The model's input `[H, W, C]`.
    /// The model's image input: squash-resized, preprocessed as the backbone expects.
    let input: ModelInput
    let featureLayer: String
    var generator: SeededGenerator
    /// The kept model evaluated on the validation part at the end of `run` (nil without one).
    public internal(set) var finalEvaluation: Evaluation?
    /// Where `run(resume: true)` continued: (phase, 1-based epoch); nil for a fresh run.
    public internal(set) var resumedAt: (phase: Int, epoch: Int)?

    /// Prepares a run; no image is decoded here. Images are streamed in batches by
    /// `BatchLoop` during `run` (memory bounded by its queue, not by the dataset);
    /// unreadable ones are reported in `skipped` and left out.
    /// - Parameters:
    ///   - head: a `train-head` head to start from instead of a new `Dense` head; it reads the
    ///     features it was trained on (its feature layer and pooling).
    ///   - communicator: the processes of a data-parallel run; each takes its slice of every
    ///     global batch of `options.batchSize` images.
    public init(
        backbone: LoadedModel, data: ImageFolder, options: Options = Options(), head: HeadAttachment? = nil,
        communicator: any Communicator = SingleProcess()
    ) throws {
        guard let classNames = data.classNames, classNames.count >= 2 else {
            throw TransferError(.data, "fine-tuning needs a folder with one subfolder per class (at least two)")
        }
        // Check the options that name layers before decoding any image.
        if let from = options.unfreezeFrom, backbone.graph.node(named: from) == nil {
            throw TransferError(.option, subject: "--unfreeze-from", backbone.graph.unknownLayerMessage(from))
        }
        try head?.checkFeatureLayer(in: backbone.graph)
        guard options.labelSmoothing.isFinite, options.labelSmoothing >= 0, options.labelSmoothing < 1 else {
            throw TransferError(
                .option, subject: "--label-smoothing",
                "\(options.labelSmoothing) is not in [0, 1); give a value such as 0.1")
        }
        guard options.batchSize >= communicator.size else {
            throw TransferError(
                .option, subject: "--batch",
                "--batch \(options.batchSize) is smaller than the \(communicator.size) processes; each needs at least one image per step"
            )
        }
        self.backbone = backbone
        self.options = options
        self.classNames = classNames
        self.communicator = communicator
        generator = SeededGenerator(seed: options.seed)
        featureLayer = head?.featureLayer ?? FeatureExtractor.defaultLayer(of: backbone.graph)
        graph = try Self.assemble(
            backbone.graph, featureLayer: featureLayer, pooling: head?.pooling ?? .avg, classes: classNames.count,
            dropout: options.dropout, head: head, generator: &generator)
        input = try ModelInput(graph: graph, preprocessing: backbone.preprocessing)
        let (trainingPart, validationPart) = data.split(
            validationFraction: options.validationFraction, seed: options.seed)
        (training, validation) = (trainingPart.items, validationPart.items)
        guard !training.isEmpty else {
            throw TransferError(.data, "no training images (the validation split took them all)")
        }
    }

    /// Backbone nodes up to `featureLayer`, then pooling (`HeadAttachment.features`), dropout
    /// and the head (logits).
    static func assemble(
        _ source: Graph, featureLayer: String, pooling: GlobalPooling, classes: Int, dropout: Float,
        head: HeadAttachment?, generator: inout SeededGenerator
    ) throws -> Graph {
        let features = try HeadAttachment.features(
            of: source, layer: featureLayer, pooling: pooling, poolingName: "head_pool")
        let graph = features.graph
        var last = features.last
        func unique(_ base: String) -> String { HeadAttachment.unique(base, in: graph) }
        if dropout > 0 {
            last = try graph.add(
                Dropout(name: unique("head_dropout"), rate: dropout, seed: generator.next()), inputs: [last])
        }
        if let head {
            last = try head.appendLogits(
                to: graph, after: last, outputName: unique("head_predictions"), classes: classes)
        } else {
            let features = graph.shape(of: last)?.last ?? 0
            last = try graph.add(
                Dense(name: unique("head_predictions"), inputFeatures: features, units: classes, generator: &generator),
                inputs: [last])
        }
        graph.outputNames = [last]
        return graph
    }

    /// Sets what trains in `phase` (1: head only; 2: from `unfreezeFrom`, or everything) and
    /// freezes BatchNorm unless `batchNorm == .train`.
    func configure(phase: Int, epoch: Int = 0) throws {
        // The head is everything after the feature layer.
        let firstHead = graph.nodes.firstIndex { $0.name == featureLayer }.flatMap {
            $0 + 1 < graph.nodes.count ? graph.nodes[$0 + 1].name : nil
        }
        var from = phase == 1 ? firstHead : options.unfreezeFrom
        if phase == 2 && options.gradualUnfreezing {
            // Trained from the last stage at epoch 0, from one stage earlier each epoch.
            let stages = DiscriminativeRates.stages(of: graph, lastBackboneNode: featureLayer)
            let floor = max(stages.count - 1 - epoch, 0)
            let names = Set(stages.indices.contains(floor) ? stages[floor] : [])
            from = floor == 0 ? nil : graph.nodes.first { names.contains($0.name) }?.name ?? firstHead
        }
        try graph.setTrainable(true, from: from)
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

    /// How this run's images become batches: `input` (decode, the backbone's preprocessing)
    /// with the optional disk cache and the augmentation.
    func batchLoop() throws -> BatchLoop {
        BatchLoop(
            input: input, augmentation: options.augmentation,
            cache: try options.cacheDirectory.map { try DecodedImageCache(directory: $0, shape: input.shape) },
            workers: options.dataWorkers, depth: options.queueDepth)
    }

    /// The plan of `batches` (dataset indices into `items`), seeding each sample's augmentation
    /// from (seed, phase, epoch, index) when `augmentEpoch` is given.
    func plan(_ batches: [ArraySlice<Int>], of items: [ImageFolder.Item], augmentEpoch: (phase: Int, epoch: Int)?)
        -> [[ImageBatchStream.Sample]]
    {
        let augment = augmentEpoch != nil && options.augmentation != .none
        return BatchLoop.plan(batches, of: items) { index in
            augment ? self.sampleSeed(.augmentation, augmentEpoch ?? (0, 0), index) : nil
        }
    }

    /// What a per-sample seed is for.
    enum SeedUse: UInt64 {
        case order = 1
        case augmentation, dropout, mixing
    }

    /// The seed of one sample's randomness in one epoch: a pure function of the run seed, so it
    /// does not depend on thread timing, batch position or the process that computes it.
    func sampleSeed(_ use: SeedUse, _ at: (phase: Int, epoch: Int), _ index: Int) -> UInt64 {
        SeededGenerator(
            seed: options.seed, deriving: [use.rawValue, UInt64(at.phase), UInt64(at.epoch), UInt64(index)]
        ).state.0
    }

    /// Notes the images a batch could not read (once each).
    func noteFailures(_ batch: ImageBatchStream.Batch) {
        for (sample, error) in batch.failed where skippedPaths.insert(sample.path).inserted {
            skipped.append((sample.path, error))
        }
    }

    /// This process's contiguous share of `0..<count` items.
    func share(of count: Int) -> Range<Int> {
        (count * communicator.rank / communicator.size)..<(count * (communicator.rank + 1) / communicator.size)
    }

    /// Accuracy of argmax predictions on `items` in `mode`.
    func accuracy(_ items: [ImageFolder.Item], mode: Mode = .inference) throws -> Double {
        try measure(items, mode: mode).accuracy
    }

    /// Accuracy, mean cross-entropy and the class probabilities on the readable `items` (rows of
    /// `probabilities` in item order; `readable` lists their item indices). Each process measures
    /// its share; the sums are combined over all processes.
    func measure(_ items: [ImageFolder.Item], mode: Mode = .inference) throws -> (
        accuracy: Double, loss: Float, probabilities: [[Float]], readable: [Int]
    ) {
        guard let input = graph.inputNames.first, let output = graph.outputNames.first, !items.isEmpty else {
            return (0, 0, [], [])
        }
        let classes = classNames.count
        let width = classes + 1
        // Per item: the class probabilities, then 1 when it was read; plus loss and correct totals.
        var sums = [Float](repeating: 0, count: items.count * width + 2)
        let mine = Array(share(of: items.count))
        let batches = stride(from: 0, to: mine.count, by: options.batchSize).map {
            mine[$0..<min($0 + options.batchSize, mine.count)]
        }
        let forward = { (images: Tensor) in
            try self.graph.forward([input: images], outputs: [output], mode: mode)[output]
        }
        try batchLoop().run(plan(batches, of: items, augmentEpoch: nil), forward: forward) { batch, logits in
            noteFailures(batch)
            guard let logits = logits ?? nil else { return true }
            let labels = batch.samples.map { $0.label ?? 0 }
            sums[items.count * width] +=
                SoftmaxCrossEntropy()(logits: logits, labels: labels).loss * Float(labels.count)
            sums[items.count * width + 1] += Float(zip(logits.argmaxPerRow(), labels).filter { $0 == $1 }.count)
            let p = ActivationFunction.softmax.applied(to: logits)
            for (row, sample) in batch.samples.enumerated() {
                for k in 0..<classes { sums[sample.index * width + k] = p.scalars[row * classes + k] }
                sums[sample.index * width + classes] = 1
            }
            return true
        }
        try communicator.sum(&sums)
        let readable = items.indices.filter { sums[$0 * width + classes] > 0 }
        guard !readable.isEmpty else { return (0, 0, [], []) }
        let probabilities = readable.map { Array(sums[($0 * width)..<($0 * width + classes)]) }
        return (
            Double(sums[items.count * width + 1]) / Double(readable.count),
            sums[items.count * width] / Float(readable.count), probabilities, readable
        )
    }

    /// The trained model measured on the validation part (nil without one), in `evaluate`'s terms.
    public func validationEvaluation(topK: Int = 5) throws -> Evaluation? {
        guard !validation.isEmpty else { return nil }
        let measured = try measure(validation)
        guard !measured.readable.isEmpty else { return nil }
        return Evaluation(
            classNames: classNames, probabilities: measured.probabilities,
            labels: measured.readable.map { validation[$0].label ?? 0 },
            paths: measured.readable.map { validation[$0].path }, topK: topK)
    }

    /// The dropout layer of the new head, if any (its random state is part of a checkpoint).
    var headDropout: Dropout? {
        guard let start = graph.nodes.firstIndex(where: { $0.name == featureLayer }) else { return nil }
        return graph.nodes[(start + 1)...].lazy.compactMap { $0.layer as? Dropout }.first
    }

    /// Accuracy on the training images without augmentation, in `mode`.
    public func trainingAccuracy(mode: Mode) throws -> Double { try accuracy(training, mode: mode) }
}
