import ArgumentParser
import Foundation
import SightlineModels
import SightlineWeights

/// `sightline init --arch ARCH --output MODEL.h5`: a randomly initialised built-in network.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a built-in architecture with seeded Keras-style random weights (to train from scratch).")

    @Option(help: "The architecture (\(Architecture.allCases.map(\.rawValue).joined(separator: ", "))).")
    var arch: Architecture

    @Option(name: .shortAndLong, help: "The model file to write (.h5).")
    var output: String

    @Option(help: "Output classes.")
    var classes = 1000

    @Option(help: "Image height and width.")
    var inputSize = 224

    @Option(help: "Divide every layer's width by this (small models for small data).")
    var widthDivisor = 1

    @Option(help: "The preprocessing recorded for the model (tf: x/127.5 − 1).")
    var preprocessing: Preprocessing = .tf

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func run() throws {
        let graph = try arch.build(
            classes: classes, inputShape: [inputSize, inputSize, 3], weights: .random(seed: seed),
            widthDivisor: max(widthDivisor, 1))
        try KerasWriter.save(
            graph, to: output,
            metadata: .init(
                sightlineVersion: Sightline.version, preprocessing: preprocessing,
                source: "sightline init --arch \(arch.rawValue) --seed \(seed)"),
            modelName: arch.rawValue)
        print(
            "wrote \(output): \(arch.rawValue), \(graph.parameterCount.formatted()) parameters, random weights (seed \(seed))"
        )
    }
}
