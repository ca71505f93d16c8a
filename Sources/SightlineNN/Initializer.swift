import Foundation
import SightlineCore

/// Keras-style weight initialisers, drawn from a `SeededGenerator`.
///
/// Fans follow Keras: for a kernel `[KH, KW, C, F]`, `fanIn = KH·KW·C` and `fanOut = KH·KW·F`;
/// for a dense kernel `[in, out]`, `fanIn = in`, `fanOut = out`.
public enum Initializer: Sendable, Equatable {
    /// Uniform in `±sqrt(6 / (fanIn + fanOut))` (Keras's default kernel initialiser).
    case glorotUniform
    /// Truncated normal (±2σ) with `σ = sqrt(2 / fanIn) / 0.8796…` (Keras `he_normal`).
    case heNormal
    /// Uniform in `±sqrt(6 / fanIn)` (Keras `he_uniform`).
    case heUniform
    case zeros
    case ones
    /// The same value everywhere.
    case constant(Float)

    /// Keras's fans for a weight shape.
    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        case 2: return (shape[0], shape[1])
        default:
            let receptive = shape.dropLast(2).reduce(1, *)
            return (receptive * shape[shape.count - 2], receptive * shape[shape.count - 1])
        }
    }

    /// A new tensor of `shape` drawn from this initialiser.
    public func tensor(shape: [Int], generator: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = Self.fans(of: shape)
        switch self {
        case .zeros: return Tensor(zeros: shape)
        case .ones: return Tensor(repeating: 1, shape: shape)
        case .constant(let value): return Tensor(repeating: value, shape: shape)
        case .glorotUniform:
            return uniform(
                shape: shape, limit: Float((6.0 / Double(fanIn + fanOut)).squareRoot()), generator: &generator)
        case .heUniform:
            return uniform(shape: shape, limit: Float((6.0 / Double(fanIn)).squareRoot()), generator: &generator)
        case .heNormal:
            let sigma = Float((2.0 / Double(fanIn)).squareRoot() / 0.879_625_661_034_239_78)
            return Tensor(shape: shape) { buffer in
                for i in 0..<buffer.count {
                    var sample = generator.nextNormal()
                    while abs(sample) > 2 { sample = generator.nextNormal() }
                    buffer[i] = sample * sigma
                }
            }
        }
    }

    private func uniform(shape: [Int], limit: Float, generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { buffer in
            for i in 0..<buffer.count { buffer[i] = (generator.nextUnitFloat() * 2 - 1) * limit }
        }
    }
}
