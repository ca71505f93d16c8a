import ArgumentParser
import Foundation
import SightlineCore
import SightlineExplain
import SightlineTransfer
import SightlineVision
import SightlineWeights

extension CAMMethod: ExpressibleByArgument {}

/// `sightline gradcam MODEL IMAGE... --output DIR`: explanations as overlays, a report and raw maps.
struct GradCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract:
            "Explain predictions with Grad-CAM (or Grad-CAM++, Score-CAM): overlays, heatmaps, report.html and gradcam.h5."
    )

    @OptionGroup var options: ModelOptions
    @OptionGroup var engine: EngineOptionGroup

    @Argument(help: ArgumentHelp(stringLiteral: ImageInputs.help))
    var inputs: [String]

    @Option(name: .shortAndLong, help: "The folder to write into (created if needed).")
    var output: String

    @Option(help: "The layer to explain (default: the last convolutional feature map).")
    var layer: String?

    @Option(
        name: .customLong("class"),
        help:
            "Classes to explain for every image, by index or name, comma-separated (default: each image's top class); several give one map per class."
    )
    var classList: String?

    /// The classes `--class` asks for (indices, or names matched case-insensitively), or [nil]
    /// for each image's top class. Unknown names, out-of-range indices and repeats are usage
    /// errors naming the value and the valid range.
    static func targets(_ classList: String?, names: [String]) throws -> [Int?] {
        guard let classList else { return [nil] }
        var result: [Int] = []
        for token in classList.split(separator: ",", omittingEmptySubsequences: false).map({
            $0.trimmingCharacters(in: .whitespaces)
        }) {
            if let index = Int(token) {
                guard names.indices.contains(index) else {
                    throw CommandError.usage(
                        "--class \(index): the model has \(names.count) classes, numbered 0 to \(names.count - 1)")
                }
                result.append(index)
            } else if let index = names.firstIndex(where: { $0.caseInsensitiveCompare(token) == .orderedSame }) {
                result.append(index)
            } else {
                let listed = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", …" : "")
                throw CommandError.usage(
                    "--class '\(token)': no class has that index or name; the classes are \(listed) (give --labels for names)"
                )
            }
        }
        guard Set(result).count == result.count else {
            throw CommandError.usage("--class names a class twice (\(classList))")
        }
        return result
    }

    @Option(
        help: "gradcam, gradcam++, scorecam or guided-gradcam (also writes NAME_guided.jpg at the model's input size).")
    var method: CAMMethod = .gradcam

    @Option(
        help:
            "Score-CAM: use only the K channels whose maps vary most (Faster Score-CAM); about channels/K times faster. See the README for its effect on the maps."
    )
    var maxChannels: Int?

    @Option(help: "Heatmap weight in the overlay (the Keras example's 0.4).")
    var alpha: Float = 0.4

    @Option(help: "JPEG quality of the written images.")
    var quality = 90

    @Option(help: "Classes listed per image in the report.")
    var top = 5

    @Option(help: "Images per batch.")
    var batch = 8

    @Flag(
        help:
            "Add faithfulness metrics to the report: deletion/insertion AUC (RISE), Average Drop and Increase in Confidence."
    )
    var metrics = false

    @Option(help: "A text file with one class name per line (default: ImageNet names for 1000-class models).")
    var labels: String?

    func run() throws {
        let engineOptions = try engine.make()
        let folder = try ImageInputs.folder(inputs)
        let images = folder.items.map(\.path)
        let loaded = try options.load(engine: engineOptions)
        let cam: ClassActivationMaps
        do {
            cam = try ClassActivationMaps(graph: loaded.graph, layer: layer)
        } catch {
            throw layer == nil ? CommandError(message: "\(error)") : CommandError.usage("--layer: \(error)")
        }
        let shape = try ImageInputs.inputShape(of: loaded.graph, preprocessing: loaded.preprocessing)
        let classCount = loaded.graph.shape(of: cam.scoreNode)?.last ?? 0
        let recorded = labels == nil ? loaded.file.classNames : nil
        let names =
            try recorded.flatMap { $0.count == classCount ? $0 : nil }
            ?? Predict.classNames(count: classCount, labels: labels)
        let targets = try Self.targets(classList, names: names)
        // The true class of images from class folders whose names are the model's class names.
        var truth: [String: Int] = [:]
        if let folders = folder.classNames {
            let indices = folders.map { folderName in
                names.firstIndex { $0.caseInsensitiveCompare(folderName) == .orderedSame }
            }
            for item in folder.items {
                if let label = item.label, let index = indices[label] { truth[item.path] = index }
            }
        }
        if let maxChannels, maxChannels < 1 { throw CommandError.usage("--max-channels must be 1 or more") }
        let channels = loaded.graph.shape(of: cam.layer)?.last ?? 0
        let display = ProgressDisplay(label: method.rawValue, unit: method == .scorecam ? "masked passes" : "images")
        let perImage = method == .scorecam ? min(maxChannels ?? channels, channels) * targets.count : targets.count
        if method == .scorecam {
            Report.write(
                "Score-CAM: \(images.count) images × \(perImage) masked forward passes at \(cam.layer) = \(images.count * perImage) passes\(maxChannels == nil && channels > 256 ? "; --max-channels 64 is about \(channels / 64)× faster" : "")"
            )
        }
        var passes = 0
        display.update(done: 0, total: images.count * perImage)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var explained: [ExplainedImage] = []
        var failures: [(String, String)] = []
        var usedNames = Set<String>()
        let plan = stride(from: 0, to: images.count, by: batch).map { start in
            (start..<min(start + batch, images.count)).map {
                ImageBatchStream.Sample(index: $0, path: images[$0], label: nil)
            }
        }
        let stream = ImageBatchStream(
            plan: plan, preparation: .keepingOriginals(squashedTo: shape, preprocessing: loaded.preprocessing))
        while let ready = stream.next() {
            for (sample, error) in ready.failed {
                failures.append((sample.path, error))
                Report.skipped(sample.path, error)
            }
            passes += ready.failed.count * perImage  // skipped images count as done
            guard let input = ready.images else { continue }
            let originals = zip(ready.samples.map(\.path), ready.originals).map { ($0, $1) }
            for target in targets {
                let before = passes
                let result = try cam.compute(
                    input, classes: Array(repeating: target, count: originals.count), method: method,
                    maxChannels: maxChannels,
                    progress: { done, _ in display.update(done: before + done, total: images.count * perImage) })
                passes +=
                    method == .scorecam ? originals.count * min(maxChannels ?? channels, channels) : originals.count
                display.update(done: passes, total: images.count * perImage)
                let mapShape = Array(result.maps.shape.dropFirst())
                let saliency =
                    method == .guidedGradcam
                    ? try GuidedBackprop.saliency(cam, images: input, classes: result.classes) : nil
                for (row, (path, original)) in originals.enumerated() {
                    let raw = result.maps.batch(row..<(row + 1)).reshaped(mapShape)
                    let blank = ExplainedImage.isBlank(raw, score: result.scores[row])
                    if blank {
                        Report.warning(
                            "\(path): blank map for class \(result.classes[row]) at \(cam.layer) (maximum \(String(format: "%.3g", raw.scalars.max() ?? 0))); nothing is highlighted"
                        )
                    }
                    let drawn = blank ? Tensor(zeros: raw.shape) : raw
                    let heat = CAMRendering.heatmap(drawn, height: original.height, width: original.width)
                    // NAME_cCLASS when several classes are explained; images of the same name
                    // from different folders get _2, _3, ….
                    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    let suffix = targets.count > 1 ? "_c\(result.classes[row])" : ""
                    var stem = base + suffix
                    var copy = 1
                    while usedNames.contains(stem) {
                        copy += 1
                        stem = "\(base)_\(copy)\(suffix)"
                    }
                    usedNames.insert(stem)
                    let overlayFile = "\(stem)_overlay.jpg"
                    let heatmapFile = "\(stem)_heatmap.jpg"
                    let overlay = CAMRendering.overlay(original, heatmap: heat, alpha: alpha)
                    let colored = CAMRendering.colored(heat)
                    try AtomicFile.write(
                        try overlay.jpegData(quality: quality),
                        to: (output as NSString).appendingPathComponent(overlayFile))
                    try AtomicFile.write(
                        try colored.jpegData(quality: quality),
                        to: (output as NSString).appendingPathComponent(heatmapFile))
                    // Guided Grad-CAM at the original image's size (the saliency is upsampled from the
                    // model's input, as the overlay is).
                    let guided = saliency.map { saliency in
                        GuidedBackprop.guidedGradCAMImage(
                            saliency: Resize.bilinear(
                                saliency.batch(row..<(row + 1)).reshaped([shape[0], shape[1], shape[2]]),
                                height: original.height, width: original.width),
                            heatmap: heat)
                    }
                    if let guided {
                        try AtomicFile.write(
                            try guided.jpegData(quality: quality),
                            to: (output as NSString).appendingPathComponent("\(stem)_guided.jpg"))
                    }
                    let probabilities = Array(
                        result.probabilities.scalars[(row * classCount)..<((row + 1) * classCount)])
                    let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(top).map
                    { ($0, names[$0], probabilities[$0]) }
                    var item = ExplainedImage(
                        path: path, original: original, overlay: overlay, heatmap: colored, rawMap: raw,
                        explainedClass: result.classes[row],
                        score: result.scores[row], top: Array(ranked), overlayFile: overlayFile,
                        heatmapFile: heatmapFile)
                    item.guided = guided
                    item.trueClass = truth[path]
                    item.guidedFile = guided == nil ? nil : "\(stem)_guided.jpg"
                    if metrics {
                        // The metrics run many masked passes per image: say so while they run.
                        display.update(
                            done: passes, total: images.count * perImage,
                            detail: "faithfulness metrics for \((path as NSString).lastPathComponent)")
                        item.metrics = try CAMMetrics.measure(
                            cam, image: input.batch(row..<(row + 1)),
                            heatmap: CAMRendering.heatmap(raw, height: shape[0], width: shape[1]),
                            classIndex: result.classes[row])
                    }
                    explained.append(item)
                }
            }
        }
        let html = try CAMReport.html(
            explained, failures: failures, model: loaded.file.path, layer: cam.layer, method: method, quality: quality)
        try AtomicFile.write(Data(html.utf8), to: (output as NSString).appendingPathComponent("report.html"))
        if !explained.isEmpty {
            try CAMReport.writeMaps(
                explained, to: (output as NSString).appendingPathComponent("gradcam.h5"),
                attributes: [
                    "model": loaded.file.path, "model_md5": try MD5.hexDigest(ofFile: loaded.file.path),
                    "layer": cam.layer, "method": method.rawValue,
                    "preprocessing": loaded.preprocessing.rawValue, "sightline_version": Sightline.version,
                ])
        }
        print(
            "wrote \(output)/report.html: \(explained.count) maps explained at \(cam.layer) with \(method.rawValue)\(failures.isEmpty ? "" : ", \(failures.count) skipped")"
        )
        if explained.isEmpty { throw CommandError(message: "no image could be read; nothing was explained") }
        try Report.finish(skipped: failures.count)
    }
}
