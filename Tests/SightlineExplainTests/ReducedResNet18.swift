import Foundation
import SightlineCore
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// What the explanation tests share with their reference scripts: the reduced torchvision
/// ResNet18 Sightline reads from `torchvision/resnet18_reduced.pth` (the weights the scripts
/// load into torch), the input x[i] = 2·sin(0.37·i) (NHWC), and the scripts' JSON files.
enum ReducedResNet18 {
    /// A reference file from `Tests/Fixtures`.
    static func reference(_ file: String) throws -> [String: Any] {
        try KerasFixture.load(KerasFixture.directory.appendingPathComponent(file).path)
    }

    /// The network at `inputSize`, explained at `layer` (its default layer when nil).
    static func cam(inputSize: Int, layer: String? = nil) throws -> ClassActivationMaps {
        let model = try ModelLoader.load(
            path: KerasFixture.directory.appendingPathComponent("torchvision/resnet18_reduced.pth").path,
            inputSize: inputSize)
        return try ClassActivationMaps(graph: model.graph, layer: layer)
    }

    /// x[i] = 2·sin(0.37·i) over the flat NHWC `shape`.
    static func input(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) } }
    }

    /// The reference `file`, the network at its `input_shape` (explained at its `layer`, if it
    /// names one) and that input.
    static func setup(_ file: String) throws -> (cam: ClassActivationMaps, images: Tensor, reference: [String: Any]) {
        let reference = try reference(file)
        let shape = try #require(reference["input_shape"] as? [Int])
        return (try cam(inputSize: shape[1], layer: reference["layer"] as? String), input(shape), reference)
    }
}
