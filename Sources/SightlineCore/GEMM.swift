internal import CBLAS
internal import CDNNL
internal import CKernels
import Foundation

/// The library that performs Sightline's matrix products.
///
/// Chosen by measurement on the convolution shapes of VGG16 and ResNet50 (`bench/gemm_backends.c`,
/// figures in docs/benchmarks.md): oneDNN's sgemm was 10–60% faster than OpenBLAS on every shape, so it is
/// the engine's only choice; OpenBLAS stays callable (`GEMM.multiply(backend:)`), for comparisons and tests.
public enum GEMMBackend: String, Sendable, CaseIterable {
    case onednn
    case openblas
}

/// Single-precision matrix products on row-major matrices: `C = alpha * op(A) * op(B) + beta * C`,
/// with `op(A)` of shape `[m, k]`, `op(B)` of shape `[k, n]` and `C` of shape `[m, n]`.
public enum GEMM {
    /// Computes `C = alpha * op(A) · op(B) + beta * C` for row-major matrices with leading
    /// dimensions `lda`, `ldb`, `ldc` (elements between consecutive rows as stored).
    public static func multiply(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        backend: GEMMBackend = .onednn
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // An empty sum: C = beta * C.
            for row in 0..<m { for col in 0..<n { c[row * ldc + col] *= beta } }
            return
        }
        switch backend {
        case .onednn:
            sl_use_configured_threads()
            let status = dnnl_sgemm(
                CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
            precondition(status == dnnl_success, "dnnl_sgemm rejected m=\(m) n=\(n) k=\(k) (status \(status))")
        case .openblas:
            cblas_sgemm(
                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
}
