import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineExplain
import SightlineModels
import SightlineTransfer
import SightlineVision
import SightlineWeights

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

    @Option(
        help:
            "The layer to explain (default: the last convolutional feature map), or several separated by commas, whose maps are fused as pytorch-grad-cam fuses several target layers (each scaled to [0, 1] at the input's size, averaged; LayerCAM's multi-layer use)."
    )
    var layer: String?

    /// `--layer`'s names (one nil: the default layer).
    var layerNames: [String?] {
        guard let layer else { return [nil] }
        return layer.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

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
        help:
            "One method, a comma-separated list or all (each into OUTPUT/METHOD, with --metrics ranked in OUTPUT/methods.html). At --layer: gradcam, gradcam++, xgradcam, hirescam, gradcam-elementwise, layercam, eigencam (no gradients), eigengradcam, scorecam, guided-gradcam (also writes NAME_guided.jpg at the original image's size). At the input's pixels: saliency, input-x-gradient, integrated-gradients, occlusion, fullgrad, rise (--masks). pytorch-grad-cam's departures from the official code by name: gradcam++-pgc, scorecam-pgc (not in all). docs/explanations.md says what each computes and which reference it matches."
    )
    var method = "gradcam"

    /// The methods `--method` names.
    var methods: [CAMMethod] { CAMMethod.selection(method) ?? [.gradcam] }

    @Option(
        help:
            "Score-CAM: use only the K channels whose maps vary most (Faster Score-CAM); about channels/K times faster. docs/explanations.md shows its effect on the maps."
    )
    var maxChannels: Int?

    @Option(
        help:
            "Smooth the pixel attributions (saliency, input-x-gradient, integrated-gradients, occlusion) as Captum's NoiseTunnel: smoothgrad, smoothgrad-sq or vargrad, optionally :SAMPLES (16) and :SIGMA (0.15, the noise's standard deviation as a fraction of each image's value range), such as smoothgrad:32:0.2. SAMPLES times the passes. Or aug: the layer methods' test-time augmentation smoothing (pytorch-grad-cam's aug_smooth: the map averaged over the image mirrored or not and times 0.9, 1 and 1.1, each scaled to [0, 1] at the input's size; 6 times the passes)."
    )
    var smooth: String?

    @Option(help: "Integrated Gradients: steps from the baseline (--baseline) to the image (Captum's n_steps).")
    var steps = 16

    @Option(help: "Occlusion: the patch's side in pixels (default: 1/8 of the input's side, at least 2).")
    var window: Int?

    @Option(help: "Occlusion: the patch's step in pixels (default: half the patch).")
    var stride: Int?

    @Option(help: "RISE: the random masks per image, one forward pass each (the paper used 4000).")
    var masks = 1000

    @Option(help: "Seed of RISE's masks and --smooth's noise (the same seed gives the same maps).")
    var seed: UInt64 = 0

    @Option(
        help:
            "Integrated Gradients' starting point and Occlusion's patch fill: zero (after preprocessing: the dataset mean for caffe and torch, Captum's default), black, white (those images through the model's preprocessing), or blur[:SIGMA] (the image blurred by a Gaussian of SIGMA pixels, default 5)."
    )
    var baseline = "zero"

    /// `--baseline` for `preprocessing` and `channels`; nil when malformed.
    static func parsedBaseline(_ text: String, preprocessing: Preprocessing, channels: Int) -> AttributionBaseline? {
        func pixel(_ value: Float) -> [Float] {
            preprocessing.apply(to: Tensor(repeating: value, shape: [1, 1, 1, channels])).scalars
        }
        switch text {
        case "zero": return .zero
        case "black": return .channels(pixel(0))
        case "white": return .channels(pixel(255))
        default:
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.first == "blur", parts.count <= 2 else { return nil }
            guard let sigma = parts.count == 2 ? Float(parts[1]) : 5, sigma > 0, sigma <= 100 else { return nil }
            return .blurred(sigma: sigma)
        }
    }

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

    @Flag(
        help:
            "With --metrics, add ROAD (remove and debias, pytorch-grad-cam's: the logit change as the most and least relevant 10–90% of pixels are imputed from their neighbours). 18 passes and sparse solves per image: about 6 s per 224×224 image on a 2-core Xeon."
    )
    var road = false

    @Flag(
        help:
            "Also run Adebayo et al.'s sanity check for each method on the first 8 images: the top 3 layers with weights are randomised one after the other, and the method passes when its maps stop resembling the trained model's (mean rank correlation below 0.5 at every step); printed, and a column of methods.html."
    )
    var sanity = false

    @Option(help: "A text file with one class name per line (default: ImageNet names for 1000-class models).")
    var labels: String?

    func validate() throws {
        try OptionChecks.atLeast(1, batch, "--batch")
        try OptionChecks.atLeast(1, top, "--top")
        try OptionChecks.unitInterval(alpha, "--alpha")
        guard (1...100).contains(quality) else { throw ValidationError("--quality \(quality): must be 1 to 100") }
        if let maxChannels { try OptionChecks.atLeast(1, maxChannels, "--max-channels") }
        try OptionChecks.within(2...4096, steps, "--steps")
        if let window { try OptionChecks.within(1...65536, window, "--window") }
        if let stride { try OptionChecks.within(1...65536, stride, "--stride") }
        try OptionChecks.within(1...100_000, masks, "--masks")
        guard Self.parsedBaseline(baseline, preprocessing: .none, channels: 3) != nil else {
            throw ValidationError(
                "--baseline \(baseline): must be zero, black, white, or blur with an optional :SIGMA in pixels (above 0, at most 100), such as blur:5"
            )
        }
        guard CAMMethod.selection(method) != nil else {
            throw ValidationError(
                "--method \(method): not a method; choose from \(CAMMethod.allCases.map(\.rawValue).joined(separator: ", ")), a comma-separated list of them, or all"
            )
        }
        if road && !metrics {
            throw ValidationError("--road adds ROAD to the metrics; give --metrics with it")
        }
        if smooth == "aug" {
            guard methods.count == 1, let only = methods.first, !only.isPixelAttribution else {
                throw ValidationError(
                    "--smooth aug smooths one layer method (gradcam, gradcam++, scorecam, …); for \(method) use smoothgrad, smoothgrad-sq or vargrad on a pixel attribution, or one layer method"
                )
            }
        } else if let smooth {
            guard NoiseTunnel(argument: smooth) != nil else {
                throw ValidationError(
                    "--smooth \(smooth): must be aug, or smoothgrad, smoothgrad-sq or vargrad, then optionally :SAMPLES (1 to 1024) and :SIGMA (above 0, at most 1), such as smoothgrad:32:0.2"
                )
            }
            guard methods.contains(where: \.isPixelAttribution) else {
                throw ValidationError(
                    "--smooth smooths saliency, input-x-gradient, integrated-gradients and occlusion; --method \(method) has none of them"
                )
            }
        }
    }

    func run() throws {
        let engineOptions = try engine.make(decodeWorkers: ImageBatchStream.defaultWorkers)
        let folder = try ImageInputs.folder(inputs)
        try Outputs.check(output, kind: .folder, inputs: [options.model] + folder.items.map(\.path))
        let loaded = try options.load(engine: engineOptions)
        let cams: [ClassActivationMaps]
        do {
            cams = try layerNames.map { try ClassActivationMaps(graph: loaded.graph, layer: $0) }
        } catch {
            throw layer == nil ? CommandError(message: "\(error)") : CommandError.usage("--layer: \(error)")
        }
        let (cam, extraLayers) = (cams[0], Array(cams.dropFirst()))
        let classCount = loaded.graph.shape(of: cam.scoreNode)?.last ?? 0
        let recorded = labels == nil ? loaded.file.classNames : nil
        let names =
            try recorded.flatMap { $0.count == classCount ? $0 : nil }
            ?? Predict.classNames(count: classCount, labels: labels)
        let targets = try Self.targets(classList, names: names)
        let sample = sanity ? try Self.sanitySample(loaded: loaded, cam: cam, folder: folder, target: targets[0]) : nil
        guard methods.count > 1 else {
            let summary = try explain(
                methods[0], loaded: loaded, cam: cam, extraLayers: extraLayers, folder: folder, names: names,
                targets: targets, into: output)
            if let sample { _ = try Self.check(methods[0], cam: cam, sample: sample) }
            return try Report.finish(skipped: summary.failures.count)
        }
        // Several methods: each into its own folder, then the ranking when metrics were measured.
        var rows: [MethodComparison.Row] = []
        var overlays: [(path: String, files: [CAMMethod: String])] = []
        var position: [String: Int] = [:]  // overlays' index by image path
        var skipped = 0
        for method in methods {
            let summary = try explain(
                method, loaded: loaded, cam: cam, extraLayers: extraLayers, folder: folder, names: names,
                targets: targets, into: (output as NSString).appendingPathComponent(method.rawValue))
            let verdict = try sample.map { try Self.check(method, cam: cam, sample: $0) }
            rows.append(MethodComparison.Row(method: method, metrics: summary.metrics, sanity: verdict))
            for (path, file) in summary.overlays {
                if let index = position[path] {
                    overlays[index].files[method] = file
                } else {
                    position[path] = overlays.count
                    overlays.append((path, [method: file]))
                }
            }
            skipped = summary.failures.count
        }
        if metrics {
            let comparison = MethodComparison(rows)
            try AtomicFile.write(
                Data(comparison.html(model: options.model, layer: cam.layer, overlays: overlays).utf8),
                to: (output as NSString).appendingPathComponent("methods.html"))
            print("\nwhich explanation to trust on these images (best first):\n\(comparison.text)")
            print("wrote \(output)/methods.html")
        }
        try Report.finish(skipped: skipped)
    }

    /// The sanity check's images: the first 8 readable ones, preprocessed, with the classes the
    /// trained model explains for them (`target`, or each image's top class).
    static func sanitySample(loaded: LoadedModel, cam: ClassActivationMaps, folder: ImageFolder, target: Int?) throws
        -> (images: Tensor, classes: [Int])?
    {
        var images: Tensor?
        let input = try ModelInput(graph: loaded.graph, preprocessing: loaded.preprocessing)
        try BatchLoop(input: input).run(BatchLoop.plan(folder.items, batchSize: 8)) { ready in
            images = ready.images
            return images == nil  // the first batch with a readable image is enough
        }
        guard let images else { return nil }
        let classes = try cam.compute(images, classes: Array(repeating: target, count: images.batchSize)).classes
        return (images, classes)
    }

    /// Runs and prints one method's sanity check.
    static func check(_ method: CAMMethod, cam: ClassActivationMaps, sample: (images: Tensor, classes: [Int])) throws
        -> SanityCheck.Result
    {
        let result = try SanityCheck.run(method, cam: cam, images: sample.images, classes: sample.classes)
        print(
            "sanity check of \(method.rawValue) on \(sample.images.batchSize) images, randomising \(result.layers.joined(separator: ", ")) in turn: \(MethodComparison.verdict(result))"
        )
        return result
    }

    /// One method's job into `folder`: progress, the one-line summary, and the summary itself.
    func explain(
        _ method: CAMMethod, loaded: LoadedModel, cam: ClassActivationMaps, extraLayers: [ClassActivationMaps] = [],
        folder: ImageFolder, names: [String], targets: [Int?], into output: String
    ) throws -> GradCAMJob.Summary {
        var job = try GradCAMJob(
            model: loaded, cam: cam, folder: folder, output: output, classNames: names,
            sightlineVersion: Sightline.version)
        if method.usesTargetLayer { job.extraLayers = extraLayers }
        job.targets = targets
        (job.method, job.maxChannels, job.alpha, job.quality) = (method, maxChannels, alpha, quality)
        if method.isPixelAttribution {
            job.noise = smooth.flatMap(NoiseTunnel.init(argument:)).map {
                var n = $0
                n.seed = seed
                return n
            }
        }
        job.augmentationSmoothing = smooth == "aug"
        job.rise = RISE(masks: masks, seed: seed)
        job.pixel = InputAttribution.Options(
            steps: steps, window: window, stride: stride,
            baseline: Self.parsedBaseline(
                baseline, preprocessing: loaded.preprocessing,
                channels: loaded.graph.shape(of: loaded.graph.inputNames.first ?? "")?.last ?? 3) ?? .zero)
        (job.top, job.batchSize, job.metrics, job.road) = (top, batch, metrics, road)
        let images = folder.items.count
        if method.perturbsChannels {
            let channels = loaded.graph.shape(of: cam.layer)?.last ?? 0
            Report.write(
                "\(method.rawValue): \(images) images × \(job.workPerImage) \(method == .scorecam ? "masked" : "ablated") forward passes at \(cam.layer) = \(images * job.workPerImage) passes\(maxChannels == nil && channels > 256 ? "; --max-channels 64 is about \(channels / 64)× faster" : "")"
            )
        }
        let display = ProgressDisplay(label: method.rawValue, unit: method.perturbsChannels ? "passes" : "images")
        let summary = try job.run(
            progress: { done, total, detail in display.update(done: done, total: total, detail: detail ?? "") },
            skipped: Report.skipped, warning: Report.warning)
        let skipped = summary.failures.count
        print(
            "wrote \(output)/report.html: \(summary.explained) maps explained at \(method.usesTargetLayer ? ([cam.layer] + job.extraLayers.map(\.layer)).joined(separator: " + ") : "the input") with \(method.rawValue)\(job.noise.map { " smoothed by \($0.kind.rawValue) (\($0.samples) samples, σ \($0.sigma) of each image's range)" } ?? "")\(job.augmentationSmoothing ? " smoothed over 6 augmented versions" : "")\(skipped == 0 ? "" : ", \(skipped) skipped")"
        )
        if summary.explained == 0 { throw CommandError(message: "no image could be read; nothing was explained") }
        return summary
    }
}
