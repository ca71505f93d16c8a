import Foundation
import SightlineCore
import SightlineData
import SightlineNN

/// A classifier measured on labelled images: top-1 and top-k accuracy, per-class precision,
/// recall, F1 and support, the confusion matrix and every misclassified file with its scores,
/// as scikit-learn's `classification_report` and `confusion_matrix` compute them.
public struct Evaluation: Sendable {
    /// One misclassified image.
    public struct Mistake: Sendable {
        public var path: String
        public var trueClass: Int
        public var predicted: Int
        /// Probability of the predicted class and of the true class.
        public var confidence: Float
        public var trueProbability: Float
    }

    /// Per-class figures (precision and F1 are 0 where undefined, as scikit-learn's `zero_division=0`).
    public struct ClassFigures: Sendable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }

    public var classNames: [String]
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]
    public var topK: Int
    public var topKCorrect: Int
    public var mistakes: [Mistake]
    /// Images that could not be read, with the reason.
    public var skipped: [(path: String, reason: String)]
    /// The 20 highest-loss images (`topLosses`), kept when the figures are computed.
    var losses: [Mistake] = []

    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    public var top1Accuracy: Double {
        count == 0 ? 0 : Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(count)
    }
    public var topKAccuracy: Double { count == 0 ? 0 : Double(topKCorrect) / Double(count) }

    public var perClass: [ClassFigures] {
        confusion.indices.map { c in
            let truePositive = Double(confusion[c][c])
            let predicted = Double(confusion.reduce(0) { $0 + $1[c] })
            let support = confusion[c].reduce(0, +)
            let precision = predicted > 0 ? truePositive / predicted : 0
            let recall = support > 0 ? truePositive / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ClassFigures(precision: precision, recall: recall, f1: f1, support: support)
        }
    }

    public init(
        classNames: [String], confusion: [[Int]], topK: Int, topKCorrect: Int, mistakes: [Mistake],
        skipped: [(path: String, reason: String)]
    ) {
        (self.classNames, self.confusion, self.topK, self.topKCorrect, self.mistakes, self.skipped) = (
            classNames, confusion, topK, topKCorrect, mistakes, skipped
        )
    }

    /// The figures for given class probabilities (one row per image), true labels and files.
    public init(classNames: [String], probabilities: [[Float]], labels: [Int], paths: [String], topK: Int = 5) {
        let classes = classNames.count
        self.init(
            classNames: classNames, confusion: Array(repeating: Array(repeating: 0, count: classes), count: classes),
            topK: min(topK, classes),
            topKCorrect: 0, mistakes: [], skipped: [])
        for (row, (p, label)) in zip(probabilities, labels).enumerated() {
            let ranked = p.indices.sorted { p[$0] > p[$1] }
            guard let predicted = ranked.first else { continue }
            confusion[label][predicted] += 1
            if ranked.prefix(self.topK).contains(label) { topKCorrect += 1 }
            if predicted != label {
                mistakes.append(
                    Mistake(
                        path: row < paths.count ? paths[row] : "", trueClass: label, predicted: predicted,
                        confidence: p[predicted], trueProbability: p[label]))
            }
        }
        mistakes.sort { $0.confidence > $1.confidence }
        losses = Self.highestLosses(probabilities: probabilities, labels: labels, paths: paths, count: 20)
    }

    /// Evaluates `model` (a batch from `input`'s preparation in, class scores out: probabilities,
    /// or logits that get a softmax unless `outputsProbabilities`) on `data`'s class folders. The folders' class names are matched to
    /// `modelClassNames` by name when given (a fine-tuned model records its own), else by
    /// position. `progress` gets (images done, total) after each batch.
    public static func run(
        model: (Tensor) throws -> Tensor, input: ModelInput, data: ImageFolder,
        modelClassNames: [String]?,
        classCount: Int, outputsProbabilities: Bool, topK: Int = 5, batchSize: Int = 16,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Evaluation {
        guard let folders = data.classNames, !folders.isEmpty else {
            throw TransferError(.data, "evaluation needs a folder with one subfolder per class")
        }
        let names = modelClassNames ?? (0..<classCount).map { "class \($0)" }
        // Folder label → model class.
        let mapping: [Int]
        if let modelClassNames {
            mapping = try folders.map { folder in
                guard let index = modelClassNames.firstIndex(of: folder) else {
                    throw TransferError(
                        .data,
                        "the data has a class '\(folder)' that the model does not know (its classes: \(modelClassNames.joined(separator: ", ")))"
                    )
                }
                return index
            }
        } else {
            guard folders.count <= classCount else {
                throw TransferError(
                    .data, "the data has \(folders.count) class folders and the model \(classCount) outputs")
            }
            mapping = Array(folders.indices)
        }
        var probabilities: [[Float]] = []
        var labels: [Int] = []
        var paths: [String] = []
        var skipped: [(path: String, reason: String)] = []
        let items = data.items
        var done = 0
        try BatchLoop(input: input).run(BatchLoop.plan(items, batchSize: batchSize), forward: model) { batch, output in
            skipped += batch.failed.map { ($0.sample.path, $0.error) }
            if var scores = output {
                if !outputsProbabilities { scores = ActivationFunction.softmax.applied(to: scores) }
                probabilities += (0..<batch.samples.count).map {
                    Array(scores.scalars[($0 * classCount)..<(($0 + 1) * classCount)])
                }
                labels += batch.samples.map { mapping[$0.label ?? 0] }
                paths += batch.samples.map(\.path)
            }
            done += batch.samples.count + batch.failed.count
            progress(done, items.count)
            return true
        }
        var evaluation = Evaluation(
            classNames: modelClassNames ?? names.enumerated().map { $0 < folders.count ? folders[$0] : $1 },
            probabilities: probabilities,
            labels: labels, paths: paths, topK: topK)
        evaluation.skipped = skipped
        return evaluation
    }

}
