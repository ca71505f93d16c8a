import Foundation
import SightlineCore
import SightlineNN
import Testing

@testable import SightlineExplain

/// The model-parameter randomisation check of Adebayo et al. ("Sanity Checks for Saliency
/// Maps", NeurIPS 2018), on a small CNN trained here.
///
/// Data: 16×16 images of noise with a bright 4×4 square in one quadrant; the class is the
/// quadrant. After training, Grad-CAM must point at the square (localisation). Re-initialising
/// the top layers (the last convolution and the classifier, "cascading" from the logits) must
/// change the maps: their Spearman rank correlation with the trained model's maps falls below
/// 0.5. Why 0.5: the maps are 8×8 = 64 values, so the rank correlation of two unrelated maps is
/// about 0 with a standard deviation near 1/√63 ≈ 0.13; 0.5 is about four deviations above
/// chance, while recomputing the same model's maps gives exactly 1.
struct RandomisationCheckTests {
    static func sample(_ generator: inout SeededGenerator) -> (Tensor, Int) {
        let label = Int(generator.next() % 4)
        let (top, left) = (
            (label / 2) * 8 + 2 + Int(generator.next() % 3), (label % 2) * 8 + 2 + Int(generator.next() % 3)
        )
        let image = Tensor(shape: [16, 16, 1]) { p in
            for i in 0..<p.count { p[i] = generator.nextUnitFloat() * 0.6 }
            for y in top..<(top + 4) { for x in left..<(left + 4) { p[y * 16 + x] = 2 } }
        }
        return (image, label)
    }

    static func batch(_ count: Int, _ generator: inout SeededGenerator) -> (Tensor, [Int]) {
        let samples = (0..<count).map { _ in sample(&generator) }
        return (Tensor.concatenatingBatches(samples.map { $0.0.reshaped([1, 16, 16, 1]) }), samples.map(\.1))
    }

    static func model(seed: UInt64) throws -> Graph {
        var generator = SeededGenerator(seed: seed)
        let graph = Graph()
        try graph.addInput(name: "image", shape: [16, 16, 1])
        try graph.add(
            Conv2D(
                name: "conv1", inputChannels: 1, filters: 8, kernelSize: (3, 3), padding: .same, activation: .relu,
                initializer: .heUniform, generator: &generator), inputs: ["image"])
        try graph.add(Pooling2D(name: "pool", kind: .max), inputs: ["conv1"])
        try graph.add(
            Conv2D(
                name: "conv2", inputChannels: 8, filters: 16, kernelSize: (3, 3), padding: .same, activation: .relu,
                initializer: .heUniform, generator: &generator), inputs: ["pool"])
        try graph.add(GlobalPooling2D(name: "gap", kind: .average), inputs: ["conv2"])
        try graph.add(Dense(name: "logits", inputFeatures: 16, units: 4, generator: &generator), inputs: ["gap"])
        return graph
    }

    /// The CNN trained for 150 Adam steps on batches of 32 (seeded), and the generator after it.
    static func trained() throws -> (Graph, SeededGenerator) {
        let graph = try model(seed: 1)
        var generator = SeededGenerator(seed: 2)
        let optimizer = Adam(learningRate: 0.01)
        for _ in 0..<150 {
            let (images, labels) = batch(32, &generator)
            graph.zeroGradients()
            let (outputs, tape) = try graph.record(
                ["image": images], outputs: ["logits"], mode: .training, request: GradientRequest())
            let (_, gradient) = SoftmaxCrossEntropy()(logits: try #require(outputs["logits"]), labels: labels)
            _ = graph.backward(tape, seeds: ["logits": gradient])
            optimizer.step(graph.trainableSlots)
        }
        return (graph, generator)
    }

    /// Deletion/insertion AUC rank Grad-CAM above a random map (the negative control
    /// pytorch-grad-cam ships as RandomCAM), and insertion above deletion.
    @Test func faithfulnessMetricsPreferGradCAMToRandomMaps() throws {
        var (graph, generator) = try Self.trained()
        let (test, labels) = Self.batch(8, &generator)
        let cam = try ClassActivationMaps(graph: graph, layer: "conv2")
        let result = try cam.compute(test, classes: labels.map { $0 })
        var camDeletion = 0.0
        var randomDeletion = 0.0
        var camInsertion = 0.0
        for image in 0..<8 {
            let map = result.maps.batch(image..<(image + 1)).reshaped([8, 8])
            let heat = CAMRendering.heatmap(map, height: 16, width: 16)
            let random = Tensor(shape: [16, 16]) { for i in 0..<$0.count { $0[i] = generator.nextUnitFloat() } }
            let measured = try CAMMetrics.measure(
                cam, image: test.batch(image..<(image + 1)), heatmap: heat, classIndex: labels[image], steps: 16)
            let control = try CAMMetrics.measure(
                cam, image: test.batch(image..<(image + 1)), heatmap: random, classIndex: labels[image], steps: 16)
            camDeletion += measured.deletionAUC
            camInsertion += measured.insertionAUC
            randomDeletion += control.deletionAUC
        }
        #expect(
            camDeletion < randomDeletion, "deletion AUC: Grad-CAM \(camDeletion / 8), random map \(randomDeletion / 8)")
        #expect(camInsertion > camDeletion, "insertion \(camInsertion / 8) vs deletion \(camDeletion / 8)")
        #expect(CAMMetrics.auc([1, 0]) == 0.5 && CAMMetrics.auc([1, 1, 1]) == 1)
    }

    @Test func mapsLocaliseAndFailToSurviveRandomisation() throws {
        var (graph, generator) = try Self.trained()
        let (test, labels) = Self.batch(24, &generator)
        let cam = try ClassActivationMaps(graph: graph, layer: "conv2")
        let trained = try cam.compute(test, classes: labels.map { $0 })
        #expect(
            Double(
                zip(trained.probabilities.scalars.chunked(4), labels).filter { row, label in
                    row.indices.max { row[$0] < row[$1] } == label
                }.count) / 24 >= 0.9, "the model learned the task")

        // Localisation: each map's peak lies in the quadrant of the square (8×8 map, 4×4 per quadrant).
        var hits = 0
        for (image, label) in labels.enumerated() {
            let map = Array(trained.maps.scalars[(image * 64)..<((image + 1) * 64)])
            let peak = map.indices.max { map[$0] < map[$1] } ?? 0
            if (peak / 8) / 4 * 2 + (peak % 8) / 4 == label { hits += 1 }
        }
        #expect(hits >= 20, "Grad-CAM points at the square in \(hits) of 24 images")

        // Same model, recomputed: identical maps.
        let again = try cam.compute(test, classes: labels.map { $0 })
        #expect(SanityCheck.spearman(trained.maps.scalars, again.maps.scalars) == 1)

        // Cascading randomisation of the top layers: re-initialise conv2 and the classifier.
        let fresh = try Self.model(seed: 99)
        for name in ["conv2", "logits"] {
            for (old, new) in zip(
                try #require(graph.layer(named: name)).parameters, try #require(fresh.layer(named: name)).parameters)
            { old.value = new.value }
        }
        let randomised = try ClassActivationMaps(graph: graph, layer: "conv2").compute(test, classes: labels.map { $0 })
        let correlations = (0..<24).map { image in
            SanityCheck.spearman(
                Array(trained.maps.scalars[(image * 64)..<((image + 1) * 64)]),
                Array(randomised.maps.scalars[(image * 64)..<((image + 1) * 64)]))
        }.sorted()
        let median = correlations[correlations.count / 2]
        #expect(median < 0.5, "median rank correlation with the randomised model's maps is \(median)")
    }
}

extension RandomisationCheckTests {
    /// `SanityCheck` (what `gradcam --sanity` runs): Grad-CAM's maps change as the layers are
    /// randomised from the top (the check passes) while guided backpropagation's stay close to
    /// the trained model's, as Adebayo et al. report (it fails); the weights come back bit for bit.
    @Test func theSanityCheckPassesGradCAMAndFailsGuidedBackprop() throws {
        var (graph, generator) = try Self.trained()
        let (test, labels) = Self.batch(16, &generator)
        let cam = try ClassActivationMaps(graph: graph, layer: "conv2")
        let weights = graph.layers.flatMap { $0.parameters.map(\.value) }
        let gradcam = try SanityCheck.run(.gradcam, cam: cam, images: test, classes: labels, depth: 3)
        #expect(gradcam.layers == ["logits", "conv2", "conv1"])
        #expect(gradcam.passes, "Grad-CAM: rank correlation \(gradcam.rankCorrelation), SSIM \(gradcam.ssim)")
        let guided = try SanityCheck.run(name: "guided backprop", graph: cam.logits, depth: 3) {
            let saliency = try GuidedBackprop.saliency(cam, images: test, classes: labels)
            return Tensor(shape: [16, 16, 16], scalars: saliency.scalars.map(abs))  // one channel: [N, H, W]
        }
        #expect(!guided.passes, "guided backprop: rank correlation \(guided.rankCorrelation), SSIM \(guided.ssim)")
        #expect(graph.layers.flatMap { $0.parameters.map(\.value) } == weights, "the trained weights are back")
        // The statistics: identical maps correlate 1, reversed ranks −1, a constant map 0.
        #expect(SanityCheck.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(SanityCheck.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
        #expect(SanityCheck.spearman([1, 2, 3, 4], [5, 5, 5, 5]) == 0)
        #expect(abs(SanityCheck.ssim([0, 1, 2, 3], [0, 2, 4, 6]) - 1) < 1e-12, "SSIM compares normalised maps")
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
