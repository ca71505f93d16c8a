import Foundation
import SightlineCore

/// The kernels a `Conv2D` prepared for its current weights when it runs on its own (training
/// tape, Grad-CAM's recorded head): one for the forward pass per input shape, and, for 3×3
/// stride-1 layers, a Winograd kernel for the input gradient. Rebuilt when the weights change
/// (`Parameter.version`), which an optimizer step does; preparing costs one pass over the weights.
/// Kernels are kept per engine settings: graphs that share the layer may run it differently.
final class ConvolutionKernelCache {
    private struct Key: Hashable {
        var shape: [Int]
        var version: Int
        var backward: Bool
        var options: EngineOptions
        /// The Winograd tile side the batch runs with (nil: not a Winograd layer, or oneDNN's).
        var tileSide: Int?
    }

    private let lock = NSLock()
    private var kernels: [Key: (kernel: (any ConvolutionKernel)?, remaining: ActivationFunction)] = [:]

    /// The forward kernel of `conv` for a batch of `batch` inputs `[H, W, C]`, and the activation
    /// left to apply. Made for the tile side that batch runs with only (a batch that runs with
    /// another gets a kernel of its own): the weights change with every training step, so the
    /// other side's transform would be made for each step and never run.
    func forward(_ conv: Conv2D, input shape: [Int], batch: Int, options: EngineOptions) -> (
        kernel: any ConvolutionKernel, remaining: ActivationFunction
    ) {
        let g = conv.geometry(height: shape[0], width: shape[1])
        let side =
            WinogradConvolution.fits(g, channels: shape[2], filters: conv.filters)
            ? WinogradConvolution.side(batch: batch, g) : nil
        let key = Key(shape: shape, version: version(conv), backward: false, options: options, tileSide: side)
        return lock.withLock {
            if let cached = kernels[key], let kernel = cached.kernel { return (kernel, cached.remaining) }
            evict(version: key.version)
            let made = ConvolutionKernels.make(
                conv, height: shape[0], width: shape[1], channels: shape[2], activation: conv.activation,
                options: options, batch: batch)
            kernels[key] = (made.kernel, made.remaining)
            return made
        }
    }

    /// A kernel computing ∂L/∂input `[N, H, W, C]` from ∂L/∂(pre-activation output)
    /// `[N, OH, OW, F]` for a batch of `batch`, or nil when the layer is not a 3×3 stride-1
    /// convolution Winograd takes, or the batch has too few 2×2 tiles for Winograd to pay
    /// (`WinogradConvolution.minimumTiles`; the GEMM path runs then).
    ///
    /// For stride 1, `dx[i] = Σₖ dy[i − k + p] · w[k]`: a convolution of `dy` with the kernel
    /// rotated 180° and its input/output channels swapped, padded by `2 − p` before the map, so
    /// Winograd applies to the backward pass as to the forward one.
    func inputGradient(_ conv: Conv2D, input shape: [Int], batch: Int, options: EngineOptions) -> (
        any ConvolutionKernel
    )? {
        guard options.convolution == .auto else { return nil }
        let g = conv.geometry(height: shape[0], width: shape[1])
        let channels = shape[2]
        let filters = conv.filters
        guard WinogradConvolution.fits(g, channels: channels, filters: filters), g.padTop <= 2, g.padLeft <= 2 else {
            return nil
        }
        // The backward convolution's outputs are the input's `[H, W]` pixels.
        let pixels = WindowGeometry(inputHeight: shape[0], inputWidth: shape[1], kernel: (3, 3), padding: .same)
        guard let side = WinogradConvolution.side(batch: batch, pixels) else { return nil }
        let key = Key(shape: shape, version: version(conv), backward: true, options: options, tileSide: side)
        return lock.withLock {
            if let cached = kernels[key] { return cached.kernel }
            evict(version: key.version)
            let top = 2 - g.padTop
            let left = 2 - g.padLeft
            let bottom = g.inputHeight - g.outputHeight + 2 - top
            let right = g.inputWidth - g.outputWidth + 2 - left
            var made: (any ConvolutionKernel)?
            if bottom >= 0, right >= 0 {
                let backward = WindowGeometry(
                    inputHeight: g.outputHeight, inputWidth: g.outputWidth, kernel: (3, 3),
                    padding: .explicit(top: top, bottom: bottom, left: left, right: right))
                made = WinogradConvolution(
                    kernel: conv.kernel.value, flipped: true, bias: nil, geometry: backward, channels: filters,
                    filters: channels, activation: .none, tileSides: [side])
            }
            kernels[key] = (made, .linear)
            return made
        }
    }

    private func version(_ conv: Conv2D) -> Int {
        conv.parameters.reduce(0) { $0 &+ $1.version }
    }

    /// Drops the forward kernels (a training pass's folded copy of a layer needs its forward
    /// kernel, Winograd's transformed weights included, only until its forward has run).
    func dropForwardKernels() {
        lock.withLock { kernels = kernels.filter { $0.key.backward } }
    }

    /// Drops kernels made for older weights (called with the lock held).
    private func evict(version: Int) {
        kernels = kernels.filter { $0.key.version == version }
    }
}
