internal import CKernels
import Foundation
import SightlineCore

/// oneDNN's pooling primitive on NHWC (`Sources/CKernels/onednn.c`): max, or average over the
/// in-image taps only (TensorFlow's `same`, which Keras inherits). One primitive per input
/// shape `[N, H, W, C]` seen; nil from `run` when oneDNN declines, so the caller falls back.
final class OneDNNPooling {
    private let kind: Pooling2D.Kind
    private let lock = NSLock()
    private var primitives: [[Int]: OpaquePointer?] = [:]

    init(kind: Pooling2D.Kind) { self.kind = kind }

    deinit { for case let primitive? in primitives.values { sl_dnnl_pool_destroy(primitive) } }

    /// The pooled `[N, OH, OW, C]` output of NHWC `input` under geometry `g`, or nil.
    func run(_ input: Tensor, geometry g: WindowGeometry) -> Tensor? {
        let shape = input.shape
        let primitive: OpaquePointer? = lock.withLock {
            if let cached = primitives[shape] { return cached }
            var message = [CChar](repeating: 0, count: 256)
            let made = sl_dnnl_pool_create(
                Int32(shape[0]), Int32(g.inputHeight), Int32(g.inputWidth), Int32(shape[3]), Int32(g.kernelHeight),
                Int32(g.kernelWidth), Int32(g.strideY), Int32(g.strideX), Int32(g.padTop), Int32(g.padLeft),
                Int32(g.outputHeight), Int32(g.outputWidth), kind == .average ? 1 : 0, &message, message.count)
            primitives[shape] = made
            return made
        }
        guard let primitive else { return nil }
        var failed: Int32 = 0
        let output = Tensor(shape: [shape[0], g.outputHeight, g.outputWidth, shape[3]]) { out in
            failed = input.withUnsafeBufferPointer { x in sl_dnnl_pool_run(primitive, x.baseAddress, out.baseAddress) }
        }
        return failed == 0 ? output : nil
    }
}
