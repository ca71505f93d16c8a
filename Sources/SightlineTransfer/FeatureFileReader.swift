import Foundation
import SightlineCore
import SightlineWeights

/// The one reader of features files (`FeatureFileWriter` is the one writer): a file opened for reading rows in blocks (HDF5 hyperslabs), for files larger than
/// memory: everything but the feature matrix (paths, status, labels, class names, attributes)
/// is read at once; `features(_:)` reads a row range.
public final class FeatureFileReader {
    public let path: String
    let file: HDF5File
    /// Rows in the file.
    public let rows: Int
    /// The shape of one row's features.
    public let featureShape: [Int]
    public let paths: [String]
    /// 0 for a row whose image was read, 1 for a failed one.
    public let status: [Int]
    public let errors: [String]
    public let labels: [Int]?
    public let classNames: [String]?
    public let attributes: [String: String]

    public init(path: String) throws {
        self.path = path
        file = try HDF5File(reading: path)
        guard file.exists("/features") else {
            throw ModelFileError(file: path, "not a Sightline features file (no /features dataset)")
        }
        let shape = try file.datasetShape("/features")
        rows = shape.first ?? 0
        featureShape = Array(shape.dropFirst())
        paths = try file.readStrings("/paths")
        status = try file.readIntegers("/status")
        errors = try file.readStrings("/error")
        labels = file.exists("/labels") ? try file.readIntegers("/labels") : nil
        classNames = file.exists("/class_names") ? try file.readStrings("/class_names") : nil
        var attributes: [String: String] = [:]
        for name in FeatureFileWriter.attributeNames { attributes[name] = try file.stringAttribute(name) }
        self.attributes = attributes
        guard paths.count == rows, status.count == rows, errors.count == rows, labels.map({ $0.count == rows }) ?? true
        else {
            throw ModelFileError(
                file: path,
                "its datasets have different row counts (\(rows) features, \(paths.count) paths); it was cut short")
        }
    }

    /// Rows `range` of the features: `[range.count] + featureShape`.
    public func features(_ range: Range<Int>) throws -> Tensor { try file.readRows("/features", range) }

    /// Rows per block for about `bytes` of features.
    public func blockRows(bytes: Int = 32 << 20) -> Int { max(1, bytes / max(featureShape.reduce(1, *) * 4, 1)) }
}
