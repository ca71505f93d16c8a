import Foundation
import SightlineCore

/// One Keras layer's `config` dictionary with checked accessors: every value is read with its
/// type and range verified, so a bad value in a file is a `LayerError` naming the layer
/// and the field, never a crash. `null` counts as absent (Keras writes `None` as `null`).
public struct KerasConfig {
    public let name: String
    public let className: String
    public let values: [String: Any]
    /// The call arguments of the layer's node in order (tensors and numbers), for operator nodes
    /// whose constants live there (`x + 3`); other layers ignore them.
    public var arguments: [CallArgument] = []
    /// The keyword arguments of the layer's call (tf.keras's `SlicingOpLambda` keeps its
    /// `slice_spec` there), and for Keras 3 nodes the positional ones under `args`.
    public var keywords: [String: Any] = [:]

    /// One argument of a layer call.
    public enum CallArgument: Equatable, Sendable {
        /// A tensor, by the name of the node producing it.
        case tensor(String)
        case number(Double)
    }

    /// Largest weight tensor a config may ask for (2³⁰ floats, 4 GiB): larger values are taken as
    /// corrupt rather than attempted.
    public static let maximumWeightCount = 1 << 30

    public init(name: String, className: String, values: [String: Any], arguments: [CallArgument] = []) {
        (self.name, self.className, self.values, self.arguments) = (name, className, values, arguments)
    }

    /// An error about this layer, and about `field` when given.
    public func error(_ reason: String, field: String? = nil) -> LayerError {
        LayerError(layer: name, className: className, field: field, reason: reason)
    }

    func value(_ key: String) -> Any? {
        guard let value = values[key], !(value is NSNull) else { return nil }
        return value
    }

    /// An integer option in `range` (JSON integers; a float with an integral value is accepted).
    public func int(_ key: String, _ fallback: Int, in range: ClosedRange<Int> = Int.min...Int.max)
        throws(LayerError) -> Int
    {
        guard let raw = value(key) else { return fallback }
        guard let number = Self.integer(raw) else { throw error("must be an integer, got \(raw)", field: key) }
        guard range.contains(number) else {
            throw error("must be in \(Self.describe(range)), got \(number)", field: key)
        }
        return number
    }

    /// A floating-point option in `range`.
    public func float(
        _ key: String, _ fallback: Float,
        in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    ) throws(LayerError) -> Float {
        guard let raw = value(key) else { return fallback }
        guard let number = Self.double(raw), number.isFinite else {
            throw error("must be a finite number, got \(raw)", field: key)
        }
        guard range.contains(number) else {
            throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(number)", field: key)
        }
        return Float(number)
    }

    /// An optional floating-point option (nil when absent or `null`).
    public func optionalFloat(
        _ key: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    ) throws(LayerError) -> Float? {
        value(key) == nil ? nil : try float(key, 0, in: range)
    }

    public func bool(_ key: String, _ fallback: Bool) throws(LayerError) -> Bool {
        guard let raw = value(key) else { return fallback }
        guard Self.isBool(raw), let flag = raw as? Bool else {
            throw error("must be true or false, got \(raw)", field: key)
        }
        return flag
    }

    public func string(_ key: String, _ fallback: String) throws(LayerError) -> String {
        guard let raw = value(key) else { return fallback }
        guard let text = raw as? String else { throw error("must be a string, got \(raw)", field: key) }
        return text
    }

    /// A list of integers (`target_shape`, `axis` lists); a single integer is a list of one.
    public func ints(_ key: String) throws(LayerError) -> [Int]? {
        guard let raw = value(key) else { return nil }
        if let one = Self.integer(raw) { return [one] }
        guard let list = raw as? [Any] else { throw error("must be a list of integers, got \(raw)", field: key) }
        var result: [Int] = []
        for item in list {
            guard let number = Self.integer(item) else {
                throw error("must be a list of integers, got \(raw)", field: key)
            }
            result.append(number)
        }
        return result
    }

    /// A list of finite numbers (a single number is a list of one); nil when absent.
    public func floats(_ key: String) throws(LayerError) -> [Float]? {
        guard let raw = value(key) else { return nil }
        if let one = Self.double(raw), one.isFinite { return [Float(one)] }
        guard let list = raw as? [Any] else { throw error("must be a list of numbers, got \(raw)", field: key) }
        var result: [Float] = []
        for item in list {
            guard let number = Self.double(item), number.isFinite else {
                throw error("must be a list of finite numbers, got \(raw)", field: key)
            }
            result.append(Float(number))
        }
        return result
    }

    /// A Keras pair option (`kernel_size`, `strides`, …), given as `[a, b]` or `a`, each in `range`.
    public func pair(_ key: String, _ fallback: (Int, Int), in range: ClosedRange<Int> = 1...65_536)
        throws(LayerError) -> (Int, Int)
    {
        guard let list = try ints(key) else { return fallback }
        guard list.count == 1 || list.count == 2 else {
            throw error("must be one integer or a pair, got \(list)", field: key)
        }
        let pair = (list[0], list[list.count - 1])
        guard range.contains(pair.0), range.contains(pair.1) else {
            throw error("must be in \(Self.describe(range)), got \(list)", field: key)
        }
        return pair
    }

    /// Per-side amounts (`ZeroPadding2D.padding`, `Cropping2D.cropping`): `p`, `[p_h, p_w]` or
    /// `[[top, bottom], [left, right]]`, each 0 or more. Returns (top, bottom, left, right).
    public func sides(_ key: String, _ fallback: (Int, Int, Int, Int)) throws(LayerError) -> (Int, Int, Int, Int) {
        guard let raw = value(key) else { return fallback }
        var result: (Int, Int, Int, Int)?
        if let one = Self.integer(raw) {
            result = (one, one, one, one)
        } else if let list = raw as? [Any], list.count == 2 {
            if let a = Self.integer(list[0]), let b = Self.integer(list[1]) {
                result = (a, a, b, b)
            } else if let rows = list[0] as? [Any], let columns = list[1] as? [Any], rows.count == 2,
                columns.count == 2,
                let top = Self.integer(rows[0]), let bottom = Self.integer(rows[1]),
                let left = Self.integer(columns[0]), let right = Self.integer(columns[1])
            {
                result = (top, bottom, left, right)
            }
        }
        guard let result else {
            throw error("must be an integer, a pair, or [[top, bottom], [left, right]], got \(raw)", field: key)
        }
        guard min(result.0, result.1, result.2, result.3) >= 0, max(result.0, result.1, result.2, result.3) <= 65_536
        else {
            throw error("must be between 0 and 65536, got \(raw)", field: key)
        }
        return result
    }

    public func padding() throws(LayerError) -> Padding {
        switch try string("padding", "valid").lowercased() {
        case "valid": return .valid
        case "same": return .same
        case let other: throw error("'\(other)' is not supported; use 'valid' or 'same'", field: "padding")
        }
    }

    public func requireChannelsLast() throws(LayerError) {
        let format = try string("data_format", "channels_last")
        if format != "channels_last" {
            throw error("'\(format)' is not supported; Sightline runs channels_last (NHWC)", field: "data_format")
        }
    }

    /// The activation named by `key` (a name, or Keras 3's serialized `{"config": {"name": …}}`).
    public func activation(_ key: String = "activation") throws(LayerError) -> ActivationFunction {
        let raw = value(key)
        let nested = (raw as? [String: Any]).flatMap {
            ($0["config"] as? [String: Any])?["name"] as? String ?? $0["class_name"] as? String
        }
        let name = (raw as? String) ?? nested ?? "linear"
        guard let function = ActivationFunction(kerasName: name) else {
            throw error(
                "'\(name)' is not supported; Sightline knows \(ActivationFunction.kerasNames.joined(separator: ", "))",
                field: key)
        }
        return function
    }

    /// The last entry of `shapes` (the single input's channel count).
    public func channels(_ shapes: [[Int]]) throws(LayerError) -> Int {
        guard let last = shapes.first?.last else { throw error("has no input") }
        return last
    }

    /// Checks that a weight of `shape` is small enough to allocate.
    public func checkWeight(_ shape: [Int]) throws(LayerError) -> [Int] {
        var count = 1
        for dimension in shape {
            guard dimension > 0 else { throw error("gives a weight of shape \(shape), which has an empty axis") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Self.maximumWeightCount else {
                throw error("gives a weight of shape \(shape), over 2^30 values; is the file corrupt?")
            }
            count = product
        }
        return shape
    }

    /// An integer value (not a boolean; a float with an integral value counts).
    public static func integer(_ raw: Any) -> Int? {
        if isBool(raw) { return nil }
        if let int = raw as? Int { return int }
        if let double = raw as? Double, double.rounded() == double, abs(double) < 1e15 { return Int(double) }
        return nil
    }

    /// A numeric value (not a boolean).
    public static func double(_ raw: Any) -> Double? {
        if isBool(raw) { return nil }
        return (raw as? Double) ?? (raw as? Int).map(Double.init)
    }

    /// JSONSerialization gives booleans as NSNumber; tell them from numbers by their C type.
    static func isBool(_ raw: Any) -> Bool {
        if raw is Bool, !(raw is NSNumber) { return true }
        guard let number = raw as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "\(range.lowerBound) or more" }
        return "\(range.lowerBound)...\(range.upperBound)"
    }
}
