import ArgumentParser

/// The value checks shared by every command's `validate()`: each refuses NaN, infinities,
/// negatives and zeros where they make no sense, naming the option and the value given, at
/// parse time (exit 2), before any file is read.
enum OptionChecks {
    /// `value` must be at least `minimum` (1 for counts and sizes).
    static func atLeast(_ minimum: Int, _ value: Int, _ option: String) throws {
        guard value >= minimum else {
            throw ValidationError("\(option) \(value): must be \(minimum) or more")
        }
    }

    /// The most epochs a run may ask for (a larger count is a typing mistake, not a plan).
    static let maximumEpochs = 100_000

    /// `value` must lie in `range` (counts with a sane maximum: a larger one would exhaust
    /// memory or never end).
    static func within(_ range: ClosedRange<Int>, _ value: Int, _ option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) \(value): must be \(range.lowerBound) to \(range.upperBound)")
        }
    }

    /// A learning rate: a finite number above 0.
    static func rate(_ value: Float, _ option: String) throws {
        guard value.isFinite, value > 0 else {
            throw ValidationError("\(option) \(value): must be a finite number above 0 (such as 1e-3)")
        }
    }

    /// A fraction held out: finite, 0 or more and below 1.
    static func fraction(_ value: Double, _ option: String) throws {
        guard value.isFinite, value >= 0, value < 1 else {
            throw ValidationError("\(option) \(value): must be a fraction from 0 up to (not including) 1, such as 0.2")
        }
    }

    /// A weight between 0 and 1 inclusive.
    static func unitInterval(_ value: Float, _ option: String) throws {
        guard value.isFinite, value >= 0, value <= 1 else {
            throw ValidationError("\(option) \(value): must be between 0 and 1")
        }
    }

    /// The ArgumentParser message for `--option -5` ("Missing value"), said as what it is: the
    /// value given is negative. `arguments` is the command line; nil when it is something else.
    static func negativeValue(_ message: String, arguments: [String]) -> String? {
        guard message.contains("Missing value for") else { return nil }
        for (index, argument) in arguments.enumerated().dropLast() where argument.hasPrefix("--") {
            let next = arguments[index + 1]
            guard next.hasPrefix("-"), Double(next) != nil || next.lowercased() == "-inf",
                message.contains("'\(argument) ") || message.contains("'\(argument)'")
            else { continue }
            return "error: \(argument) \(next): negative values are not accepted; give a positive value"
        }
        return nil
    }
}
