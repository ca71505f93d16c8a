import ArgumentParser
import Foundation
import SightlineCore
import SightlineModels
import SightlineWeights

/// `sightline inspect MODEL`: what a model file holds and what the network does.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, output shapes, parameters, FLOPs, receptive fields, preprocessing and origin."
    )

    @OptionGroup var options: ModelOptions
    @OptionGroup var engine: EngineOptionGroup

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(
        help: ArgumentHelp(
            "Also list the inference plan: each step with the convolution kernel chosen for it (Winograd F(4x4,3x3), oneDNN direct, im2col+sgemm) and the layers fused into it.",
            discussion:
                "SIGHTLINE_CONV=reference or direct changes the choice, as it does for every command; --precision shows the bf16 plan."
        ))
    var kernels = false

    func run() throws {
        let loaded = try options.load(engine: try engine.make())
        let summary = ModelSummary(graph: loaded.graph)
        let steps = kernels ? try loaded.graph.inferenceSteps() : nil
        if json {
            print(try jsonText(loaded, summary, steps: steps))
        } else {
            print(text(loaded, summary))
            if let steps { print(planText(steps)) }
        }
    }

    func header(_ loaded: LoadedModel) -> [(String, String)] {
        let file = loaded.file
        let bytes = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        let md5 = (try? MD5.hexDigest(ofFile: file.path)) ?? "unreadable"
        let known =
            KnownWeightFiles.lookup(md5: md5).map { "\($0.file): \($0.source), \($0.url)" }
            ?? "not a published file Sightline knows"
        return [
            ("file", "\(file.path) (\(bytes.formatted()) bytes)"),
            ("format", Self.formatLine(file)),
            ("md5", md5),
            ("known as", known),
            ("architecture", loaded.architectureSource),
            ("preprocessing", "\(loaded.preprocessing.rawValue) (\(loaded.preprocessingSource))"),
            (
                "inputs",
                loaded.graph.inputNames.map { "\($0) \(loaded.graph.shape(of: $0) ?? [])" }.joined(separator: ", ")
            ),
            ("outputs", loaded.graph.outputNames.joined(separator: ", ")),
        ]
    }

    func text(_ loaded: LoadedModel, _ summary: ModelSummary) -> String {
        var lines = header(loaded).map { "\($0.0.padding(toLength: 14, withPad: " ", startingAt: 0))\($0.1)" }
        lines.append("")
        let table =
            [["layer", "class", "output", "params", "MFLOPs", "receptive field"]]
            + summary.rows.map { row in
                [
                    row.name, row.className, "\(row.outputShape)", row.parameters.formatted(),
                    String(format: "%.1f", Double(row.flops) / 1e6),
                    row.receptiveField.map { "\($0)×\($0) px, stride \(row.stride ?? 1)" } ?? "whole image",
                ]
            }
        let widths = (0..<6).map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            lines.append(
                zip(row, widths).map { $0.0.padding(toLength: $0.1 + 2, withPad: " ", startingAt: 0) }.joined()
                    .trimmingCharacters(in: .whitespaces))
        }
        lines.append("")
        lines.append(
            "parameters    \(summary.totalParameters.formatted()) (trainable \(summary.trainableParameters.formatted()))"
        )
        let flops = Double(summary.totalFlops)
        lines.append(
            flops >= 1e9
                ? String(format: "FLOPs/image   %.2f G", flops / 1e9)
                : String(format: "FLOPs/image   %.1f M", flops / 1e6))
        return lines.joined(separator: "\n")
    }

    /// The plan as a two-column table.
    func planText(_ steps: [(name: String, kind: String)]) -> String {
        let width = (steps.map(\.name.count).max() ?? 4) + 2
        let rows = steps.map { $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.kind }
        return
            ([
                "", "inference plan (\(steps.count) steps)",
                "step".padding(toLength: width, withPad: " ", startingAt: 0) + "kernel and fusions",
            ] + rows)
            .joined(separator: "\n")
    }

    func jsonText(_ loaded: LoadedModel, _ summary: ModelSummary, steps: [(name: String, kind: String)]?) throws
        -> String
    {
        // The text labels as snake_case keys ("known as" → "known_as").
        var object: [String: Any] = Dictionary(
            uniqueKeysWithValues: header(loaded).map { ($0.0.replacingOccurrences(of: " ", with: "_"), $0.1) })
        object["file"] = loaded.file.path
        object["format"] = loaded.file.format.rawValue
        object["keras_version"] = loaded.file.kerasVersion ?? NSNull()
        object["preprocessing"] = loaded.preprocessing.rawValue
        object["parameters"] = summary.totalParameters
        object["trainable_parameters"] = summary.trainableParameters
        object["flops_per_image"] = summary.totalFlops
        object["layers"] = summary.rows.map { row -> [String: Any] in
            [
                "name": row.name, "class": row.className, "output_shape": row.outputShape, "parameters": row.parameters,
                "flops": row.flops, "receptive_field": row.receptiveField ?? NSNull(), "stride": row.stride ?? NSNull(),
            ]
        }
        if let steps { object["plan"] = steps.map { ["step": $0.name, "kind": $0.kind] } }
        return try JSONOutput.text(object)
    }

    /// The file's format and, for Keras files, the Keras version that wrote it.
    static func formatLine(_ file: ModelFileFacts) -> String {
        guard file.format.isKeras else { return file.format.rawValue }
        let version =
            file.kerasVersion
            ?? (file.format == .keras3Weights
                ? "3 (.weights.h5 files record no version)" : "1.x (no keras_version attribute)")
        return "\(file.format.rawValue), Keras \(version)\(file.backend.map { ", backend \($0)" } ?? "")"
    }
}
