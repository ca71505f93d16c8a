import Foundation
import SightlineCore

/// Labelled feature rows that can be read a block at a time: a features file opened with
/// `FeatureFileReader` (larger than memory) or a `FeatureFile` held in memory.
public protocol FeatureRows {
    var rows: Int { get }
    /// The shape of one row's features.
    var featureShape: [Int] { get }
    var paths: [String] { get }
    /// 0 for a row whose image was read.
    var status: [Int] { get }
    var labels: [Int]? { get }
    var classNames: [String]? { get }
    /// Rows `range`: `[range.count] + featureShape`.
    func features(_ range: Range<Int>) throws -> Tensor
    /// Rows `range` into `buffer`, reusing its storage (row-major, `featureShape` per row).
    func features(_ range: Range<Int>, into buffer: inout [Float]) throws
}

extension FeatureFileReader: FeatureRows {
    public func features(_ range: Range<Int>, into buffer: inout [Float]) throws {
        try file.readRows("/features", range, into: &buffer)
    }
}

extension FeatureFile: FeatureRows {
    public var rows: Int { features.shape.first ?? 0 }
    public var featureShape: [Int] { Array(features.shape.dropFirst()) }
    public func features(_ range: Range<Int>) throws -> Tensor { features.batch(range) }
    public func features(_ range: Range<Int>, into buffer: inout [Float]) throws {
        let width = featureShape.reduce(1, *)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: features.scalars[(range.lowerBound * width)..<(range.upperBound * width)])
    }
}
