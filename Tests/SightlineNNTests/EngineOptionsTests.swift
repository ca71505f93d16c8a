import SightlineCore
import Testing

@testable import SightlineNN

/// Engine settings belong to the graph that runs, not to the layers it shares with other graphs.
struct EngineOptionsTests {
    /// input → Conv2D 3×3, 16 → 16 channels, and the same graph's prefix, sharing the layer.
    static func graphs() throws -> (full: Graph, prefix: Graph, input: Tensor) {
        let graph = Graph()
        try graph.addInput(name: "image", shape: [12, 12, 16])
        var generator = SeededGenerator(seed: 11)
        try graph.add(
            Conv2D(
                name: "conv", inputChannels: 16, filters: 16, kernelSize: (3, 3), padding: .same,
                activation: .relu, generator: &generator),
            inputs: ["image"])
        try graph.add(GlobalPooling2D(name: "pool", kind: .average), inputs: ["conv"])
        let input = Tensor(shape: [2, 12, 12, 16]) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        return (graph, try graph.prefix(through: "conv"), input)
    }

    /// The recorded (training) pass and the gradients of one graph do not change when another
    /// graph sharing its convolution is set to bf16 arithmetic; that graph's pass does.
    @Test func settingOneGraphsOptionsLeavesGraphsSharingItsLayersAlone() throws {
        let (full, prefix, input) = try Self.graphs()
        func recorded(_ graph: Graph) throws -> Tensor {
            try #require(try graph.forward(["image": input], outputs: ["conv"], mode: .training)["conv"])
        }
        let before = try recorded(full)
        let fp32Prefix = try recorded(prefix)
        prefix.engineOptions = EngineOptions(precision: .bf16Emulated)
        let bf16Prefix = try recorded(prefix)
        #expect(try recorded(full).scalars == before.scalars, "the full graph still runs float32")
        #expect(fp32Prefix.scalars == before.scalars)
        #expect(bf16Prefix.scalars != before.scalars, "the prefix runs its own bf16 setting")
        prefix.engineOptions = EngineOptions()
        #expect(try recorded(prefix).scalars == before.scalars, "kernels are kept per setting, not reused across them")
    }

    /// A graph's options, threads included, are what its inference plan runs with.
    @Test func thePlanRunsWithItsGraphsOptions() throws {
        let (full, _, _) = try Self.graphs()
        let options = EngineOptions(convolution: .reference, precision: .fp32, threads: 1)
        full.engineOptions = options
        #expect(full.inferencePlan(outputs: ["pool"]).options == options)
        #expect(full.inferencePlan(outputs: ["pool"]).steps.first?.kernel?.summary == "im2col+sgemm")
    }
}
