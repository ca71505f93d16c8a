import SightlineCore

/// Removes rows and columns at the edges of NHWC input (Keras `Cropping2D`).
/// Input `[N, H, W, C]`, output `[N, H − top − bottom, W − left − right, C]`.
public final class Cropping2D: Layer {
    public let name: String
    public let top: Int, bottom: Int, left: Int, right: Int

    public init(name: String, top: Int, bottom: Int, left: Int, right: Int) {
        self.name = name
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let s = try singleInputShape(inputShapes, rank: 3)
        guard s[0] - top - bottom > 0, s[1] - left - right > 0 else {
            throw LayerError(
                layer: name,
                "crops \(top)+\(bottom) rows and \(left)+\(right) columns from a \(s[0])×\(s[1]) input, leaving nothing"
            )
        }
        return [s[0] - top - bottom, s[1] - left - right, s[2]]
    }

    /// Copies between the cropped window of a `[N, H, W, C]` tensor and a `[N, OH, OW, C]` one.
    private func copyRows(n: Int, h: Int, w: Int, c: Int, _ body: (_ outer: Int, _ inner: Int, _ count: Int) -> Void) {
        let oh = h - top - bottom
        let ow = w - left - right
        for image in 0..<n {
            for y in 0..<oh { body(((image * h + y + top) * w + left) * c, (image * oh + y) * ow * c, ow * c) }
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(shape: [n, h - top - bottom, w - left - right, c]) { out in
            x.withUnsafeBufferPointer { p in
                copyRows(n: n, h: h, w: w, c: c) { outer, inner, count in
                    (out.baseAddress! + inner).update(from: p.baseAddress! + outer, count: count)
                }
            }
        }
        return LayerOutput(y)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let x = inputs[0]
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var dx = Tensor(zeros: x.shape)
        dx.withUnsafeMutableBufferPointer { out in
            outputGradient.withUnsafeBufferPointer { g in
                copyRows(n: n, h: h, w: w, c: c) { outer, inner, count in
                    (out.baseAddress! + outer).update(from: g.baseAddress! + inner, count: count)
                }
            }
        }
        return [dx]
    }
}

extension Cropping2D: KerasLayer {
    public static let kerasClassNames = ["Cropping2D"]

    /// `cropping` as `p`, `[p_h, p_w]` or `[[top, bottom], [left, right]]`.
    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let (top, bottom, left, right) = try config.sides("cropping", (0, 0, 0, 0))
        return Cropping2D(name: config.name, top: top, bottom: bottom, left: left, right: right)
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["cropping": [[top, bottom], [left, right]], "data_format": "channels_last"]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
