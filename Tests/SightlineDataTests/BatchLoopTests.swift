import Foundation
import SightlineCore
import SightlineModels
import SightlineNN
import SightlineTestSupport
import SightlineVision
import Testing

@testable import SightlineData

/// The one road from files to a model: `ModelInput` checks the input and owns decode and
/// preprocessing, and `BatchLoop` hands each batch with its forward output to the job in order.
struct BatchLoopTests {
    static let images = KerasFixture.directory.appendingPathComponent("extract")

    static func graph(input shape: [Int]) throws -> Graph {
        let graph = Graph()
        try graph.addInput(name: "image", shape: shape)
        graph.outputNames = [try graph.add(Rescaling(name: "scale", scale: 1), inputs: ["image"])]
        return graph
    }

    @Test func inputsThatAreNotImagesAreRefusedNamingTheLayerAndTheFix() throws {
        #expect {
            _ = try ModelInput(graph: try Self.graph(input: [32, 32, 2]), preprocessing: .tf)
        } throws: { error in
            let error = error as? DataError
            return error?.kind == .model && error?.subject == "image"
                && error?.message.contains("not an image of 1, 3 or 4 channels") == true
        }
        #expect {
            _ = try ModelInput(graph: try Self.graph(input: [32, 32, 1]), preprocessing: .caffe)
        } throws: { error in
            "\(error)".contains("--preprocessing tf or none")
        }
        let input = try ModelInput(graph: try Self.graph(input: [24, 40, 3]), preprocessing: .caffe)
        #expect((input.height, input.width, input.channels) == (24, 40, 3))
    }

    /// Preprocessing runs in one place (the stream's batch): the loop's images are the decoded
    /// images with the model's preprocessing applied once.
    @Test func batchesArePreprocessedOnceAndComeInOrderWithTheirOutput() throws {
        let items = try ImageFolder(inputs: [Self.images.path]).items
        var unreadable = items
        unreadable.insert(
            ImageFolder.Item(path: Self.images.appendingPathComponent("expected.json").path, label: 0), at: 2)
        let input = try ModelInput(graph: try Self.graph(input: [24, 40, 3]), preprocessing: .caffe)
        let plan = BatchLoop.plan(unreadable, batchSize: 3)
        #expect(plan.dropLast().allSatisfy { $0.count == 3 } && plan.joined().map(\.index) == Array(unreadable.indices))
        var seen: [Int] = []
        var failed: [Int] = []
        let rowCount = { (images: Tensor) in images.shape[0] }
        try BatchLoop(input: input, workers: 2).run(plan, forward: rowCount) { batch, rows in
            failed += batch.failed.map(\.sample.index)
            seen += batch.samples.map(\.index)
            #expect(rows == batch.samples.count, "the forward pass saw exactly the batch's readable images")
            if let images = batch.images {
                let decoded = try batch.samples.map { try input.decoder($0.path) }
                let expected = Preprocessing.caffe.apply(
                    to: Tensor.concatenatingBatches(decoded.map { $0.reshaped([1] + $0.shape) }))
                #expect(images == expected, "decoded, then the model's preprocessing, once")
            }
            return true
        }
        #expect(seen == Array(unreadable.indices).filter { $0 != 2 }, "every readable image, in plan order")
        #expect(failed == [2], "the unreadable file is reported in its batch")
        var batches = 0
        try BatchLoop(input: input).run(plan) { _ in
            batches += 1
            return batches < 2
        }
        #expect(batches == 2, "the job stops the loop by returning false")
    }
}
