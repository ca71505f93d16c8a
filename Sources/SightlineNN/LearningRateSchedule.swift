import Foundation

/// How the learning rate changes over the epochs of a training phase.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Linear warm-up over `warmupEpochs`, then cosine decay to 0 at the last epoch.
    case cosine(warmupEpochs: Int)
    /// The rate times `factor` every `every` epochs.
    case step(every: Int, factor: Float)
    /// The rate times `factor` after `patience` epochs without a better validation accuracy
    /// (Keras `ReduceLROnPlateau`); the trainer keeps the state.
    case plateau(patience: Int, factor: Float)
    /// PyTorch's `OneCycleLR` over the phase's steps (`OneCycle`), peaking at the base rate
    /// after `warmupFraction` of them; set before every step, momentum cycled.
    case oneCycle(warmupFraction: Double)

    /// Parses `constant`, `cosine`, `cosine:WARMUP`, `step:EVERY:FACTOR`, `plateau:PATIENCE:FACTOR`,
    /// `one-cycle`, `one-cycle:WARMUP_FRACTION` (in (0, 1), 0.3 by default as in PyTorch).
    public init?(argument: String) {
        let parts = argument.split(separator: ":").map(String.init)
        switch parts.first {
        case "constant": self = .constant
        case "cosine": self = .cosine(warmupEpochs: parts.count > 1 ? Int(parts[1]) ?? 0 : 0)
        case "step":
            self = .step(
                every: parts.count > 1 ? Int(parts[1]) ?? 10 : 10,
                factor: parts.count > 2 ? Float(parts[2]) ?? 0.1 : 0.1)
        case "plateau":
            self = .plateau(
                patience: parts.count > 1 ? Int(parts[1]) ?? 2 : 2,
                factor: parts.count > 2 ? Float(parts[2]) ?? 0.5 : 0.5)
        case "one-cycle":
            let fraction = parts.count > 1 ? Double(parts[1]) : 0.3
            guard let fraction, fraction > 0, fraction < 1, parts.count <= 2 else { return nil }
            self = .oneCycle(warmupFraction: fraction)
        default: return nil
        }
    }

    /// The per-step cycle of a phase of `steps` optimizer steps peaking at `base`, for
    /// `oneCycle`; nil for the schedules set once per epoch.
    public func cycle(base: Float, steps: Int) -> OneCycle? {
        guard case .oneCycle(let fraction) = self else { return nil }
        return OneCycle(peak: base, steps: steps, warmupFraction: fraction)
    }

    /// The rate for epoch `epoch` (0-based) of `epochs` (`plateau` returns `base`; the trainer
    /// applies its reductions; `oneCycle` returns `base`: its `cycle` sets each step's).
    public func rate(base: Float, epoch: Int, epochs: Int) -> Float {
        switch self {
        case .constant, .plateau, .oneCycle:
            return base
        case .cosine(let warmup):
            if epoch < warmup { return base * Float(epoch + 1) / Float(warmup + 1) }
            let span = max(epochs - warmup, 1)
            return base * 0.5 * (1 + Float(cos(Double.pi * Double(epoch - warmup) / Double(span))))
        case .step(let every, let factor):
            return base * powf(factor, Float(epoch / max(every, 1)))
        }
    }
}

extension LearningRateSchedule {
    /// The schedule as `--schedule` spells it.
    public var argument: String {
        switch self {
        case .constant: return "constant"
        case .cosine(let warmup): return "cosine:\(warmup)"
        case .step(let every, let factor): return "step:\(every):\(factor)"
        case .plateau(let patience, let factor): return "plateau:\(patience):\(factor)"
        case .oneCycle(let fraction): return "one-cycle:\(fraction)"
        }
    }
}
