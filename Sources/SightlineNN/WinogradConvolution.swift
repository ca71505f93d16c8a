internal import CKernels
import SightlineCore

/// Winograd convolution on NHWC (`Sources/CKernels/winograd.c`) for 3×3 stride-1 undilated
/// layers with channel counts that are multiples of 16, on CPUs with AVX2+FMA or AVX-512:
/// F(4×4,3×3) (4× fewer multiplications than direct convolution) and, for small maps,
/// F(2×2,3×3) (2.25× fewer). Kernels are transformed once, in float64, when the plan is built.
/// Error against a float64 convolution: about 1e-5 of scale per layer.
///
/// The tile size is chosen per run from the batch: a run needs at least `minimumTiles` tiles to
/// keep the cores busy and to pay for reading the transformed kernel (4× the weights for F(4×4),
/// 16/9 for F(2×2)). Below that in 4×4 tiles it takes 2×2 tiles, and below that too (7×7 maps
/// at batch 1) oneDNN's direct convolution. Measured on the 2-core EPYC (AVX2),
/// `bench/winograd_layers.c`, minimum of 25 runs, batch 1: 14×14×256 F(2×2) 0.74 ms against
/// F(4×4) 2.29 ms and oneDNN 2.22 ms; 14×14×512 4.78 / 4.69 / 9.00 ms; 7×7×512 2.30 / 4.90 /
/// 2.57 ms; from 32 4×4 tiles up (28×28 at batch 1, 14×14 at batch 2) F(4×4) is ahead or level.
final class WinogradConvolution: ConvolutionKernel {
    /// Prepared transforms by output tile side: 4, and 2 for maps with fewer than
    /// `minimumTiles` 4×4 tiles per image.
    private let plans: [Int: OpaquePointer]
    /// oneDNN, prepared for maps with fewer than `minimumTiles` 2×2 tiles per image.
    private let small: (any ConvolutionKernel)?
    private let geometry: WindowGeometry
    /// The reference route, for a run that finds no scratch memory: made then, from the kernel
    /// as given (rotated first when `flipped`).
    private let fallback: () -> ReferenceConvolution
    static let minimumTiles = 32

    /// Whether the geometry and channels suit this kernel (the CPU is checked on creation).
    static func fits(_ g: WindowGeometry, channels: Int, filters: Int) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1 && g.dilationY == 1
            && g.dilationX == 1
            && channels % 16 == 0 && filters % 16 == 0 && channels > 0 && filters > 0
    }

    /// Output tiles of side `side` covering a batch of `batch` outputs of geometry `g`.
    static func tiles(_ batch: Int, _ g: WindowGeometry, side: Int) -> Int {
        batch * ((g.outputHeight + side - 1) / side) * ((g.outputWidth + side - 1) / side)
    }

    /// The output tile side a batch of `batch` runs with on geometry `g`: 4 from `minimumTiles`
    /// 4×4 tiles, else 2 from `minimumTiles` 2×2 tiles, else nil (oneDNN's direct convolution).
    static func side(batch: Int, _ g: WindowGeometry) -> Int? {
        if tiles(batch, g, side: 4) >= minimumTiles { return 4 }
        return tiles(batch, g, side: 2) >= minimumTiles ? 2 : nil
    }

    /// Prepares `conv`; nil when the CPU lacks AVX2+FMA and AVX-512 or the shape does not fit.
    /// With `batch` (a kernel made for one batch size: a training pass rebuilds its kernels for
    /// every step's weights) only the tile side that batch runs with is transformed, and nil is
    /// returned where it runs oneDNN's direct convolution; without, every batch size is served.
    convenience init?(
        _ conv: Conv2D, geometry g: WindowGeometry, channels: Int, activation: FusedActivation, batch: Int? = nil
    ) {
        var sides: [Int]?
        if let batch {
            guard let side = Self.side(batch: batch, g) else { return nil }
            sides = [side]
        }
        let needsSmall = sides == nil && Self.tiles(1, g, side: 2) < Self.minimumTiles
        self.init(
            kernel: conv.kernel.value, bias: conv.bias?.value, geometry: g, channels: channels, filters: conv.filters,
            activation: activation,
            small: needsSmall ? OneDNNConvolution(conv, geometry: g, channels: channels, activation: activation) : nil,
            tileSides: sides)
    }

    /// Prepares an HWIO `[3, 3, channels, filters]` kernel for geometry `g`, with the tile sides
    /// `tileSides` (default: 4, plus 2 where the map has fewer than `minimumTiles` 4×4 tiles).
    /// With `flipped`, `kernel` is another layer's `[3, 3, filters, channels]`, used rotated by
    /// 180° with its channels swapped (`rotated(_:)`), without making that copy: the convolution
    /// that gives that layer's input gradient.
    init?(
        kernel: Tensor, flipped: Bool = false, bias: Tensor?, geometry g: WindowGeometry, channels: Int,
        filters: Int, activation: FusedActivation, small: (any ConvolutionKernel)? = nil, tileSides: [Int]? = nil
    ) {
        guard Self.fits(g, channels: channels, filters: filters) else { return nil }
        var plans: [Int: OpaquePointer] = [:]
        for side in tileSides ?? (Self.tiles(1, g, side: 4) < Self.minimumTiles ? [4, 2] : [4]) {
            var message = [CChar](repeating: 0, count: 256)
            let made = kernel.withUnsafeBufferPointer { w in
                bias.withOptionalPointer { b in
                    sl_winograd_create(
                        w.baseAddress, flipped ? 1 : 0, b, Int32(channels), Int32(filters), Int32(g.inputHeight),
                        Int32(g.inputWidth),
                        Int32(g.outputHeight), Int32(g.outputWidth), Int32(g.padTop), Int32(g.padLeft),
                        activation.kind, activation.max, Int32(side), &message, message.count)
                }
            }
            if let made { plans[side] = made }
        }
        guard !plans.isEmpty else { return nil }
        self.plans = plans
        geometry = g
        self.small = small
        fallback = {
            ReferenceConvolution(
                kernel: flipped ? Self.rotated(kernel) : kernel, bias: bias, filters: filters, geometry: g,
                activation: activation.function)
        }
    }

    /// An HWIO `[3, 3, C, F]` kernel rotated by 180° with its channels swapped: `[3, 3, F, C]`.
    static func rotated(_ kernel: Tensor) -> Tensor {
        let (channels, filters) = (kernel.shape[2], kernel.shape[3])
        let w = kernel.scalars
        return Tensor(shape: [3, 3, filters, channels]) { out in
            for ky in 0..<3 {
                for kx in 0..<3 {
                    for f in 0..<filters {
                        for c in 0..<channels {
                            out[((ky * 3 + kx) * filters + f) * channels + c] =
                                w[(((2 - ky) * 3 + (2 - kx)) * channels + c) * filters + f]
                        }
                    }
                }
            }
        }
    }

    deinit { for plan in plans.values { sl_winograd_destroy(plan) } }

    var summary: String {
        "winograd F(4x4,3x3)" + (plans[2] == nil ? "" : ", F(2x2) under \(Self.minimumTiles) tiles")
            + (small == nil ? "" : ", onednn under \(Self.minimumTiles) 2x2 tiles")
    }

    /// The output tile side a batch of `batch` runs with (nil: the oneDNN kernel runs it).
    func tileSide(batch: Int) -> Int? {
        if plans.count == 1, let only = plans.keys.first { return only }  // made for one batch size
        return Self.side(batch: batch, geometry) ?? (small == nil ? 2 : nil)
    }

    func run(_ input: Tensor, into output: inout Tensor, accumulate: Bool) {
        let batch = input.shape[0]
        guard let side = tileSide(batch: batch) else {
            small?.run(input, into: &output, accumulate: accumulate)
            return
        }
        let failed =
            plans[side].map { plan in
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { y in
                        sl_winograd_run(plan, x.baseAddress, Int32(batch), y.baseAddress, accumulate ? 1 : 0)
                    }
                }
            } ?? 1
        // No scratch memory in any thread: the reference path needs far less.
        if failed != 0 { fallback().run(input, into: &output, accumulate: accumulate) }
    }
}
