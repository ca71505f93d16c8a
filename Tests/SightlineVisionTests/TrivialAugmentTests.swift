import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineVision

/// TrivialAugment's fourteen operations against torchvision 0.14's `TrivialAugmentWide`
/// (`_apply_op` on a uint8 image, nearest interpolation), at bins 7 and 30 of the wide space with
/// both signs; fixture by `Tests/Fixtures/make_augment_fixtures.py`.
struct TrivialAugmentTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            var op: String
            var magnitude: Double
            var output: [Float]
        }
        var shape: [Int]
        var image: [Float]
        var cases: [Case]
        var space: [String: [Double]]
        var randSpace: [String: [Double]]
    }

    static func expected() throws -> Expected {
        let url = KerasFixture.directory.appendingPathComponent("augment_expected.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Expected.self, from: Data(contentsOf: url))
    }

    /// torchvision's operation names → Sightline's.
    static let names: [String: TrivialAugment.Operation] = [
        "Identity": .identity, "ShearX": .shearX, "ShearY": .shearY, "TranslateX": .translateX,
        "TranslateY": .translateY, "Rotate": .rotate, "Brightness": .brightness, "Color": .color,
        "Contrast": .contrast, "Sharpness": .sharpness, "Posterize": .posterize, "Solarize": .solarize,
        "AutoContrast": .autoContrast, "Equalize": .equalize,
    ]

    @Test func everyOperationMatchesTorchvision() throws {
        let expected = try Self.expected()
        let image = Tensor(shape: expected.shape, scalars: expected.image)
        #expect(Set(expected.cases.map(\.op)).count == 14, "every operation is covered")
        for item in expected.cases {
            let operation = try #require(Self.names[item.op])
            let ours = TrivialAugment.apply(operation, magnitude: Float(item.magnitude), to: image).scalars
            let differences = zip(ours, item.output).filter { $0 != $1 }.count
            // Bit for bit: torchvision's float32 grid, roundings and truncations are reproduced.
            #expect(differences == 0, "\(item.op) \(item.magnitude): \(differences) of \(ours.count) values differ")
        }
    }

    @Test func theWideSpaceIsTorchvisions() throws {
        let expected = try Self.expected()
        for (name, values) in expected.space {
            let ours = try #require(Self.names[name]).magnitudes.values
            #expect(ours.count == values.count, "\(name)")
            for (a, b) in zip(ours, values) { #expect(abs(Double(a) - b) <= 1e-4 * max(1, abs(b)), "\(name)") }
        }
    }

    @Test func randAugmentsSpaceIsTorchvisions() throws {
        let expected = try Self.expected()
        for (name, values) in expected.randSpace {
            let ours = RandAugment.magnitudes(try #require(Self.names[name]), height: 16, width: 20)
            #expect(ours.count == values.count, "\(name)")
            for (a, b) in zip(ours, values) { #expect(abs(Double(a) - b) <= 1e-4 * max(1, abs(b)), "\(name)") }
        }
        let image = Tensor(shape: [16, 20, 3], scalars: expected.image)
        var (a, b) = (SeededGenerator(seed: 3), SeededGenerator(seed: 3))
        let rand = try #require(RandAugment(argument: "2:9"))
        #expect(rand == RandAugment() && RandAugment(argument: "2:31") == nil && RandAugment(argument: "0:9") == nil)
        let outputs = (0..<30).map { _ in rand.apply(to: image, generator: &a) }
        #expect(outputs == (0..<30).map { _ in rand.apply(to: image, generator: &b) }, "seeded")
        #expect(Set(outputs.map(\.scalars)).count > 10)
        #expect(outputs.allSatisfy { $0.scalars.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() } })
    }

    @Test func drawsAreSeededAndCoverTheOperations() {
        let image = Tensor(shape: [8, 8, 3], scalars: (0..<192).map { Float($0 % 256) })
        var (first, second) = (SeededGenerator(seed: 5), SeededGenerator(seed: 5))
        for _ in 0..<20 {
            #expect(
                TrivialAugment.apply(to: image, generator: &first)
                    == TrivialAugment.apply(to: image, generator: &second))
        }
        var generator = SeededGenerator(seed: 6)
        let outputs = Set((0..<200).map { _ in TrivialAugment.apply(to: image, generator: &generator).scalars })
        #expect(outputs.count > 20, "many different operations and magnitudes are drawn")
        #expect(outputs.allSatisfy { $0.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() } })
        // Through `Augmentation`: the flip, then one operation; the Keras-style jitter is skipped.
        var augmentation = Augmentation()
        augmentation.trivialAugment = true
        var (a, b) = (SeededGenerator(seed: 7), SeededGenerator(seed: 7))
        let augmented = (0..<50).map { _ in augmentation.apply(to: image, generator: &a) }
        #expect(augmented == (0..<50).map { _ in augmentation.apply(to: image, generator: &b) })
        #expect(Set(augmented.map(\.scalars)).count > 10 && augmented.allSatisfy { $0.shape == [8, 8, 3] })
    }
}
