import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineTransfer
import SightlineWeights
import Testing

struct HeadTrainerTests {
    /// Three seeded Gaussian clusters in 8 dimensions, 40 rows each, one unreadable row.
    func clusters() -> FeatureFile {
        var generator = SeededGenerator(seed: 9)
        let centres: [[Float]] = (0..<3).map { c in (0..<8).map { d in d == c ? 4 : 0 } }
        var scalars: [Float] = []
        var labels: [Int] = []
        for row in 0..<121 {
            let label = row % 3
            scalars += centres[label].map { $0 + generator.nextNormal() }
            labels.append(label)
        }
        var status = Array(repeating: 0, count: 121)
        status[120] = 1
        return FeatureFile(
            features: Tensor(shape: [121, 8], scalars: scalars), paths: (0..<121).map { "\($0).jpg" }, status: status,
            errors: Array(repeating: "", count: 121), labels: labels, classNames: ["a", "b", "c"],
            attributes: ["layer": "avg_pool", "pooling": "avg", "preprocessing": "caffe"])
    }

    @Test(arguments: [nil, 16] as [Int?])
    func separatesClustersAndIsReproducible(_ hidden: Int?) throws {
        var options = HeadTrainer.Options(hidden: hidden)
        options.epochs = 40
        options.learningRate = 0.01
        let result = try HeadTrainer.train(clusters(), options: options)
        let last = try #require(result.history.last)
        #expect(try #require(last.validationAccuracy) >= 0.95 && last.trainingAccuracy >= 0.95, "\(last)")
        #expect(result.confusion.flatMap { $0 }.reduce(0, +) == 24, "20% of the 120 readable rows, stratified")
        #expect(result.graph.layer(named: "predictions").map { ($0 as? Dense)?.activation == .softmax } == true)
        let again = try HeadTrainer.train(clusters(), options: options)
        #expect(
            again.graph.layers.map { $0.parameters.map(\.value) }
                == result.graph.layers.map { $0.parameters.map(\.value) }, "the same seed gives the same head")
    }

    @Test func savedHeadReloadsWithTheSameOutputs() throws {
        var options = HeadTrainer.Options()
        options.epochs = 5
        let result = try HeadTrainer.train(clusters(), options: options)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-head-\(UUID().uuidString).h5"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KerasWriter.save(
            result.graph, to: path,
            metadata: .init(
                sightlineVersion: "test", preprocessing: .caffe, source: "test", classNames: result.classNames))
        let reloaded = try ModelLoader.load(path: path)
        let input = clusters().features.batch(0..<10)
        #expect(try reloaded.graph(input) == result.graph(input))
        #expect(try HDF5File(reading: path).stringsAttribute("class_names") == ["a", "b", "c"])
    }

    /// Features read in blocks of 10 rows (a file larger than the memory budget): block order and
    /// rows within blocks shuffled, the same separation, reproducible, and every row scored.
    @Test func trainsFromBlocksSmallerThanTheFile() throws {
        var options = HeadTrainer.Options()
        (options.epochs, options.learningRate, options.memoryBudget) = (40, 0.01, 10 * 8 * 4)
        let result = try HeadTrainer.train(clusters(), options: options)
        let last = try #require(result.history.last)
        #expect(try #require(last.validationAccuracy) >= 0.95 && last.trainingAccuracy >= 0.95, "\(last)")
        #expect(result.confusion.flatMap { $0 }.reduce(0, +) == 24)
        let again = try HeadTrainer.train(clusters(), options: options)
        #expect(
            again.graph.layers.map { $0.parameters.map(\.value) }
                == result.graph.layers.map { $0.parameters.map(\.value) })
    }

    @Test func unlabelledFeaturesAreRefused() throws {
        var file = clusters()
        file.labels = nil
        #expect(throws: TransferError.self) { _ = try HeadTrainer.train(file) }
    }
}
