import Foundation

/// The loss over an exponential learning-rate sweep, fastai's `lr_find` (Smith, 2017): step i runs
/// at start · (end/start)^(i/steps), the loss is smoothed as fastai's recorder smooths it (moving
/// average β = 0.98, debiased), and the sweep stops when the smoothed loss passes 4 × its best.
/// `suggestions` are fastai's `valley` (its default), `steep`, `minimum` and `slide`, and
/// Sightline's `edge`, computed on the same window fastai uses (dropping the first tenth of the
/// steps and the last 5 points).
public struct LearningRateSweep: Sendable {
    /// The rate of each step taken, in order.
    public var rates: [Float]
    /// The smoothed loss after each step.
    public var losses: [Float]
    /// The steps asked for (fastai's `num_it`): the window starts at steps/10.
    public var steps: Int

    public init(rates: [Float], losses: [Float], steps: Int) {
        (self.rates, self.losses, self.steps) = (rates, losses, steps)
    }

    /// Step `index`'s rate of a sweep from `start` to `end` in `steps` steps.
    public static func rate(_ index: Int, start: Float, end: Float, steps: Int) -> Float {
        start * pow(end / start, Float(index) / Float(max(steps, 1)))
    }

    /// fastai's smoothing: v ← β·v + (1 − β)·loss, reported as v / (1 − β^count).
    public struct Smoother: Sendable {
        var value: Float = 0
        var count = 0
        public init() {}
        public mutating func add(_ loss: Float) -> Float {
            value = 0.98 * value + 0.02 * loss
            count += 1
            return value / (1 - pow(0.98, Float(count)))
        }
    }

    /// What the curve suggests.
    public struct Suggestions: Sendable, Equatable {
        /// About 2/3 down the longest descending run of the curve (fastai's default).
        public var valley: Float
        /// Where the loss falls fastest per decade.
        public var steep: Float
        /// A tenth of the rate at the lowest loss.
        public var minimum: Float
        /// Where the curve flattens into its minimum: from the right, the first point whose loss
        /// gradient is within 0.005 of that 15 points to its right (fastai's `slide`).
        public var slide: Float
        /// Half the rate at which the loss leaves its level for good, climbing into its peak (a
        /// tenth of the way up): where the sweep starts to diverge, backed off (Sightline's rule;
        /// not fastai's). It reads the rise into divergence, the largest feature of the curve, so
        /// batch-to-batch noise in a flat stretch cannot move it the way it moves `slide`
        /// (docs/fine-tuning.md).
        public var edge: Float
    }

    /// Which suggestion `finetune --lr auto[:RULE]` takes.
    public enum Rule: String, Sendable, CaseIterable {
        case edge, slide, valley, steep, minimum

        /// This rule's rate among `suggestions`.
        public func rate(_ suggestions: Suggestions) -> Float {
            switch self {
            case .edge: return suggestions.edge
            case .slide: return suggestions.slide
            case .valley: return suggestions.valley
            case .steep: return suggestions.steep
            case .minimum: return suggestions.minimum
            }
        }
    }

    /// nil when the sweep stopped too early to suggest anything.
    public var suggestions: Suggestions? {
        let first = steps / 10
        let end = rates.count - 5
        guard end - first >= 2 else { return nil }
        let (r, l) = (Array(rates[first..<end]), Array(losses[first..<end]))
        return Suggestions(
            valley: Self.valley(r, l), steep: Self.steep(r, l), minimum: Self.minimum(r, l), slide: Self.slide(r, l),
            edge: Self.edge(r, l))
    }

    /// The longest strictly decreasing subsequence of the losses (ESRI's rule, as fastai runs
    /// it); the rate a third and a sixth of the way into it.
    static func valley(_ rates: [Float], _ losses: [Float]) -> Float {
        var runs = [Int](repeating: 1, count: losses.count)
        var (start, end) = (0, 0)
        for i in 1..<losses.count {
            for j in 0..<i {
                if losses[i] < losses[j] && runs[i] < runs[j] + 1 { runs[i] = runs[j] + 1 }
                if runs[end] < runs[i] {
                    end = i
                    start = end - runs[end]
                }
            }
        }
        let sections = Double(end - start) / 3
        return rates[start + Int(sections) + Int(sections / 2)]
    }

    static func steep(_ rates: [Float], _ losses: [Float]) -> Float {
        let slopes = (1..<losses.count).map { (losses[$0] - losses[$0 - 1]) / (log(rates[$0]) - log(rates[$0 - 1])) }
        return rates[slopes.indices.min { slopes[$0] < slopes[$1] } ?? 0]
    }

    /// fastai's `slide` (lr_diff 15, thresh 0.005): the loss's gradient as numpy's `gradient`
    /// (central differences, one-sided at the ends); a pair of points 15 apart moves left from the
    /// right end while their gradients differ by more than the threshold; the rate at the left
    /// point where it stops (fastai fails on a window shorter than 16 points; Sightline takes the
    /// first rate).
    static func slide(_ rates: [Float], _ losses: [Float], difference: Int = 15, threshold: Double = 0.005) -> Float {
        let n = losses.count
        guard n > difference else { return rates[0] }
        let gradient = (0..<n).map { i -> Float in
            i == 0
                ? losses[1] - losses[0]
                : i == n - 1 ? losses[n - 1] - losses[n - 2] : (losses[i + 1] - losses[i - 1]) / 2
        }
        var (right, left) = (n - 1, n - 1 - difference)
        var suggestion = rates[left]
        while left >= 0 && Double(abs(gradient[right] - gradient[left])) > threshold {
            suggestion = rates[left]
            (right, left) = (right - 1, left - 1)
        }
        return suggestion
    }

    static func minimum(_ rates: [Float], _ losses: [Float]) -> Float {
        rates[losses.indices.min { losses[$0] < losses[$1] } ?? 0] / 10
    }

    /// `edge`: the peak is the highest loss after the lowest one (where the sweep diverges; a
    /// head that has not fit yet starts the curve high, and that start is not divergence). The
    /// curve's level is the median loss from where it first comes down to halfway between its
    /// lowest point and the peak, up to the peak (the median, not the lowest point, which noise
    /// sets); the run of points above level + (peak − level)/10 that ends at the peak starts where
    /// the loss leaves that level for good, and its rate halved is the suggestion. A curve that
    /// never rises after its lowest point gives half its last rate.
    static func edge(_ rates: [Float], _ losses: [Float]) -> Float {
        let lowest = losses.indices.min { losses[$0] < losses[$1] } ?? 0
        let peak = losses.indices[lowest...].max { losses[$0] < losses[$1] } ?? lowest
        guard losses[peak] > losses[lowest] else { return rates[rates.count - 1] / 2 }
        let halfway = (losses[lowest] + losses[peak]) / 2
        let first = losses.indices.first { losses[$0] <= halfway } ?? lowest
        let sorted = losses[first...peak].sorted()
        let level = (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        let threshold = level + (losses[peak] - level) / 10
        var start = peak
        while start > first && losses[start - 1] > threshold { start -= 1 }
        return rates[start] / 2
    }
}
