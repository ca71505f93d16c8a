import SightlineCore

/// Global average or max pooling over the spatial axes (Keras `GlobalAveragePooling2D`,
/// `GlobalMaxPooling2D`). Input `[N, H, W, C]`, output `[N, C]`, or `[N, 1, 1, C]` with `keepDims`.
public final class GlobalPooling2D: Layer {
    public let name: String
    public let kind: Pooling2D.Kind
    public let keepDims: Bool

    public init(name: String, kind: Pooling2D.Kind, keepDims: Bool = false) {
        self.name = name
        self.kind = kind
        self.keepDims = keepDims
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes, rank: 3)
        return keepDims ? [1, 1, shape[2]] : [shape[2]]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let n = x.shape[0]
        let c = x.shape[3]
        let pixels = x.shape[1] * x.shape[2]
        let output = Tensor(shape: keepDims ? [n, 1, 1, c] : [n, c]) { out in
            x.withUnsafeBufferPointer { p in
                for image in 0..<n {
                    let o = out.baseAddress! + image * c
                    let base = p.baseAddress! + image * pixels * c
                    o.update(from: base, count: c)
                    for pixel in 1..<max(pixels, 1) {
                        let row = base + pixel * c
                        switch kind {
                        case .max: for j in 0..<c { o[j] = max(o[j], row[j]) }
                        case .average: for j in 0..<c { o[j] += row[j] }
                        }
                    }
                    if kind == .average { for j in 0..<c { o[j] /= Float(pixels) } }
                }
            }
        }
        return LayerOutput(output)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let x = inputs[0]
        let n = x.shape[0]
        let c = x.shape[3]
        let pixels = x.shape[1] * x.shape[2]
        if kind == .average {
            // Every pixel of an image gets its channel's gradient over the pixel count: written
            // once, by rows shared out over the threads (no zeroed buffer first).
            let dx = Tensor(shape: x.shape) { d in
                outputGradient.withUnsafeBufferPointer { g in
                    guard let d = d.baseAddress, let g = g.baseAddress else { return }
                    Parallel.forEachChunk(n * pixels, costPerItem: c) { rows in
                        for row in rows {
                            let from = g + row / pixels * c
                            for j in 0..<c { d[row * c + j] = from[j] / Float(pixels) }
                        }
                    }
                }
            }
            return [dx]
        }
        var dx = Tensor(zeros: x.shape)
        dx.withUnsafeMutableBufferPointer { d in
            x.withUnsafeBufferPointer { p in
                outputGradient.withUnsafeBufferPointer { dy in
                    forward.output.withUnsafeBufferPointer { y in
                        // The first position holding an image's maximum receives the gradient.
                        Parallel.forEachChunk(n, costPerItem: pixels * c) { images in
                            for image in images {
                                var routed = [Bool](repeating: false, count: c)
                                for pixel in 0..<pixels {
                                    let i = (image * pixels + pixel) * c
                                    for j in 0..<c where !routed[j] && p[i + j] == y[image * c + j] {
                                        d[i + j] = dy[image * c + j]
                                        routed[j] = true
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}

extension GlobalPooling2D: KerasLayer {
    public static let kerasClassNames = [
        "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    ]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        return GlobalPooling2D(
            name: config.name, kind: config.className.contains("Max") ? .max : .average,
            keepDims: try config.bool("keepdims", false))
    }

    public var kerasClassName: String { kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["data_format": "channels_last", "keepdims": keepDims]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { inputShapes.first?.reduce(1, *) ?? 0 }

    public var receptiveWindow: ReceptiveWindow { .reset }
}
