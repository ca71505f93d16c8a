import Foundation
import SightlineCore
import SightlineExplain
import SightlineTestSupport
import SightlineVision
import SightlineWeights
import Testing

/// Grad-CAM raw maps against TensorFlow: `Tests/Fixtures/gradcam.json` from
/// `make_gradcam_fixtures.py`, the keras.io example's GradientTape method on the reduced VGG16
/// (`block5_conv3`) and ResNet50 (`conv5_block3_out`, 96×96) fixtures, batch of two (top class;
/// class 3), inputs x[i] = 50·sin(0.37·i).
struct GradCAMTests {
    static let weights = KerasFixture.directory.appendingPathComponent("weights")

    @Test(arguments: ["vgg16", "resnet50"])
    func rawMapsEqualTensorFlow(_ model: String) throws {
        let fixture = try #require(try KerasFixture.load("gradcam.json")[model] as? [String: Any])
        let size = try #require(fixture["input_size"] as? Int)
        let source = try #require(fixture["source"] as? String)
        let loaded = try ModelLoader.load(
            path: KerasFixture.directory.appendingPathComponent(source).path, inputSize: size)
        let shape = [2, size, size, 3]
        let input = Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(50 * sin(0.37 * Double(i))) } }
        let cam = try ClassActivationMaps(graph: loaded.graph)
        #expect(cam.layer == fixture["layer"] as? String, "the default layer is the last convolutional feature map")
        let result = try cam.compute(input, classes: [nil, 3])
        #expect(result.classes == fixture["classes"] as? [Int])
        let expected = try KerasFixture.tensor(fixture["maps"])
        expectClose(result.maps, expected, tolerance: 1e-4, "\(model) raw Grad-CAM maps")
        // Batched targets are per image: image 1 alone gives the same map.
        let alone = try cam.compute(input.batch(1..<2), classes: [3])
        expectClose(alone.maps, result.maps.batch(1..<2), tolerance: 1e-5, "image 1 alone")
    }

    @Test func otherMethodsGiveFiniteNonNegativeMapsOfTheSameShape() throws {
        let loaded = try ModelLoader.load(
            path: Self.weights.appendingPathComponent("resnet50_keras2.h5").path, inputSize: 96)
        let input = Tensor(shape: [1, 96, 96, 3]) {
            for i in 0..<$0.count { $0[i] = Float(50 * sin(0.37 * Double(i))) }
        }
        let cam = try ClassActivationMaps(graph: loaded.graph)
        for method in CAMMethod.allCases {
            let result = try cam.compute(input, classes: [nil], method: method)
            // Layer methods map the layer; pixel attributions the input.
            #expect(result.maps.shape == (method.usesTargetLayer ? [1, 3, 3] : [1, 96, 96]), "\(method)")
            #expect(result.maps.scalars.allSatisfy { $0.isFinite && $0 >= 0 }, "\(method)")
        }
    }

    /// Faster Score-CAM (`maxChannels`): only the K most varied channels run masked passes, as
    /// the progress callback counts, and the map stays close to the full Score-CAM map: the
    /// README quotes these correlations (reduced ResNet50 fixture, 96×96, conv4_block6_out, top class).
    @Test func fasterScoreCAMKeepsTheMapWithFewerPasses() throws {
        let loaded = try ModelLoader.load(
            path: Self.weights.appendingPathComponent("resnet50_keras2.h5").path, inputSize: 96)
        let input = Tensor(shape: [2, 96, 96, 3]) {
            for i in 0..<$0.count { $0[i] = Float(50 * sin(0.37 * Double(i))) }
        }
        let cam = try ClassActivationMaps(graph: loaded.graph, layer: "conv4_block6_out")
        let channels = try #require(loaded.graph.shape(of: cam.layer)?.last)
        var total = 0
        let full = try cam.compute(input, classes: [nil, nil], method: .scorecam, progress: { _, all in total = all })
        #expect(total == 2 * channels)
        func correlation(_ a: [Float], _ b: [Float]) -> Double {
            let ma = a.reduce(0, +) / Float(a.count)
            let mb = b.reduce(0, +) / Float(b.count)
            let cov = zip(a, b).reduce(0.0) { $0 + Double(($1.0 - ma) * ($1.1 - mb)) }
            let va = a.reduce(0.0) { $0 + Double(($1 - ma) * ($1 - ma)) }
            let vb = b.reduce(0.0) { $0 + Double(($1 - mb) * ($1 - mb)) }
            return cov / max((va * vb).squareRoot(), 1e-30)
        }
        for (kept, minimum) in [(channels / 2, 0.9), (channels / 4, 0.8)] {
            var passes = 0
            let fast = try cam.compute(
                input, classes: [nil, nil], method: .scorecam, maxChannels: kept, progress: { done, _ in passes = done }
            )
            #expect(passes == 2 * kept)
            for image in 0..<2 {
                let r = correlation(
                    full.maps.batch(image..<(image + 1)).scalars, fast.maps.batch(image..<(image + 1)).scalars)
                print("faster Score-CAM \(kept)/\(channels) channels, image \(image): correlation \(r)")
                #expect(r >= minimum, "\(kept) of \(channels) channels: correlation \(r)")
            }
        }
    }

    @Test func recordingOnlyTheHeadEqualsRecordingEverything() throws {
        let loaded = try ModelLoader.load(
            path: Self.weights.appendingPathComponent("resnet50_keras2.h5").path, inputSize: 96)
        let input = Tensor(shape: [2, 96, 96, 3]) {
            for i in 0..<$0.count { $0[i] = Float(50 * sin(0.37 * Double(i))) }
        }
        let split = try ClassActivationMaps(graph: loaded.graph)
        let whole = try ClassActivationMaps(graph: loaded.graph, splitAtLayer: false)
        #expect(split.head != nil && whole.head == nil)
        expectClose(
            try split.compute(input, classes: [nil, 5]).maps, try whole.compute(input, classes: [nil, 5]).maps,
            tolerance: 1e-4, "head vs whole")
        // A layer with a skip connection around it cannot be split off: the whole graph is recorded.
        let inner = try ClassActivationMaps(graph: loaded.graph, layer: "conv5_block3_2_relu")
        #expect(inner.head == nil)
        #expect(try inner.compute(input, classes: [nil, nil]).maps.shape == [2, 3, 3])
    }

    @Test func zeroMapsRenderAsBlankNotNaN() {
        let heat = CAMRendering.heatmap(Tensor(zeros: [3, 3]), height: 12, width: 10)
        #expect(heat.scalars.allSatisfy { $0 == 0 })
        let image = RGBImage(width: 10, height: 12, pixels: (0..<360).map { UInt8($0 % 256) })
        let overlay = CAMRendering.overlay(image, heatmap: heat)
        #expect(overlay.width == 10 && overlay.height == 12 && overlay.pixels.count == 360)
    }

    @Test func reportNotesBlankMapsAndEmbedsEveryImage() throws {
        let image = RGBImage(width: 8, height: 6, pixels: (0..<144).map { UInt8($0) })
        // A map of zeros and one whose maximum is rounding noise (1e-13) are both labelled blank.
        let blank = Tensor(zeros: [2, 2])
        let noise = Tensor(shape: [2, 2], scalars: [0, 1e-13, 0, 0])
        let lit = Tensor(shape: [2, 2], scalars: [0, 1, 2, 3])
        let items = [blank, noise, lit].enumerated().map { index, map in
            let heat = CAMRendering.heatmap(map, height: 6, width: 8)
            return ExplainedImage(
                path: "image\(index).jpg", original: image, overlay: CAMRendering.overlay(image, heatmap: heat),
                heatmap: CAMRendering.colored(heat),
                rawMap: map, explainedClass: 1, score: 0.5, top: [(1, "cat <b>", 0.9)], overlayFile: "o\(index).jpg",
                heatmapFile: "h\(index).jpg")
        }
        let html = try CAMReport.html(
            items, failures: [("bad.jpg", "is empty")], model: "m.h5", layer: "conv", method: .gradcam, quality: 80)
        #expect(html.components(separatedBy: "Blank map (maximum").count == 3, "one note for each blank map")
        #expect(items.map(\.isBlank) == [true, true, false])
        #expect(
            html.components(separatedBy: "data:image/jpeg;base64,").count - 1 == 9,
            "original, overlay and grid thumbnail for each")
        // Past the embedding limit, sections link to the written files; only thumbnails are embedded.
        let large = try CAMReport.html(
            items, failures: [], model: "m.h5", layer: "conv", method: .gradcam, quality: 80, embedLimit: 2)
        #expect(
            large.components(separatedBy: "data:image/jpeg;base64,").count - 1 == 3 && large.contains("src=\"o2.jpg\""))
        #expect(html.contains("cat &lt;b&gt;") && html.contains("bad.jpg: is empty") && !html.contains("NaN"))
    }

    @Test func jetMatchesMatplotlib() {
        // matplotlib: jet(0) = (0, 0, 0.5), jet(0.5) ≈ (0.49, 1, 0.48), jet(1) = (0.5, 0, 0).
        #expect(CAMRendering.jet[0] == (0, 0, 128))
        #expect(CAMRendering.jet[255] == (128, 0, 0))
        let middle = CAMRendering.jet[128]
        #expect(middle.1 == 255 && abs(Int(middle.0) - 124) <= 2 && abs(Int(middle.2) - 122) <= 2)
    }
}
