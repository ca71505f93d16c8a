import Foundation
internal import ONNXProto
import SightlineCore
import SightlineNN
internal import SwiftProtobuf

/// An ONNX model file (`.onnx`) read with SwiftProtobuf (`ONNXProto`, generated from onnx.proto)
/// and built as a Sightline graph by `ONNXImporter`. Every job runs on it; Grad-CAM works too,
/// since Sightline computes its own gradients (ONNX files hold none).
enum ONNXModel {
    /// True for a path Sightline reads as ONNX (by its extension).
    static func recognises(_ path: String) -> Bool { path.lowercased().hasSuffix(".onnx") }

    /// The graph of the model at `path`; `imageSize` fills open input sizes (torch exports with
    /// a dynamic batch keep their height and width).
    /// `recordedPreprocessing` is the `sightline_preprocessing` metadata property Sightline's
    /// writer adds (nil for other exporters' files).
    static func graph(path: String, imageSize: Int) throws(ModelFileError) -> (
        graph: Graph, opset: Int, recordedPreprocessing: String?
    ) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(file: path, "cannot be read", kind: .unreadable)
        }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ModelFileError(
                file: path, "is not an ONNX model (the protobuf cannot be decoded: \(error)); is the file complete?",
                kind: .layout)
        }
        let opset = Int(model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 0)
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ModelFileError(file: path, "is an ONNX file without a graph", kind: .layout)
        }
        var importer = ONNXImporter(path: path)
        let recorded = model.metadataProps.first { $0.key == "sightline_preprocessing" }?.value
        return (try importer.importGraph(model, imageSize: imageSize), opset, recorded)
    }
}
