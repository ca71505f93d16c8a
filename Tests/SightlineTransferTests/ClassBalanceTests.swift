import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineTransfer

/// `finetune --balance`: class weights as scikit-learn 1.2's `compute_class_weight("balanced")`,
/// their loss as Keras's `class_weight` (computed by torch 1.13 with its gradient), and the
/// sampler's shares; `recipes_expected.json` comes from `Tests/Fixtures/make_recipe_fixtures.py`.
struct ClassBalanceTests {
    struct Expected: Decodable {
        struct Balance: Decodable {
            var labels: [Int]
            var weights: [Float]
            var logits: [Float]
            var batchLabels: [Int]
            var loss: Float
            var gradient: [Float]
        }
        var balance: Balance
    }

    static func expected() throws -> Expected.Balance {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let url = KerasFixture.directory.appendingPathComponent("recipes_expected.json")
        return try decoder.decode(Expected.self, from: Data(contentsOf: url)).balance
    }

    @Test func weightsAndTheirLossMatchScikitLearnAndKeras() throws {
        let expected = try Self.expected()
        let counts = ClassBalance.counts(expected.labels, classes: 3)
        #expect(counts == [10, 2, 4])
        let weights = ClassBalance.weights(counts)
        for (a, b) in zip(weights, expected.weights) { #expect(abs(a - b) <= 1e-6, "\(weights)") }
        let logits = Tensor(shape: [5, 3], scalars: expected.logits)
        let (loss, gradient) = SoftmaxCrossEntropy()(
            logits: logits, labels: expected.batchLabels, weights: expected.batchLabels.map { weights[$0] })
        #expect(abs(loss - expected.loss) <= 1e-6 * expected.loss, "\(loss) vs \(expected.loss)")
        for (a, b) in zip(gradient.scalars, expected.gradient) { #expect(abs(a - b) <= 1e-6) }
        let gap = try #require(ClassBalance.imbalance(counts), "10 against 2 is worth saying")
        #expect(gap.largest == 10 && gap.smallest == 2)
        #expect(ClassBalance.imbalance([12, 12, 7]) == nil)
    }

    @Test func theSamplerDrawsEveryClassEqually() {
        let labels = [0] * 10 + [1] * 2 + [2] * 4
        var generator = SeededGenerator(seed: 4)
        let draws = ClassBalance.sample(labels, classes: 3, count: 30_000, using: &generator)
        #expect(draws.count == 30_000 && draws.allSatisfy { labels.indices.contains($0) })
        let shares = ClassBalance.counts(draws.map { labels[$0] }, classes: 3).map { Double($0) / 30_000 }
        for share in shares { #expect(abs(share - 1.0 / 3) < 0.02, "\(shares)") }
        // Within a class, every image is drawn (the rare class's two about equally often).
        let rare = draws.filter { labels[$0] == 1 }
        #expect(Set(rare) == [10, 11] && abs(Double(rare.filter { $0 == 10 }.count) / Double(rare.count) - 0.5) < 0.05)
    }
}

extension Array where Element == Int {
    fileprivate static func * (values: [Int], times: Int) -> [Int] {
        Array((0..<times).map { _ in values }.joined())
    }
}
