import Foundation
import SightlineCore
import SightlineWeights

/// The contents of a features file held in memory: rows read by `FeatureFileReader` and
/// written by `FeatureFileWriter`, the one reader and the one writer of the layout (see
/// `ExtractionJob` for what `sightline extract` puts in it).
public struct FeatureFile {
    /// `[N] + featureShape`.
    public var features: Tensor
    public var paths: [String]
    /// 0 for an image that was read, 1 for one that failed (its row of `features` is zero).
    public var status: [Int]
    public var errors: [String]
    public var labels: [Int]?
    public var classNames: [String]?
    /// Root string attributes (model, model_md5, layer, pooling, preprocessing, …).
    public var attributes: [String: String]

    public init(
        features: Tensor, paths: [String], status: [Int], errors: [String], labels: [Int]?, classNames: [String]?,
        attributes: [String: String]
    ) {
        (self.features, self.paths, self.status, self.errors) = (features, paths, status, errors)
        (self.labels, self.classNames, self.attributes) = (labels, classNames, attributes)
    }

    /// Reads a features file, the feature matrix included (`FeatureFileReader` reads it in
    /// blocks instead).
    public init(path: String) throws {
        let reader = try FeatureFileReader(path: path)
        features = try reader.features(0..<reader.rows)
        (paths, status, errors, labels, classNames, attributes) = (
            reader.paths, reader.status, reader.errors, reader.labels, reader.classNames, reader.attributes
        )
    }

    /// Writes the file with `FeatureFileWriter` (a working file renamed into place when complete).
    public func write(to path: String) throws {
        let writer = try FeatureFileWriter(
            path: path, featureShape: featureShape, labelled: labels != nil, fingerprint: "FeatureFile.write")
        do {
            try writer.append(features: features.scalars, paths: paths, status: status, errors: errors, labels: labels)
            try writer.finish(classNames: classNames, attributes: attributes)
        } catch {
            writer.discard()
            throw error
        }
    }
}
