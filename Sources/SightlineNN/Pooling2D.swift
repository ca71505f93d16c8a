import SightlineCore

/// 2-D max or average pooling over NHWC input (Keras `MaxPooling2D`, `AveragePooling2D`).
///
/// Input `[N, H, W, C]`, output `[N, OH, OW, C]`. With `same` padding, taps outside the image
/// are ignored: max pooling never picks them, average pooling divides by the number of taps
/// inside the image (TensorFlow's behaviour, which Keras inherits).
public final class Pooling2D: Layer {
    /// Which reduction a pooling layer applies.
    public enum Kind: Sendable { case max, average }

    public let name: String
    public let kind: Kind
    public let poolSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    private let fast: OneDNNPooling

    /// A pooling layer; `strides` defaults to `poolSize`, as in Keras.
    public init(
        name: String, kind: Kind, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid
    ) {
        self.name = name
        self.kind = kind
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        self.fast = OneDNNPooling(kind: kind)
    }

    func geometry(height: Int, width: Int) -> WindowGeometry {
        WindowGeometry(inputHeight: height, inputWidth: width, kernel: poolSize, strides: strides, padding: padding)
    }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes, rank: 3)
        let g = geometry(height: shape[0], width: shape[1])
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw LayerError(layer: name, "input \(shape[0])×\(shape[1]) is smaller than the pool")
        }
        return [g.outputHeight, g.outputWidth, shape[2]]
    }

    /// Calls `body(outputIndexBase, inputOffsets)` for each output pixel of the rows in `range`
    /// (of `N·OH`): the output's first element index and the input element index of each
    /// in-image tap of its window.
    private func forEachWindow(
        _ g: WindowGeometry, channels c: Int, rows range: Range<Int>, _ body: (Int, [Int]) -> Void
    ) {
        var taps: [Int] = []
        taps.reserveCapacity(poolSize.0 * poolSize.1)
        for row in range {
            let image = row / g.outputHeight
            let oy = row % g.outputHeight
            for ox in 0..<g.outputWidth {
                taps.removeAll(keepingCapacity: true)
                for ky in 0..<g.kernelHeight {
                    let iy = oy * g.strideY - g.padTop + ky
                    guard iy >= 0 && iy < g.inputHeight else { continue }
                    for kx in 0..<g.kernelWidth {
                        let ix = ox * g.strideX - g.padLeft + kx
                        guard ix >= 0 && ix < g.inputWidth else { continue }
                        taps.append(((image * g.inputHeight + iy) * g.inputWidth + ix) * c)
                    }
                }
                body(((image * g.outputHeight + oy) * g.outputWidth + ox) * c, taps)
            }
        }
    }

    /// Forward through oneDNN's pooling primitive (`OneDNNPooling`), or the loops of
    /// `referenceForward` when oneDNN declines the shape.
    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        if let output = fast.run(x, geometry: geometry(height: x.shape[1], width: x.shape[2])) {
            return LayerOutput(output)
        }
        return referenceForward(inputs)
    }

    /// The pooling as plain loops: the reference the oneDNN path is tested against.
    func referenceForward(_ inputs: [Tensor]) -> LayerOutput {
        let x = inputs[0]
        let n = x.shape[0]
        let c = x.shape[3]
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let output = Tensor(shape: [n, g.outputHeight, g.outputWidth, c]) { out in
            x.withUnsafeBufferPointer { p in
                Parallel.forEachChunk(n * g.outputHeight, costPerItem: g.outputWidth * c * poolSize.0 * poolSize.1) {
                    rows in
                    forEachWindow(g, channels: c, rows: rows) { o, taps in
                        switch kind {
                        case .max:
                            for j in 0..<c { out[o + j] = -.infinity }
                            for t in taps { for j in 0..<c { out[o + j] = Swift.max(out[o + j], p[t + j]) } }
                        case .average:
                            for j in 0..<c { out[o + j] = 0 }
                            for t in taps { for j in 0..<c { out[o + j] += p[t + j] } }
                            let inverse = 1 / Float(Swift.max(taps.count, 1))
                            for j in 0..<c { out[o + j] *= inverse }
                        }
                    }
                }
            }
        }
        return LayerOutput(output)
    }

    /// Max pooling sends each output gradient to the first tap holding the maximum (recomputed
    /// from the input); average pooling spreads it evenly over the window's in-image taps.
    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        backward(outputGradient, inputs: inputs, forward: forward, needs: needs, positiveOnly: false)
    }

    /// `backward`; with `positiveOnly` (max pooling of a ReLU's output), each gradient times 1
    /// where its window's maximum is positive and 0 elsewhere: the gradient before that ReLU,
    /// as its derivative gives it, without a pass over the 4× larger input.
    func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, needs: GradientNeeds, positiveOnly: Bool
    ) -> [Tensor] {
        guard needs.contains(.input) else { return [] }
        let x = inputs[0]
        let n = x.shape[0]
        let c = x.shape[3]
        let g = geometry(height: x.shape[1], width: x.shape[2])
        if kind == .max,
            let dx = Self.tiledMaxBackward(
                outputGradient, input: x, output: forward.output, geometry: g, positiveOnly: positiveOnly)
        {
            return [dx]
        }
        var dx = Tensor(zeros: x.shape)
        dx.withUnsafeMutableBufferPointer { d in
            x.withUnsafeBufferPointer { p in
                outputGradient.withUnsafeBufferPointer { dy in
                    forward.output.withUnsafeBufferPointer { y in
                        // In parallel over images: overlapping windows add into the same input
                        // pixels, but only within one image.
                        Parallel.forEachChunk(
                            n, costPerItem: g.outputHeight * g.outputWidth * c * poolSize.0 * poolSize.1
                        ) { images in
                            let rows = (images.lowerBound * g.outputHeight)..<(images.upperBound * g.outputHeight)
                            forEachWindow(g, channels: c, rows: rows) { o, taps in
                                switch kind {
                                case .max:
                                    // The first tap holding the maximum takes the gradient.
                                    for j in 0..<c {
                                        let target = y[o + j]
                                        // A multiply, so a NaN gradient stays NaN, as the ReLU's would.
                                        let kept = positiveOnly ? dy[o + j] * (target > 0 ? 1 : 0) : dy[o + j]
                                        for t in taps where p[t + j] == target {
                                            d[t + j] += kept
                                            break
                                        }
                                    }
                                case .average:
                                    let share = 1 / Float(Swift.max(taps.count, 1))
                                    for t in taps { for j in 0..<c { d[t + j] += dy[o + j] * share } }
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

extension Pooling2D {
    /// The max pooling backward of 2×2 windows at stride 2 that tile the input exactly (VGG's
    /// pools): each input pixel is written once, the gradient at the first tap holding its
    /// window's maximum and 0 at the others, with no zeroing pass first. Nil for other shapes.
    static func tiledMaxBackward(
        _ dy: Tensor, input x: Tensor, output y: Tensor, geometry g: WindowGeometry, positiveOnly: Bool
    ) -> Tensor? {
        guard g.kernelHeight == 2, g.kernelWidth == 2, g.strideY == 2, g.strideX == 2, g.padTop == 0,
            g.padLeft == 0, g.outputHeight * 2 == g.inputHeight, g.outputWidth * 2 == g.inputWidth
        else { return nil }
        let (rows, width, c) = (x.shape[0] * g.outputHeight, g.outputWidth, x.shape[3])
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                y.withUnsafeBufferPointer { m in
                    dy.withUnsafeBufferPointer { upstream in
                        guard let d = out.baseAddress, let p = p.baseAddress, let m = m.baseAddress,
                            let u = upstream.baseAddress
                        else { return }
                        Parallel.forEachChunk(rows, costPerItem: width * c * 4) { range in
                            for row in range {
                                for ox in 0..<width {
                                    let o = (row * width + ox) * c
                                    let top = (2 * row * width * 2 + 2 * ox) * c  // input row 2·oy of image
                                    let (t0, t1, t2) = (top + c, top + 2 * width * c, top + 2 * width * c + c)
                                    for j in 0..<c {
                                        let target = m[o + j]
                                        // A multiply, so a NaN gradient stays NaN, as the ReLU's would.
                                        let kept = positiveOnly ? u[o + j] * (target > 0 ? 1 : 0) : u[o + j]
                                        // Taps in the generic loop's order: the first maximum takes it.
                                        let (a, b, e, f) = (p[top + j], p[t0 + j], p[t1 + j], p[t2 + j])
                                        let hitA = a == target
                                        let hitB = !hitA && b == target
                                        let hitE = !hitA && !hitB && e == target
                                        let hitF = !hitA && !hitB && !hitE && f == target
                                        d[top + j] = hitA ? kept : 0
                                        d[t0 + j] = hitB ? kept : 0
                                        d[t1 + j] = hitE ? kept : 0
                                        d[t2 + j] = hitF ? kept : 0
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Pooling2D: KerasLayer {
    public static let kerasClassNames = ["MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try config.requireChannelsLast()
        let pool = try config.pair("pool_size", (2, 2))
        return Pooling2D(
            name: config.name, kind: config.className.hasPrefix("Max") ? .max : .average, poolSize: pool,
            strides: try config.pair("strides", pool), padding: try config.padding())
    }

    public var kerasClassName: String { kind == .max ? "MaxPooling2D" : "AveragePooling2D" }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        [
            "pool_size": [poolSize.0, poolSize.1], "strides": [strides.0, strides.1],
            "padding": try kerasPadding(padding),
            "data_format": "channels_last",
        ]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        outputShape.reduce(1, *) * poolSize.0 * poolSize.1
    }

    public var receptiveWindow: ReceptiveWindow { .window(kernel: poolSize, stride: strides, dilation: (1, 1)) }
}
