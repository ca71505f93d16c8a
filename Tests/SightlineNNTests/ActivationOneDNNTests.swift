import Foundation
import SightlineCore
import Testing

@testable import SightlineNN

/// Activations on tensors large enough for oneDNN's eltwise primitives (`ActivationFunction+OneDNN`)
/// against float64 formulas: forward, backward from the saved input or the output, in place and
/// beside the input. Smaller tensors keep the loops, which `GradientCheckTests` checks.
struct ActivationOneDNNTests {
    /// Values spread over [−8, 8] (both tails of every function), 70,000 of them: above
    /// `ActivationFunction.eltwiseMinimum`.
    static let input: Tensor = {
        var generator = SeededGenerator(seed: 11)
        return Tensor(shape: [7, 100, 100]) { for i in 0..<$0.count { $0[i] = (generator.nextUnitFloat() - 0.5) * 16 } }
    }()

    static func expected(_ f: ActivationFunction, _ v: Double) -> (value: Double, derivative: Double) {
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        switch f {
        case .swish: return (v * sigmoid(v), sigmoid(v) * (1 + v * (1 - sigmoid(v))))
        case .hardSilu: return (v * min(max(v + 3, 0), 6) / 6, v < -3 ? 0 : v > 3 ? 1 : (2 * v + 3) / 6)
        case .sigmoid: return (sigmoid(v), sigmoid(v) * (1 - sigmoid(v)))
        case .tanh: return (Foundation.tanh(v), 1 - Foundation.tanh(v) * Foundation.tanh(v))
        case .elu(let alpha): return (v > 0 ? v : Double(alpha) * expm1(v), v > 0 ? 1 : Double(alpha) * exp(v))
        case .gelu(false):
            return (
                0.5 * v * (1 + erf(v / 2.0.squareRoot())),
                0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            )
        case .gelu(true):
            let c = (2 / Double.pi).squareRoot()
            let t = Foundation.tanh(c * (v + 0.044715 * v * v * v))
            return (0.5 * v * (1 + t), 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v))
        default: return (.nan, .nan)
        }
    }

    /// The largest difference from `want`, over the largest magnitude of `want`.
    static func gap(_ got: [Float], _ want: [Double]) -> Double {
        let scale = want.map(abs).max() ?? 1
        return zip(got, want).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? .infinity
    }

    @Test(arguments: [
        ActivationFunction.swish, .hardSilu, .sigmoid, .tanh, .elu(alpha: 0.7), .gelu(approximate: false),
        .gelu(approximate: true),
    ])
    func matchesFloat64(_ f: ActivationFunction) throws {
        let x = Self.input
        #expect(x.count >= ActivationFunction.eltwiseMinimum && f.eltwise != nil)
        let reference = x.scalars.map { Self.expected(f, Double($0)) }
        // Beside the input, and in place: the same values, within 1e-6 of float64.
        var z = x
        let saved = f.fusedForward(&z)
        #expect(Self.gap(z.scalars, reference.map(\.value)) < 1e-6)
        #expect(saved.isEmpty != f.needsInput && saved.first.map { $0.scalars == x.scalars } != false)
        var inPlace = x
        f.apply(inPlace: &inPlace)
        #expect(inPlace.scalars == z.scalars)
        // Backward from an upstream gradient: ∂L/∂x within 1e-5 of float64 (ELU's and GELU's
        // polynomials round their small values coarser).
        var generator = SeededGenerator(seed: 12)
        let upstream = Tensor(shape: x.shape) { for i in 0..<$0.count { $0[i] = generator.nextUnitFloat() - 0.5 } }
        let dx = f.gradient(upstream, output: z, input: saved.first)
        let want = zip(upstream.scalars, reference).map { Double($0) * $1.derivative }
        #expect(Self.gap(dx.scalars, want) < 1e-5, "\(f): \(Self.gap(dx.scalars, want))")
        // The loops (a small tensor) agree with oneDNN on the same values.
        let small = Tensor(shape: [100], scalars: Array(x.scalars.prefix(100)))
        let loops = f.applied(to: small)
        #expect(Self.gap(loops.scalars, z.scalars.prefix(100).map(Double.init)) < 1e-6)
    }
}
