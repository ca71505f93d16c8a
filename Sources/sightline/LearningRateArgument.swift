import ArgumentParser
import SightlineTransfer

/// `--lr`: a rate, `LOW:HIGH` (discriminative rates), or `auto[:RULE]` (a sweep picks it when
/// phase 2 starts, by the suggestion RULE names: edge by default).
enum LearningRateArgument: ExpressibleByArgument, Equatable {
    case value(Float)
    /// `LOW:HIGH`: discriminative rates (the backbone's first stage at LOW, the head at HIGH).
    case range(Float, Float)
    case auto(LearningRateSweep.Rule)

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        if parts.first == "auto", parts.count <= 2 {
            guard let rule = parts.count == 2 ? LearningRateSweep.Rule(rawValue: String(parts[1])) : .edge else {
                return nil
            }
            self = .auto(rule)
        } else if let rate = Float(argument) {
            self = .value(rate)
        } else if parts.count == 2, let low = Float(parts[0]), let high = Float(parts[1]) {
            self = .range(low, high)
        } else {
            return nil
        }
    }

    /// The rate given (the top of a range: the head's), nil for `auto`.
    var rate: Float? {
        switch self {
        case .value(let rate), .range(_, let rate): return rate
        case .auto: return nil
        }
    }

    /// The bottom of a range: the backbone's first stage's rate.
    var lowest: Float? {
        if case .range(let low, _) = self { return low }
        return nil
    }

    var defaultValueDescription: String { rate.map { "\($0)" } ?? "auto" }
}
