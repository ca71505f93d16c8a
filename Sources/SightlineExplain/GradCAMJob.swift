import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineVision
import SightlineWeights

/// The `gradcam` job as a library call: explains every image of a folder and writes, into
/// `output`, `NAME_overlay.jpg`, `NAME_heatmap.jpg` (and `NAME_guided.jpg` for guided Grad-CAM),
/// `report.html` and `gradcam.h5`. Images are decoded ahead on workers (`BatchLoop`), kept at
/// full size for the overlays and squashed to the model's input for the maps.
public struct GradCAMJob {
    public var model: LoadedModel
    public var cam: ClassActivationMaps
    /// The model's image input (checked), squash-resized as Keras's `load_img` with `target_size`.
    public let input: ModelInput
    public var folder: ImageFolder
    /// The folder to write into (created if missing).
    public var output: String
    /// Class names in output order (for the report and the true class of class folders).
    public var classNames: [String]
    /// The classes to explain for every image; nil explains each image's top class.
    public var targets: [Int?] = [nil]
    public var method: CAMMethod = .gradcam
    /// Smoothing of a pixel attribution method (`NoiseTunnel`); nil computes it once.
    public var noise: NoiseTunnel?
    /// Test-time augmentation smoothing of a layer method (`AugmentationSmoothing`): the maps are
    /// then at the input's resolution.
    public var augmentationSmoothing = false
    /// Further layers whose maps are fused with `cam`'s (`MultiLayerMaps`; `--layer A,B`): the
    /// maps are then at the input's resolution.
    public var extraLayers: [ClassActivationMaps] = []
    /// RISE's masks (`--masks`).
    public var rise = RISE()
    /// Integrated Gradients' steps and Occlusion's window and stride.
    public var pixel = InputAttribution.Options()
    /// Score-CAM: only the `maxChannels` channels whose maps vary most.
    public var maxChannels: Int?
    /// Heatmap weight in the overlay (the Keras example's 0.4), JPEG quality, classes per image in the report.
    public var alpha: Float = 0.4
    public var quality = 90
    public var top = 5
    public var batchSize = 8
    /// Adds deletion/insertion AUC and Average Drop / Increase in Confidence to the report.
    public var metrics = false
    /// Adds ROAD to the metrics (`ROAD`; seconds per 224×224 image).
    public var road = false
    /// Recorded in `gradcam.h5`.
    public var sightlineVersion: String

    public init(
        model: LoadedModel, cam: ClassActivationMaps, folder: ImageFolder, output: String, classNames: [String],
        sightlineVersion: String
    ) throws {
        input = try ModelInput(graph: model.graph, preprocessing: model.preprocessing)
        (self.model, self.cam, self.folder, self.output) = (model, cam, folder, output)
        (self.classNames, self.sightlineVersion) = (classNames, sightlineVersion)
    }

    /// Masked forward passes (Score-CAM) or images per input image: the unit of `progress`.
    public var workPerImage: Int {
        guard method.perturbsChannels else { return targets.count }
        let channels = model.graph.shape(of: cam.layer)?.last ?? 0
        let versions = augmentationSmoothing ? 2 * AugmentationSmoothing.factors.count : 1
        return min(maxChannels ?? channels, channels) * targets.count * versions
    }

    /// What a run did.
    public struct Summary {
        public var explained: Int
        /// (path, reason) of each unreadable image, in input order.
        public var failures: [(path: String, reason: String)]
        /// The faithfulness metrics of each explained image, when `metrics` was asked for.
        public var metrics: [CAMMetrics] = []
        /// Each explained image's overlay file, relative to the job's folder, in input order.
        public var overlays: [(path: String, file: String)] = []
    }

    /// Runs the job. `progress(done, total, detail)` counts `workPerImage` units per image;
    /// `skipped` and `warning` report unreadable images and blank maps as they are found.
    public func run(
        progress: (Int, Int, String?) -> Void, skipped: (String, String) -> Void, warning: (String) -> Void
    ) throws -> Summary {
        let shape = input.shape
        let total = folder.items.count * workPerImage
        let truth = trueClasses()
        var done = 0
        progress(0, total, nil)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var explained: [ExplainedImage] = []
        var failures: [(path: String, reason: String)] = []
        var files = OutputNames(multipleClasses: targets.count > 1)
        let loop = BatchLoop(input: input, keepingOriginals: true)
        try loop.run(BatchLoop.plan(folder.items, batchSize: batchSize)) { ready in
            for (sample, error) in ready.failed {
                failures.append((sample.path, error))
                skipped(sample.path, error)
            }
            done += ready.failed.count * workPerImage  // skipped images count as done
            guard let input = ready.images else { return true }
            let originals = zip(ready.samples.map(\.path), ready.originals).map { ($0, $1) }
            for target in targets {
                let before = done
                func atLayer(_ cam: ClassActivationMaps, _ images: Tensor, _ classes: [Int?]) throws
                    -> ClassActivationMaps.Result
                {
                    try cam.compute(
                        images, classes: classes, method: method, maxChannels: maxChannels, noise: noise, rise: rise,
                        pixel: pixel,
                        progress: { step, _ in if !augmentationSmoothing { progress(before + step, total, nil) } })
                }
                func compute(_ images: Tensor, _ classes: [Int?]) throws -> ClassActivationMaps.Result {
                    guard !extraLayers.isEmpty else { return try atLayer(cam, images, classes) }
                    return try MultiLayerMaps.fused(
                        [cam] + extraLayers, images: images, classes: classes, compute: atLayer)
                }
                let classes = Array(repeating: target, count: originals.count)
                let result =
                    augmentationSmoothing
                    ? try AugmentationSmoothing.smoothed(input, classes: classes, compute: compute)
                    : try compute(input, classes)
                done += originals.count * workPerImage / targets.count
                progress(done, total, nil)
                let saliency =
                    method == .guidedGradcam
                    ? try GuidedBackprop.saliency(cam, images: input, classes: result.classes) : nil
                for (row, (path, original)) in originals.enumerated() {
                    var item = try explain(
                        row, of: result, path: path, original: original, saliency: saliency, inputShape: shape,
                        stem: files.stem(for: path, explainedClass: result.classes[row]), warning: warning)
                    item.trueClass = truth[path]
                    if metrics {
                        // The metrics run many masked passes per image: say so while they run.
                        progress(done, total, "faithfulness metrics for \((path as NSString).lastPathComponent)")
                        item.metrics = try CAMMetrics.measure(
                            cam, image: input.batch(row..<(row + 1)),
                            heatmap: CAMRendering.heatmap(item.rawMap, height: shape[0], width: shape[1]),
                            classIndex: result.classes[row], road: road)
                    }
                    // A page of more images than it embeds links to the files: keep thumbnails only,
                    // so memory does not grow with the folder (`CAMReport.embedLimit`).
                    if folder.items.count * targets.count > CAMReport.embedLimit { try item.keepThumbnailsOnly() }
                    explained.append(item)
                }
            }
            return true
        }
        try writeReport(explained, failures: failures)
        return Summary(
            explained: explained.count, failures: failures, metrics: explained.compactMap(\.metrics),
            overlays: explained.map { ($0.path, $0.overlayFile) })
    }

    /// One image's map drawn and written: overlay, heatmap, guided image; a blank map is drawn as zero.
    private func explain(
        _ row: Int, of result: ClassActivationMaps.Result, path: String, original: RGBImage, saliency: Tensor?,
        inputShape shape: [Int], stem: String, warning: (String) -> Void
    ) throws -> ExplainedImage {
        let raw = result.maps.batch(row..<(row + 1)).reshaped(Array(result.maps.shape.dropFirst()))
        let blank = ExplainedImage.isBlank(raw, score: result.scores[row])
        if blank {
            warning(
                "\(path): blank map for class \(result.classes[row]) at \(cam.layer) (maximum \(String(format: "%.3g", raw.scalars.max() ?? 0))); nothing is highlighted"
            )
        }
        let heat = CAMRendering.heatmap(
            blank ? Tensor(zeros: raw.shape) : raw, height: original.height, width: original.width)
        let overlay = CAMRendering.overlay(original, heatmap: heat, alpha: alpha)
        let colored = CAMRendering.colored(heat)
        try write(overlay, "\(stem)_overlay.jpg")
        try write(colored, "\(stem)_heatmap.jpg")
        // Guided Grad-CAM at the original image's size (the saliency is upsampled from the
        // model's input, as the overlay is).
        let guided = saliency.map { saliency in
            GuidedBackprop.guidedGradCAMImage(
                saliency: Resize.bilinear(
                    saliency.batch(row..<(row + 1)).reshaped([shape[0], shape[1], shape[2]]),
                    height: original.height, width: original.width),
                heatmap: heat)
        }
        if let guided { try write(guided, "\(stem)_guided.jpg") }
        let classCount = classNames.count
        let probabilities = Array(result.probabilities.scalars[(row * classCount)..<((row + 1) * classCount)])
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(top)
        var item = ExplainedImage(
            path: path, original: original, overlay: overlay, heatmap: colored, rawMap: raw,
            explainedClass: result.classes[row], score: result.scores[row],
            top: ranked.map { ($0, classNames[$0], probabilities[$0]) }, overlayFile: "\(stem)_overlay.jpg",
            heatmapFile: "\(stem)_heatmap.jpg")
        item.guided = guided
        item.guidedFile = guided == nil ? nil : "\(stem)_guided.jpg"
        return item
    }

    private func write(_ image: RGBImage, _ name: String) throws {
        try AtomicFile.write(
            try image.jpegData(quality: quality), to: (output as NSString).appendingPathComponent(name))
    }

    /// `report.html` always; `gradcam.h5` when something was explained.
    private func writeReport(_ explained: [ExplainedImage], failures: [(path: String, reason: String)]) throws {
        let html = try CAMReport.html(
            explained, failures: failures.map { ($0.path, $0.reason) }, model: model.file.path, layer: cam.layer,
            method: method, quality: quality)
        try AtomicFile.write(Data(html.utf8), to: (output as NSString).appendingPathComponent("report.html"))
        guard !explained.isEmpty else { return }
        try CAMReport.writeMaps(
            explained, to: (output as NSString).appendingPathComponent("gradcam.h5"),
            attributes: [
                "model": model.file.path, "model_md5": try MD5.hexDigest(ofFile: model.file.path), "layer": cam.layer,
                "method": method.rawValue, "preprocessing": model.preprocessing.rawValue,
                "sightline_version": sightlineVersion,
            ])
    }

    /// The true class of images from class folders whose names are the model's class names.
    private func trueClasses() -> [String: Int] {
        guard let folders = folder.classNames else { return [:] }
        let indices = folders.map { name in classNames.firstIndex { $0.caseInsensitiveCompare(name) == .orderedSame } }
        var truth: [String: Int] = [:]
        for item in folder.items {
            if let label = item.label, let index = indices[label] { truth[item.path] = index }
        }
        return truth
    }

    /// File stems: the image's name (`_cCLASS` when several classes are explained); images of
    /// the same name from different folders get `_2`, `_3`, ….
    private struct OutputNames {
        var multipleClasses: Bool
        var used = Set<String>()

        mutating func stem(for path: String, explainedClass: Int) -> String {
            let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let suffix = multipleClasses ? "_c\(explainedClass)" : ""
            var stem = base + suffix
            var copy = 1
            while used.contains(stem) {
                copy += 1
                stem = "\(base)_\(copy)\(suffix)"
            }
            used.insert(stem)
            return stem
        }
    }
}
