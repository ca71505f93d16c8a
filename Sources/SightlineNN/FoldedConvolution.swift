import SightlineCore

/// A convolution as one recorded training pass runs it: the graph's `Conv2D` or
/// `DepthwiseConv2D`, with the frozen `BatchNormalization` after it folded in and the
/// activation after it fused, built from the current weights for each pass.
///
/// With BatchNorm's per-channel `scale = γ/√(var + ε)` and `shift = β − mean · scale`, the
/// folded layer has `kernel' = kernel · scale` (per output channel, the last HWIO axis) and
/// `bias' = bias · scale + shift`, so `y = act(bn(conv(x))) = act(conv'(x))`. Its gradients are
/// mapped back to the file's own weights by the chain rule: `∂L/∂kernel = ∂L/∂kernel' · scale`
/// and `∂L/∂bias = ∂L/∂bias' · scale` per output channel. BatchNorm's own parameters and
/// statistics are untouched (it is frozen), so no BatchNorm activation is stored and no
/// BatchNorm backward runs.
final class FoldedConvolution {
    /// The graph's convolution, whose parameters receive the gradients.
    let original: any Layer
    /// The layer that runs: its own parameters hold the folded weights for this pass.
    let working: any Layer
    /// BatchNorm's per-output-channel scale, or nil when no BatchNorm was folded.
    private let scale: [Float]?

    /// Folds `batchNorm` (when given) into `conv`, fuses `activation` (an activation whose
    /// derivative the convolution takes from its output or saved input) and, when given, takes
    /// `padding` (a zero padding before it, absorbed) as its own, naming the working layer
    /// `name`. Returns nil for other layer kinds, or a convolution that already has an
    /// activation of its own. The working layer shares the original's backward primitives
    /// (they depend on the geometry only; a padded one makes its own for its own geometry).
    init?(
        _ conv: any Layer, batchNorm: BatchNormalization?, activation: ActivationFunction, padding: Padding? = nil,
        name: String
    ) {
        let affine = batchNorm?.inferenceAffine()
        switch conv {
        case let conv as Conv2D where Self.takes(conv):
            let folded = batchNorm.map { InferencePlan.fold(conv, $0) }
            let working = Conv2D(
                name: name, kernel: folded?.kernel.value ?? conv.kernel.value,
                bias: folded?.bias?.value ?? conv.bias?.value, strides: conv.strides,
                padding: padding ?? conv.padding, dilation: conv.dilation, activation: activation)
            working.backwardKernels = conv.backwardKernels
            self.working = working
        case let conv as DepthwiseConv2D where Self.takes(conv):
            let folded = batchNorm.map { InferencePlan.fold(conv, $0) }
            let working = DepthwiseConv2D(
                name: name, kernel: folded?.kernel.value ?? conv.kernel.value,
                bias: folded?.bias?.value ?? conv.bias?.value, strides: conv.strides,
                padding: padding ?? conv.padding, dilation: conv.dilation, activation: activation)
            working.backwardKernels = conv.backwardKernels
            self.working = working
        default:
            return nil
        }
        original = conv
        scale = affine?.scale
        // The working layer computes gradients only for what the original trains.
        let (kernel, bias) = Self.weights(of: original)
        let (workingKernel, workingBias) = Self.weights(of: working)
        workingKernel?.isTrainable = kernel?.isTrainable ?? false
        workingBias?.isTrainable = bias?.isTrainable ?? false
    }

    /// True for the layers a training step can fold and fuse: a `Conv2D` or an ungrouped
    /// `DepthwiseConv2D` without an activation of its own (`TrainingPlan` asks this).
    static func takes(_ layer: any Layer) -> Bool {
        switch layer {
        case let conv as Conv2D: return conv.activation == .linear
        case let conv as DepthwiseConv2D: return conv.activation == .linear && !conv.grouped
        default: return false
        }
    }

    /// The kernel and bias parameters of a convolution.
    private static func weights(of layer: any Layer) -> (kernel: Parameter?, bias: Parameter?) {
        switch layer {
        case let conv as Conv2D: return (conv.kernel, conv.bias)
        case let conv as DepthwiseConv2D: return (conv.kernel, conv.bias)
        default: return (nil, nil)
        }
    }

    /// The backward pass of a working `Conv2D` from ∂L/∂(its pre-activation output) `dz`: its
    /// kernels apply BatchNorm's scale as they finish their sums (no pass over the gradients for
    /// it), and the gradients move to the original's parameters. Returns `[∂L/∂x]` when `needs`
    /// asks for the input's, multiplied by the derivative of `inputActivation` when given (the
    /// activation whose output the input is: the plan's `appliesReaderDerivative`).
    func backward(
        _ conv: Conv2D, preActivation dz: Tensor, input: Tensor, needs: GradientNeeds, options: EngineOptions,
        inputActivation: ActivationFunction? = nil
    ) -> [Tensor] {
        let result = conv.backward(
            preActivation: dz, input: input, needs: needs, options: options, gradientScale: scale,
            inputActivation: inputActivation)
        moveGradients(scaled: false)
        return result
    }

    /// `backward(_:preActivation:…)` from ∂L/∂(activation output) `gradient` plus `others`
    /// (`Conv2D.backward(outputGradient:adding:…)`, which may apply the activation's derivative
    /// inside its GEMMs' pass); returns the pre-activation gradient too (a shortcut reads it).
    func backward(
        _ conv: Conv2D, outputGradient gradient: consuming Tensor, adding others: [Tensor], forward: LayerOutput,
        input: Tensor, needs: GradientNeeds, options: EngineOptions, inputActivation: ActivationFunction? = nil
    ) -> (preActivation: Tensor, inputGradients: [Tensor]) {
        let result = conv.backward(
            outputGradient: consume gradient, adding: others, forward: forward, input: input, needs: needs,
            options: options, gradientScale: scale, inputActivation: inputActivation)
        moveGradients(scaled: false)
        return result
    }

    /// Adds the working layer's gradients, mapped through BatchNorm's scale, into the original
    /// layer's parameters and clears the working ones.
    func mapGradients() { moveGradients(scaled: true) }

    /// Adds the working layer's gradients (multiplied by BatchNorm's scale unless `scaled` is
    /// false: they already are) into the original layer's parameters and clears the working ones.
    private func moveGradients(scaled: Bool) {
        let (kernel, bias) = Self.weights(of: original)
        let (workingKernel, workingBias) = Self.weights(of: working)
        if let kernel, let gradient = workingKernel?.gradient {
            kernel.accumulateGradient(scaled ? self.scaled(gradient) : gradient)
            workingKernel?.zeroGradient()
        }
        if let bias, let gradient = workingBias?.gradient {
            bias.accumulateGradient(scaled ? self.scaled(gradient) : gradient)
            workingBias?.zeroGradient()
        }
    }

    /// `gradient` with its last axis (output channels) multiplied by BatchNorm's scale.
    private func scaled(_ gradient: Tensor) -> Tensor {
        guard let scale else { return gradient }
        return gradient.scaledPerColumn(by: scale)
    }
}
