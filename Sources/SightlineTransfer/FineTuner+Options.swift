import Foundation
import SightlineData
import SightlineNN
import SightlineVision

extension FineTuner {
    /// What a run trains and how: the two phases, the optimizer and schedule, BatchNorm, and
    /// the recipes (`Recipe` names sets of them).
    public struct Options: Sendable {
        public var headEpochs = 2
        public var epochs = 3
        public var batchSize = 16
        public var headLearningRate: Float = 1e-3
        /// Phase 2's base rate (low, to keep the pretrained features).
        public var learningRate: Float = 1e-4
        /// Phase 2's base rate from a learning-rate sweep of what phase 2 trains, run when phase 2
        /// starts (after the head phase): the suggestion `learningRateRule` names (`learningRate`
        /// when the sweep suggests nothing). Recorded in the state file, so a resumed run keeps it.
        public var findLearningRate = false
        /// The sweep's suggestion `findLearningRate` takes: `edge` by default (on the digits
        /// transfer check fastai's `valley` picked a tenth of the rate that works, and its `slide`
        /// did on some seeds; docs/fine-tuning.md).
        public var learningRateRule: LearningRateSweep.Rule = .edge
        /// Discriminative learning rates: phase 2 trains the backbone's first stage at this rate,
        /// later stages at rates spread geometrically up to `learningRate`, the head at
        /// `learningRate` (`DiscriminativeRates`); nil trains everything at `learningRate`.
        public var lowestLearningRate: Float?
        /// Layer-wise learning-rate decay: phase 2 trains the backbone's layers at `decay^(L − i)`
        /// times the rate (`DiscriminativeRates.layerDecayScales`); exclusive with
        /// `lowestLearningRate`.
        public var layerDecay: Float?
        /// Label smoothing of the training loss (Keras's and PyTorch's definition: the true class's
        /// target is 1 − s + s/K, the others' s/K), in [0, 1); validation losses stay plain
        /// cross-entropy, as fastai and timm report them.
        public var labelSmoothing: Float = 0
        /// Keep an exponential moving average of the trained weights with this decay (timm's
        /// `ModelEmaV2`, updated after every step of both phases); each phase-2 epoch also
        /// validates the averaged weights, and they are kept as the best when they validate
        /// better. nil keeps none.
        public var emaDecay: Float?
        /// Mixup and CutMix of the training batches (`Mixing`, timm's definitions), both phases;
        /// nil mixes nothing.
        public var mixing: Mixing?
        /// What training does about classes of different sizes (`ClassBalance`).
        public var balance: ClassBalance = .none
        /// The recipe these options started from (`Recipe.apply`), recorded in the metrics and
        /// the training page.
        public var recipe: Recipe = .keras
        /// Gradual unfreezing (ULMFiT, fastai): phase 2's first epoch trains the backbone's last
        /// stage and the head, each later epoch one stage more (`DiscriminativeRates.stages`),
        /// until everything trains. Exclusive with `unfreezeFrom`.
        public var gradualUnfreezing = false
        public var optimizer: OptimizerKind = .adam
        public var schedule: LearningRateSchedule = .constant
        public var unfreezeFrom: String?
        public var batchNorm: BatchNormPolicy = .frozen
        public var augmentation = Augmentation()
        public var dropout: Float = 0.2
        public var validationFraction = 0.2
        /// Stop phase 2 after this many epochs without a better validation accuracy and restore
        /// the best weights; nil trains every epoch.
        public var earlyStoppingPatience: Int?
        /// End with the weights of the epoch with the best validation accuracy (Keras's
        /// `ModelCheckpoint(save_best_only=True)`); false keeps the last epoch's.
        public var keepBest = true
        public var seed: UInt64 = 0
        /// Threads decoding images ahead of training (`BatchLoop`).
        public var dataWorkers = ImageBatchStream.defaultWorkers
        /// Batches decoded ahead at most (bounds the memory the data takes).
        public var queueDepth = 4
        /// Keep decoded, resized images here (`DecodedImageCache`); nil decodes every epoch.
        public var cacheDirectory: String?

        public init() {}
    }
}
