import SightlineCore

/// Pads the spatial axes of NHWC input with zeros (Keras `ZeroPadding2D`).
/// Input `[N, H, W, C]`, output `[N, top + H + bottom, left + W + right, C]`.
public final class ZeroPadding2D: Layer {
    public let name: String
    public let top: Int, bottom: Int, left: Int, right: Int

    public init(name: String, top: Int, bottom: Int, left: Int, right: Int) {
        precondition(min(top, bottom, left, right) >= 0, "ZeroPadding2D '\(name)' needs non-negative padding")
        self.name = name
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }

    /// The explicit padding of a convolution padded `own` that reads this layer's output, with
    /// these zeros taken over as its own (no padded copy), or nil when `own` is `same` (its
    /// amount depends on the input size).
    public func absorbed(into own: Padding) -> Padding? {
        switch own {
        case .valid:
            return .explicit(top: top, bottom: bottom, left: left, right: right)
        case .explicit(let t, let b, let l, let r):
            return .explicit(top: t + top, bottom: b + bottom, left: l + left, right: r + right)
        case .same:
            return nil
        }
    }

    /// The same padding on every side.
    public convenience init(name: String, padding: Int) {
        self.init(name: name, top: padding, bottom: padding, left: padding, right: padding)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let s = try singleInputShape(inputShapes, rank: 3)
        return [s[0] + top + bottom, s[1] + left + right, s[2]]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let n = x.shape[0]
        let h = x.shape[1]
        let w = x.shape[2]
        let c = x.shape[3]
        let oh = h + top + bottom
        let ow = w + left + right
        var y = Tensor(zeros: [n, oh, ow, c])
        y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { p in
                Parallel.forEachChunk(n * h, costPerItem: w * c) { rows in
                    for index in rows {
                        let image = index / h
                        let row = index % h
                        let src = p.baseAddress! + (image * h + row) * w * c
                        let dst = out.baseAddress! + ((image * oh + row + top) * ow + left) * c
                        dst.update(from: src, count: w * c)
                    }
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
        let n = x.shape[0]
        let h = x.shape[1]
        let w = x.shape[2]
        let c = x.shape[3]
        let oh = h + top + bottom
        let ow = w + left + right
        let dx = Tensor(shape: x.shape) { out in
            outputGradient.withUnsafeBufferPointer { dy in
                for image in 0..<n {
                    for row in 0..<h {
                        let src = dy.baseAddress! + ((image * oh + row + top) * ow + left) * c
                        (out.baseAddress! + (image * h + row) * w * c).update(from: src, count: w * c)
                    }
                }
            }
        }
        return [dx]
    }
}

extension ZeroPadding2D: KerasLayer {
    public static let kerasClassNames = ["ZeroPadding2D"]

    /// `padding` as `p`, `[p_h, p_w]` or `[[top, bottom], [left, right]]`, each 0 or more.
    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let (top, bottom, left, right) = try config.sides("padding", (1, 1, 1, 1))
        return ZeroPadding2D(name: config.name, top: top, bottom: bottom, left: left, right: right)
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["padding": [[top, bottom], [left, right]], "data_format": "channels_last"]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
