import Foundation
import SightlineCore
import Testing

@testable import SightlineTransfer

/// fastai's `ClassificationInterpretation` as `evaluate` reports it: the most-confused pairs
/// (`most_confused`, off-diagonal counts, most first) and the top losses (−ln p of the true class,
/// highest first, right answers given with little confidence included).
struct InterpretationTests {
    @Test func mostConfusedPairsAndTopLosses() {
        // Five images of three classes: two cats called dogs, one dog called a cat, one bird right
        // but unsure, one bird sure.
        let probabilities: [[Float]] = [
            [0.2, 0.7, 0.1], [0.3, 0.6, 0.1], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4], [0.01, 0.01, 0.98],
        ]
        let evaluation = Evaluation(
            classNames: ["cat", "dog", "bird"], probabilities: probabilities, labels: [0, 0, 1, 2, 2],
            paths: ["c1", "c2", "d1", "b1", "b2"])
        let confused = evaluation.mostConfused()
        #expect(
            confused == [.init(actual: 0, predicted: 1, count: 2), .init(actual: 1, predicted: 0, count: 1)],
            "\(confused)")
        #expect(evaluation.mostConfused(minimum: 2).count == 1)
        // Losses: d1 −ln 0.05 = 3.00, c1 −ln 0.2 = 1.61, c2 −ln 0.3 = 1.20, b1 −ln 0.4 = 0.92, b2 0.02.
        #expect(evaluation.topLosses.map(\.path) == ["d1", "c1", "c2", "b1", "b2"])
        #expect(abs((evaluation.topLosses.first?.loss ?? 0) - -log(0.05)) < 1e-6)
        #expect(evaluation.topLosses[3].predicted == 2, "a right answer given with little confidence is listed too")
    }
}
