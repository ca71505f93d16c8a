import Foundation

/// The one-cycle policy of PyTorch's `OneCycleLR` (two phases, cosine annealing, momentum
/// cycled), the schedule of fastai's `fit_one_cycle`: over the first `warmupFraction` of the
/// steps the learning rate rises from `peak / 25` to `peak` while the momentum falls from 0.95
/// to 0.85; over the rest the rate falls to `peak / 25 / 10⁴` and the momentum rises back.
/// Rates are set before every optimizer step, not per epoch.
public struct OneCycle: Sendable, Equatable {
    /// The highest rate, reached at the end of the warm-up.
    public var peak: Float
    /// Optimizer steps in the whole cycle.
    public var steps: Int
    /// The share of the steps spent warming up (PyTorch's `pct_start`, 0.3 by default).
    public var warmupFraction: Double
    /// `peak / divisor` is the starting rate (PyTorch's `div_factor`).
    public var divisor = 25.0
    /// The starting rate divided by this is the final rate (PyTorch's `final_div_factor`).
    public var finalDivisor = 1e4
    /// The momentum at the start and end of the cycle, and at the peak rate.
    public var momentum: (high: Double, low: Double) = (0.95, 0.85)

    public init(peak: Float, steps: Int, warmupFraction: Double) {
        (self.peak, self.steps, self.warmupFraction) = (peak, steps, warmupFraction)
    }

    /// The learning rate and momentum before optimizer step `step` (0-based).
    public func values(at step: Int) -> (rate: Float, momentum: Float) {
        let initial = Double(peak) / divisor
        let final = initial / finalDivisor
        // PyTorch's phase ends: the warm-up's is fractional, and the second phase starts there.
        let warmupEnd = warmupFraction * Double(steps) - 1
        let lastStep = Double(steps - 1)
        let s = Double(step)
        let warming = s <= warmupEnd
        let (start, end) = warming ? (0.0, warmupEnd) : (warmupEnd, lastStep)
        let fraction = end > start ? (s - start) / (end - start) : 1
        func anneal(_ from: Double, _ to: Double) -> Double { to + (from - to) / 2 * (cos(Double.pi * fraction) + 1) }
        let rate = warming ? anneal(initial, Double(peak)) : anneal(Double(peak), final)
        let momentum =
            warming ? anneal(self.momentum.high, self.momentum.low) : anneal(self.momentum.low, self.momentum.high)
        return (Float(rate), Float(momentum))
    }

    /// Sets `optimizer`'s rate and cycled momentum (SGD's momentum when it has one, Adam's β₁)
    /// for step `step`.
    public func apply(to optimizer: any Optimizer, step: Int) {
        let (rate, momentum) = values(at: step)
        optimizer.learningRate = rate
        optimizer.cycledMomentum = momentum
    }

    public static func == (a: OneCycle, b: OneCycle) -> Bool {
        (a.peak, a.steps, a.warmupFraction, a.divisor, a.finalDivisor) == (
            b.peak, b.steps, b.warmupFraction, b.divisor, b.finalDivisor
        ) && a.momentum == b.momentum
    }
}
