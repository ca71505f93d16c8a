import ArgumentParser
import Foundation
import SightlineExplain

extension CAMMethod: ExpressibleByArgument {}

/// `sightline gradcam MODEL IMAGE... --output DIR`: explanations as overlays, a report and raw maps.
struct GradCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Explain predictions with Grad-CAM (or Grad-CAM++, Score-CAM): overlays, heatmaps, report.html and gradcam.h5.")

    @OptionGroup var options: ModelOptions

    @Argument(help: "JPEG or PNG files.")
    var images: [String]

    @Option(name: .shortAndLong, help: "The folder to write into (created if needed).")
    var output: String

    @Option(help: "The layer to explain (default: the last convolutional feature map).")
    var layer: String?

    @Option(name: .customLong("class"), help: "Class indices to explain for every image, comma-separated (default: each image's top class); several give one map per class.")
    var classList: String?

    /// The requested classes, or [nil] for each image's top class.
    var targets: [Int?] {
        guard let classList else { return [nil] }
        return classList.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        if let classList, targets.isEmpty || targets.count != classList.split(separator: ",").count {
            throw ValidationError("--class takes class indices separated by commas, e.g. --class 281,285")
        }
    }

    @Option(help: "gradcam, gradcam++, scorecam or guided-gradcam (also writes NAME_guided.jpg at the model's input size).")
    var method: CAMMethod = .gradcam

    @Option(help: "Heatmap weight in the overlay (the Keras example's 0.4).")
    var alpha: Float = 0.4

    @Option(help: "JPEG quality of the written images.")
    var quality = 90

    @Option(help: "Classes listed per image in the report.")
    var top = 5

    @Option(help: "Images per batch.")
    var batch = 8

    @Flag(help: "Add faithfulness metrics to the report: deletion/insertion AUC (RISE), Average Drop and Increase in Confidence.")
    var metrics = false

    @Option(help: "A text file with one class name per line (default: ImageNet names for 1000-class models).")
    var labels: String?

    func run() throws {
        let loaded = try options.load()
        let cam = try ClassActivationMaps(graph: loaded.graph, layer: layer)
        guard let inputName = loaded.graph.inputNames.first, let shape = loaded.graph.shape(of: inputName), shape.count == 3, ImageChannels.supported.contains(shape[2]) else {
            throw ValidationError("the model's input is not an image of 1, 3 or 4 channels")
        }
        if let problem = loaded.preprocessing.problem(channels: shape[2]) { throw ValidationError(problem) }
        let classCount = loaded.graph.shape(of: cam.scoreNode)?.last ?? 0
        let recorded = labels == nil ? try? HDF5File(reading: options.model).stringsAttribute("class_names") : nil
        let names = try recorded.flatMap { $0.count == classCount ? $0 : nil } ?? Predict.classNames(count: classCount, labels: labels)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var explained: [ExplainedImage] = [], failures: [(String, String)] = []
        var usedNames = Set<String>()
        for start in stride(from: 0, to: images.count, by: batch) {
            var originals: [(String, RGBImage)] = []
            for path in images[start..<min(start + batch, images.count)] {
                do { originals.append((path, try RGBImage(contentsOf: path))) } catch {
                    failures.append((path, error.message))
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                }
            }
            guard !originals.isEmpty else { continue }
            let input = loaded.preprocessing.apply(to: Tensor.concatenatingBatches(originals.map { $0.1.prepared(height: shape[0], width: shape[1], policy: .squash, channels: shape[2]).reshaped([1] + shape) }))
            for target in targets {
                let result = try cam.compute(input, classes: Array(repeating: target, count: originals.count), method: method)
                let mapShape = Array(result.maps.shape.dropFirst())
                let saliency = method == .guidedGradcam ? try GuidedBackprop.saliency(cam, images: input, classes: result.classes) : nil
                for (row, (path, original)) in originals.enumerated() {
                    let raw = result.maps.batch(row..<(row + 1)).reshaped(mapShape)
                    let heat = CAMRendering.heatmap(raw, height: original.height, width: original.width)
                    var stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    if targets.count > 1 { stem += "_c\(result.classes[row])" }
                    while usedNames.contains(stem) { stem += "_" }
                    usedNames.insert(stem)
                    let overlayFile = "\(stem)_overlay.jpg", heatmapFile = "\(stem)_heatmap.jpg"
                    let overlay = CAMRendering.overlay(original, heatmap: heat, alpha: alpha), colored = CAMRendering.colored(heat)
                    try AtomicFile.write(try overlay.jpegData(quality: quality), to: (output as NSString).appendingPathComponent(overlayFile))
                    try AtomicFile.write(try colored.jpegData(quality: quality), to: (output as NSString).appendingPathComponent(heatmapFile))
                    if let saliency {
                        let guided = GuidedBackprop.guidedGradCAMImage(
                            saliency: saliency.batch(row..<(row + 1)).reshaped([shape[0], shape[1], shape[2]]),
                            heatmap: CAMRendering.heatmap(raw, height: shape[0], width: shape[1]))
                        try AtomicFile.write(try guided.jpegData(quality: quality), to: (output as NSString).appendingPathComponent("\(stem)_guided.jpg"))
                    }
                    let probabilities = Array(result.probabilities.scalars[(row * classCount)..<((row + 1) * classCount)])
                    let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(top).map { ($0, names[$0], probabilities[$0]) }
                    var item = ExplainedImage(
                        path: path, original: original, overlay: overlay, heatmap: colored, rawMap: raw, explainedClass: result.classes[row],
                        score: result.scores[row], top: Array(ranked), overlayFile: overlayFile, heatmapFile: heatmapFile)
                    if metrics {
                        item.metrics = try CAMMetrics.measure(
                            cam, image: input.batch(row..<(row + 1)), heatmap: CAMRendering.heatmap(raw, height: shape[0], width: shape[1]),
                            classIndex: result.classes[row])
                    }
                    explained.append(item)
                }
            }
        }
        let html = try CAMReport.html(explained, failures: failures, model: loaded.file.path, layer: cam.layer, method: method, quality: quality)
        try AtomicFile.write(Data(html.utf8), to: (output as NSString).appendingPathComponent("report.html"))
        if !explained.isEmpty {
            try CAMReport.writeMaps(explained, to: (output as NSString).appendingPathComponent("gradcam.h5"), attributes: [
                "model": loaded.file.path, "model_md5": try MD5.hexDigest(ofFile: loaded.file.path), "layer": cam.layer, "method": method.rawValue,
                "preprocessing": loaded.preprocessing.rawValue, "sightline_version": Sightline.version,
            ])
        }
        print("wrote \(output)/report.html: \(explained.count) maps explained at \(cam.layer) with \(method.rawValue)\(failures.isEmpty ? "" : ", \(failures.count) skipped")")
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
