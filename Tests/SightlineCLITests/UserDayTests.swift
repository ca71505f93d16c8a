import Foundation
import SightlineWeights
import Testing

/// The findings of a user's day with Sightline (issue 12), each reproduced through the
/// `sightline` executable: one input policy, one exit-status table, one error style, classes
/// and layers named or suggested, snake_case JSON, interrupts that say how to resume.
struct UserDayTests {
    let cli = CLITests()
    static let fixtures = CLITests.fixtures
    static let images = fixtures.deletingLastPathComponent().appendingPathComponent("extract")
    static let model = fixtures.appendingPathComponent("resnet50_keras3.h5").path

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-day-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func predictAndGradcamTakeFoldersAndNameMissingFiles() throws {
        let predict = try cli.run(["predict", Self.model, Self.images.appendingPathComponent("apples").path, "--json"])
        #expect(predict.status == 0, "\(predict.err)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(predict.out.utf8)) as? [[String: Any]])
        let count = try FileManager.default.contentsOfDirectory(
            atPath: Self.images.appendingPathComponent("apples").path
        ).count
        #expect(rows.count == count && !predict.out.contains("\\/"), "a folder's images, paths without escaped slashes")
        let missing = try cli.run(["predict", Self.model, "/nonexistent/cat.jpg"])
        #expect(
            missing.status == 2 && missing.err.hasPrefix("error: /nonexistent/cat.jpg: no such file"), "\(missing.err)")
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let labels = output.appendingPathComponent("labels.txt")
        try (["apples", "pears"] + (2..<10).map { "other \($0)" }).joined(separator: "\n").write(
            to: labels, atomically: true, encoding: .utf8)
        let cam = try cli.run([
            "gradcam", Self.model, Self.images.path, "-o", output.path, "--input-size", "64", "--labels", labels.path,
        ])
        #expect(cam.status == 0 && cam.out.contains("7 maps explained"), "\(cam.out)\(cam.err)")
        // The report opens with a filterable grid: one linked thumbnail per image, the true
        // class from the folder names (which match the labels), misclassified ones marked.
        let html = try String(contentsOf: output.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<a class=\"cell").count - 1 == 7)
        #expect(
            html.contains("show misclassified images only") && html.contains("href=\"#image-6\"")
                && html.contains("<br>true pears"))
        #expect(html.contains(" misclassified</p>"))
    }

    @Test func classesAreIndicesOrNamesAndMistakesAreUsageErrors() throws {
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let image = Self.images.appendingPathComponent("pears/pears_0.png").path
        let labels = output.appendingPathComponent("labels.txt")
        try (0..<10).map { "class \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        let base = ["gradcam", Self.model, image, "-o", output.path, "--input-size", "64", "--labels", labels.path]
        let named = try cli.run(base + ["--class", "class 3,7"])
        #expect(named.status == 0, "\(named.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: output.path)
        #expect(Set(files).isSuperset(of: ["pears_0_c3_overlay.jpg", "pears_0_c7_overlay.jpg"]), "\(files)")
        for (value, message) in [
            ("12", "error: --class 12: the model has 10 classes, numbered 0 to 9"),
            ("xyz", "error: --class 'xyz': no class has that index or name"),
            ("3,class 3", "error: --class names a class twice"),
        ] {
            let result = try cli.run(base + ["--class", value])
            #expect(result.status == 2 && result.err.hasPrefix(message), "\(value): \(result.err)")
        }
    }

    @Test func unknownLayersAreSuggestedBeforeAnyWork() throws {
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let image = Self.images.appendingPathComponent("pears/pears_0.png").path
        let cam = try cli.run(["gradcam", Self.model, image, "-o", output.path, "--layer", "conv5_blok3_out"])
        #expect(
            cam.status == 2
                && cam.err.contains("no layer 'conv5_blok3_out' in the model; did you mean 'conv5_block3_out'"),
            "\(cam.err)")
        let tune = try cli.run([
            "finetune", Self.model, "--data", Self.images.path, "-o", output.appendingPathComponent("t.h5").path,
            "--unfreeze-from", "conv5_blok1_1_conv",
        ])
        // A misspelt layer name is a bad option value: the usage status, as for gradcam --layer.
        #expect(
            tune.status == 2 && tune.err.contains("error: --unfreeze-from: no layer 'conv5_blok1_1_conv'")
                && tune.err.contains("did you mean 'conv5_block1_1_conv'"), "\(tune.err)")
        #expect(!tune.err.contains("epoch"), "it fails before training")
    }

    @Test func oneExitStatusTableAcrossCommands() throws {
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        // A folder with one corrupt image among good ones: done, exit 1, the file named.
        let data = output.appendingPathComponent("data")
        for cls in ["apples", "pears"] {
            let folder = data.appendingPathComponent(cls)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(
                atPath: Self.images.appendingPathComponent(cls).path)
            {
                try FileManager.default.copyItem(
                    at: Self.images.appendingPathComponent(cls).appendingPathComponent(file),
                    to: folder.appendingPathComponent(file))
            }
        }
        let corrupt = data.appendingPathComponent("pears/corrupt.jpg")
        try Data("not a jpeg".utf8).write(to: corrupt)
        let commands: [[String]] = [
            ["predict", Self.model, data.path],
            ["extract", Self.model, data.path, "-o", output.appendingPathComponent("f.h5").path],
            ["gradcam", Self.model, data.path, "-o", output.appendingPathComponent("cam").path, "--input-size", "64"],
            [
                "finetune", Self.model, "--data", data.path, "-o", output.appendingPathComponent("t.h5").path,
                "--head-epochs", "1", "--epochs", "0", "--batch", "4",
            ],
        ]
        for command in commands {
            let result = try cli.run(command)
            #expect(result.status == 1, "\(command[0]): \(result.status) \(result.err)")
            #expect(
                result.err.contains("skipped: \(corrupt.path): is not a JPEG or PNG image"),
                "\(command[0]): \(result.err)")
        }
        // Usage errors are 2, in one style; an unusable model is 3.
        let usage = try cli.run(["predict", Self.model, "--top", "0", corrupt.path])
        #expect(usage.status == 2 && usage.err.hasPrefix("error: "), "\(usage.err)")
        let unusable = try cli.run(["predict", corrupt.path, corrupt.path])
        #expect(unusable.status == 3 && unusable.err.hasPrefix("error: \(corrupt.path)"), "\(unusable.err)")
    }

    /// A model with no recorded preprocessing that does not scale its own input gets a warning
    /// naming the fix; one with a Rescaling layer (or an explicit --preprocessing) does not.
    @Test func unknownPreprocessingIsWarnedAbout() throws {
        let image = Self.fixtures.deletingLastPathComponent().appendingPathComponent("images/rgb8.png").path
        let bare = try cli.run([
            "predict", Self.fixtures.appendingPathComponent("sequential_keras2_model.h5").path, image,
        ])
        #expect(
            bare.status == 0 && bare.err.contains("warning:") && bare.err.contains("no preprocessing is recorded")
                && bare.err.contains("--preprocessing tf"), "\(bare.err)")
        let given = try cli.run([
            "predict", Self.fixtures.appendingPathComponent("sequential_keras2_model.h5").path, image,
            "--preprocessing", "tf",
        ])
        #expect(given.status == 0 && !given.err.contains("warning:"), "\(given.err)")
        let scaling = Self.fixtures.deletingLastPathComponent().appendingPathComponent("grayscale")
        let own = try cli.run([
            "predict", scaling.appendingPathComponent("model.h5").path,
            scaling.appendingPathComponent("coffee.png").path,
        ])
        #expect(own.status == 0 && !own.err.contains("warning:"), "\(own.err)")
    }

    @Test func jsonKeysAreSnakeCase() throws {
        let inspect = try cli.run(["inspect", "--json", Self.model])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [String: Any])
        #expect(object["known_as"] != nil && object["known as"] == nil)
        #expect(object.keys.allSatisfy { $0 == $0.lowercased() && !$0.contains(" ") }, "\(object.keys.sorted())")
    }

    /// SIGINT during fine-tuning: the current step finishes, the message says where and how to
    /// continue, the status is 130, and `--resume` says where it resumes.
    @Test func interruptsSayHowToResume() throws {
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let tuned = output.appendingPathComponent("t.h5").path
        let arguments = [
            "finetune", Self.model, "--data", Self.images.path, "-o", tuned, "--head-epochs", "1", "--epochs", "100000",
            "--batch", "2",
        ]
        let process = Process()
        process.executableURL = try cli.executable()
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait for phase 2 to start (its state file exists once phase 1 is saved), then interrupt.
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: tuned + ".state.h5") && Date() < deadline { usleep(50_000) }
        usleep(300_000)
        process.interrupt()
        // If the interrupt were ignored the run would go on for hours: end it after a minute.
        let stop = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stop { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(
            text.contains("error: interrupted at phase 2 epoch")
                && text.contains("rerun the same command with --resume"), "\(text)")
        let again = try cli.run(arguments.map { $0 == "100000" ? "1" : $0 } + ["--resume"])
        #expect(
            again.err.contains("resumed from \(tuned).state.h5 at phase 2 epoch 1")
                || again.err.contains("nothing left to train"), "\(again.err)")
    }

    /// A backbone and a `train-head` head saved as one model (here a Keras 3 archive) that
    /// predicts what `predict --head` predicts, with the head's class names; `.keras` files
    /// say their Keras version.
    @Test func convertWritesBackbonePlusHeadAsOneModel() throws {
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let features = output.appendingPathComponent("f.h5").path
        let head = output.appendingPathComponent("head.h5").path
        let combined = output.appendingPathComponent("combined.keras").path
        #expect(try cli.run(["extract", Self.model, Self.images.path, "-o", features]).status == 0)
        #expect(
            try cli.run(["train-head", features, "-o", head, "--epochs", "20", "--validation-split", "0"]).status == 0)
        let convert = try cli.run(["convert", Self.model, "--head", head, "-o", combined])
        #expect(convert.status == 0, "\(convert.err)")
        let image = Self.images.appendingPathComponent("pears/pears_1.png").path
        let viaHead = try cli.run(["predict", Self.model, "--head", head, image, "--json"])
        let viaFile = try cli.run(["predict", combined, image, "--json"])
        #expect(viaHead.status == 0 && viaFile.status == 0, "\(viaHead.err)\(viaFile.err)")
        func top(_ text: String) throws -> [String] {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
            return (rows.first?["top"] as? [[String: Any]] ?? []).map {
                "\($0["name"] ?? "") \(String(format: "%.5f", $0["probability"] as? Double ?? 0))"
            }
        }
        #expect(try top(viaHead.out) == top(viaFile.out))
        let inspect = try cli.run(["inspect", combined])
        #expect(inspect.out.contains("Keras 3.15.1"), "\(inspect.out)")
        let refused = try cli.run(["convert", Self.model, "-o", output.appendingPathComponent("model.tflite").path])
        // Refused before the model is loaded, as a usage error naming the extensions written.
        #expect(refused.status == 2 && refused.err.contains("not .tflite; name it with .h5"), "\(refused.err)")
    }

    func labelsFile(_ directory: URL, _ names: [String]) throws -> String {
        let url = directory.appendingPathComponent("labels.txt")
        try names.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// `evaluate` on the shipped fine-tuned digits model and its 100 sample images: the
    /// accuracy and confusion matrix Keras `predict` + scikit-learn give on the same files
    /// (0.97, 97 on the diagonal; `scripts/check_evaluate.py` compares every figure), and a
    /// report with the matrix and bars as SVG and thumbnails of the mistakes.
    @Test func evaluateMatchesKerasAndScikitLearn() throws {
        let root = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = root.appendingPathComponent("pretrained/digits_resnet.h5").path
        let data = root.appendingPathComponent("pretrained/digits-mini").path
        let output = try scratch()
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try cli.run(["evaluate", model, "--data", data, "--json", "--report", output.path, "--top", "3"])
        #expect(result.status == 0, "\(result.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect(object["images"] as? Int == 100 && object["top1_accuracy"] as? Double == 0.97)
        let matrix = try #require(object["confusion_matrix"] as? [[Int]])
        #expect(
            matrix.count == 10 && matrix.indices.reduce(0) { $0 + matrix[$1][$1] } == 97
                && matrix.allSatisfy { $0.reduce(0, +) == 10 })
        #expect((object["misclassified"] as? [[String: Any]])?.count == 3)
        #expect((object["top_k_accuracy"] as? Double ?? 0) >= 0.97)
        let html = try String(contentsOf: output.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(
            html.contains("aria-label=\"confusion matrix\"")
                && html.contains("aria-label=\"per-class precision, recall and F1\""))
        #expect(html.components(separatedBy: "src=\"data:image/jpeg;base64,").count - 1 == 3, "a thumbnail per mistake")
        let text = try cli.run(["evaluate", model, "--data", data])
        #expect(text.out.contains("top-1 accuracy 0.9700") && text.out.contains("confusion matrix"), "\(text.out)")
    }
}
