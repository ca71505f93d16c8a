import SightlineCore
import SightlineNN

/// The torch modules the torchvision builders share, with the widths, kernel sizes and groups
/// read from the state dict (`StateDictShapes`) and zero weights (the state dict is loaded next).
extension NetworkBuilder {
    /// torch's `Conv2d(…, padding=(k−1)/2)` named `name`: a plain, depthwise or grouped
    /// convolution by its kernel `[kh, kw, in/groups, out]`. Symmetric padding is `same` at
    /// stride 1 and an explicit `ZeroPadding2D` (`name.pad`) otherwise, so the graph stays
    /// Keras-expressible; `padding` overrides torch's default (ConvNeXt's patchify stem: 0).
    mutating func torchConv(
        _ name: String, _ input: String, _ s: StateDictShapes, stride: Int = 1, padding: Int? = nil,
        activation: ActivationFunction = .linear
    ) throws(LayerError) -> String {
        guard let k = s.shape(name), k.count == 4, k.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "the state dict has no convolution kernel '\(name).weight'")
        }
        let channels = graph.shape(of: input)?.last ?? 0
        guard k[2] > 0, channels % k[2] == 0 else {
            throw LayerError(layer: name, "kernel \(k) does not divide the \(channels) input channels into groups")
        }
        let groups = channels / k[2]
        let pad = padding ?? (k[0] - 1) / 2
        var x = input
        var mode: Padding = .valid
        if pad > 0 && stride == 1 && k[0] == k[1] && k[0] == 2 * pad + 1 {
            mode = .same
        } else if pad > 0 {
            x = try add(ZeroPadding2D(name: "\(name).pad", padding: pad), x)
        }
        // A bias of another shape is reported by the strict load that follows, not trusted here.
        let bias = s.shape(name, "bias").map { _ in Tensor(zeros: [k[3]]) }
        let layer: any Layer
        if groups == 1 {
            layer = Conv2D(
                name: name, kernel: Tensor(zeros: k), bias: bias, strides: (stride, stride), padding: mode,
                activation: activation)
        } else if groups == channels && k[3] % channels == 0 {
            // torch's depthwise kernel [out, 1, kh, kw] is HWIO [kh, kw, 1, C·M]: a grouped DepthwiseConv2D.
            layer = DepthwiseConv2D(
                name: name, kernel: Tensor(zeros: [k[0], k[1], channels, k[3] / channels]), bias: bias,
                strides: (stride, stride), padding: mode, activation: activation, grouped: true)
        } else {
            layer = GroupedConv2D(
                name: name, kernel: Tensor(zeros: k), bias: bias, groups: groups, strides: (stride, stride),
                padding: mode, activation: activation)
        }
        return try add(layer, x)
    }

    /// torchvision's `Conv2dNormActivation` at `name`: `name.0` the convolution, `name.1` the
    /// BatchNorm, then `activation` (named `name.2`) unless it is linear.
    mutating func torchConvNorm(
        _ name: String, _ input: String, _ s: StateDictShapes, stride: Int = 1, epsilon: Float,
        activation: ActivationFunction
    ) throws(LayerError) -> String {
        var x = try torchConv("\(name).0", input, s, stride: stride)
        x = try batchNorm("\(name).1", x, epsilon: epsilon)
        return activation == .linear ? x : try self.activation("\(name).2", x, activation)
    }

    /// torchvision's `SqueezeExcitation` at `name` (`fc1`, `fc2` 1×1 convolutions with bias):
    /// global average, `fc1`, `activation`, `fc2`, `gate`, times the input.
    mutating func torchSqueezeExcitation(
        _ name: String, _ input: String, _ s: StateDictShapes, activation: ActivationFunction,
        gate: ActivationFunction
    ) throws(LayerError) -> String {
        var x = try add(GlobalPooling2D(name: "\(name).avgpool", kind: .average, keepDims: true), input)
        x = try torchConv("\(name).fc1", x, s, activation: activation)
        x = try torchConv("\(name).fc2", x, s, activation: gate)
        return try add(Merge(name: "\(name).scale", .multiply), input, x)
    }

    /// torch's `Linear` at `name` (kernel `[in, out]`).
    mutating func torchLinear(
        _ name: String, _ input: String, _ s: StateDictShapes, activation: ActivationFunction = .linear
    )
        throws(LayerError) -> String
    {
        guard let k = s.shape(name), k.count == 2, k.allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "the state dict has no linear weight '\(name).weight'")
        }
        let bias = s.shape(name, "bias").map { _ in Tensor(zeros: [k[1]]) }
        return try add(Dense(name: name, kernel: Tensor(zeros: k), bias: bias, activation: activation), input)
    }

    /// An inverted residual (torchvision's MobileNetV2/V3 `InvertedResidual`, EfficientNet's
    /// `MBConv` and `FusedMBConv`) whose submodules are `prefix.0`, `prefix.1`, …: each a
    /// `Conv2dNormActivation`, a `SqueezeExcitation` (`fc1`/`fc2`), or a bare convolution or
    /// BatchNorm (MobileNetV2's projection). The first convolution wider than 1×1 carries `stride`;
    /// every `Conv2dNormActivation` but the last has `activation` (a lone one keeps it, as
    /// FusedMBConv without expansion); the input is added back when the shape is unchanged.
    /// The sum is named `residual`.
    mutating func torchInvertedResidual(
        _ prefix: String, _ input: String, _ s: StateDictShapes, stride: Int, epsilon: Float,
        activation: ActivationFunction, squeeze: (activation: ActivationFunction, gate: ActivationFunction),
        residual: String
    ) throws(LayerError) -> String {
        let count = s.count(prefix)
        var x = input
        var strided = false
        func strideOf(_ kernel: [Int]?) -> Int {
            guard !strided, let kernel, kernel[0] > 1 else { return 1 }
            strided = true
            return stride
        }
        for k in 0..<count {
            let m = "\(prefix).\(k)"
            if s.has("\(m).fc1") {
                x = try torchSqueezeExcitation(m, x, s, activation: squeeze.activation, gate: squeeze.gate)
            } else if s.has("\(m).0") {
                let last = k == count - 1 && count > 1
                x = try torchConvNorm(
                    m, x, s, stride: strideOf(s.shape("\(m).0")), epsilon: epsilon,
                    activation: last ? .linear : activation)
            } else if s.isBatchNorm(m) {
                x = try batchNorm(m, x, epsilon: epsilon)
            } else {
                x = try torchConv(m, x, s, stride: strideOf(s.shape(m)))
            }
        }
        guard stride == 1, graph.shape(of: input) == graph.shape(of: x) else { return x }
        return try add(Merge(name: residual, .add), input, x)
    }

    /// The classifier of a torchvision network: global average pooling (`avgpool`), then the
    /// linear layers `linears` (the activation between them), or the pooled features when the
    /// state dict has no classifier (a headless backbone).
    mutating func torchHead(
        _ input: String, _ s: StateDictShapes, linears: [String], between: ActivationFunction = .linear
    ) throws(LayerError) -> String {
        var x = try add(GlobalPooling2D(name: "avgpool", kind: .average), input)
        for (index, name) in linears.enumerated() where s.has(name) {
            x = try torchLinear(name, x, s, activation: index < linears.count - 1 ? between : .linear)
        }
        return x
    }

    /// The output channels of the convolution or linear layer `name`.
    static func outputs(_ name: String, _ s: StateDictShapes) -> Int { s.shape(name)?.last ?? 0 }
}
