import Foundation

/// Trains a classifier head on bottleneck features: multinomial logistic regression, or a small
/// MLP with one hidden ReLU layer (and dropout), with Adam on softmax cross-entropy.
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
                    phase: 1, epoch: $0.epoch, learningRate: learningRate, loss: $0.loss, trainingAccuracy: $0.trainingAccuracy,
                    validationAccuracy: $0.validationAccuracy, validationLoss: $0.validationLoss)
            }
        }
        var learningRate: Float
    }

    public struct TrainingError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Trains on the readable rows of `file` (status 0), which must have labels.
    public static func train(_ file: FeatureFile, options: Options = Options(), report: (Epoch) -> Void = { _ in }) throws -> Result {
        guard let labels = file.labels, let classNames = file.classNames, classNames.count >= 2 else {
            throw TrainingError(message: "the features file has no labels; extract from a folder with one subfolder per class")
        }
        guard file.features.rank == 2 else {
            throw TrainingError(message: "features of shape \(file.features.shape) are not vectors; extract with --pool avg or max")
        }
        let dimension = file.features.shape[1]
        let rows = file.status.indices.filter { file.status[$0] == 0 }
        let dataset = ImageFolder(items: rows.map { ImageFolder.Item(path: String($0), label: labels[$0]) }, classNames: classNames)
        let (trainingPart, validationPart) = dataset.split(validationFraction: options.validationFraction, seed: options.seed)
        let training = trainingPart.items.compactMap { Int($0.path) }, validation = validationPart.items.compactMap { Int($0.path) }
        guard !training.isEmpty else { throw TrainingError(message: "no readable labelled rows to train on") }

        var generator = SeededGenerator(seed: options.seed)
        let graph = Graph()
        try graph.addInput(name: "features", shape: [dimension])
        var last = "features", width = dimension
        if let hidden = options.hidden {
            last = try graph.add(Dense(name: "hidden", inputFeatures: width, units: hidden, activation: .relu, generator: &generator), inputs: [last])
            if options.dropout > 0 { last = try graph.add(Dropout(name: "dropout", rate: options.dropout, seed: options.seed &+ 1), inputs: [last]) }
            width = hidden
        }
        let logits = Dense(name: "predictions", inputFeatures: width, units: classNames.count, generator: &generator)
        try graph.add(logits, inputs: [last])
        let optimizer = Adam(learningRate: options.learningRate, decoupledWeightDecay: options.weightDecay)
        let loss = SoftmaxCrossEntropy()

        func batch(_ indices: ArraySlice<Int>) -> Tensor {
            Tensor(shape: [indices.count, dimension], scalars: indices.flatMap { file.features.scalars[($0 * dimension)..<(($0 + 1) * dimension)] })
        }
        func predict(_ indices: [Int]) throws -> [Int] {
            guard !indices.isEmpty else { return [] }
            return try graph(batch(indices[...])).argmaxPerRow()
        }
        func accuracy(_ indices: [Int]) throws -> Double {
            let predicted = try predict(indices)
            return Double(zip(predicted, indices).filter { $0 == labels[$1] }.count) / Double(max(indices.count, 1))
        }
        func validationLoss() throws -> Float? {
            guard !validation.isEmpty else { return nil }
            return loss(logits: try graph(batch(validation[...])), labels: validation.map { labels[$0] }).loss
        }
        var best: (accuracy: Double, weights: [Tensor])?

        var history: [Epoch] = []
        var order = training
        for epoch in 1...max(options.epochs, 1) {
            order.shuffle(using: &generator)
            var total: Float = 0
            for start in stride(from: 0, to: order.count, by: options.batchSize) {
                let indices = order[start..<min(start + options.batchSize, order.count)]
                graph.zeroGradients()
                let (outputs, tape) = try graph.record(["features": batch(indices)], outputs: ["predictions"], mode: .training, request: GradientRequest())
                guard let scores = outputs["predictions"] else { continue }
                let (value, gradient) = loss(logits: scores, labels: indices.map { labels[$0] })
                total += value * Float(indices.count)
                _ = graph.backward(tape, seeds: ["predictions": gradient])
                optimizer.step(graph.trainableSlots)
            }
            let figures = Epoch(
                epoch: epoch, loss: total / Float(order.count), trainingAccuracy: try accuracy(training),
                validationAccuracy: validation.isEmpty ? nil : try accuracy(validation), validationLoss: try validationLoss())
            history.append(figures)
            let score = figures.validationAccuracy ?? figures.trainingAccuracy
            if best.map({ score > $0.accuracy }) ?? true { best = (score, graph.nodes.flatMap { $0.layer?.parameters ?? [] }.map(\.value)) }
            report(figures)
        }
        if options.keepBest, let best {
            for (parameter, value) in zip(graph.nodes.flatMap { $0.layer?.parameters ?? [] }, best.weights) { parameter.value = value }
        }
        let evaluated = validation.isEmpty ? training : validation
        var confusion = Array(repeating: Array(repeating: 0, count: classNames.count), count: classNames.count)
        for (predicted, row) in zip(try predict(evaluated), evaluated) { confusion[labels[row]][predicted] += 1 }
        let probabilities = ActivationFunction.softmax.applied(to: try graph(batch(evaluated[...])))
        let evaluation = Evaluation(
            classNames: classNames, probabilities: evaluated.indices.map { Array(probabilities.scalars[($0 * classNames.count)..<(($0 + 1) * classNames.count)]) },
            labels: evaluated.map { labels[$0] }, paths: evaluated.map { $0 < file.paths.count ? file.paths[$0] : "" })

        // The saved head ends in softmax, like a Keras classifier; training used its logits.
        let head = Graph()
        try head.addInput(name: "features", shape: [dimension])
        for node in graph.nodes where node.layer != nil {
            guard let layer = node.layer else { continue }
            let saved: any Layer = layer === logits
                ? Dense(name: "predictions", kernel: logits.kernel.value, bias: logits.bias?.value, activation: .softmax) : layer
            try head.add(saved, inputs: node.inputs)
        }
        return Result(graph: head, history: history, confusion: confusion, classNames: classNames, evaluation: evaluation, learningRate: options.learningRate)
    }
}
