import Foundation

/// fastai's `ClassificationInterpretation` for an evaluation: the most-confused class pairs
/// (`most_confused`) and the images with the highest loss (`plot_top_losses`).
extension Evaluation {
    /// One confused pair: images of `actual` predicted as `predicted`.
    public struct ConfusedPair: Sendable, Equatable {
        public var actual: Int
        public var predicted: Int
        public var count: Int
    }

    /// Off-diagonal cells of the confusion matrix with at least `minimum` images, most first (ties
    /// by class order), as fastai's `most_confused(min_val)`.
    public func mostConfused(minimum: Int = 1) -> [ConfusedPair] {
        var pairs: [ConfusedPair] = []
        for (actual, row) in confusion.enumerated() {
            for (predicted, count) in row.enumerated() where predicted != actual && count >= max(minimum, 1) {
                pairs.append(ConfusedPair(actual: actual, predicted: predicted, count: count))
            }
        }
        return pairs.sorted {
            $0.count != $1.count ? $0.count > $1.count : ($0.actual, $0.predicted) < ($1.actual, $1.predicted)
        }
    }

    /// The images with the highest cross-entropy loss −ln p(true class), highest first: the
    /// mistakes, and the right answers given with the least confidence.
    public var topLosses: [Mistake] { losses }

    /// Keeps the `count` highest-loss rows of an evaluation's probabilities.
    static func highestLosses(probabilities: [[Float]], labels: [Int], paths: [String], count: Int) -> [Mistake] {
        let rows = zip(probabilities, labels).enumerated().compactMap { row, pair -> Mistake? in
            let (p, label) = pair
            guard let predicted = p.indices.max(by: { p[$0] < p[$1] }) else { return nil }
            return Mistake(
                path: row < paths.count ? paths[row] : "", trueClass: label, predicted: predicted,
                confidence: p[predicted], trueProbability: p[label])
        }
        return Array(rows.sorted { $0.loss > $1.loss }.prefix(count))
    }
}

extension Evaluation.Mistake {
    /// Cross-entropy of the true class, −ln p (capped where p underflows to 0).
    public var loss: Double { -log(max(Double(trueProbability), 1e-45)) }
}
