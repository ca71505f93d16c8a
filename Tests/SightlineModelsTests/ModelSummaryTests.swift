import SightlineModels
import Testing

/// Receptive fields and FLOPs against published values for the Keras Applications networks.
struct ModelSummaryTests {
    func row(_ summary: ModelSummary, _ name: String) throws -> ModelSummary.Row {
        try #require(summary.rows.first { $0.name == name })
    }

    @Test func vgg16() throws {
        let summary = ModelSummary(graph: try VGG.build(.vgg16, weights: .zeros))
        // Thirteen 3×3 convolutions and four 2×2 pools before block5_conv3: 196 px, stride 16.
        #expect(try row(summary, "block5_conv3").receptiveField == 196)
        #expect(try row(summary, "block5_conv3").stride == 16)
        #expect(try row(summary, "block5_pool").receptiveField == 212)
        #expect(try row(summary, "fc1").receptiveField == nil)
        // 15.47 GMAC ≈ 30.9 GFLOP for the convolutions and dense layers.
        #expect(abs(Double(summary.totalFlops) / 1e9 - 31.0) < 0.3, "\(summary.totalFlops)")
        #expect(summary.totalParameters == 138_357_544)
    }

    @Test func resnet50() throws {
        let summary = ModelSummary(graph: try ResNet.build(.resnet50, weights: .zeros))
        #expect(try row(summary, "conv1_conv").receptiveField == 7)
        #expect(
            try row(summary, "conv5_block3_out").receptiveField == 483, "the commonly cited ResNet50 receptive field")
        #expect(try row(summary, "conv5_block3_out").stride == 32)
        // About 3.9 GMAC, 7.7–7.8 GFLOP with BatchNorm, activations and adds.
        #expect(abs(Double(summary.totalFlops) / 1e9 - 7.75) < 0.25, "\(summary.totalFlops)")
        #expect(try row(summary, "predictions").flops == 2 * 2048 * 1000)
    }
}
