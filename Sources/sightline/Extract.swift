import ArgumentParser
import Foundation
import SightlineData
import SightlineModels
import SightlineTransfer
import SightlineVision

extension GlobalPooling: ExpressibleByArgument {}

/// `sightline extract MODEL INPUT... --output FEATURES.h5`: bottleneck features for a folder of images.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Extract features for images (folders with class subfolders, files, globs or list files) into an HDF5 file.",
        discussion: """
            Unreadable images are reported and recorded (status 1, with the error) and never stop the run. \
            Each finished batch is appended to OUTPUT.partial (memory does not grow with the dataset), \
            renamed to OUTPUT when complete, so an interrupted run continues with --resume. --shard I/N (or SLURM_ARRAY_TASK_ID / \
            JOB_COMPLETION_INDEX with --num-shards N) processes a contiguous slice; `sightline merge` \
            joins the shard files.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var engine: EngineOptionGroup

    @Argument(help: "Folders, image files, glob patterns (quoted) or list files (.txt/.lst).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "The features file to write.")
    var output: String

    @Option(help: "The layer to extract (default: the layer feeding the classifier head).")
    var layer: String?

    @Option(help: "Global pooling for spatial outputs (avg, max, none).")
    var pool: GlobalPooling = .avg

    @Option(help: "Images per forward pass.")
    var batch = 8

    @Flag(
        help:
            "Decode JPEGs at full size before resizing (default: libjpeg's DCT scaling decodes large photos at 1/2, 1/4 or 1/8 size when that still covers the model input)."
    )
    var exactDecode = false

    @Option(help: "squash, crop (shorter side to size/0.875, centre crop) or crop:SIDE.")
    var resize = "squash"

    @Option(help: "Image file extensions to accept, comma-separated.")
    var extensions = "jpg,jpeg,png"

    @Option(
        help: """
            Threads decoding images ahead of the model; 0 decodes each batch between passes on the engine's \
            threads (default: a quarter of the cores from 4 cores up, else 0).
            """)
    var dataWorkers: Int?

    @Flag(help: "Continue an interrupted run from OUTPUT.partial (the rows written so far).")
    var resume = false

    @Option(help: "Process shard I of N (\"I/N\", I from 0).")
    var shard: String?

    @Option(help: "The shard count when the index comes from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.")
    var numShards: Int?

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard dataWorkers.map({ $0 >= 0 }) ?? true else { throw ValidationError("--data-workers must be at least 0") }
        guard ResizePolicy(argument: resize) != nil else {
            throw ValidationError("--resize must be squash, crop or crop:SIDE")
        }
        _ = try shardSelection()
    }

    /// (index, count) from --shard, or from the job array's environment with --num-shards.
    func shardSelection() throws -> (index: Int, count: Int) {
        if let shard {
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] > 0, parts[0] >= 0, parts[0] < parts[1] else {
                throw ValidationError("--shard must be I/N with 0 <= I < N")
            }
            return (parts[0], parts[1])
        }
        if let numShards {
            let environment = ProcessInfo.processInfo.environment
            guard let text = environment["SLURM_ARRAY_TASK_ID"] ?? environment["JOB_COMPLETION_INDEX"],
                let index = Int(text)
            else {
                throw ValidationError(
                    "--num-shards needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment")
            }
            guard numShards > 0, index >= 0, index < numShards else {
                throw ValidationError("shard index \(index) is outside 0..<\(numShards)")
            }
            return (index, numShards)
        }
        return (0, 1)
    }

    func run() throws {
        let engineOptions = try engine.make(
            decodeWorkers: dataWorkers ?? ImageBatchStream.defaultWorkers)
        let dataset: ImageFolder
        do {
            dataset = try ImageFolder(
                inputs: inputs, extensions: Set(extensions.lowercased().split(separator: ",").map(String.init)))
        } catch {
            throw CommandError.usage(error.description)
        }
        guard !dataset.items.isEmpty else {
            throw CommandError.usage("no images found in \(inputs.joined(separator: " "))")
        }
        try Outputs.check(
            output, kind: Outputs.hdf5, inputs: [options.model] + inputs + dataset.items.map(\.path))
        let model = try options.load(engine: engineOptions)
        // An unknown --layer is a usage error (TransferError.option), mapped by the exit-status table.
        var extractor = try FeatureExtractor(
            model: model, layer: layer, pooling: pool, policy: ResizePolicy(argument: resize) ?? .squash)
        extractor.input.scaledDecode = !exactDecode
        var job = ExtractionJob(
            extractor: extractor, dataset: dataset, output: output, batchSize: batch, shard: try shardSelection(),
            resume: resume,
            sightlineVersion: Sightline.version)
        if let dataWorkers { job.dataWorkers = dataWorkers }
        let display = ProgressDisplay(label: "extract")
        Interrupts.cooperate()
        let summary: ExtractionJob.Summary
        do {
            summary = try job.run { done, total in
                display.update(done: done, total: total)
                return !Interrupts.requested
            }
        } catch  where Interrupts.requested {
            throw Interrupts.stop(
                "interrupted; the rows written so far are kept in \(output).partial; rerun the same command with --resume to continue"
            )
        }
        for failure in summary.failed { Report.skipped(failure.path, failure.error) }
        print(
            "wrote \(output): \(summary.processed - summary.failed.count) of \(summary.processed) images, layer \(extractor.layer), features \(extractor.featureShape)\(summary.resumedBatches > 0 ? ", \(summary.resumedBatches) batches reused" : "")"
        )
        try Report.finish(skipped: summary.failed.count)
    }
}

/// `sightline merge SHARD.h5... --output ALL.h5`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join feature files written by sharded `extract` runs, after checking they belong together.")

    @Argument(help: "The shard files, in any order.")
    var shards: [String]

    @Option(name: .shortAndLong, help: "The merged features file.")
    var output: String

    func run() throws {
        try Outputs.check(output, kind: Outputs.hdf5, inputs: shards)
        let rows = try FeatureFileWriter.merge(shards, to: output)
        print("wrote \(output): \(rows) images from \(shards.count) shards")
    }
}
