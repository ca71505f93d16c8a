import ArgumentParser
import Foundation
import SightlineCore
import SightlineModels
import SightlineTransfer
import SightlineWeights

/// `sightline train-head FEATURES.h5 --output HEAD.h5`: a classifier on bottleneck features.
struct TrainHead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-head",
        abstract: "Train a classifier head (logistic regression, or an MLP with --hidden) on extracted features.",
        discussion: """
            Uses the readable, labelled rows of a features file from `sightline extract` over class folders, \
            holds out a seeded, stratified validation split, prints accuracy per epoch and the validation \
            confusion matrix, and saves the head as a Keras .h5 model (Dense layers, softmax output) that \
            records its feature layer, pooling and class names: `sightline predict MODEL --head HEAD.h5` \
            stacks it on the backbone.

            Features are read in blocks of --block-mib, so files larger than memory train in bounded memory: \
            each epoch visits the blocks in a seeded order and shuffles rows within a block (a file that \
            fits in one block is shuffled globally).
            """)

    @Argument(help: "A features file from `sightline extract`.")
    var features: String

    @Option(name: .shortAndLong, help: "The head file to write (.h5).")
    var output: String

    @Option(help: "Hidden units for an MLP head (default: logistic regression).")
    var hidden: Int?

    @Option(help: "Training epochs.")
    var epochs = 100

    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3

    @Option(help: "Fraction of each class held out for validation.")
    var validationSplit = 0.2

    @Option(help: "Random seed (split, initialisation, shuffling).")
    var seed: UInt64 = 0

    @Option(help: "best (default): keep the epoch with the best validation accuracy; last: the last epoch.")
    var keep = "best"

    @Option(help: "MiB of features held in memory at once.")
    var blockMib = 256

    func validate() throws {
        guard ["best", "last"].contains(keep) else { throw ValidationError("--keep must be best or last") }
        guard blockMib >= 1 else { throw ValidationError("--block-mib must be at least 1") }
        if let hidden { try OptionChecks.within(1...65536, hidden, "--hidden") }
        try OptionChecks.within(1...OptionChecks.maximumEpochs, epochs, "--epochs")
        try OptionChecks.rate(lr, "--lr")
        try OptionChecks.fraction(validationSplit, "--validation-split")
    }

    func run() throws {
        try Outputs.check(output, kind: Outputs.hdf5, inputs: [features], companions: [output + ".training.html"])
        let file = try FeatureFileReader(path: features)
        var options = HeadTrainer.Options(hidden: hidden)
        (options.epochs, options.learningRate, options.validationFraction, options.seed) = (
            epochs, lr, validationSplit, seed
        )
        options.keepBest = keep == "best"
        options.engine = EngineOptionGroup.defaults
        options.memoryBudget = blockMib << 20
        let step = max(epochs / 10, 1)
        let result = try HeadTrainer.train(file, options: options) { epoch in
            guard epoch.epoch % step == 0 || epoch.epoch == 1 else { return }
            let validation =
                epoch.validationAccuracy.map { accuracy in
                    (epoch.validationLoss.map { String(format: ", validation loss %.4f", $0) } ?? "")
                        + String(format: ", validation accuracy %.3f", accuracy)
                } ?? ""
            print(
                String(
                    format: "epoch %3d  loss %.4f  training accuracy %.3f", epoch.epoch, epoch.loss,
                    epoch.trainingAccuracy) + validation)
        }
        print("\n\(validationSplit > 0 ? "validation" : "training") part, \(keep) epoch's weights:")
        print(Evaluate.text(result.evaluation))
        let metadata = KerasWriter.Metadata(
            sightlineVersion: Sightline.version,
            preprocessing: Preprocessing(rawValue: file.attributes["preprocessing"] ?? "") ?? .none,
            source: features, classNames: result.classNames,
            extra: [
                "sightline_head_layer": file.attributes["layer"] ?? "",
                "sightline_head_pooling": file.attributes["pooling"] ?? "avg",
                "sightline_backbone_md5": file.attributes["model_md5"] ?? "",
            ])
        try KerasWriter.save(result.graph, to: output, metadata: metadata, modelName: "head")
        let page = TrainingReport.html(result.records, evaluation: result.evaluation, model: features, data: nil)
        try AtomicFile.write(Data(page.utf8), to: output + ".training.html")
        print("\nwrote \(output) and \(output).training.html (peak memory \(ResourceUsage.peakResidentMiB()) MiB)")
    }
}
