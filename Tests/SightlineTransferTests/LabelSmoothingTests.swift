import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineTransfer

/// `finetune --label-smoothing`: the training loss is the smoothed cross-entropy (targets 1 − s +
/// s/K and s/K, the loss itself checked against Keras in `KerasTrainingTests`), and a value
/// outside [0, 1) is an option error, not a crash.
struct LabelSmoothingTests {
    static let root = KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent()

    static func tuner(_ smoothing: Float) throws -> FineTuner {
        var options = FineTuner.Options()
        // One step over every training image with a negligible rate, no augmentation, no dropout:
        // the epoch's loss is the loss of the model as it starts.
        (options.batchSize, options.headEpochs, options.epochs, options.headLearningRate) = (1000, 1, 0, 1e-12)
        (options.augmentation, options.dropout, options.labelSmoothing) = (.none, 0, smoothing)
        return try FineTuner(
            backbone: try ModelLoader.load(path: root.appendingPathComponent("pretrained/digits_resnet.h5").path),
            data: try ImageFolder(inputs: [root.appendingPathComponent("pretrained/digits-mini").path]),
            options: options)
    }

    @Test func theTrainingLossIsSmoothed() throws {
        let smoothing: Float = 0.2
        let tuner = try Self.tuner(smoothing)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("smooth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let record = try #require(
            try tuner.run(output: folder.appendingPathComponent("m.h5").path, sightlineVersion: "test").first)
        let measured = try tuner.measure(tuner.training)
        let k = Float(tuner.classNames.count)
        var expected: Double = 0
        for (row, index) in measured.readable.enumerated() {
            let p = measured.probabilities[row]
            let label = tuner.training[index].label ?? 0
            for j in p.indices {
                let target = (j == label ? 1 - smoothing : 0) + smoothing / k
                expected -= Double(target) * log(Double(max(p[j], 1e-30)))
            }
        }
        expected /= Double(measured.readable.count)
        #expect(abs(Double(record.loss) - expected) < 1e-3 * expected, "\(record.loss) vs \(expected)")
        #expect(abs(Double(measured.loss) - expected) > 1e-3, "validation-style losses stay plain cross-entropy")
    }

    @Test func valuesOutsideTheRangeAreOptionErrors() {
        #expect {
            _ = try Self.tuner(1)
        } throws: { error in
            (error as? TransferError)?.kind == .option && "\(error)".contains("--label-smoothing")
        }
    }
}
