import SightlineCore

/// Nearest-neighbour upsampling of NHWC input by whole factors (Keras `UpSampling2D` with
/// `interpolation="nearest"`). Input `[N, H, W, C]`, output `[N, H·sh, W·sw, C]`.
public final class UpSampling2D: Layer {
    public let name: String
    public let size: (Int, Int)

    public init(name: String, size: (Int, Int)) {
        self.name = name
        self.size = size
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let s = try singleInputShape(inputShapes, rank: 3)
        return [s[0] * size.0, s[1] * size.1, s[2]]
    }

    /// Calls `body(outputOffset, inputOffset)` for every output pixel.
    private func forEachPixel(_ shape: [Int], _ body: (Int, Int) -> Void) {
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let oh = h * size.0
        let ow = w * size.1
        for image in 0..<n {
            for y in 0..<oh {
                for x in 0..<ow {
                    body(((image * oh + y) * ow + x) * c, ((image * h + y / size.0) * w + x / size.1) * c)
                }
            }
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let c = x.shape[3]
        let y = Tensor(shape: [x.shape[0], x.shape[1] * size.0, x.shape[2] * size.1, c]) { out in
            x.withUnsafeBufferPointer { p in
                forEachPixel(x.shape) { o, i in (out.baseAddress! + o).update(from: p.baseAddress! + i, count: c) }
            }
        }
        return LayerOutput(y)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let x = inputs[0]
        let c = x.shape[3]
        var dx = Tensor(zeros: x.shape)
        dx.withUnsafeMutableBufferPointer { out in
            outputGradient.withUnsafeBufferPointer { g in
                forEachPixel(x.shape) { o, i in for j in 0..<c { out[i + j] += g[o + j] } }
            }
        }
        return [dx]
    }
}

extension UpSampling2D: KerasLayer {
    public static let kerasClassNames = ["UpSampling2D"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let interpolation = try config.string("interpolation", "nearest")
        guard interpolation == "nearest" else {
            throw config.error("'\(interpolation)' is not supported; only 'nearest'", field: "interpolation")
        }
        return UpSampling2D(name: config.name, size: try config.pair("size", (2, 2), in: 1...4096))
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["size": [size.0, size.1], "data_format": "channels_last", "interpolation": "nearest"]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
