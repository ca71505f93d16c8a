import SightlineCore

/// The backward pass of `Conv2D`, with its kernels chosen per layer:
/// - input gradient: Winograd for 3×3 stride-1 layers (the backward of a convolution is a
///   convolution with the flipped kernel, `ConvolutionKernelCache.inputGradient`), GEMMs
///   scattered onto the strided pixels for strided 1×1 layers (`StridedPointwiseInputGradient`),
///   else oneDNN's backward-data primitive, else im2col + GEMM with col2im;
/// - kernel and bias gradients: oneDNN's backward-weights primitive or im2col + GEMM tiles
///   (`ConvolutionGEMM.backward`) by a fixed rule from per-layer measurements (`weightGradients`):
///   Winograd F(4×4,3×3) or F(2×2,3×3) transposed for 3×3 stride-1 layers (2–3× oneDNN's), GEMMs
///   split over rows for 1×1 layers (no im2col; strided rows gathered; on wide stride-1 layers
///   the input gradient's GEMMs in the same pass, `PointwiseKernelGradient.sharedPassValues`), GEMMs
///   over gathered patches for stems of up to four input channels (`StemKernelGradient`, with the
///   layer's ReLU derivative in the same pass when no input gradient is wanted), and oneDNN 2.6's
///   f32 backward-weights kernel on NHWC loses to a plain GEMM on the wide 3×3 layers left.
/// Under bf16 (`EngineOptions.convolutionPrecision(_:channels:filters:)`) both gradients take oneDNN's bf16 backward primitives;
/// under bf16-emulated, oneDNN's float32 ones on bfloat16-rounded copies (`reducedPrecisionBackward`).
extension Conv2D {
    /// Backward from ∂L/∂(pre-activation output) `dz` `[N, OH, OW, F]`: adds the kernel and
    /// bias gradients as `needs` asks, each multiplied per output channel by `gradientScale`
    /// `[F]` when given, and returns `[∂L/∂x]` when it asks for the input's. (A layer with a
    /// frozen BatchNorm folded in passes BatchNorm's scale: its parameters then receive the
    /// gradients of the file's own kernel and bias, `FoldedConvolution`. The routes that sum in C
    /// apply it as they finish their sums; the others in a pass after.)
    func backward(
        preActivation dz: Tensor, input x: Tensor, needs: GradientNeeds, options: EngineOptions,
        gradientScale: [Float]? = nil
    ) -> [Tensor] {
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let precision = options.convolutionPrecision(g, channels: x.shape[3], filters: filters)
        guard precision == .fp32 else {
            return reducedPrecisionBackward(
                dz, input: x, geometry: g, needs: needs, native: precision == .bf16, gradientScale: gradientScale)
        }
        let onednn = options.convolution == .auto
        let (wantsKernel, wantsBias) = (needs.wants(kernel), needs.wants(bias))
        // A wide 1×1 stride-1 gradient: both GEMMs in one pass over it.
        if sharesPass(g, gradient: dz, input: x, needs: needs, options: options),
            let (dw, db, dx) = PointwiseKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: wantsBias,
                threads: Parallel.threadCount, columnScale: gradientScale, inputGradientOf: kernel.value),
            let dx
        {
            accumulate(kernel: dw, bias: db, needs: needs)
            return [dx]
        }
        if wantsKernel || wantsBias {
            let (dw, db) = weightGradients(
                dz, input: x, geometry: g, onednn: onednn, kernel: wantsKernel, bias: wantsBias,
                scale: gradientScale)
            accumulate(kernel: dw, bias: db, needs: needs)
        }
        guard needs.contains(.input) else { return [] }
        // 3×3 stride 1: the input gradient is itself a convolution Winograd runs.
        if let fast = kernels.inputGradient(
            self, input: Array(x.shape.dropFirst()), batch: x.shape[0], options: options)
        {
            var result = Tensor(shape: x.shape) { _ in }
            fast.run(dz, into: &result, accumulate: false)
            return [result]
        }
        if onednn, StridedPointwiseInputGradient.fits(g),
            let dx = StridedPointwiseInputGradient.run(
                gradient: dz, kernel: kernel.value, input: x.shape, geometry: g, threads: Parallel.threadCount)
        {
            return [dx]
        }
        if onednn,
            let dx = backwardKernels.inputGradient(
                backwardShape(g, channels: x.shape[3]), kernel: kernel.value, input: x.shape, gradient: dz)
        {
            return [dx]
        }
        return ConvolutionGEMM.backward(
            input: x, geometry: g, kernel: kernel.value, filters: filters, gradient: dz, kernelGradient: nil,
            needsInputGradient: true
        ).map { [$0] } ?? []
    }

    /// Backward from ∂L/∂(activation output): `gradient` plus `others` (the other readers'
    /// gradients of that output) through the activation's derivative, then as
    /// `backward(preActivation:…)`. Returns the pre-activation gradient (a ResNet shortcut reads
    /// it too) and `[∂L/∂x]` when `needs` asks for it. A wide 1×1 stride-1 layer with a ReLU-like
    /// activation applies the derivative inside its one pass over the gradient
    /// (`PointwiseKernelGradient.Derivative`) instead of in a pass of its own: the same values.
    func backward(
        outputGradient gradient: consuming Tensor, adding others: [Tensor], forward: LayerOutput, input x: Tensor,
        needs: GradientNeeds, options: EngineOptions, gradientScale: [Float]? = nil,
        inputActivation: ActivationFunction? = nil
    ) -> (preActivation: Tensor, inputGradients: [Tensor]) {
        var dz = consume gradient
        let g = geometry(height: x.shape[1], width: x.shape[2])
        if let bounds = activation.clipBounds, others.count <= 1, others.allSatisfy({ $0.shape == dz.shape }),
            forward.output.shape == dz.shape, inputActivation == nil || inputActivation?.clipBounds != nil,
            sharesPass(g, gradient: dz, input: x, needs: needs, options: options)
        {
            let derivative = PointwiseKernelGradient.Derivative(
                own: (others.first, forward.output, bounds), input: inputActivation?.clipBounds)
            let (result, applied) = PointwiseKernelGradient.run(
                input: x, gradient: &dz, derivative: derivative, geometry: g, filters: filters,
                bias: needs.wants(bias), threads: Parallel.threadCount, columnScale: gradientScale,
                inputGradientOf: kernel.value)
            if let (dw, db, dx) = result, let dx {
                accumulate(kernel: dw, bias: db, needs: needs)
                return (dz, [dx])
            }
            if applied {  // no scratch memory: dz is the pre-activation gradient all the same
                let inputs = backward(
                    preActivation: dz, input: x, needs: needs, options: options, gradientScale: gradientScale,
                    inputActivation: inputActivation)
                return (dz, inputs)
            }
        }
        switch stemBackward(
            &dz, adding: others, forward: forward, input: x, needs: needs, options: options,
            gradientScale: gradientScale, keepingGradient: false)
        {
        case .done: return (dz, [])
        case .preActivation:
            return (
                dz, backward(preActivation: dz, input: x, needs: needs, options: options, gradientScale: gradientScale)
            )
        case .notTaken: break
        }
        dz = activation.gradient(consume dz, adding: others, output: forward.output, input: forward.saved.first)
        let inputs = backward(
            preActivation: dz, input: x, needs: needs, options: options, gradientScale: gradientScale,
            inputActivation: inputActivation)
        return (dz, inputs)
    }

    /// Backward from ∂L/∂(activation output) `gradient` for a caller with no use for the
    /// pre-activation gradient (a step of its own, as VGG's convolutions with their ReLU): a stem
    /// applies the derivative in scratch inside its kernel gradient's pass (`stemBackward`), the
    /// gradient only read; the others as `backward(outputGradient:…)`, in the gradient's storage
    /// when the caller hands it over (`consume`), else in a copy.
    func backward(
        consuming gradient: consuming Tensor, forward: LayerOutput, input x: Tensor, needs: GradientNeeds,
        options: EngineOptions
    ) -> [Tensor] {
        var dz = consume gradient
        if stemBackward(
            &dz, adding: [], forward: forward, input: x, needs: needs, options: options, gradientScale: nil,
            keepingGradient: true) == .done
        {
            return []
        }
        return backward(
            outputGradient: consume dz, adding: [], forward: forward, input: x, needs: needs, options: options
        ).inputGradients
    }

    /// `backward(preActivation:…)`, with ∂L/∂x multiplied by the derivative of `inputActivation`
    /// (the activation whose output `x` is; the training plan's `appliesReaderDerivative`): inside
    /// the shared 1×1 pass for a ReLU-like one, else in a pass after.
    func backward(
        preActivation dz: Tensor, input x: Tensor, needs: GradientNeeds, options: EngineOptions,
        gradientScale: [Float]?, inputActivation: ActivationFunction?
    ) -> [Tensor] {
        guard let inputActivation else {
            return backward(preActivation: dz, input: x, needs: needs, options: options, gradientScale: gradientScale)
        }
        let g = geometry(height: x.shape[1], width: x.shape[2])
        if let bounds = inputActivation.clipBounds,
            sharesPass(g, gradient: dz, input: x, needs: needs, options: options)
        {
            if let (dw, db, dx) = PointwiseKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: needs.wants(bias),
                threads: Parallel.threadCount, columnScale: gradientScale, inputGradientOf: kernel.value,
                inputDerivative: bounds),
                let dx
            {
                accumulate(kernel: dw, bias: db, needs: needs)
                return [dx]
            }
        }
        var inputs = backward(preActivation: dz, input: x, needs: needs, options: options, gradientScale: gradientScale)
        if !inputs.isEmpty { inputs[0] = inputActivation.gradient(inputs[0], output: x) }
        return inputs
    }

    /// What `stemBackward` did with the gradient.
    enum StemOutcome {
        /// Both parameter gradients added (the gradient is the pre-activation one unless kept).
        case done
        /// Scratch memory was short after the derivative was applied in place: the gradient is the
        /// pre-activation one, and the parameter gradients are still to be taken.
        case preActivation
        /// The route does not apply, or a kept gradient's scratch memory was short: untouched.
        case notTaken
    }

    /// A stem whose input needs no gradient (the image) with a ReLU-like activation: its kernel
    /// and bias gradients over gathered patches (`StemKernelGradient`) with the derivative of
    /// `gradient` plus `others` applied inside that pass, in place, or in scratch when
    /// `keepingGradient` (the caller has no use for the pre-activation gradient).
    func stemBackward(
        _ dz: inout Tensor, adding others: [Tensor], forward: LayerOutput, input x: Tensor, needs: GradientNeeds,
        options: EngineOptions, gradientScale: [Float]?, keepingGradient: Bool
    ) -> StemOutcome {
        let g = geometry(height: x.shape[1], width: x.shape[2])
        guard let bounds = activation.clipBounds, others.count <= 1, others.allSatisfy({ $0.shape == dz.shape }),
            forward.output.shape == dz.shape, !needs.contains(.input), needs.wants(kernel),
            options.convolution == .auto, StemKernelGradient.fits(g, channels: x.shape[3]),
            options.convolutionPrecision(g, channels: x.shape[3], filters: filters) == .fp32
        else { return .notTaken }
        let (result, applied) = StemKernelGradient.run(
            input: x, gradient: &dz, other: others.first, output: forward.output, bounds: bounds,
            keepingGradient: keepingGradient, geometry: g, filters: filters, bias: needs.wants(bias),
            threads: Parallel.threadCount, columnScale: gradientScale)
        if let (dw, db) = result {
            accumulate(kernel: dw, bias: db, needs: needs)
            return .done
        }
        return applied && !keepingGradient ? .preActivation : .notTaken
    }

    /// Adds the kernel and bias gradients into the parameters, each where `needs` asks for it.
    private func accumulate(kernel dw: Tensor?, bias db: Tensor, needs: GradientNeeds) {
        if let dw, needs.wants(kernel) { kernel.accumulateGradient(dw) }
        if let bias, needs.wants(bias) { bias.accumulateGradient(db) }
    }

    /// Whether both gradients of this layer take one pass over `dz` (`PointwiseKernelGradient`):
    /// a wide 1×1 stride-1 float32 layer whose kernel and input gradients are wanted.
    private func sharesPass(
        _ g: WindowGeometry, gradient dz: Tensor, input x: Tensor, needs: GradientNeeds, options: EngineOptions
    ) -> Bool {
        options.convolution == .auto && options.convolutionPrecision(g, channels: x.shape[3], filters: filters) == .fp32
            && needs.wants(kernel) && needs.contains(.input) && g.isPointwise
            && max(dz.count, x.count) >= PointwiseKernelGradient.sharedPassValues
            && PointwiseKernelGradient.fits(g, channels: x.shape[3])
    }

    /// The kernel gradient (nil unless `kernel`) and the bias gradient `[F]` (zeros from the
    /// pointwise route unless `bias`): Winograd (`WinogradKernelGradient`) for 3×3 stride-1
    /// layers with enough tiles, a GEMM split over rows (`PointwiseKernelGradient`) for 1×1
    /// stride-1 layers of up to 512 inputs and strided 1×1 layers; for the rest im2col + GEMM on
    /// 3×3 layers with 512 or more filters and oneDNN's backward-weights primitive on the others
    /// (GEMM where oneDNN declines). The rule is fixed, not timed at run time, so that a run and its resumed or
    /// repeated twin sum in the same order and end bitwise equal. GEMM against oneDNN, measured
    /// per layer on VGG16 batch 16, one thread of the 2-core Xeon (ms, GEMM/oneDNN): the
    /// 512-filter 3×3 layers 100/109, 103/104, 147/151, 451/532, 400/500, 228/315; the narrower
    /// ones 449/522, 470/469, 274/225, 545/490, 251/249, 612/510, 118/103.
    private func weightGradients(
        _ dz: Tensor, input x: Tensor, geometry g: WindowGeometry, onednn: Bool, kernel wantsKernel: Bool,
        bias wantsBias: Bool, scale: [Float]?
    ) -> (kernel: Tensor?, bias: Tensor) {
        let threads = Parallel.threadCount  // read once: the route and its slices follow it
        if onednn, wantsKernel,
            let side = WinogradKernelGradient.tileSide(
                g, channels: x.shape[3], filters: filters, batch: x.shape[0], threads: threads),
            let (dw, db) = WinogradKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, tileSide: side, threads: threads,
                columnScale: scale)
        {
            return (dw, db)
        }
        if onednn, wantsKernel, PointwiseKernelGradient.fits(g, channels: x.shape[3]),
            let (dw, db) = PointwiseKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: wantsBias, threads: threads,
                columnScale: scale)
        {
            return (dw, db)
        }
        if onednn, wantsKernel, StemKernelGradient.fits(g, channels: x.shape[3]),
            let (dw, db) = StemKernelGradient.run(
                input: x, gradient: dz, geometry: g, filters: filters, bias: wantsBias, threads: threads,
                columnScale: scale)
        {
            return (dw, db)
        }
        let gemmWins = g.kernelHeight == 3 && g.kernelWidth == 3 && filters >= 512
        guard onednn, !gemmWins,
            let (dw, db) = backwardKernels.weightGradients(
                backwardShape(g, channels: x.shape[3]), kernelShape: kernel.value.shape, input: x, gradient: dz)
        else { return Self.scaled(gemmWeightGradients(dz, input: x, geometry: g, kernel: wantsKernel), by: scale) }
        return Self.scaled((dw, db), by: scale)
    }

    /// Kernel and bias gradients with their output channels multiplied by `scale` (when given).
    private static func scaled(_ gradients: (kernel: Tensor?, bias: Tensor), by scale: [Float]?) -> (
        kernel: Tensor?, bias: Tensor
    ) {
        guard let scale else { return gradients }
        return (gradients.kernel?.scaledPerColumn(by: scale), gradients.bias.scaledPerColumn(by: scale))
    }

    /// The backward pass in bfloat16: the input, `dz` and the kernel rounded to bfloat16, products
    /// accumulated in float32, every gradient float32 (what a bf16 training step does on AMX or
    /// AVX512_BF16 CPUs). `native` runs oneDNN's bf16 primitives; otherwise, and where oneDNN
    /// declines a bf16 shape, the same rounding is applied to copies that the float32 routes
    /// take (products of two bfloat16 values are exact in float32, so the two differ only in
    /// summation order).
    private func reducedPrecisionBackward(
        _ dz: Tensor, input x: Tensor, geometry g: WindowGeometry, needs: GradientNeeds, native: Bool,
        gradientScale: [Float]?
    ) -> [Tensor] {
        let shape = backwardShape(g, channels: x.shape[3])
        let (wantsKernel, wantsBias) = (needs.wants(kernel), needs.wants(bias))
        if native, wantsKernel, needs.contains(.input),
            let (dx, dw, db) = backwardKernels.gradients(
                shape, kernel: kernel.value, input: x, gradient: dz, bf16: true)
        {
            let (scaledKernel, scaledBias) = Self.scaled((dw, db), by: gradientScale)
            accumulate(kernel: scaledKernel, bias: scaledBias, needs: needs)
            return [dx]
        }
        lazy var roundedGradient = dz.roundedToBFloat16()  // made once, only where a route takes it
        if wantsKernel || wantsBias {
            var computed: (kernel: Tensor?, bias: Tensor)?
            if native,
                let (dw, db) = backwardKernels.weightGradients(
                    shape, kernelShape: kernel.value.shape, input: x, gradient: dz, bf16: true)
            {
                computed = (dw, db)
            }
            let (dw, db) = Self.scaled(
                computed
                    ?? {
                        let input = x.roundedToBFloat16()
                        if let (dw, db) = backwardKernels.weightGradients(
                            shape, kernelShape: kernel.value.shape, input: input, gradient: roundedGradient)
                        {
                            return (dw, db)
                        }
                        return gemmWeightGradients(roundedGradient, input: input, geometry: g, kernel: wantsKernel)
                    }(), by: gradientScale)
            accumulate(kernel: dw, bias: db, needs: needs)
        }
        guard needs.contains(.input) else { return [] }
        if native,
            let dx = backwardKernels.inputGradient(
                shape, kernel: kernel.value, input: x.shape, gradient: dz, bf16: true)
        {
            return [dx]
        }
        let weights = kernel.value.roundedToBFloat16()
        if let dx = backwardKernels.inputGradient(shape, kernel: weights, input: x.shape, gradient: roundedGradient) {
            return [dx]
        }
        return ConvolutionGEMM.backward(
            input: x, geometry: g, kernel: weights, filters: filters, gradient: roundedGradient, kernelGradient: nil,
            needsInputGradient: true
        ).map { [$0] } ?? []
    }

    /// Kernel and bias gradients as im2col + GEMM tiles and column sums.
    private func gemmWeightGradients(
        _ dz: Tensor, input x: Tensor, geometry g: WindowGeometry, kernel wantsKernel: Bool
    )
        -> (kernel: Tensor?, bias: Tensor)
    {
        var kernelGradient = wantsKernel ? Tensor(zeros: kernel.value.shape) : nil
        _ = kernelGradient.withOptionalMutablePointer { dw in
            ConvolutionGEMM.backward(
                input: x, geometry: g, kernel: kernel.value, filters: filters, gradient: dz, kernelGradient: dw,
                needsInputGradient: false)
        }
        return (kernelGradient, ConvolutionGEMM.biasGradient(dz, filters: filters))
    }

    /// This layer's shape for oneDNN's backward primitives.
    func backwardShape(_ g: WindowGeometry, channels: Int) -> OneDNNConvolutionBackward.Shape {
        OneDNNConvolutionBackward.Shape(geometry: g, channels: channels, filters: filters)
    }
}
