import Foundation
import SightlineNN
import SightlineVision

/// A named set of fine-tuning choices (`finetune --recipe`), as each library's users get them
/// by default. Options given on the command line override the recipe's.
///
/// - `keras`: Sightline's defaults, the Keras transfer-learning guide's recipe: 2 head epochs at
///   1e-3, then everything at a constant 1e-4 with Adam, BatchNorm frozen, Keras-style
///   augmentation.
/// - `fastai`: `Learner.fine_tune`: 1 frozen epoch at 2e-3, then discriminative rates from
///   1e-5 to 1e-3 (fastai halves the base rate and divides it by 100 for the first group) under
///   one-cycle with 30% warm-up, AdamW, BatchNorm trained (fastai's `train_bn`). fastai starts
///   the second cycle at `lr/5`; Sightline's one-cycle starts every cycle at `lr/25`, as PyTorch's.
/// - `timm`: `train.py`'s fine-tuning recipe: AdamW, cosine with one warm-up epoch, label
///   smoothing 0.1, mixup 0.8 and CutMix 1.0, an exponential moving average of the weights
///   (0.999: timm's 0.9998 is for runs of many thousand steps), BatchNorm trained as timm does.
///   and RandAugment at 2 operations of strength 9 (timm's `rand-m9`, without its magnitude noise
///   `mstd0.5`).
/// - `sightline`: the `keras` recipe with the choices that took it from 62% to 88% on held-out
///   images of `scripts/digits_transfer.sh` (docs/fine-tuning.md): phase 2's rate found by a
///   learning-rate sweep (`--lr auto`, the `edge` rule), cosine decay after two warm-up epochs,
///   and a head phase of 10 epochs at 3e-3, long enough for the head to fit before the sweep (a
///   sweep after a head that has not fit reads the head's fitting, not the backbone's limit: with
///   Keras's 2 epochs at 1e-3 one seed in six ended at 20%). Adam, frozen BatchNorm and the
///   augmentation stay Keras's.
public enum Recipe: String, Sendable, CaseIterable {
    case keras, fastai, timm, sightline

    /// Sets this recipe's choices in `options` (and names it there).
    public func apply(to options: inout FineTuner.Options) {
        options.recipe = self
        switch self {
        case .keras, .sightline:
            (options.headEpochs, options.headLearningRate) = (2, 1e-3)
            (options.learningRate, options.lowestLearningRate) = (1e-4, nil)
            (options.schedule, options.optimizer, options.batchNorm) = (.constant, .adam, .frozen)
            (options.labelSmoothing, options.mixing, options.emaDecay) = (0, nil, nil)
            options.augmentation.randAugment = nil
            if self == .sightline {
                (options.headEpochs, options.headLearningRate) = (10, 3e-3)
                (options.findLearningRate, options.learningRateRule) = (true, .edge)
                options.schedule = .cosine(warmupEpochs: 2)
            }
        case .fastai:
            (options.headEpochs, options.headLearningRate) = (1, 2e-3)
            (options.learningRate, options.lowestLearningRate) = (1e-3, 1e-5)
            (options.schedule, options.optimizer, options.batchNorm) = (.oneCycle(warmupFraction: 0.3), .adamw, .train)
            options.augmentation.randAugment = nil
        case .timm:
            (options.optimizer, options.schedule, options.batchNorm) = (.adamw, .cosine(warmupEpochs: 1), .train)
            (options.labelSmoothing, options.mixing, options.emaDecay) = (0.1, Mixing(), 0.999)
            options.augmentation.randAugment = RandAugment()
        }
    }

    /// The choices `options` makes, as the command-line options that set them.
    public static func summary(of options: FineTuner.Options) -> String {
        var parts = [
            "--head-epochs \(options.headEpochs)", "--head-lr \(options.headLearningRate)",
            "--lr "
                + (options.findLearningRate
                    ? "auto:\(options.learningRateRule.rawValue)"
                    : (options.lowestLearningRate.map { "\($0):" } ?? "") + "\(options.learningRate)"),
            "--optimizer \(options.optimizer.rawValue)", "--schedule \(options.schedule.argument)",
            "--bn \(options.batchNorm.rawValue)", "--label-smoothing \(options.labelSmoothing)",
        ]
        if let mixing = options.mixing { parts += ["--mixup \(mixing.mixupAlpha)", "--cutmix \(mixing.cutmixAlpha)"] }
        if let decay = options.emaDecay { parts.append("--ema \(decay)") }
        if options.balance != .none { parts.append("--balance \(options.balance.rawValue)") }
        if options.gradualUnfreezing { parts.append("--gradual-unfreeze") }
        if options.augmentation.trivialAugment { parts.append("--trivial-augment") }
        if let rand = options.augmentation.randAugment {
            parts.append("--rand-augment \(rand.operations):\(rand.magnitude)")
        }
        if let decay = options.layerDecay { parts.append("--layer-decay \(decay)") }
        return parts.joined(separator: " ")
    }
}
