import SightlineCore
import SightlineExplain
import SightlineTestSupport
import SightlineWeights
import Testing

/// What Grad-CAM says when it cannot explain: the layer, output or class at fault and the fix
/// (reduced ResNet50 fixture, 32×32 input, 10 classes).
struct CAMErrorTests {
    static let model = KerasFixture.directory.appendingPathComponent("weights/resnet50_keras3.h5").path

    func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func errorsNameTheirSubjectAndTheFix() throws {
        let graph = try ModelLoader.load(path: Self.model).graph
        #expect(
            error { _ = try ClassActivationMaps(graph: graph, layer: "avg_pool") }
                == "layer 'avg_pool': has output [64], not a spatial map [h, w, channels]; choose a convolutional layer (`sightline inspect MODEL` lists them)"
        )
        let headless = try graph.prefix(through: "conv5_block3_out")
        #expect(
            error { _ = try ClassActivationMaps(graph: headless) }.hasPrefix(
                "the model's output 'conv5_block3_out': has shape [1, 1, 64], not a vector of class scores; explain a classifier"
            ))
        let cam = try ClassActivationMaps(graph: graph)
        let image = Tensor(shape: [1, 32, 32, 3]) { for i in 0..<$0.count { $0[i] = Float(i % 255) } }
        #expect(
            error { _ = try cam.compute(image, classes: [12]) }
                == "class 12: the model has 10 classes, numbered 0 to 9; choose one of those")
        #expect(
            error { _ = try cam.compute(image, classes: [1, 2]) }
                == "target classes: 2 given for 1 images; give one per image (nil explains the top class)")
    }
}
