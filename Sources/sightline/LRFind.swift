import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineNN
import SightlineTransfer

/// `sightline lr-find MODEL --data DIR`: fastai's learning-rate sweep on the model and data a
/// `finetune` would use, with its suggestions; nothing is written but the optional report.
struct LRFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract:
            "Sweep the learning rate (fastai's lr_find) and suggest one for finetune: edge, valley, steep, minimum, slide.",
        discussion: """
            Trains the model finetune would build for a few steps at exponentially growing rates, from \
            the pretrained weights (restored afterwards), and stops when the smoothed loss passes 4× its \
            best. --phase head sweeps the new head alone (for --head-lr); all sweeps what phase 2 trains \
            (for --lr). The curve is drawn in the terminal and, with --report, as an SVG page.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var threading: ThreadsOption

    @Option(help: "A folder with one subfolder per class.")
    var data: String

    @Option(help: "A head from `sightline train-head` to start from (default: a new Dense head).")
    var head: String?

    @Option(help: "head: the new head alone (for --head-lr); all: what phase 2 trains (for --lr).")
    var phase = "head"

    @Option(help: "The first rate.")
    var start: Float = 1e-7

    @Option(help: "The last rate.")
    var end: Float = 10

    @Option(help: "Steps (batches) of the sweep.")
    var steps = 100

    @Option(help: "Images per step.")
    var batch = 16

    @Option(help: "adam, adamw or sgd (momentum 0.9).")
    var optimizer = "adam"

    @Option(help: "Train from this layer upwards with --phase all (default: everything).")
    var unfreezeFrom: String?

    @Option(help: "Random seed (head, shuffling, augmentation, dropout).")
    var seed: UInt64 = 0

    @Option(help: "Write lr_find.html (the curve and the suggestions) into this folder.")
    var report: String?

    func validate() throws {
        guard ["head", "all"].contains(phase) else { throw ValidationError("--phase must be head or all") }
        guard FineTuner.OptimizerKind(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer must be adam, adamw or sgd")
        }
        try OptionChecks.rate(start, "--start")
        try OptionChecks.rate(end, "--end")
        guard end > start else { throw ValidationError("--end \(end) must be above --start \(start)") }
        try OptionChecks.within(6...10_000, steps, "--steps")
        try OptionChecks.atLeast(1, batch, "--batch")
    }

    func run() throws {
        var settings = FineTuner.Options()
        settings.optimizer = FineTuner.OptimizerKind(rawValue: optimizer) ?? .adam
        (settings.unfreezeFrom, settings.batchSize, settings.seed) = (unfreezeFrom, batch, seed)
        let folder = try ImageInputs.folder([data])
        if let report { try Outputs.check(report, kind: .folder, inputs: [options.model, head]) }
        let engine = EngineOptions(
            convolution: EngineOptionGroup.environmentRoute,
            threads: threading.resolved(decodeWorkers: settings.dataWorkers))
        let tuner = try FineTuner(
            backbone: try options.load(engine: engine), data: folder, options: settings,
            head: try head.map { try HeadAttachment(path: $0) })
        defer { for (path, error) in tuner.skipped { Report.skipped(path, error) } }
        let display = ProgressDisplay(label: "lr-find", unit: "steps")
        let sweep = try tuner.sweepLearningRate(
            phase: phase == "head" ? 1 : 2, start: start, end: end, steps: steps,
            step: { position in
                display.update(done: position.done, total: position.total)
                return true
            })
        print(sweep.terminalPlot())
        print("\nsuggested learning rates (\(phase == "head" ? "--head-lr" : "--lr")):")
        for line in sweep.suggestionLines { print("  " + line) }
        if let report {
            try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
            let page = (report as NSString).appendingPathComponent("lr_find.html")
            try AtomicFile.write(Data(sweep.html(model: options.model, data: data).utf8), to: page)
            print("wrote \(page)")
        }
        try Report.finish(skipped: tuner.skipped.count)
    }
}
