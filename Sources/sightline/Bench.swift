import ArgumentParser
import Foundation
import SightlineCore
import SightlineExplain
import SightlineModels
import SightlineNN

/// `sightline bench`: forward throughput and peak memory, one JSON line per configuration.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Measure the throughput (images/s) and peak memory of a forward pass, Grad-CAM or a training step, as JSON lines.",
        discussion: """
            Each architecture × batch runs in its own process, so the reported peak resident memory \
            belongs to that configuration alone. Weights are random (Keras initialisers, seed 0); \
            inputs are random pixels in [0, 255). Timing: `--warmup` untimed runs, then the median \
            of `--repeats` timed runs.
            """)

    @Option(help: "Architectures, comma-separated (\(BenchModel.names.joined(separator: ", "))).")
    var arch: String = "resnet50,vgg16"

    @Option(help: "Batch sizes, comma-separated.")
    var batch: String = "1,8"

    @Option(help: "Image height and width.")
    var size: Int = 224

    @Option(help: "Timed repetitions (the median is reported).")
    var repeats: Int = 5

    @Option(help: "Untimed warm-up runs.")
    var warmup: Int = 1

    @Flag(
        help:
            "Also print, per layer type, the share of one forward pass (with --job train: of one training step's forward and backward, and the optimizer), to standard error."
    )
    var profile = false

    @Flag(help: "With --profile: a row per layer (by its name in the model) instead of per layer type.")
    var byLayer = false

    /// What one timed repetition does.
    enum Job: String, ExpressibleByArgument, CaseIterable {
        /// Inference forward pass.
        case forward
        /// Grad-CAM at the default layer (ResNet50 `conv5_block3_out`, VGG16 `block5_conv3`):
        /// forward, backward of the head, and the maps.
        case gradcam
        /// One training step of the whole network: forward in training mode, softmax
        /// cross-entropy, backward, SGD with momentum 0.9 (what `train_on_batch` times).
        case train
    }

    @Option(help: "forward, gradcam (Grad-CAM maps for the top class of each image) or train (a full SGD step).")
    var job: Job = .forward

    /// BatchNorm in `--job train`.
    enum BatchNormMode: String, ExpressibleByArgument, CaseIterable {
        /// Moving statistics, never updated; γ and β not trained (what `finetune` does by default).
        case frozen
        /// Batch statistics, γ and β trained (`finetune --bn train`; Keras's `trainable=True`).
        case train
    }

    @Option(help: "BatchNorm in --job train: frozen (finetune's default) or train (batch statistics).")
    var bn: BatchNormMode = .frozen

    @OptionGroup var engine: EngineOptionGroup

    func validate() throws {
        guard repeats > 0, warmup >= 0, size >= 32 else {
            throw ValidationError("--repeats must be > 0, --warmup >= 0, --size >= 32")
        }
        for name in arch.split(separator: ",") where !BenchModel.names.contains(String(name)) {
            throw ValidationError(
                "unknown architecture '\(name)'; choose from \(BenchModel.names.joined(separator: ", "))"
            )
        }
        for text in batch.split(separator: ",") where (Int(text) ?? 0) <= 0 {
            throw ValidationError("batch sizes must be positive integers, got '\(text)'")
        }
    }

    func run() throws {
        let architectures = arch.split(separator: ",").map(String.init)
        let batches = batch.split(separator: ",").compactMap { Int($0) }
        if architectures.count == 1 && batches.count == 1 {
            print(try measure(architectures[0], batch: batches[0]))
            return
        }
        for architecture in architectures {
            for size in batches {
                try runChild(architecture, batch: size)
            }
        }
    }

    /// Re-runs this executable for one configuration and forwards its output.
    private func runChild(_ architecture: String, batch: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments =
            [
                "bench", "--arch", architecture, "--batch", String(batch), "--size", String(size),
                "--repeats", String(repeats), "--warmup", String(warmup), "--job", job.rawValue, "--bn", bn.rawValue,
                "--precision", engine.precision.rawValue,
            ] + (profile ? ["--profile"] : []) + (byLayer ? ["--by-layer"] : [])
            + (engine.threads.map { ["--threads", String($0)] } ?? [])
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError(
                "benchmark of \(architecture) batch \(batch) failed with status \(process.terminationStatus)")
        }
    }

    private func measure(_ architecture: String, batch: Int) throws -> String {
        let options = try engine.make()
        let graph = try BenchModel.build(architecture, size: size)
        graph.engineOptions = options
        let size = graph.inputNames.first.flatMap { graph.shape(of: $0)?.first } ?? size
        var generator = SeededGenerator(seed: 1)
        let input = Tensor(shape: [batch, size, size, 3]) { buffer in
            for i in 0..<buffer.count { buffer[i] = generator.nextUnitFloat() * 255 }
        }
        let cam = job == .gradcam ? try ClassActivationMaps(graph: graph) : nil
        let optimizer = SGD(learningRate: 0.01, momentum: 0.9)
        // Training differentiates the loss through the logits, as Keras does for a softmax output.
        let logits = job == .train ? try graph.withLogitsOutput() : graph
        if job == .train && bn == .frozen {
            for case let layer as BatchNormalization in logits.layers { layer.isTrainable = false }
        }
        let labels = (0..<batch).map { $0 % 1000 }
        let once = { () throws -> Void in
            switch job {
            case .forward: _ = try graph(input)
            case .gradcam: _ = try cam?.compute(input, classes: Array(repeating: nil, count: batch))
            case .train:
                try TrainingStep.run(
                    logits, inputs: [logits.inputNames[0]: input], output: logits.outputNames[0], labels: labels,
                    optimizer: optimizer)
            }
        }
        for _ in 0..<warmup { try once() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try once()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        if profile && job == .train {
            try TrainingProfile.print(
                logits, input: input, labels: labels, optimizer: optimizer, repeats: max(1, repeats), byLayer: byLayer)
        } else if profile {
            try printProfile(graph, input: input)
        }
        times.sort()
        let median = times[times.count / 2]
        var result: [String: Any] = [
            "tool": "sightline-\(Sightline.version)", "job": job.rawValue, "arch": architecture,
            "batch": batch, "image_size": size,
            "median_s": (median * 1e4).rounded() / 1e4, "img_per_s": (Double(batch) / median * 100).rounded() / 100,
            "peak_rss_mib": ResourceUsage.peakResidentMiB(),
            "threads": Parallel.threadCount,
            "parameters": graph.parameterCount, "precision": options.precision.rawValue,
        ]
        if job == .train { result["bn"] = bn.rawValue }
        if let huge = ResourceUsage.hugePagesMiB() { result["huge_pages_mib"] = huge }
        if options.precision != .fp32 {
            for (key, value) in try PrecisionDeviation.measure(graph, input: input) { result[key] = value }
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Times one forward pass per step and prints the totals per layer type, largest first.
    private func printProfile(_ graph: Graph, input: Tensor) throws {
        var totals: [String: Double] = [:]
        _ = try graph.profiledInference([graph.inputNames[0]: input]) { name, kind, seconds in
            totals[byLayer ? name : kind, default: 0] += seconds
        }
        let all = totals.values.reduce(0, +)
        for (kind, seconds) in totals.sorted(by: { $0.value > $1.value }) {
            FileHandle.standardError.write(
                Data(
                    String(format: "%-40@ %8.1f ms %5.1f%%\n", kind as NSString, seconds * 1e3, 100 * seconds / all)
                        .utf8))
        }
    }
}
