import Foundation
import SightlineWeights
import Testing

/// Issue 26, through the `sightline` executable: outputs are checked before any work and never
/// resolve to an input; bad option values are refused at parse time naming the option; a
/// diverging run stops without writing NaN weights.
struct SafetyTests {
    let cli = CLITests()
    static let model = CLITests.fixtures.appendingPathComponent("resnet50_keras3.h5")
    static let images = CLITests.fixtures.deletingLastPathComponent().appendingPathComponent("extract")

    /// A scratch folder with a copy of the model (`m.h5`) and of the class folders (`imgs`).
    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-safe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.model, to: url.appendingPathComponent("m.h5"))
        try FileManager.default.copyItem(at: Self.images, to: url.appendingPathComponent("imgs"))
        return url
    }

    @Test func anOutputThatIsAnInputIsRefusedAndTheInputKept() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        let image = root.appendingPathComponent("imgs/pears/pears_0.png").path
        let before = try (Data(contentsOf: URL(fileURLWithPath: model)), Data(contentsOf: URL(fileURLWithPath: image)))
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("link.h5").path, withDestinationPath: model)
        let features = root.appendingPathComponent("f.h5").path
        let extract = try cli.run(["extract", model, root.appendingPathComponent("imgs").path, "-o", features])
        #expect(extract.status == 0, "\(extract.err)")
        let imgs = root.appendingPathComponent("imgs").path
        let commands: [[String]] = [
            ["extract", model, imgs, "-o", model],
            ["extract", model, imgs, "-o", root.appendingPathComponent("imgs/../m.h5").path],
            ["extract", model, imgs, "-o", root.appendingPathComponent("link.h5").path],
            ["train-head", features, "-o", features],
            ["finetune", model, "--data", imgs, "-o", root.appendingPathComponent("link.h5").path],
            ["convert", model, "-o", model],
            ["merge", features, "-o", features],
        ]
        for command in commands {
            let result = try cli.run(command)
            #expect(result.status == 2, "\(command): \(result.status) \(result.err)")
            #expect(
                result.err.hasPrefix("error: --output") && result.err.contains("would destroy the input"),
                "\(command): \(result.err)")
            #expect(!result.out.contains("wrote") && !result.out.contains("epoch"), "refused before any work")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == before.0, "the model is intact")
        #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == before.1, "the image is intact")
        let picture = try cli.run(["extract", model, imgs, "-o", image])
        #expect(picture.status == 2 && picture.err.contains("not .png"), "\(picture.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == before.1)
        let afterFeatures = try cli.run(["train-head", features, "-o", features])
        #expect(afterFeatures.status == 2)
        #expect(try HDF5File(reading: features).datasetShape("/features").first == 7, "the features file is intact")
    }

    @Test func outputsAreCheckedBeforeAnyWork() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        let imgs = root.appendingPathComponent("imgs").path
        let features = root.appendingPathComponent("f.h5").path
        _ = try cli.run(["extract", model, imgs, "-o", features])
        let folder = root.appendingPathComponent("existing").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let cases: [([String], String)] = [
            (["train-head", features, "-o", root.appendingPathComponent("head.txt").path], "not .txt"),
            (["finetune", model, "--data", imgs, "-o", root.appendingPathComponent("model.txt").path], "not .txt"),
            (["finetune", model, "--data", imgs, "-o", folder], "is an existing folder"),
            (["extract", model, imgs, "-o", folder], "is an existing folder"),
            (["convert", model, "-o", features + "/x.h5"], "is a file, so no folder can be made there"),
            (["gradcam", model, imgs, "-o", features], "is an existing file, not a folder"),
        ]
        for (command, message) in cases {
            let result = try cli.run(command)
            #expect(result.status == 2 && result.err.contains(message), "\(command): \(result.err)")
            #expect(!result.out.contains("epoch") && !result.err.contains("skipped"), "refused before any work")
        }
    }

    @Test func invalidOptionValuesAreRefusedNamingTheOption() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        let imgs = root.appendingPathComponent("imgs").path
        let features = root.appendingPathComponent("f.h5").path
        _ = try cli.run(["extract", model, imgs, "-o", features])
        let output = root.appendingPathComponent("out.h5").path
        let finetune = ["finetune", model, "--data", imgs, "-o", output]
        let cases: [([String], String)] = [
            (finetune + ["--lr", "nan"], "--lr nan: must be a finite number above 0"),
            (finetune + ["--lr", "inf"], "--lr inf: must be a finite number above 0"),
            (finetune + ["--lr", "-1"], "--lr -1: negative values are not accepted"),
            (finetune + ["--lr=-1"], "--lr -1.0: must be a finite number above 0"),
            (finetune + ["--head-lr", "0"], "--head-lr 0.0: must be a finite number above 0"),
            (finetune + ["--batch", "-5"], "--batch -5: negative values are not accepted"),
            (finetune + ["--epochs", "0", "--head-epochs", "0"], "--epochs 0 and --head-epochs 0: nothing to train"),
            (finetune + ["--validation-split", "1.5"], "--validation-split 1.5: must be a fraction"),
            (
                finetune + ["--lr", "1e-3:1e-5"],
                "--lr 0.001:1e-05: the first rate (the backbone's first stage) must be"
            ),
            (finetune + ["--lr", "0:1e-3"], "--lr 0.0: must be a finite number above 0"),
            (finetune + ["--schedule", "one-cycle:1.5"], "--schedule one-cycle:1.5: must be constant"),
            (finetune + ["--ema", "1"], "--ema 1.0: the decay must be above 0 and below 1"),
            (
                finetune + ["--trivial-augment", "--no-augmentation"],
                "--trivial-augment and --no-augmentation: choose one"
            ),
            (finetune + ["--rand-augment", "2:40"], "--rand-augment 2:40: must be N:M"),
            (finetune + ["--layer-decay", "1.5"], "--layer-decay 1.5: must be above 0 and at most 1"),
            (finetune + ["--layer-decay", "0.9", "--lr", "1e-5:1e-3"], "--layer-decay and --lr LOW:HIGH: choose one"),
            (
                finetune + ["--gradual-unfreeze", "--unfreeze-from", "conv1"],
                "--gradual-unfreeze and --unfreeze-from conv1: choose one"
            ),
            (finetune + ["--mixup", "nan"], "--mixup nan: the Beta distribution's alpha must be 0 (off) or more"),
            (["train-head", features, "-o", output, "--hidden", "0"], "--hidden 0: must be 1 to 65536"),
            (["train-head", features, "-o", output, "--hidden", "99999999"], "--hidden 99999999: must be 1 to 65536"),
            (finetune + ["--epochs", "99999999"], "--epochs 99999999: must be 0 to 100000"),
            (["train-head", features, "-o", output, "--lr", "nan"], "--lr nan: must be a finite number above 0"),
            (["train-head", features, "-o", output, "--validation-split", "1.5"], "--validation-split 1.5"),
            (["gradcam", model, imgs, "-o", root.path + "/cam", "--alpha", "nan"], "--alpha nan: must be between 0"),
            (["gradcam", model, imgs, "-o", root.path + "/cam", "--smooth", "vargrad"], "--smooth smooths saliency"),
            (["gradcam", model, imgs, "-o", root.path + "/cam", "--steps", "1"], "--steps 1: must be 2 to 4096"),
            (
                ["gradcam", model, imgs, "-o", root.path + "/cam", "--method", "saliency", "--smooth", "smoothgrad:0"],
                "--smooth smoothgrad:0: must be aug, or smoothgrad, smoothgrad-sq or vargrad"
            ),
            (["predict", model, imgs, "--batch", "-5"], "--batch -5: negative values are not accepted"),
            (
                ["evaluate", model, "--data", imgs, "--explain"],
                "--explain draws into the report: give --report DIR too"
            ),
        ]
        for (command, message) in cases {
            let result = try cli.run(command)
            #expect(result.status == 2, "\(command): \(result.status) \(result.err)")
            #expect(result.err.hasPrefix("error: \(message)"), "\(command): \(result.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: output), "nothing was written")
    }

    @Test func aDivergingRunStopsAndNeverWritesNaNWeights() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        let imgs = root.appendingPathComponent("imgs").path
        let output = root.appendingPathComponent("t.h5").path
        let tune = try cli.run([
            "finetune", model, "--data", imgs, "-o", output, "--head-epochs", "1", "--epochs", "1", "--lr", "1e30",
            "--optimizer", "sgd", "--batch", "4",
        ])
        #expect(tune.status == 3, "\(tune.err)")
        #expect(
            tune.err.contains("training diverged") && tune.err.contains("lower --lr (now 1e+30)")
                && tune.err.contains("phase 2 epoch 1"), "\(tune.err)")
        // The phase-1 model stays: finite probabilities.
        let predict = try cli.run(["predict", output, imgs + "/apples/apples_0.png", "--json"])
        #expect(predict.status == 0 && !predict.out.lowercased().contains("nan"), "\(predict.out) \(predict.err)")
        let features = root.appendingPathComponent("f.h5").path
        _ = try cli.run(["extract", model, imgs, "-o", features])
        let head = root.appendingPathComponent("h.h5").path
        let train = try cli.run(["train-head", features, "-o", head, "--lr", "1e30", "--epochs", "5"])
        #expect(train.status == 3 && train.err.contains("training diverged"), "\(train.err)")
        #expect(!FileManager.default.fileExists(atPath: head), "no NaN head is written")
    }

    /// One exit-status table: a missing model is a usage error like a missing image (2), an
    /// empty folder is 2 in every command, a folder of only unreadable images is 3 with no file.
    @Test func missingAndUnreadableInputsHaveOneStatus() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        let image = root.appendingPathComponent("imgs/apples/apples_0.png").path
        let missing = try cli.run(["predict", root.appendingPathComponent("none.h5").path, image])
        #expect(missing.status == 2 && missing.err.contains("none.h5: no such file"), "\(missing.err)")
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        for command in [
            ["extract", model, empty.path, "-o", root.appendingPathComponent("e.h5").path],
            ["finetune", model, "--data", empty.path, "-o", root.appendingPathComponent("e.h5").path],
        ] {
            let result = try cli.run(command)
            #expect(result.status == 2 && result.err.contains(empty.path), "\(command[0]): \(result.err)")
        }
        let corrupt = root.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: corrupt.appendingPathComponent("a.jpg"))
        let output = root.appendingPathComponent("c.h5").path
        let none = try cli.run(["extract", model, corrupt.path, "-o", output])
        #expect(none.status == 3 && none.err.contains("none of the 1 images could be read"), "\(none.err)")
        #expect(!FileManager.default.fileExists(atPath: output), "no 0-row file")
        for command in [
            ["predict", model, corrupt.path],
            ["evaluate", model, "--data", root.appendingPathComponent("corrupt-classes").path],
        ] {
            if command[0] == "evaluate" {
                let folder = root.appendingPathComponent("corrupt-classes/a")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data("not an image".utf8).write(to: folder.appendingPathComponent("a.jpg"))
            }
            let result = try cli.run(command)
            #expect(result.status == 3 && result.err.contains("no image could be read"), "\(command[0]): \(result.err)")
        }
    }

    /// `convert` keeps the class names a fine-tuned model records.
    @Test func convertKeepsClassNames() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let tuned = root.appendingPathComponent("t.h5").path
        let tune = try cli.run([
            "finetune", root.appendingPathComponent("m.h5").path, "--data", root.appendingPathComponent("imgs").path,
            "-o", tuned, "--head-epochs", "1", "--epochs", "0", "--batch", "4",
        ])
        #expect(tune.status == 0, "\(tune.err)")
        let image = root.appendingPathComponent("imgs/apples/apples_0.png").path
        for format in ["h5", "keras"] {
            let converted = root.appendingPathComponent("c.\(format)").path
            #expect(try cli.run(["convert", tuned, "-o", converted]).status == 0)
            let predict = try cli.run(["predict", converted, image, "--top", "2"])
            #expect(predict.out.contains("apples") && predict.out.contains("pears"), "\(format): \(predict.out)")
        }
    }

    /// A head refuses a backbone other than the one its features came from (predict, evaluate,
    /// convert), by the MD5 it records.
    @Test func aHeadRefusesAnotherBackbone() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let (model, imgs) = (root.appendingPathComponent("m.h5").path, root.appendingPathComponent("imgs").path)
        let (features, head) = (root.appendingPathComponent("f.h5").path, root.appendingPathComponent("h.h5").path)
        let other = root.appendingPathComponent("other.h5").path
        #expect(try cli.run(["extract", model, imgs, "-o", features]).status == 0)
        #expect(try cli.run(["train-head", features, "-o", head, "--epochs", "2"]).status == 0)
        #expect(
            try cli.run([
                "convert", Self.model.deletingLastPathComponent().appendingPathComponent("resnet50_keras2.h5").path,
                "-o", other,
            ]).status == 0)
        let image = imgs + "/apples/apples_0.png"
        #expect(try cli.run(["predict", model, "--head", head, image]).status == 0)
        for command in [
            ["predict", other, "--head", head, image], ["evaluate", other, "--data", imgs, "--head", head],
            ["convert", other, "--head", head, "-o", root.appendingPathComponent("c.h5").path],
        ] {
            let result = try cli.run(command)
            #expect(result.status == 2, "\(command[0]): \(result.status) \(result.err)")
            #expect(result.err.contains("--head \(head) was trained on features of another backbone"), "\(result.err)")
        }
    }

    /// `finetune --resume` refuses changed settings, as `extract --resume` does.
    @Test func resumeRefusesChangedSettings() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let arguments = [
            "finetune", root.appendingPathComponent("m.h5").path, "--data", root.appendingPathComponent("imgs").path,
            "-o", root.appendingPathComponent("t.h5").path, "--head-epochs", "1", "--epochs", "0", "--batch", "4",
        ]
        #expect(try cli.run(arguments).status == 0)
        let changed = try cli.run(arguments + ["--resume", "--head-lr", "0.01", "--optimizer", "sgd"])
        #expect(changed.status == 3, "\(changed.err)")
        #expect(
            changed.err.contains("was written with other settings")
                && changed.err.contains("--head-lr 0.01 (the interrupted run: 0.001)")
                && changed.err.contains("--optimizer sgd (the interrupted run: adam)"), "\(changed.err)")
        let same = try cli.run(arguments + ["--resume"])
        #expect(same.status == 0 && same.err.contains("nothing left to train"), "\(same.err)")
    }
}
