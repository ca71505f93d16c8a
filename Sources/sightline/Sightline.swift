import ArgumentParser
import SightlineCore

/// The `sightline` command: transfer learning and explainability with pretrained CNNs.
@main
struct Sightline: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sightline",
        abstract: "Transfer learning and explainability with pretrained convolutional networks.",
        discussion: ExitStatus.help,
        version: version,
        subcommands: [
            Init.self, Inspect.self, Predict.self, Evaluate.self, Extract.self, MergeCommand.self, TrainHead.self,
            Finetune.self, LRFind.self, GradCAM.self, Convert.self, Bench.self,
        ]
    )

    static func main() {
        SightlineCore.Allocator.keepFreedMemoryForReuse()
        runMapped()
    }
}
