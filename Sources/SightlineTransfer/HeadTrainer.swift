import Foundation
import SightlineCore
import SightlineData
import SightlineNN

/// Trains a classifier head on bottleneck features: multinomial logistic regression, or a small
/// MLP with one hidden ReLU layer (and dropout), with Adam on softmax cross-entropy.
///
/// Features are read in blocks of at most `Options.memoryBudget` bytes, so a file larger than
/// memory trains in bounded memory. Each epoch visits the blocks in a seeded random order and
/// shuffles the rows within each block (tf.data's shuffle-buffer approach); a file that fits in
/// one block is shuffled globally.
public struct HeadTrainer {
    public struct Options: Sendable {
        /// Hidden units of an MLP head; nil for logistic regression.
        public var hidden: Int?
        public var dropout: Float = 0.2
        public var epochs = 100
        public var batchSize = 32
        public var learningRate: Float = 1e-3
        /// Decoupled (AdamW) weight decay.
        public var weightDecay: Float = 1e-4
        public var validationFraction = 0.2
        /// End with the weights of the epoch with the best validation accuracy; false keeps the last.
        public var keepBest = true
        public var seed: UInt64 = 0
        /// Feature bytes held at once (one block of rows).
        public var memoryBudget = 256 << 20
        /// The engine settings the head trains under (its thread count).
        public var engine = EngineOptions()

        public init(hidden: Int? = nil) { self.hidden = hidden }
    }

    /// One epoch's figures.
    public struct Epoch: Sendable {
        public var epoch: Int
        public var loss: Float
        public var trainingAccuracy: Double
        public var validationAccuracy: Double?
        public var validationLoss: Float?
    }

    public struct Result {
        /// Input `features` `[D]` → … → `predictions` (softmax).
        public var graph: Graph
        public var history: [Epoch]
        /// Rows: true class, columns: predicted class, on the validation part (the training part
        /// when there is no validation).
        public var confusion: [[Int]]
        public var classNames: [String]
        /// The kept head on the validation part (the training part when there is none).
        public var evaluation: Evaluation
        /// The epochs in `FineTuner`'s record form (phase 1), for `TrainingReport`.
        public var records: [FineTuner.EpochRecord] {
            history.map {
                FineTuner.EpochRecord(
                    phase: 1, epoch: $0.epoch, learningRate: learningRate, loss: $0.loss,
                    trainingAccuracy: $0.trainingAccuracy,
                    validationAccuracy: $0.validationAccuracy, validationLoss: $0.validationLoss)
            }
        }
        var learningRate: Float
    }

    /// Trains on the readable rows of `file` (status 0), which must have labels.
    public static func train(_ file: some FeatureRows, options: Options = Options(), report: (Epoch) -> Void = { _ in })
        throws -> Result
    {
        guard let labels = file.labels, let classNames = file.classNames, classNames.count >= 2 else {
            throw TransferError(
                .data, "the features file has no labels; extract from a folder with one subfolder per class")
        }
        guard file.featureShape.count == 1, let dimension = file.featureShape.first else {
            throw TransferError(
                .data, "features of shape \(file.featureShape) are not vectors; extract with --pool avg or max")
        }
        let rows = file.status.indices.filter { file.status[$0] == 0 }
        let dataset = ImageFolder(
            items: rows.map { ImageFolder.Item(path: String($0), label: labels[$0]) }, classNames: classNames)
        let (trainingPart, validationPart) = dataset.split(
            validationFraction: options.validationFraction, seed: options.seed)
        let training = trainingPart.items.compactMap { Int($0.path) }
        let validation = validationPart.items.compactMap { Int($0.path) }
        guard !training.isEmpty else { throw TransferError(.data, "no readable labelled rows to train on") }
        let blockRows = max(1, min(file.rows, options.memoryBudget / max(dimension * 4, 1)))
        let blocks = stride(from: 0, to: file.rows, by: blockRows).map { $0..<min($0 + blockRows, file.rows) }
        let trainingByBlock = Dictionary(grouping: training) { $0 / blockRows }
        let scored = Set(training).union(validation)

        var generator = SeededGenerator(seed: options.seed)
        let graph = Graph()
        graph.engineOptions = options.engine
        try graph.addInput(name: "features", shape: [dimension])
        var last = "features"
        var width = dimension
        if let hidden = options.hidden {
            last = try graph.add(
                Dense(name: "hidden", inputFeatures: width, units: hidden, activation: .relu, generator: &generator),
                inputs: [last])
            if options.dropout > 0 {
                last = try graph.add(
                    Dropout(name: "dropout", rate: options.dropout, seed: options.seed &+ 1), inputs: [last])
            }
            width = hidden
        }
        let logits = Dense(name: "predictions", inputFeatures: width, units: classNames.count, generator: &generator)
        try graph.add(logits, inputs: [last])
        let optimizer = Adam(learningRate: options.learningRate, decoupledWeightDecay: options.weightDecay)
        let loss = SoftmaxCrossEntropy()

        /// One block of features at a time, its storage reused from block to block.
        var block: [Float] = []
        /// The rows `indices` of the block read from `range`.
        func batch(_ range: Range<Int>, _ indices: some Collection<Int>) -> Tensor {
            Tensor(shape: [indices.count, dimension]) { out in
                for (position, row) in indices.enumerated() {
                    let source = (row - range.lowerBound) * dimension
                    for k in 0..<dimension { out[position * dimension + k] = block[source + k] }
                }
            }
        }
        /// Logits of every training and validation row, block by block.
        func scores() throws -> [Int: [Float]] {
            var result: [Int: [Float]] = [:]
            for range in blocks {
                let wanted = range.filter { scored.contains($0) }
                guard !wanted.isEmpty else { continue }
                try file.features(range, into: &block)
                for start in stride(from: 0, to: wanted.count, by: 1024) {
                    let part = wanted[start..<min(start + 1024, wanted.count)]
                    let values = try graph(batch(range, part))
                    for (position, row) in part.enumerated() {
                        result[row] = Array(
                            values.scalars[(position * classNames.count)..<((position + 1) * classNames.count)])
                    }
                }
            }
            return result
        }
        /// The first largest entry's index.
        func argmax(_ values: [Float]) -> Int { values.indices.reduce(0) { values[$1] > values[$0] ? $1 : $0 } }
        func accuracy(_ indices: [Int], _ scores: [Int: [Float]]) -> Double {
            let correct = indices.filter { row in scores[row].map { argmax($0) == labels[row] } ?? false }
            return Double(correct.count) / Double(max(indices.count, 1))
        }
        func meanLoss(_ indices: [Int], _ scores: [Int: [Float]]) -> Float? {
            guard !indices.isEmpty else { return nil }
            let values = Tensor(
                shape: [indices.count, classNames.count], scalars: indices.flatMap { scores[$0] ?? [] })
            return loss(logits: values, labels: indices.map { labels[$0] }).loss
        }
        var best: (accuracy: Double, weights: [Tensor])?

        var history: [Epoch] = []
        for epoch in 1...max(options.epochs, 1) {
            var total: Float = 0
            var order = blocks.indices.filter { trainingByBlock[$0] != nil }
            order.shuffle(using: &generator)
            for index in order {
                let range = blocks[index]
                var rowsHere = trainingByBlock[index] ?? []
                rowsHere.shuffle(using: &generator)
                try file.features(range, into: &block)
                for start in stride(from: 0, to: rowsHere.count, by: options.batchSize) {
                    let indices = rowsHere[start..<min(start + options.batchSize, rowsHere.count)]
                    let figures = try TrainingStep.gradients(
                        graph, inputs: ["features": batch(range, indices)], output: "predictions",
                        labels: indices.map { labels[$0] }, loss: loss)
                    let (place, slots) = ("epoch \(epoch)", graph.trainableSlots)
                    let fix = "No head was written; lower --lr (now \(optimizer.learningRate))."
                    try Divergence.check(loss: figures.loss, slots: slots, at: place, fix: fix)
                    optimizer.step(slots)
                    try Divergence.checkWeights(slots, at: place, fix: fix)
                    total += figures.loss
                }
            }
            let epochScores = try scores()
            let figures = Epoch(
                epoch: epoch, loss: total / Float(training.count), trainingAccuracy: accuracy(training, epochScores),
                validationAccuracy: validation.isEmpty ? nil : accuracy(validation, epochScores),
                validationLoss: meanLoss(validation, epochScores))
            history.append(figures)
            let score = figures.validationAccuracy ?? figures.trainingAccuracy
            if best.map({ score > $0.accuracy }) ?? true {
                best = (score, graph.nodes.flatMap { $0.layer?.parameters ?? [] }.map(\.value))
            }
            report(figures)
        }
        if options.keepBest, let best {
            for (parameter, value) in zip(graph.nodes.flatMap { $0.layer?.parameters ?? [] }, best.weights) {
                parameter.value = value
            }
        }
        let evaluated = validation.isEmpty ? training : validation
        let final = try scores()
        let probabilities = evaluated.map {
            ActivationFunction.softmax.applied(to: Tensor(shape: [1, classNames.count], scalars: final[$0] ?? []))
                .scalars
        }
        var confusion = Array(repeating: Array(repeating: 0, count: classNames.count), count: classNames.count)
        for (row, p) in zip(evaluated, probabilities) { confusion[labels[row]][argmax(p)] += 1 }
        let evaluation = Evaluation(
            classNames: classNames, probabilities: probabilities, labels: evaluated.map { labels[$0] },
            paths: evaluated.map { $0 < file.paths.count ? file.paths[$0] : "" })

        // The saved head ends in softmax, like a Keras classifier; training used its logits.
        let head = try graph.withSoftmaxOutput()
        return Result(
            graph: head, history: history, confusion: confusion, classNames: classNames, evaluation: evaluation,
            learningRate: options.learningRate)
    }
}
