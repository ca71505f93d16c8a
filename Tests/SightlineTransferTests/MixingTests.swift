import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineTransfer

/// `finetune --mixup/--cutmix` against timm 0.9.16's `Mixup` (`recipes_expected.json`, made by
/// `Tests/Fixtures/make_recipe_fixtures.py` with timm's random draws replaced by fixed values).
struct MixingTests {
    struct Case: Decodable {
        var cutmix: Bool
        var lambda: Float
        var centre: [Int]?
        var smoothing: Float
        var shape: [Int]
        var labels: [Int]
        var images: [Float]
        var mixed: [Float]
        var targets: [[Float]]
    }

    struct Expected: Decodable { var mixing: [Case] }

    static func cases() throws -> [Case] {
        let url = KerasFixture.directory.appendingPathComponent("recipes_expected.json")
        return try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url)).mixing
    }

    @Test func mixedImagesAndTargetsMatchTimm() throws {
        for item in try Self.cases() {
            var images = Tensor(shape: item.shape, scalars: item.images)
            var weight = item.lambda
            if item.cutmix, let centre = item.centre {
                let box = Mixing.box(
                    height: item.shape[1], width: item.shape[2], weight: item.lambda, centre: (centre[0], centre[1]))
                Mixing.paste(box, into: &images)
                weight =
                    1 - Float((box.bottom - box.top) * (box.right - box.left)) / Float(item.shape[1] * item.shape[2])
            } else {
                Mixing.blend(&images, weight: item.lambda)
            }
            let difference = zip(images.scalars, item.mixed).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-6, "cutmix \(item.cutmix) λ \(item.lambda): images differ by \(difference)")
            // The loss with the mixed targets: mean of −Σ target·log softmax, gradient (softmax − target)/N.
            let (n, k) = (item.labels.count, item.targets[0].count)
            let logits = Tensor(shape: [n, k], scalars: (0..<(n * k)).map { Float($0 % 5) * 0.3 - 0.5 })
            let loss = SoftmaxCrossEntropy(labelSmoothing: item.smoothing)
            let (value, gradient) = loss(
                logits: logits, labels: item.labels, mix: .init(partners: item.labels.reversed(), weight: weight))
            let p = ActivationFunction.softmax.applied(to: logits).scalars
            var expected: Double = 0
            for i in 0..<n {
                for j in 0..<k {
                    expected -= Double(item.targets[i][j]) * log(Double(p[i * k + j]))
                    let g = (p[i * k + j] - item.targets[i][j]) / Float(n)
                    #expect(abs(gradient.scalars[i * k + j] - g) <= 1e-6)
                }
            }
            #expect(abs(Double(value) - expected / Double(n)) <= 1e-5, "\(value) vs \(expected / Double(n))")
        }
    }

    @Test func theBetaDrawsHaveTheirDistributionsMoments() {
        var generator = SeededGenerator(seed: 3)
        for alpha: Float in [0.2, 0.8, 1.0, 2.0] {
            let draws = (0..<20_000).map { _ in Double(Mixing.beta(alpha, using: &generator)) }
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
            let expected = 1 / (4 * (2 * Double(alpha) + 1))  // Beta(α, α): mean 1/2
            #expect(abs(mean - 0.5) < 0.01, "α \(alpha): mean \(mean)")
            #expect(abs(variance - expected) < 0.05 * expected, "α \(alpha): variance \(variance) vs \(expected)")
            #expect(draws.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test func eachBatchTakesMixupOrCutMixAsDrawn() {
        let shape = [4, 6, 5, 3]
        let original = Tensor(shape: shape, scalars: (0..<(4 * 90)).map { Float($0) })
        var generator = SeededGenerator(seed: 9)
        var kinds = (mixup: 0, cutmix: 0)
        for _ in 0..<200 {
            var images = original
            guard let mix = Mixing().mix(&images, labels: [0, 1, 2, 3], generator: &generator) else {
                Issue.record("probability 1 mixes every batch")
                continue
            }
            #expect(mix.partners == [3, 2, 1, 0])
            // CutMix copies pixels (each value is its own or its partner's); mixup blends them all.
            let copied = (0..<images.count).allSatisfy { index in
                let (i, offset) = (index / 90, index % 90)
                return images.scalars[index] == original.scalars[index]
                    || images.scalars[index] == original.scalars[(3 - i) * 90 + offset]
            }
            if copied { kinds.cutmix += 1 } else { kinds.mixup += 1 }
            #expect(mix.weight >= 0 && mix.weight <= 1)
        }
        #expect(kinds.cutmix > 60 && kinds.mixup > 60, "the switch probability is 0.5: \(kinds)")
        var untouched = original
        #expect(Mixing(probability: 0).mix(&untouched, labels: [0, 1, 2, 3], generator: &generator) == nil)
        #expect(untouched == original)
    }
}
