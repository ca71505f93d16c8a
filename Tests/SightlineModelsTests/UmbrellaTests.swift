import SightlineKit
import Testing

/// The README's Swift example, through the umbrella module alone: `import SightlineKit` gives
/// the builders, `Tensor`, the graph API and the loader (a reduced-width ResNet50 keeps it quick).
struct UmbrellaTests {
    @Test func theReadmeExampleCompilesAndRunsWithOneImport() throws {
        let model = try ResNet.build(
            .resnet50, includeTop: false, pooling: .avg, inputShape: [64, 64, 3], weights: .random(seed: 0),
            widthDivisor: 16)
        let images = Tensor(shape: [2, 64, 64, 3]) { for i in 0..<$0.count { $0[i] = Float(i % 255) } }
        let features = try model(images)
        #expect(features.shape == [2, 2048 / 16])
        let maps = try model.forward([model.inputNames[0]: images], outputs: ["conv5_block3_out", "avg_pool"])
        #expect(maps["conv5_block3_out"]?.shape == [2, 2, 2, 2048 / 16])
        #expect(maps["avg_pool"] == features)
        #expect(throws: (any Error).self) { try ModelLoader.load(path: "/nonexistent/resnet50.h5") }
    }
}
