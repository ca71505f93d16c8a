import SightlineCore

/// A fully connected layer on the last axis (Keras `Dense`).
///
/// Input `[..., in]`, kernel `[in, out]`, bias `[out]`, output `[..., out]`; leading axes are
/// treated as rows. The activation is fused: a softmax here is applied to `preActivation`'s
/// logits (Grad-CAM differentiates the logits of a linear copy, `ClassActivationMaps`).
public final class Dense: Layer {
    public let name: String
    /// `[in, out]`.
    public let kernel: Parameter
    /// `[out]`, or nil for `use_bias=False`.
    public let bias: Parameter?
    public let activation: ActivationFunction

    /// A dense layer with explicit weights.
    public init(name: String, kernel: Tensor, bias: Tensor?, activation: ActivationFunction = .linear) {
        precondition(kernel.rank == 2, "Dense '\(name)' needs a kernel of rank 2, got \(kernel.shape)")
        precondition(
            bias == nil || bias?.shape == [kernel.shape[1]], "Dense '\(name)' bias must be [\(kernel.shape[1])]")
        self.name = name
        self.kernel = Parameter(name: "kernel", value: kernel)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        self.activation = activation
    }

    /// A dense layer with Glorot-uniform kernel and zero bias (Keras's defaults).
    public convenience init(
        name: String, inputFeatures: Int, units: Int, useBias: Bool = true, activation: ActivationFunction = .linear,
        initializer: Initializer = .glorotUniform, generator: inout SeededGenerator
    ) {
        self.init(
            name: name, kernel: initializer.tensor(shape: [inputFeatures, units], generator: &generator),
            bias: useBias ? Tensor(zeros: [units]) : nil, activation: activation)
    }

    public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }
    /// The number of output features.
    public var units: Int { kernel.value.shape[1] }
    private var inputFeatures: Int { kernel.value.shape[0] }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes)
        guard shape.last == inputFeatures else {
            throw LayerError(
                layer: name,
                "kernel \(kernel.value.shape) expects \(inputFeatures) input features, input shape is \(shape)")
        }
        return shape.dropLast() + [units]
    }

    /// `x · kernel + bias`, before the activation.
    public func preActivation(_ x: Tensor) -> Tensor {
        let rows = x.count / inputFeatures
        var result = Tensor(shape: x.shape.dropLast() + [units]) { out in
            x.withUnsafeBufferPointer { a in
                kernel.value.withUnsafeBufferPointer { w in
                    GEMM.multiply(
                        m: rows, n: units, k: inputFeatures, a: a.baseAddress!, lda: inputFeatures, b: w.baseAddress!,
                        ldb: units, c: out.baseAddress!, ldc: units)
                }
            }
        }
        if let bias {
            result.withUnsafeMutableBufferPointer { out in
                ConvolutionGEMM.applyEpilogue(
                    out.baseAddress!, rows: rows, filters: units, bias: bias.value, activation: .linear)
            }
        }
        return result
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        var z = preActivation(inputs[0])
        let saved = activation.fusedForward(&z)
        return LayerOutput(z, saved: saved)
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        let x = inputs[0]
        let rows = x.count / inputFeatures
        let dz = activation.gradient(outputGradient, output: forward.output, input: forward.saved.first)
        if let bias, needs.wants(bias) { bias.accumulateGradient(ConvolutionGEMM.biasGradient(dz, filters: units)) }
        if needs.wants(kernel) {
            let dw = Tensor(shape: kernel.value.shape) { out in
                x.withUnsafeBufferPointer { a in
                    dz.withUnsafeBufferPointer { g in
                        GEMM.multiply(
                            transposeA: true, m: inputFeatures, n: units, k: rows, a: a.baseAddress!,
                            lda: inputFeatures, b: g.baseAddress!, ldb: units, c: out.baseAddress!, ldc: units)
                    }
                }
            }
            kernel.accumulateGradient(dw)
        }
        guard needs.contains(.input) else { return [] }
        let dx = Tensor(shape: x.shape) { out in
            dz.withUnsafeBufferPointer { g in
                kernel.value.withUnsafeBufferPointer { w in
                    GEMM.multiply(
                        transposeB: true, m: rows, n: inputFeatures, k: units, a: g.baseAddress!, lda: units,
                        b: w.baseAddress!, ldb: units, c: out.baseAddress!, ldc: inputFeatures)
                }
            }
        }
        return [dx]
    }
}

extension Dense: KerasLayer {
    public static let kerasClassNames = ["Dense"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        let units = try config.int("units", 0, in: 1...Int.max)
        return Dense(
            name: config.name,
            kernel: Tensor(zeros: try config.checkWeight([try config.channels(inputShapes), units])),
            bias: try config.bool("use_bias", true) ? Tensor(zeros: [units]) : nil, activation: try config.activation())
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        ["units": units, "activation": try kerasActivationName(activation), "use_bias": bias != nil]
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        2 * (outputShape.reduce(1, *) / max(units, 1)) * inputFeatures * units
    }

    public var receptiveWindow: ReceptiveWindow { .reset }

    public var absorbsFollowingActivation: Bool { activation == .linear }
}
