import Foundation
import SightlineCore
import Testing

/// Reads the JSON fixtures under `Tests/Fixtures` written by the committed generator scripts
/// (real Keras 3 on TensorFlow; see each script for how each value was produced).
public enum KerasFixture {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    public struct Missing: Error, CustomStringConvertible {
        public let what: String
        public var description: String { "fixture has no \(what)" }
    }

    /// The parsed JSON object of a fixture file.
    public static func load(_ name: String) throws -> [String: Any] {
        let url = name.hasPrefix("/") ? URL(fileURLWithPath: name) : directory.appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Missing(what: "object in \(name)")
        }
        return object
    }

    /// A `{"shape": [...], "data": [...]}` entry as a tensor.
    public static func tensor(_ value: Any?) throws -> Tensor {
        guard let entry = value as? [String: Any], let shape = entry["shape"] as? [Int],
            let data = entry["data"] as? [Double]
        else {
            throw Missing(what: "tensor entry")
        }
        return Tensor(shape: shape, scalars: data.map { Float($0) })
    }

    /// A `{name: tensor}` map.
    public static func tensors(_ value: Any?) throws -> [String: Tensor] {
        guard let entries = value as? [String: Any] else { return [:] }
        return try entries.mapValues { try tensor($0) }
    }
}

/// Expects `actual` to equal `expected` within `tolerance` relative to the reference's scale
/// (its largest absolute value, or 1 if it is all tiny).
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        actual.shape == expected.shape, "\(what): shape \(actual.shape) != \(expected.shape)",
        sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let scale = max(expected.scalars.reduce(0) { max($0, abs($1)) }, 1e-3)
    let difference = actual.maxAbsoluteDifference(expected)
    #expect(
        difference <= tolerance * scale, "\(what): max |Δ| \(difference) > \(tolerance) × scale \(scale)",
        sourceLocation: sourceLocation)
}

/// Σ output · upstream, the scalar loss the fixtures differentiate.
public func weightedSum(_ output: Tensor, _ upstream: Tensor) -> Double {
    zip(output.scalars, upstream.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}
