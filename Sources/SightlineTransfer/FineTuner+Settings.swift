import Foundation
import SightlineWeights

/// The settings a resumed run must share with the run it continues (`--resume` refuses others,
/// as `extract --resume` does): recorded in `OUT.h5.state.h5` as the `settings` attribute,
/// keyed by the command-line option that sets each.
extension FineTuner.Options {
    /// Option name → value, for the settings that change what an epoch computes.
    var resumeSettings: [String: String] {
        [
            "--lr": findLearningRate
                ? "auto:\(learningRateRule.rawValue)"
                : lowestLearningRate.map { "\($0):\(learningRate)" } ?? "\(learningRate)",
            "--head-lr": "\(headLearningRate)",
            "--optimizer": optimizer.rawValue,
            "--batch": "\(batchSize)", "--schedule": "\(schedule)", "--bn": batchNorm.rawValue,
            "--unfreeze-from": unfreezeFrom ?? "(everything)", "--validation-split": "\(validationFraction)",
            "--seed": "\(seed)", "--no-augmentation": augmentation == .none ? "set" : "not set",
            "--trivial-augment": augmentation.trivialAugment ? "set" : "not set",
            "--rand-augment": augmentation.randAugment.map { "\($0.operations):\($0.magnitude)" } ?? "off",
            "--label-smoothing": "\(labelSmoothing)", "--ema": emaDecay.map { "\($0)" } ?? "off",
            "--balance": balance.rawValue, "--unfreeze": gradualUnfreezing ? "gradual" : "all",
            "--layer-decay": layerDecay.map { "\($0)" } ?? "off",
            "--mixup/--cutmix": mixing.map { "\($0.mixupAlpha)/\($0.cutmixAlpha)" } ?? "off",
        ]
    }

    /// The settings as recorded.
    var resumeSettingsJSON: String {
        let data = (try? JSONSerialization.data(withJSONObject: resumeSettings, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Throws when `file` (a state file) records settings that differ from these, listing each
    /// difference; a state file from before settings were recorded is accepted.
    func checkResume(_ file: HDF5File, path: String) throws {
        guard let text = try file.stringAttribute("settings"),
            let recorded = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
        else { return }
        let differences = resumeSettings.keys.sorted().compactMap { key -> String? in
            guard let before = recorded[key], let now = resumeSettings[key], before != now else { return nil }
            return "\(key) \(now) (the interrupted run: \(before))"
        }
        guard differences.isEmpty else {
            throw TransferError(
                .file, subject: path,
                "was written with other settings: \(differences.joined(separator: ", ")); resume with the same settings, or delete it to start over"
            )
        }
    }
}
