import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineNN

/// The one-sweep depthwise backward (`Sources/CKernels/depthwise_backward.c`, the `auto` route
/// with depth multiplier 1) against the reference route's loops followed by the activations'
/// derivative passes, which `GradientCheckTests` checks against float64 finite differences.
struct DepthwiseBackwardTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let size: (Int, Int)
        let channels: Int
        let kernel: Int
        let strides: (Int, Int)
        let padding: Padding
        let dilation: (Int, Int)
        let activation: ActivationFunction
        let inputActivation: ActivationFunction?
        var testDescription: String {
            "\(size.0)×\(size.1)×\(channels) \(kernel)×\(kernel)/\(strides) \(padding) d\(dilation) \(activation)"
                + " after \(inputActivation.map { "\($0)" } ?? "nothing")"
        }
    }

    /// MobileNetV2's layers (ReLU6 on both sides; strided ones padded bottom and right only), an
    /// unpadded odd size, ConvNeXt's linear 7×7, dilation, EfficientNet's swish and MobileNetV3's
    /// hard swish, and channel counts that leave a tail after the blocks of 16.
    static let cases: [Case] = [
        Case(
            size: (9, 9), channels: 32, kernel: 3, strides: (1, 1), padding: .same, dilation: (1, 1),
            activation: .relu(maxValue: 6), inputActivation: .relu(maxValue: 6)),
        Case(
            size: (10, 10), channels: 24, kernel: 3, strides: (2, 2),
            padding: .explicit(top: 0, bottom: 1, left: 0, right: 1), dilation: (1, 1), activation: .relu(maxValue: 6),
            inputActivation: .relu(maxValue: 6)),
        Case(
            size: (7, 8), channels: 19, kernel: 3, strides: (2, 1), padding: .valid, dilation: (1, 1),
            activation: .relu(), inputActivation: .relu()),
        Case(
            size: (9, 7), channels: 20, kernel: 7, strides: (1, 1), padding: .same, dilation: (1, 1),
            activation: .linear, inputActivation: nil),
        Case(
            size: (11, 10), channels: 17, kernel: 5, strides: (2, 2), padding: .same, dilation: (1, 1),
            activation: .relu(maxValue: 6), inputActivation: nil),
        Case(
            size: (10, 9), channels: 33, kernel: 3, strides: (1, 1), padding: .same, dilation: (2, 2),
            activation: .linear, inputActivation: .relu(maxValue: 6)),
        // EfficientNet's: swish, whose derivative (from the saved pre-activation) runs before the sweep.
        Case(
            size: (9, 10), channels: 24, kernel: 5, strides: (2, 2), padding: .same, dilation: (1, 1),
            activation: .swish, inputActivation: nil),
        Case(
            size: (8, 8), channels: 16, kernel: 3, strides: (1, 1), padding: .same, dilation: (1, 1),
            activation: .hardSilu, inputActivation: .relu(maxValue: 6)),
    ]

    /// An input as a ReLU6 writes it: about a quarter exact zeros, some exact sixes (where the
    /// derivative is 0), the rest in between.
    static func clippedInput(_ shape: [Int], seed: UInt64) -> Tensor {
        let raw = GradientCheckTests.random(shape, seed: seed, scale: 4)
        return Tensor(shape: shape, scalars: raw.scalars.map { min(max($0 + 2, 0), 6) })
    }

    /// The gradients of `layer` through `options`: `[dx, kernel, bias]`.
    static func gradients(
        _ layer: DepthwiseConv2D, _ x: Tensor, _ upstream: Tensor, inputActivation: ActivationFunction?,
        options: EngineOptions
    ) -> [Tensor] {
        layer.kernel.gradient = nil
        layer.bias?.gradient = nil
        let forward = layer.forward([x], mode: .training, options: options)
        let dx = layer.backward(
            outputGradient: upstream, forward: forward, input: x, inputActivation: inputActivation,
            needs: [.input, .parameters], options: options)
        return dx + [layer.kernel.gradient ?? Tensor(zeros: [0]), layer.bias?.gradient ?? Tensor(zeros: [0])]
    }

    /// The largest difference between `a` and `b`, relative to `b`'s largest magnitude (or 1).
    static func difference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        let scale = max(b.scalars.map(abs).max() ?? 1, 1)
        return (zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0) / scale
    }

    @Test(arguments: cases) func sweepMatchesTheReferenceLoops(_ c: Case) throws {
        let layer = DepthwiseConv2D(
            name: "dw", kernel: GradientCheckTests.random([c.kernel, c.kernel, c.channels, 1], seed: 1, scale: 0.4),
            bias: GradientCheckTests.random([c.channels], seed: 2), strides: c.strides, padding: c.padding,
            dilation: c.dilation, activation: c.activation)
        let x = Self.clippedInput([2, c.size.0, c.size.1, c.channels], seed: 3)
        let outputShape = try layer.outputShape(for: [Array(x.shape.dropFirst())])
        let upstream = GradientCheckTests.random([2] + outputShape, seed: 4)
        let swept = Self.gradients(layer, x, upstream, inputActivation: c.inputActivation, options: EngineOptions())
        let reference = Self.gradients(
            layer, x, upstream, inputActivation: c.inputActivation, options: EngineOptions(convolution: .reference))
        for (name, index) in [("input", 0), ("kernel", 1), ("bias", 2)] {
            let gap = Self.difference(swept[index], reference[index])
            #expect(gap <= 1e-5, "\(name) gradient differs by \(gap)")
        }
        // The previous layer's derivative was applied: 0 at its bounds (a ReLU6's 0 and 6).
        if let (low, high) = c.inputActivation?.clipBounds {
            let zeroed = zip(x.scalars, swept[0].scalars).allSatisfy { $0 > low && $0 < high || $1 == 0 }
            #expect(zeroed, "the input gradient is 0 where the previous layer's output is \(low) or \(high)")
        }
    }

    @Test func sweepRepeatsBitwiseAndSkipsWhatIsNotWanted() {
        let layer = DepthwiseConv2D(
            name: "dw", kernel: GradientCheckTests.random([3, 3, 48, 1], seed: 5), bias: nil, strides: (2, 2),
            padding: .same, activation: .relu(maxValue: 6))
        let x = Self.clippedInput([3, 12, 12, 48], seed: 6)
        let upstream = GradientCheckTests.random([3, 6, 6, 48], seed: 7)
        let first = Self.gradients(layer, x, upstream, inputActivation: nil, options: EngineOptions())
        let again = Self.gradients(layer, x, upstream, inputActivation: nil, options: EngineOptions())
        #expect(first[0].scalars == again[0].scalars && first[1].scalars == again[1].scalars)
        // Without the input's gradient (the first layer of a network): the kernel's alone, equal.
        layer.kernel.gradient = nil
        let forward = layer.forward([x], mode: .training, options: EngineOptions())
        let none = layer.backward(
            outputGradient: upstream, forward: forward, input: x, inputActivation: nil, needs: .parameters,
            options: EngineOptions())
        #expect(none.isEmpty)
        #expect(layer.kernel.gradient?.scalars == first[1].scalars)
    }
}
