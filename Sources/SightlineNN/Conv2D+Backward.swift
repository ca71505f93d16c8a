import Dispatch
import SightlineCore

/// The backward pass of `Conv2D`, with its kernels chosen per layer:
/// - input gradient: Winograd for 3×3 stride-1 layers (the backward of a convolution is a
///   convolution with the flipped kernel, `ConvolutionKernelCache.inputGradient`), else oneDNN's
///   backward-data primitive, else im2col + GEMM with col2im;
/// - kernel and bias gradients: oneDNN's backward-weights primitive or im2col + GEMM tiles
///   (`ConvolutionGEMM.backward`), whichever ran faster on this layer's shape and batch the first
///   time both were timed (`OneDNNConvolutionBackward.weightsRoute`): oneDNN 2.6's f32
///   backward-weights kernel on NHWC loses to a plain GEMM on some shapes and wins on others.
extension Conv2D {
    /// Backward from ∂L/∂(pre-activation output) `dz` `[N, OH, OW, F]`: adds the kernel and
    /// bias gradients as `needs` asks and returns `[∂L/∂x]` when it asks for the input's.
    func backward(preActivation dz: Tensor, input x: Tensor, needs: GradientNeeds, options: EngineOptions)
        -> [Tensor]
    {
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let onednn = options.convolution == .auto && options.precision == .fp32
        let (wantsKernel, wantsBias) = (needs.wants(kernel), needs.wants(bias))
        if wantsKernel || wantsBias {
            let (dw, db) = weightGradients(dz, input: x, geometry: g, onednn: onednn, kernel: wantsKernel)
            if let dw, wantsKernel { kernel.accumulateGradient(dw) }
            if let bias, wantsBias { bias.accumulateGradient(db) }
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

    /// The kernel gradient (nil unless `kernel`) and the bias gradient `[F]`, through the route
    /// measured fastest for this shape (timing both routes the first time).
    private func weightGradients(
        _ dz: Tensor, input x: Tensor, geometry g: WindowGeometry, onednn: Bool, kernel wantsKernel: Bool
    ) -> (kernel: Tensor?, bias: Tensor) {
        let shape = backwardShape(g, channels: x.shape[3])
        guard onednn else { return gemmWeightGradients(dz, input: x, geometry: g, kernel: wantsKernel) }
        switch backwardKernels.weightsRoute(shape, batch: x.shape[0]) {
        case .gemm:
            return gemmWeightGradients(dz, input: x, geometry: g, kernel: wantsKernel)
        case .onednn:
            if let (dw, db) = backwardKernels.weightGradients(
                shape, kernelShape: kernel.value.shape, input: x, gradient: dz)
            {
                return (dw, db)
            }
            return gemmWeightGradients(dz, input: x, geometry: g, kernel: wantsKernel)
        case nil:
            guard backwardKernels.prepareWeights(shape, batch: x.shape[0]) else {
                backwardKernels.setWeightsRoute(.gemm, shape, batch: x.shape[0])
                return gemmWeightGradients(dz, input: x, geometry: g, kernel: wantsKernel)
            }
            var started = DispatchTime.now().uptimeNanoseconds
            let viaOneDNN = backwardKernels.weightGradients(
                shape, kernelShape: kernel.value.shape, input: x, gradient: dz)
            let onednnTime = DispatchTime.now().uptimeNanoseconds - started
            started = DispatchTime.now().uptimeNanoseconds
            let viaGEMM = gemmWeightGradients(dz, input: x, geometry: g, kernel: true)
            let gemmTime = DispatchTime.now().uptimeNanoseconds - started
            let faster: OneDNNConvolutionBackward.WeightsRoute =
                viaOneDNN != nil && onednnTime <= gemmTime ? .onednn : .gemm
            backwardKernels.setWeightsRoute(faster, shape, batch: x.shape[0])
            return viaGEMM
        }
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
