import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import SightlineWeights
import Testing

@testable import SightlineExplain

/// SmoothGrad, SmoothGrad² and VarGrad against Captum 0.7's `NoiseTunnel` over Saliency and
/// InputXGradient on the reduced torchvision ResNet18 (class 3, one 32×32 image, 3 samples, σ 0.3),
/// Captum's Gaussian draw replaced by the pattern σ·sin(1.7k + 0.9c + 0.13y + 0.071x) that this
/// test replays. Fixture: `Tests/Fixtures/make_attribution_fixtures.py`.
struct NoiseTunnelTests {
    static func setup() throws -> (cam: ClassActivationMaps, images: Tensor, reference: [String: Any]) {
        let reference = try KerasFixture.load(
            KerasFixture.directory.appendingPathComponent("noise_tunnel_expected.json").path)
        let model = try ModelLoader.load(
            path: KerasFixture.directory.appendingPathComponent("torchvision/resnet18_reduced.pth").path,
            inputSize: 32)
        let cam = try ClassActivationMaps(graph: model.graph, layer: "layer4.1.out")
        let images = Tensor(shape: [1, 32, 32, 3]) {
            for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) }
        }
        return (cam, images, reference)
    }

    /// The k-th noisy copy, with the fixture's noise pattern (NHWC here, (k, c, y, x) there).
    static func copy(_ images: Tensor, sample k: Int, sigma: Double) -> Tensor {
        Tensor(shape: images.shape) { out in
            for y in 0..<32 {
                for x in 0..<32 {
                    for c in 0..<3 {
                        let i = (y * 32 + x) * 3 + c
                        let phase = 1.7 * Double(k) + 0.9 * Double(c) + 0.13 * Double(y) + 0.071 * Double(x)
                        out[i] = images.scalars[i] + Float(sigma * sin(phase))
                    }
                }
            }
        }
    }

    @Test(arguments: ["saliency", "input-x-gradient"])
    func smoothingMatchesCaptum(_ name: String) throws {
        let (cam, images, reference) = try Self.setup()
        let method = try #require(CAMMethod(rawValue: name))
        let copies = (0..<3).map { Self.copy(images, sample: $0, sigma: 0.3) }
        for (kind, captum) in [
            (NoiseTunnel.Kind.smoothgrad, "smoothgrad"), (.smoothgradSquared, "smoothgrad_sq"), (.vargrad, "vargrad"),
        ] {
            let ours = try NoiseTunnel.attribution(method, cam, classes: [3], kind: kind, noisy: copies)
            expectClose(
                ours, try KerasFixture.tensor(reference["\(name)/\(captum)"]), tolerance: 1e-4, "\(name) \(captum)")
        }
    }

    @Test func theTunnelIsSeededAndItsArgumentChecked() throws {
        let (cam, images, _) = try Self.setup()
        let tunnel = try #require(NoiseTunnel(argument: "vargrad:4:0.2"))
        #expect(tunnel.kind == .vargrad && tunnel.samples == 4 && tunnel.sigma == 0.2)
        let first = try tunnel.attribution(.saliency, cam, images: images, classes: [3])
        #expect(try tunnel.attribution(.saliency, cam, images: images, classes: [3]) == first, "same seed, same map")
        let plain = try InputAttribution.attribution(.saliency, cam, images: images, classes: [3])
        #expect(first.shape == plain.shape && first != plain && first.scalars.allSatisfy { $0 >= 0 })
        for bad in ["smoothgrad:0", "vargrad:4:0", "smoothgrad:4:2", "noise", "smoothgrad:4:0.1:9"] {
            #expect(NoiseTunnel(argument: bad) == nil, "\(bad)")
        }
    }
}
