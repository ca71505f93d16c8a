import Foundation
import SightlineCore

/// A Keras `Conv2D` with `groups` between 1 and its input channels (RegNet's group width 8):
/// the input channels are split into `groups` equal slices, slice `g` is convolved with output
/// channels `g·F/G ..< (g+1)·F/G`, and the results are concatenated. Input `[N, H, W, C]`,
/// kernel HWIO `[kh, kw, C/G, F]` (Keras's layout), output `[N, H', W', F]`.
///
/// Each group runs as a `Conv2D` on its slices (so it uses the kernel the plan chooses for that
/// shape); the group layers are rebuilt when the kernel's value changes. (One group per input
/// channel is `DepthwiseConv2D`.)
public final class GroupedConv2D: Layer {
    public let name: String
    public let kernel: Parameter
    public let bias: Parameter?
    public let groups: Int
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: ActivationFunction
    private var parts: [Conv2D] = []
    private var partsVersion = -1

    public init(
        name: String, kernel: Tensor, bias: Tensor?, groups: Int, strides: (Int, Int) = (1, 1),
        padding: Padding = .valid,
        dilation: (Int, Int) = (1, 1), activation: ActivationFunction = .linear
    ) {
        self.name = name
        self.kernel = Parameter(name: "kernel", value: kernel)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        (self.groups, self.strides, self.padding, self.dilation, self.activation) = (
            groups, strides, padding, dilation, activation
        )
    }

    public var parameters: [Parameter] { bias.map { [kernel, $0] } ?? [kernel] }
    public var filters: Int { kernel.value.shape[3] }

    public func outputShape(for inputShapes: [[Int]]) throws(LayerError) -> [Int] {
        let shape = try singleInputShape(inputShapes, rank: 3)
        let k = kernel.value.shape
        guard groups >= 1, shape[2] % groups == 0, k[3] % groups == 0, shape[2] / groups == k[2] else {
            throw LayerError(
                layer: name,
                "\(groups) groups need input channels (\(shape[2])) and filters (\(k[3])) divisible by them, with kernel \(k) taking C/groups inputs"
            )
        }
        return try group(0).outputShape(for: [[shape[0], shape[1], k[2]]]).dropLast() + [filters]
    }

    /// The convolution of group `g` (linear; the activation runs on the joined output).
    func group(_ g: Int) throws(LayerError) -> Conv2D {
        let version = kernel.version &* 31 &+ (bias?.version ?? 0)
        if partsVersion != version || parts.count != groups {
            let k = kernel.value.shape
            let width = k[3] / groups
            parts = (0..<groups).map { g in
                Conv2D(
                    name: "\(name)/group\(g)", kernel: Self.slice(kernel.value, lastAxis: g * width, count: width),
                    bias: bias.map {
                        Tensor(shape: [width], scalars: Array($0.value.scalars[(g * width)..<((g + 1) * width)]))
                    },
                    strides: strides, padding: padding, dilation: dilation)
            }
            partsVersion = version
        }
        return parts[g]
    }

    /// `count` entries of the last axis from `start`.
    static func slice(_ tensor: Tensor, lastAxis start: Int, count: Int) -> Tensor {
        let last = tensor.shape[tensor.rank - 1]
        let rows = tensor.count / last
        return Tensor(shape: tensor.shape.dropLast() + [count]) { out in
            for r in 0..<rows { for c in 0..<count { out[r * count + c] = tensor.scalars[r * last + start + c] } }
        }
    }

    /// Writes `part` into channels `start ..< start + part's channels` of `whole`.
    static func place(_ part: Tensor, into whole: inout Tensor, start: Int) {
        let count = part.shape[part.rank - 1]
        let last = whole.shape[whole.rank - 1]
        let rows = part.count / count
        whole.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows { for c in 0..<count { out[r * last + start + c] = part.scalars[r * count + c] } }
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> LayerOutput {
        let x = inputs[0]
        let perGroup = x.shape[3] / groups
        let width = filters / groups
        var z: Tensor?
        for g in 0..<groups {
            // `outputShape` validated the grouping when the graph was built.
            guard let part = try? group(g) else { continue }
            let y = part.forward([Self.slice(x, lastAxis: g * perGroup, count: perGroup)], mode: mode).output
            if z == nil { z = Tensor(zeros: Array(y.shape.dropLast()) + [filters]) }
            if var joined = z {
                z = nil
                Self.place(y, into: &joined, start: g * width)
                z = joined
            }
        }
        let linear = z ?? Tensor(zeros: [x.shape[0], 0, 0, filters])
        guard activation != .linear else { return LayerOutput(linear) }
        return LayerOutput(activation.applied(to: linear), saved: [linear])
    }

    public func backward(
        _ outputGradient: Tensor, inputs: [Tensor], forward: LayerOutput, mode: Mode, needs: GradientNeeds
    ) -> [Tensor] {
        let x = inputs[0]
        let perGroup = x.shape[3] / groups
        let width = filters / groups
        let dz =
            activation == .linear
            ? outputGradient : activation.gradient(outputGradient, output: forward.output, input: forward.saved.first)
        var dx = needs.contains(.input) ? Tensor(zeros: x.shape) : nil
        var dw = needs.wants(kernel) ? Tensor(zeros: kernel.value.shape) : nil
        var db = bias.flatMap { needs.wants($0) ? Tensor(zeros: $0.value.shape) : nil }
        for g in 0..<groups {
            guard let part = try? group(g) else { continue }
            let xg = Self.slice(x, lastAxis: g * perGroup, count: perGroup)
            let yg = Self.slice(dz, lastAxis: g * width, count: width)
            for parameter in part.parameters { parameter.zeroGradient() }
            let grads = part.backward(
                yg, inputs: [xg], forward: LayerOutput(Tensor(zeros: yg.shape)), mode: mode, needs: needs)
            if var whole = dx, let d = grads.first {
                dx = nil
                Self.place(d, into: &whole, start: g * perGroup)
                dx = whole
            }
            if var whole = dw, let d = part.kernel.gradient {
                dw = nil
                Self.place(d, into: &whole, start: g * width)
                dw = whole
            }
            if var whole = db, let d = part.bias?.gradient {
                db = nil
                Self.place(d, into: &whole, start: g * width)
                db = whole
            }
        }
        if let dw { kernel.accumulateGradient(dw) }
        if let bias, let db { bias.accumulateGradient(db) }
        return dx.map { [$0] } ?? []
    }
}

extension GroupedConv2D: KerasLayer {
    /// Made by `Conv2D.make` for `groups` above 1 and below the input channels.
    public static let kerasClassNames = ["Conv2D"]

    public static func make(_ config: KerasConfig, inputShapes: [[Int]]) throws(LayerError) -> any Layer {
        try Conv2D.make(config, inputShapes: inputShapes)
    }

    public func kerasConfig() throws(LayerError) -> [String: Any] {
        try convolutionConfig(
            kernel: kernel.value.shape, strides: strides, padding: padding, dilation: dilation, groups: groups,
            activation: activation, useBias: bias != nil)
    }

    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        Conv2D.convolutionFlops(kernel: kernel.value.shape, outputShape: outputShape, hasBias: bias != nil)
    }

    public var receptiveWindow: ReceptiveWindow {
        .window(kernel: (kernel.value.shape[0], kernel.value.shape[1]), stride: strides, dilation: dilation)
    }
}
