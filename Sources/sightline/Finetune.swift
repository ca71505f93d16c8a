import ArgumentParser
import Foundation
import SightlineTransfer

/// `sightline finetune MODEL --data DIR --output OUT.h5`.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a pretrained model on class folders: a new head first, then the network at a low learning rate.",
        discussion: """
            Phase 1 trains the new head (or --head from train-head) with the backbone frozen for --head-epochs; \
            phase 2 trains everything from --unfreeze-from (default: the whole network) for --epochs at --lr. \
            BatchNorm stays frozen (moving statistics used, never updated; gamma/beta not trained) unless \
            --bn train. The backbone's preprocessing is applied unchanged and recorded in OUT.h5. After every \
            epoch OUT.h5 (Keras layout), OUT.h5.state.h5 (for --resume), OUT.h5.metrics.csv and \
            OUT.h5.metrics.jsonl are written atomically.
            """)

    @OptionGroup var options: ModelOptions

    @Option(help: "A folder with one subfolder per class.")
    var data: String

    @Option(name: .shortAndLong, help: "The fine-tuned model to write (.h5).")
    var output: String

    @Option(help: "A head from `sightline train-head` to start from (default: a new Dense head).")
    var head: String?

    @Option(help: "Phase 1 epochs (head only).")
    var headEpochs = 2

    @Option(help: "Phase 2 epochs.")
    var epochs = 3

    @Option(help: "Phase 2 learning rate.")
    var lr: Float = 1e-4

    @Option(help: "Phase 1 learning rate.")
    var headLr: Float = 1e-3

    @Option(help: "adam, adamw or sgd (momentum 0.9).")
    var optimizer = "adam"

    @Option(help: "constant, cosine[:WARMUP], step:EVERY:FACTOR or plateau:PATIENCE:FACTOR (phase 2).")
    var schedule = "constant"

    @Option(help: "Train from this layer upwards in phase 2 (default: everything).")
    var unfreezeFrom: String?

    @Option(help: "frozen (default) or train (fastai-style: batch statistics and trained gamma/beta in phase 2).")
    var bn = "frozen"

    @Option(help: "Images per step.")
    var batch = 16

    @Option(help: "Fraction of each class held out for validation.")
    var validationSplit = 0.2

    @Option(help: "Stop phase 2 after this many epochs without a better validation accuracy, restoring the best weights.")
    var patience: Int?

    @Flag(help: "Disable augmentation (flip, translation, rotation, zoom, brightness).")
    var noAugmentation = false

    @Option(help: "Random seed (split, head, shuffling, augmentation, dropout).")
    var seed: UInt64 = 0

    @Flag(help: "Continue from OUT.h5.state.h5.")
    var resume = false

    func validate() throws {
        guard FineTuner.OptimizerKind(rawValue: optimizer) != nil else { throw ValidationError("--optimizer must be adam, adamw or sgd") }
        guard LearningRateSchedule(argument: schedule) != nil else { throw ValidationError("--schedule must be constant, cosine[:W], step:N:F or plateau:P:F") }
        guard FineTuner.BatchNormPolicy(rawValue: bn) != nil else { throw ValidationError("--bn must be frozen or train") }
    }

    func run() throws {
        var settings = FineTuner.Options()
        (settings.headEpochs, settings.epochs, settings.learningRate, settings.headLearningRate) = (headEpochs, epochs, lr, headLr)
        settings.optimizer = FineTuner.OptimizerKind(rawValue: optimizer) ?? .adam
        settings.schedule = LearningRateSchedule(argument: schedule) ?? .constant
        settings.batchNorm = FineTuner.BatchNormPolicy(rawValue: bn) ?? .frozen
        (settings.unfreezeFrom, settings.batchSize, settings.validationFraction, settings.earlyStoppingPatience, settings.seed) =
            (unfreezeFrom, batch, validationSplit, patience, seed)
        if noAugmentation { settings.augmentation = .none }
        let tuner = try FineTuner(
            backbone: try options.load(), data: try ImageFolder(inputs: [data]), options: settings, head: try head.map { try ModelLoader.load(path: $0) })
        for (path, error) in tuner.skipped { FileHandle.standardError.write(Data("skipped \(path): \(error)\n".utf8)) }
        var display = ProgressDisplay(label: "epoch")
        let history = try tuner.run(output: output, resume: resume, sightlineVersion: Sightline.version, step: { done, total in
            if done == min(settings.batchSize, total) { display = ProgressDisplay(label: "epoch") }
            display.update(done: done, total: total)
        }) { record in
            let validation = record.validationAccuracy.map { String(format: "  validation accuracy %.3f", $0) } ?? ""
            print(String(format: "phase %d epoch %2d  lr %.2g  loss %.4f  training accuracy %.3f", record.phase, record.epoch, Double(record.learningRate), record.loss, record.trainingAccuracy) + validation)
            return true
        }
        print("wrote \(output) (\(tuner.classNames.count) classes: \(tuner.classNames.joined(separator: ", ")); \(history.count) epochs)")
    }
}
