import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTransfer
import SightlineWeights
import Testing

/// A `train-head` head taken on to fine-tuning (`finetune --head`), as the README routes it:
/// `extract`, `train-head`, then `finetune … --head head.h5`, on the reduced ResNet50 fixture.
struct HeadRouteTests {
    let cli = CLITests()
    static let model = CLITests.fixtures.appendingPathComponent("resnet50_keras3.h5").path
    static let images = CLITests.fixtures.deletingLastPathComponent().appendingPathComponent("extract").path

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-head-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `extract` then `train-head` with `extra` extraction options; returns the head's path.
    func trainHead(in directory: URL, _ extra: [String] = []) throws -> String {
        let features = directory.appendingPathComponent("features.h5").path
        let head = directory.appendingPathComponent("head.h5").path
        let extract = try cli.run(["extract", Self.model, Self.images, "-o", features] + extra)
        #expect(extract.status == 0, "\(extract.err)")
        let train = try cli.run(["train-head", features, "-o", head, "--epochs", "20", "--validation-split", "0"])
        #expect(train.status == 0, "\(train.err)")
        return head
    }

    /// The README's route on a model whose feature layer is a global average pooling: the head
    /// is fine-tuned and the result predicts the head's classes.
    @Test func finetuneTakesAHeadFromTrainHead() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let head = try trainHead(in: directory)
        let tuned = directory.appendingPathComponent("tuned.h5").path
        let finetune = try cli.run([
            "finetune", Self.model, "--data", Self.images, "-o", tuned, "--head", head, "--head-epochs", "1",
            "--epochs", "1", "--batch", "4", "--threads", "1",
        ])
        #expect(finetune.status == 0, "\(finetune.err)")
        let predict = try cli.run(["predict", tuned, Self.images + "/pears/pears_2.png", "--json", "--top", "2"])
        #expect(predict.status == 0, "\(predict.err)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(predict.out.utf8)) as? [[String: Any]])
        let names = (rows.first?["top"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(Set(names ?? []) == ["apples", "pears"], "the fine-tuned model keeps the head's classes")
    }

    /// `finetune` takes the engine's `--threads` like every command that runs a model.
    @Test func finetuneChecksThreads() throws {
        let result = try cli.run([
            "finetune", Self.model, "--data", Self.images, "-o", "/tmp/unused.h5", "--threads", "0",
        ])
        #expect(result.status == 2 && result.err.contains("--threads must be positive"), "\(result.err)")
    }

    /// A head trained on max-pooled features of a spatial layer is fine-tuned on those features:
    /// with no training step, the fine-tuned model scores exactly what `predict --head` scores.
    @Test func finetuneUsesTheHeadsLayerAndPooling() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let head = try trainHead(in: directory, ["--layer", "conv4_block6_out", "--pool", "max"])
        var options = FineTuner.Options()
        (options.headEpochs, options.epochs) = (0, 0)
        let tuner = try FineTuner(
            backbone: try ModelLoader.load(path: Self.model), data: try ImageFolder(inputs: [Self.images]),
            options: options, head: try HeadAttachment(path: head))
        let pooling = try #require(tuner.graph.nodes.first { $0.layer is GlobalPooling2D })
        #expect(pooling.inputs == ["conv4_block6_out"], "the head's recorded feature layer")
        let stacked = try HeadAttachment.stack(try ModelLoader.load(path: Self.model), head: head)
        var generator = SeededGenerator(seed: 3)
        let input = Tensor(
            shape: [4, 32, 32, 3],
            scalars: (0..<(4 * 32 * 32 * 3)).map { _ in Float.random(in: 0...255, using: &generator) })
        let viaHead = try stacked(input)
        let viaTuner = try tuner.exportedGraph()(input)
        #expect(
            viaHead.shape == [4, 2] && viaTuner.scalars == viaHead.scalars, "\(viaTuner.scalars) \(viaHead.scalars)")
    }
}
