import ArgumentParser
import Foundation
import SightlineNN
import SightlineTransfer
import SightlineVision
import SightlineWeights

/// `sightline finetune MODEL --data DIR --output OUT.h5`.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Fine-tune a pretrained model on class folders: a new head first, then the network at a low learning rate.",
        discussion: """
            Phase 1 trains the new head (or --head from train-head) with the backbone frozen for --head-epochs; \
            phase 2 trains everything from --unfreeze-from (default: the whole network) for --epochs at --lr. \
            BatchNorm stays frozen (moving statistics used, never updated; gamma/beta not trained) unless \
            --bn train. The backbone's preprocessing is applied unchanged and recorded in OUT.h5. After every \
            epoch OUT.h5 (Keras layout), OUT.h5.state.h5 (for --resume), OUT.h5.metrics.csv and \
            OUT.h5.metrics.jsonl are written atomically.

            Images are decoded on --data-workers threads ahead of training into a queue of at most \
            --queue batches: memory does not grow with the dataset. On 2 or 3 cores the default is 0 workers: \
            each batch is decoded between steps on every core. Each epoch line gives images/s, the share of \
            time spent waiting for (or, with 0 workers, decoding) data (high: add --data-workers on 4 or more \
            cores, or --cache) and peak memory.

            Data-parallel: `mpirun -np N sightline finetune …` (or srun under Slurm) runs N processes; each \
            takes its slice of every global batch of --batch images, gradients are averaged over processes \
            before each step, and rank 0 writes every file (OUT must be on a shared filesystem across \
            machines). Resume with the same N. With --bn train, batch statistics are per process.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var threading: ThreadsOption

    /// What `--help` says about bf16 training, with the deviation and speed measured here.
    static let precisionHelp = ArgumentHelp(
        "Arithmetic of the convolutions, forward and backward: fp32 (default), bf16 (AVX512_BF16 or AMX CPUs only) or bf16-emulated.",
        discussion: """
            bf16 rounds each convolution's input, kernel and output gradient to bfloat16 and accumulates in \
            float32; master weights, optimizer state, loss, BatchNorm, dense and depthwise layers stay float32. \
            bf16-emulated does the same rounding with float32 instructions on any CPU (slower than fp32), to \
            measure bf16's effect on accuracy before training on a CPU that has bf16. With AMX (Intel \
            Sapphire Rapids and later) oneDNN runs every convolution in bf16 on its tiles; with AVX512_BF16 \
            on AMD (Zen 4 and later) every convolution but the 3×3 layers on maps of 13×13 and up, which \
            keep fp32 Winograd (ResNet50 training step 1.2–1.4× fp32 on a 2-core Zen 4 EPYC); with AVX512_BF16 but \
            no AMX on Intel oneDNN's bf16 convolutions are slower than fp32, so there bf16 trains as fp32 \
            and says so (docs/fine-tuning.md has the measurements).
            """)

    @Option(help: precisionHelp)
    var precision: Precision = .fp32

    @Option(help: "A folder with one subfolder per class.")
    var data: String

    @Option(name: .shortAndLong, help: "The fine-tuned model to write (.h5).")
    var output: String

    @Option(help: "A head from `sightline train-head` to start from (default: a new Dense head).")
    var head: String?

    @Option(
        help:
            "keras (default: Sightline's and the Keras guide's choices), fastai (Learner.fine_tune: 1 head epoch, --lr 1e-5:1e-3 under one-cycle, AdamW, --bn train), timm (AdamW, cosine with a warm-up epoch, label smoothing 0.1, mixup 0.8 and CutMix 1.0, --ema 0.999, --rand-augment 2:9, --bn train) or sightline (keras's with --head-epochs 10 --head-lr 3e-3, --lr auto and --schedule cosine:2: 62% → 88% on held-out digits, docs/fine-tuning.md; the one to try first). Printed at the start and recorded in the metrics and training.html; options given here override the recipe's."
    )
    var recipe: Recipe = .keras

    @Option(help: "Phase 1 epochs (head only; default 2, fastai's recipe 1).")
    var headEpochs: Int?

    @Option(help: "Phase 2 epochs.")
    var epochs = 3

    @Option(
        help:
            "Phase 2 learning rate; LOW:HIGH for discriminative rates (fastai's slice: the backbone's first stage at LOW, later stages geometrically higher, the head at HIGH; a stage is a run of layers at one resolution); or auto[:RULE]: when phase 2 starts, a learning-rate sweep of what it trains (as sightline lr-find --phase all) picks the suggestion RULE names (edge, the default: half the rate where the loss starts to diverge; or fastai's rules: valley, its lr_find default, slide, steep, minimum), and says so."
    )
    var lr: LearningRateArgument?

    @Option(help: "Phase 1 learning rate (default 0.001, fastai's recipe 0.002).")
    var headLr: Float?

    @Option(help: "adam (default), adamw or sgd (momentum 0.9).")
    var optimizer: String?

    @Option(
        help:
            "constant, cosine[:WARMUP], step:EVERY:FACTOR, plateau:PATIENCE:FACTOR, or one-cycle[:WARMUP_FRACTION] (PyTorch's OneCycleLR over phase 2's steps: from --lr/25 up to --lr over the first 0.3 of them, then down to --lr/25e4, momentum 0.95-0.85-0.95) (phase 2; default constant)."
    )
    var schedule: String?

    @Option(help: "Train from this layer upwards in phase 2 (default: everything).")
    var unfreezeFrom: String?

    @Option(
        help:
            "Layer-wise learning-rate decay (timm's layer_decay, by layer): the backbone's i-th of L layers with weights trains at DECAY^(L−i) times --lr, the head at --lr (such as 0.95)."
    )
    var layerDecay: Float?

    @Flag(
        help:
            "Gradual unfreezing (ULMFiT, fastai): phase 2's first epoch trains the backbone's last stage and the head, each later epoch one stage more (a stage: the layers at one resolution), until everything trains."
    )
    var gradualUnfreeze = false

    @Option(help: "frozen (default) or train (fastai-style: batch statistics and trained gamma/beta in phase 2).")
    var bn: String?

    @Option(help: "Images per step.")
    var batch = 16

    @Option(help: "Fraction of each class held out for validation.")
    var validationSplit = 0.2

    @Option(
        help: "Stop phase 2 after this many epochs without a better validation accuracy, restoring the best weights.")
    var patience: Int?

    @Flag(help: "Disable augmentation (flip, translation, rotation, zoom, brightness).")
    var noAugmentation = false

    @Flag(
        help:
            "TrivialAugment (torchvision's TrivialAugmentWide: one of 14 operations at a random strength per image) after the flip, instead of the translation, rotation, zoom and brightness."
    )
    var trivialAugment = false

    @Option(
        help:
            "RandAugment N:M (torchvision's RandAugment: N of the same 14 operations in turn, all at strength M of 30; 2:9 is torchvision's default and timm's rand-m9) after the flip, instead of the translation, rotation, zoom and brightness."
    )
    var randAugment: String?

    @Option(help: "Random seed (split, head, shuffling, augmentation, dropout).")
    var seed: UInt64 = 0

    @Option(help: "Label smoothing of the training loss, in [0, 1) (timm's and fastai's recipes use 0.1).")
    var labelSmoothing: Float?

    @Option(
        help:
            "Classes of different sizes: none, weights (each image's loss weighted by N/(K·n_class), Keras's balanced class_weight) or sampler (each epoch draws its images with replacement by inverse class frequency, PyTorch's WeightedRandomSampler). A run whose classes differ by more than 2× says so."
    )
    var balance: ClassBalance = .none

    @Option(
        help:
            "Mixup with this Beta alpha (timm's recipe: 0.8): each batch is blended with itself reversed, the loss with the same mixture of labels (both phases)."
    )
    var mixup: Float?

    @Option(
        help:
            "CutMix with this Beta alpha (timm's recipe: 1.0): a box of the reversed batch is pasted into each image; with --mixup too, each batch takes one of the two, CutMix half the time (timm's switch probability)."
    )
    var cutmix: Float?

    @Option(
        help:
            "Keep an exponential moving average of the weights with this decay, such as 0.999 (timm's ModelEmaV2, updated after every step); phase 2 epochs also validate it, and it is kept when it validates best."
    )
    var ema: Float?

    @Option(help: "best (default): end with the epoch of the best validation accuracy; last: with the last epoch.")
    var keep = "best"

    @Flag(help: "Continue from OUT.h5.state.h5.")
    var resume = false

    @Option(
        help: """
            Threads decoding images ahead of training; 0 decodes each batch between steps on the engine's \
            threads (default: a quarter of the cores from 4 cores up, else 0).
            """)
    var dataWorkers: Int?

    @Option(help: "Batches decoded ahead at most (bounds the memory images take).")
    var queue = 4

    @Option(help: "Keep decoded, resized images in this folder and reuse them in later epochs and runs.")
    var cache: String?

    func validate() throws {
        if let optimizer, FineTuner.OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("--optimizer must be adam, adamw or sgd")
        }
        if let schedule, LearningRateSchedule(argument: schedule) == nil {
            throw ValidationError(
                "--schedule \(schedule): must be constant, cosine[:W], step:N:F, plateau:P:F or one-cycle[:F] with F in (0, 1)"
            )
        }
        if let bn, FineTuner.BatchNormPolicy(rawValue: bn) == nil {
            throw ValidationError("--bn must be frozen or train")
        }
        guard ["best", "last"].contains(keep) else { throw ValidationError("--keep must be best or last") }
        guard dataWorkers.map({ $0 >= 0 }) ?? true, queue >= 1 else {
            throw ValidationError("--data-workers must be at least 0 and --queue at least 1")
        }
        if let rate = lr?.rate { try OptionChecks.rate(rate, "--lr") }
        if let low = lr?.lowest {
            try OptionChecks.rate(low, "--lr")
            guard let high = lr?.rate, low < high else {
                throw ValidationError(
                    "--lr \(low):\(lr?.rate ?? 0): the first rate (the backbone's first stage) must be below the second (the head's), such as 1e-5:1e-3"
                )
            }
        }
        if let headLr { try OptionChecks.rate(headLr, "--head-lr") }
        try OptionChecks.atLeast(1, batch, "--batch")
        try OptionChecks.within(0...OptionChecks.maximumEpochs, epochs, "--epochs")
        if let headEpochs { try OptionChecks.within(0...OptionChecks.maximumEpochs, headEpochs, "--head-epochs") }
        if let patience { try OptionChecks.atLeast(1, patience, "--patience") }
        try OptionChecks.fraction(validationSplit, "--validation-split")
        if let labelSmoothing, !(labelSmoothing.isFinite && labelSmoothing >= 0 && labelSmoothing < 1) {
            throw ValidationError("--label-smoothing \(labelSmoothing): must be 0 or more and below 1 (such as 0.1)")
        }
        for (alpha, name) in [(mixup, "--mixup"), (cutmix, "--cutmix")] {
            guard let alpha, !(alpha.isFinite && alpha >= 0) else { continue }
            throw ValidationError(
                "\(name) \(alpha): the Beta distribution's alpha must be 0 (off) or more (such as 0.8)")
        }
        if let layerDecay {
            guard layerDecay > 0 && layerDecay <= 1 else {
                throw ValidationError("--layer-decay \(layerDecay): must be above 0 and at most 1 (such as 0.95)")
            }
            if lr?.lowest != nil {
                throw ValidationError(
                    "--layer-decay and --lr LOW:HIGH: choose one way of lowering the backbone's rates")
            }
        }
        if trivialAugment && noAugmentation {
            throw ValidationError("--trivial-augment and --no-augmentation: choose one")
        }
        if let randAugment {
            guard RandAugment(argument: randAugment) != nil else {
                throw ValidationError(
                    "--rand-augment \(randAugment): must be N:M, N operations (1 to 14) at strength M (0 to 30), such as 2:9"
                )
            }
            if trivialAugment || noAugmentation {
                throw ValidationError(
                    "--rand-augment with --\(trivialAugment ? "trivial-augment" : "no-augmentation"): choose one")
            }
        }
        if gradualUnfreeze, let unfreezeFrom {
            throw ValidationError(
                "--gradual-unfreeze and --unfreeze-from \(unfreezeFrom): choose one (gradual unfreezing reaches every stage)"
            )
        }
        if let ema, !(ema > 0 && ema < 1) {
            throw ValidationError("--ema \(ema): the decay must be above 0 and below 1 (such as 0.999)")
        }
        guard epochs + settings().headEpochs > 0 else {
            throw ValidationError("--epochs 0 and --head-epochs 0: nothing to train; give one of them 1 or more")
        }
    }

    func run() throws {
        // Under mpirun or srun, one process of a data-parallel job; rank 0 prints and writes.
        guard MPICommunicator.isLaunched else { return try train(communicator: SingleProcess()) }
        let mpi = try MPICommunicator()
        do {
            try train(communicator: mpi)
            mpi.finish()
        } catch {
            // Stop every process: the others would wait forever in the next collective.
            let status = (error as? CommandError)?.status ?? (error as? ExitCode).map { _ in .someSkipped } ?? .failed
            if status == .someSkipped || status == .interrupted || mpi.size == 1 {  // every process got here together
                mpi.finish()
                throw error
            }
            Report.error("rank \(mpi.rank) of \(mpi.size): \(error)")
            mpi.abort(code: status.rawValue)
        }
    }

    /// The recipe's choices, then the options given on the command line.
    private func settings() -> FineTuner.Options {
        var settings = FineTuner.Options()
        recipe.apply(to: &settings)
        settings.epochs = epochs
        if let headEpochs { settings.headEpochs = headEpochs }
        if let headLr { settings.headLearningRate = headLr }
        switch lr {
        case .auto(let rule)?:
            (settings.findLearningRate, settings.learningRateRule, settings.lowestLearningRate) = (true, rule, nil)
        case .value(let rate)?:
            (settings.findLearningRate, settings.learningRate, settings.lowestLearningRate) = (false, rate, nil)
        case .range(let low, let high)?:
            (settings.findLearningRate, settings.learningRate, settings.lowestLearningRate) = (false, high, low)
        case nil: break
        }
        if let kind = optimizer.flatMap(FineTuner.OptimizerKind.init(rawValue:)) { settings.optimizer = kind }
        if let parsed = schedule.flatMap(LearningRateSchedule.init(argument:)) { settings.schedule = parsed }
        if let policy = bn.flatMap(FineTuner.BatchNormPolicy.init(rawValue:)) { settings.batchNorm = policy }
        if let labelSmoothing { settings.labelSmoothing = labelSmoothing }
        if mixup != nil || cutmix != nil {
            let alphas = (mixup ?? settings.mixing?.mixupAlpha ?? 0, cutmix ?? settings.mixing?.cutmixAlpha ?? 0)
            settings.mixing = alphas.0 > 0 || alphas.1 > 0 ? Mixing(mixupAlpha: alphas.0, cutmixAlpha: alphas.1) : nil
        }
        if let ema { settings.emaDecay = ema }
        settings.balance = balance
        settings.gradualUnfreezing = gradualUnfreeze
        if let layerDecay { (settings.layerDecay, settings.lowestLearningRate) = (layerDecay, nil) }
        return settings
    }

    private func train(communicator: any Communicator) throws {
        var settings = settings()
        (
            settings.unfreezeFrom, settings.batchSize, settings.validationFraction, settings.earlyStoppingPatience,
            settings.seed
        ) =
            (unfreezeFrom, batch, validationSplit, patience, seed)
        if noAugmentation { settings.augmentation = .none }
        if trivialAugment { (settings.augmentation.trivialAugment, settings.augmentation.randAugment) = (true, nil) }
        if let rand = randAugment.flatMap(RandAugment.init(argument:)) { settings.augmentation.randAugment = rand }
        settings.keepBest = keep == "best"
        (settings.queueDepth, settings.cacheDirectory) = (queue, cache)
        if let dataWorkers { settings.dataWorkers = dataWorkers }
        let folder = try ImageInputs.folder([data])
        try Outputs.check(
            output, kind: Outputs.model, inputs: [options.model, head] + folder.items.map(\.path),
            companions: [".state.h5", ".metrics.csv", ".metrics.jsonl", ".training.html"].map { output + $0 })
        try EngineOptionGroup.check(precision)
        let engine = EngineOptions(
            convolution: EngineOptionGroup.environmentRoute, precision: precision,
            threads: threading.resolved(decodeWorkers: settings.dataWorkers))
        let tuner = try FineTuner(
            backbone: try options.load(engine: engine), data: folder, options: settings,
            head: try head.map { try HeadAttachment(path: $0) },
            communicator: communicator)
        let root = communicator.isRoot
        if root { Report.write("recipe \(settings.recipe.rawValue): \(Recipe.summary(of: settings))") }
        if root, precision != .fp32 {
            Report.write(
                precision.effective != precision
                    ? "--precision bf16: this CPU has AVX512_BF16 but no AMX, where oneDNN's bf16 convolutions are slower than fp32; training runs fp32 (--precision bf16-emulated trains with bf16's rounding)"
                    : precision == .bf16 && BF16Hardware.current == .dotProducts
                        ? "--precision bf16: convolutions forward and backward in bfloat16, float32 accumulation, weights and optimizer, except 3×3 layers on maps of 13×13 and up, which keep fp32 Winograd (faster on this CPU)"
                        : "--precision \(precision.rawValue): convolutions forward and backward in bfloat16, float32 accumulation, weights and optimizer"
            )
        }
        if root, balance == .none, let gap = ClassBalance.imbalance(tuner.trainingClassCounts) {
            Report.warning(
                "the training classes differ by more than 2× (\(gap.largest) images in the largest, \(gap.smallest) in the smallest): --balance weights or --balance sampler gives every class the same weight"
            )
        }
        defer { for (path, error) in tuner.skipped { Report.skipped(path, error) } }
        var display = ProgressDisplay(label: "")
        Interrupts.cooperate()
        let history: [FineTuner.EpochRecord]
        var announced = false
        do {
            history = try tuner.run(
                output: output, resume: resume, sightlineVersion: Sightline.version,
                step: { position in
                    if !root { return !Interrupts.requested }
                    if !announced, let resumed = tuner.resumedAt {
                        Report.write("resumed from \(output).state.h5 at phase \(resumed.phase) epoch \(resumed.epoch)")
                        announced = true
                    }
                    if position.batch == 1 {
                        // Epoch 0 is the learning-rate sweep of --lr auto.
                        display = ProgressDisplay(
                            label: position.epoch == 0
                                ? "learning-rate sweep"
                                : "phase \(position.phase) epoch \(position.epoch)/\(position.epochs)")
                    }
                    display.update(
                        done: position.done, total: position.total, detail: String(format: "loss %.4f", position.loss))
                    return !Interrupts.requested
                },
                announce: { line in
                    guard root else { return }
                    print(line)
                    fflush(nil)
                },
                report: { record in
                    guard root else { return true }
                    let validation =
                        record.validationAccuracy.map { accuracy in
                            (record.validationLoss.map { String(format: "  validation loss %.4f", $0) } ?? "")
                                + String(format: "  validation accuracy %.3f", accuracy)
                                + (record.averageValidationAccuracy.map { String(format: " (EMA %.3f)", $0) } ?? "")
                        } ?? ""
                    let speed =
                        record.throughput.map {
                            String(
                                format: "  %.1f img/s  data wait %.0f%%  peak %d MiB", $0.imagesPerSecond,
                                100 * $0.dataWaitFraction, $0.peakResidentMiB)
                        } ?? ""
                    print(
                        String(
                            format: "phase %d epoch %2d  lr %.2g  loss %.4f  training accuracy %.3f", record.phase,
                            record.epoch, Double(record.learningRate), record.loss, record.trainingAccuracy)
                            + validation
                            + speed)
                    fflush(nil)  // epoch lines reach a redirected standard output as they finish
                    if record.isAtChance(classes: tuner.classNames.count) {
                        Report.warning(
                            String(
                                format:
                                    "the loss is %.4f ≈ ln(%d), what uniform guessing gives: the model is not learning; check the labels, the learning rate (--lr) and the preprocessing",
                                record.loss, tuner.classNames.count))
                    }
                    return true
                })
        } catch let error as TransferError where error.kind == .stopped {
            throw Interrupts.stop(error.description)
        }
        guard root else { return try Report.finish(skipped: tuner.skipped.count) }
        if !announced, tuner.resumedAt != nil {
            Report.write("\(output).state.h5: the run had already finished; nothing left to train")
        }
        if let evaluation = tuner.finalEvaluation {
            print("\nvalidation part, \(keep == "best" ? "best" : "last") epoch's weights:")
            print(Evaluate.text(evaluation))
        }
        print(
            "wrote \(output) (\(tuner.classNames.count) classes: \(tuner.classNames.joined(separator: ", ")); \(history.count) epochs) and \(output).training.html"
        )
        try Report.finish(skipped: tuner.skipped.count)
    }
}

extension Recipe: ExpressibleByArgument {}
extension ClassBalance: ExpressibleByArgument {}
