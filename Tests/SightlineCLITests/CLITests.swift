import Foundation
import SightlineWeights
import Testing

/// The `sightline` executable, run as a user runs it, on the committed weight fixtures
/// (`Tests/Fixtures/weights`, made by `make_weight_fixtures.py`).
struct CLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/weights")

    /// The built `sightline`, next to the test bundle.
    func executable() throws -> URL {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = [directory, directory.deletingLastPathComponent()].map {
            $0.appendingPathComponent("sightline")
        }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(executable, "sightline is built next to the tests")
    }

    /// Runs the built `sightline` (next to the test bundle) and returns status, stdout, stderr.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, out: String, err: String
    ) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData, as: UTF8.self)
        )
    }

    @Test func inspectShowsOriginShapesAndTotals() throws {
        let result = try run(["inspect", Self.fixtures.appendingPathComponent("vgg16_keras1.h5").path])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("recognised as vgg16 from its layer names"))
        #expect(result.out.contains("Keras 1.x (no keras_version attribute)"))
        #expect(result.out.contains("caffe"))
        #expect(result.out.contains("block5_conv3") && result.out.contains("FLOPs/image"))
    }

    /// `bench --profile --by-layer`: where a training step's time goes, one row per layer, and
    /// the usual JSON line.
    @Test func benchProfilesATrainingStepByLayer() throws {
        let result = try run([
            "bench", "--arch", "vgg11", "--size", "32", "--batch", "2", "--job", "train", "--repeats", "1",
            "--warmup", "0", "--profile", "--by-layer",
        ])
        #expect(result.status == 0, "\(result.err)")
        #expect(["block1_conv1", "fc2", "optimizer step"].allSatisfy { result.err.contains($0) })
        #expect(!result.err.contains("Conv2D "), "rows name layers, not layer types")
        #expect(result.out.contains("\"job\":\"train\""))
        // The command advises transparent huge pages for its heap (`Allocator`): where the kernel
        // grants them on advice, VGG11's 530 MB of weights and gradients sit in huge pages.
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        if mode.contains("[madvise]") || mode.contains("[always]") {
            let line = try #require(result.out.split(separator: "\n").last { $0.hasPrefix("{") })
            let fields = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let huge = try #require(fields["huge_pages_mib"] as? Int, "\(line)")
            #expect(huge >= 256, "\(huge) MiB in huge pages (THP \(mode.trimmingCharacters(in: .newlines)))")
        }
    }

    /// `--data-workers 0` decodes between steps (the default on 2 or 3 cores); below 0 is refused
    /// as a usage error that names the option, before any file is read.
    @Test func dataWorkersBelowZeroAreRefused() throws {
        for command in [["finetune", "m.h5", "--data", "d", "-o", "o.h5"], ["extract", "m.h5", "d", "-o", "f.h5"]] {
            let spaced = try run(command + ["--data-workers", "-1"])
            #expect(spaced.status == 2 && spaced.err.contains("--data-workers -1: negative values are not accepted"))
            let joined = try run(command + ["--data-workers=-1"])
            #expect(joined.status == 2 && joined.err.contains("--data-workers must be at least 0"), "\(joined.err)")
        }
    }

    @Test func inspectJSONIsMachineReadable() throws {
        let result = try run(["inspect", "--json", Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path])
        #expect(result.status == 0, "\(result.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.count == 177, "Keras ResNet50 has 177 layers, its InputLayer included")
        #expect(object["preprocessing"] as? String == "caffe")
        #expect(object["parameters"] as? Int == layers.reduce(0) { $0 + ($1["parameters"] as? Int ?? 0) })
        #expect(layers.first { $0["name"] as? String == "conv5_block3_out" }?["receptive_field"] as? Int == 483)
    }

    /// The plan of a (reduced-width) Keras ResNet50: BatchNorm, padding, residual adds and ReLUs
    /// fused into the convolutions, each with the kernel the rule chose; the reference route
    /// when asked.
    @Test func inspectKernelsListsThePlan() throws {
        let path = Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path
        let result = try run(["inspect", "--kernels", "--json", path])
        #expect(result.status == 0, "\(result.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        let plan = try #require(object["plan"] as? [[String: String]])
        let kinds = Dictionary(
            uniqueKeysWithValues: plan.compactMap { step in step["step"].map { ($0, step["kind"] ?? "") } })
        // conv1_pad → conv1_conv → conv1_bn → conv1_relu is one step; so is each block's 3_conv → 3_bn → add → out.
        #expect(kinds["conv1_pad"] == nil && kinds["conv1_conv"] == nil && kinds["conv1_bn"] == nil)
        #expect(kinds["conv1_relu"]?.hasPrefix("Conv2D [onednn") == true, "\(kinds["conv1_relu"] ?? "missing")")
        #expect(kinds["conv2_block1_add"] == nil && kinds["conv2_block1_out"]?.hasSuffix("+add+activation") == true)
        #expect(plan.count < 177 / 2, "most layers are fused into convolutions")
        let text = try run(["inspect", "--kernels", path])
        #expect(text.out.contains("inference plan") && text.out.contains("conv5_block3_out"))
        // Under bf16 every convolution is oneDNN's, in that precision (emulated: any CPU).
        let bf16 = try run(["inspect", "--kernels", "--precision", "bf16-emulated", path])
        #expect(bf16.status == 0, "\(bf16.err)")
        #expect(bf16.out.contains("[onednn direct bf16-emulated]+add+activation") && !bf16.out.contains("winograd"))
    }

    @Test func badFilesGiveOneLineErrorsAndAFailingStatus() throws {
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).h5")
        try Data("not a model".utf8).write(to: text)
        defer { try? FileManager.default.removeItem(at: text) }
        for path in [text.path, "/nonexistent/model.h5"] {
            let result = try run(["inspect", path])
            #expect(result.status != 0)
            let lines = result.err.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(path), "\(result.err)")
        }
    }

    @Test func predictRanksClassesAndReportsBadImagesInOrder() throws {
        let images = Self.fixtures.deletingLastPathComponent().appendingPathComponent("images")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-predict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let labels = scratch.appendingPathComponent("labels.txt")
        let bad = scratch.appendingPathComponent("bad.jpg")
        try (0..<10).map { "label \($0)" }.joined(separator: "\n").write(to: labels, atomically: true, encoding: .utf8)
        try Data("not an image".utf8).write(to: bad)
        let inputs = [
            images.appendingPathComponent("rgb8.png").path, bad.path,
            images.appendingPathComponent("palette4.png").path,
        ]
        let result = try run(
            ["predict", Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path] + inputs + [
                "--top", "3", "--labels", labels.path, "--json",
            ])
        #expect(result.status == 1, "a bad image makes the run fail, after the others were predicted")
        #expect(result.err.contains(bad.path))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["path"] as? String ?? "" } == inputs, "results keep the input order")
        #expect(rows[1]["error"] as? String == "is not a JPEG or PNG image")
        for row in [rows[0], rows[2]] {
            let top = try #require(row["top"] as? [[String: Any]])
            let probabilities = top.compactMap { $0["probability"] as? Double }
            #expect(
                top.count == 3 && probabilities == probabilities.sorted(by: >) && probabilities.reduce(0, +) <= 1.0001)
            #expect(top.allSatisfy { ($0["name"] as? String)?.hasPrefix("label ") == true })
        }
    }

    @Test func predictAndEvaluateWithTestTimeAugmentation() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let model = root.appendingPathComponent("pretrained/digits_resnet.h5").path
        let image = root.appendingPathComponent("pretrained/samples/digit_3.png").path
        func top(_ extra: [String]) throws -> [Double] {
            let result = try run(["predict", model, image, "--json", "--top", "10"] + extra)
            #expect(result.status == 0, "\(result.err)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: Any]])
            let ranked = try #require(rows.first?["top"] as? [[String: Any]])
            return ranked.sorted { ($0["class"] as? Int ?? 0) < ($1["class"] as? Int ?? 0) }
                .compactMap { $0["probability"] as? Double }
        }
        let (plain, flipped) = (try top([]), try top(["--tta", "flip"]))
        #expect(plain.count == 10 && flipped.count == 10)
        #expect(abs(flipped.reduce(0, +) - 1) < 1e-4, "averaged probabilities still sum to 1")
        #expect(plain != flipped, "a digit is not its mirror image: the mirror's pass changes the probabilities")
        let evaluation = try run([
            "evaluate", model, "--data", root.appendingPathComponent("pretrained/digits-mini").path, "--tta", "flip",
        ])
        #expect(evaluation.status == 0 && evaluation.err.contains("test-time augmentation: flip"), "\(evaluation.err)")
        // The report explains each shown mistake by the predicted and the true class's Grad-CAM.
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: report) }
        let explained = try run([
            "evaluate", model, "--data", root.appendingPathComponent("pretrained/digits-mini").path, "--report",
            report.path, "--explain", "--json",
        ])
        #expect(explained.status == 0 && explained.err.contains("Grad-CAM of the predicted and of the true class"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(explained.out.utf8)) as? [String: Any])
        let mistakes = min(try #require(object["misclassified"] as? [Any]).count, 24)
        let page = try String(contentsOf: report.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(mistakes > 0, "the shipped model gets some of digits-mini wrong")
        #expect(page.components(separatedBy: "(predicted)\" src=\"data:image/jpeg;base64,").count - 1 == mistakes)
        #expect(page.components(separatedBy: "(true)\" src=\"data:image/jpeg;base64,").count - 1 == mistakes)
        let cropped = try top(["--tta", "crops"])
        #expect(abs(cropped.reduce(0, +) - 1) < 1e-4 && cropped != plain, "five crops of a larger decode, averaged")
        let refused = try run(["predict", model, image, "--tta", "tencrop"])
        #expect(refused.status == 2 && refused.err.contains("--tta"), "\(refused.err)")
    }

    @Test func aRecipeIsPrintedRecordedAndOverridable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("m.h5").path
        let result = try run([
            "finetune", root.appendingPathComponent("pretrained/digits_resnet.h5").path, "--data",
            root.appendingPathComponent("pretrained/digits-mini").path, "-o", output, "--recipe", "fastai",
            "--epochs", "1", "--batch", "40", "--lr", "1e-4",
        ])
        #expect(result.status == 0, "\(result.err)")
        let line = try #require(result.err.split(separator: "\n").first.map(String.init))
        #expect(
            line.hasPrefix("recipe fastai: --head-epochs 1 --head-lr 0.002 --lr 0.0001 --optimizer adamw"), "\(line)")
        #expect(line.contains("--schedule one-cycle:0.3 --bn train"), "the recipe's other choices stay: \(line)")
        let csv = try String(contentsOfFile: output + ".metrics.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first?.hasSuffix(",recipe") == true && csv.dropFirst().allSatisfy { $0.hasSuffix(",fastai") })
        let page = try String(contentsOfFile: output + ".training.html", encoding: .utf8)
        #expect(page.contains("recipe fastai: --head-epochs 1"))
        // A rate given on the command line replaces the sweep of --recipe sightline.
        let given = try run([
            "finetune", root.appendingPathComponent("pretrained/digits_resnet.h5").path, "--data",
            root.appendingPathComponent("pretrained/digits-mini").path, "-o", output + ".given.h5", "--recipe",
            "sightline",
            "--epochs", "1", "--head-epochs", "0", "--batch", "40", "--lr", "1e-4",
        ])
        #expect(given.status == 0, "\(given.err)")
        #expect(given.err.hasPrefix("recipe sightline: --head-epochs 0 --head-lr 0.003 --lr 0.0001 --optimizer adam"))
        #expect(!given.err.contains("--lr auto"), "no sweep: \(given.err)")
    }

    @Test func extractTrainHeadAndPredictWithTheHead() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-flow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path
        let images = Self.fixtures.deletingLastPathComponent().appendingPathComponent("extract")
        let features = scratch.appendingPathComponent("features.h5").path
        let head = scratch.appendingPathComponent("head.h5").path
        let extract = try run(["extract", model, images.path, "-o", features, "--batch", "3"])
        #expect(extract.status == 0 && extract.out.contains("7 of 7 images, layer avg_pool"), "\(extract.err)")
        let train = try run(["train-head", features, "-o", head, "--epochs", "30", "--validation-split", "0"])
        #expect(train.status == 0 && train.out.contains("confusion matrix"), "\(train.err)")
        let predict = try run([
            "predict", model, "--head", head, images.appendingPathComponent("pears/pears_2.png").path, "--json",
            "--top", "2",
        ])
        #expect(predict.status == 0, "\(predict.err)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(predict.out.utf8)) as? [[String: Any]])
        let names = (rows.first?["top"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(Set(names ?? []) == ["apples", "pears"], "class names come from the head")
    }

    @Test func gradcamWritesOverlaysReportAndMaps() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-cam-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let decode = Self.fixtures.deletingLastPathComponent().appendingPathComponent("decode")
        let inputs = ["exif6.jpg", "text.jpg", "rgb16.png"].map { decode.appendingPathComponent($0).path }
        let result = try run(
            ["gradcam", Self.fixtures.appendingPathComponent("resnet50_keras2.h5").path, "--input-size", "96"] + inputs
                + ["-o", scratch.path, "--top", "3"])
        #expect(result.status == 1, "one image could not be read")
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        #expect(
            files == [
                "exif6_heatmap.jpg", "exif6_overlay.jpg", "gradcam.h5", "report.html", "rgb16_heatmap.jpg",
                "rgb16_overlay.jpg",
            ], "\(files)")
        let html = try String(contentsOf: scratch.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(
            html.components(separatedBy: "src=\"data:image/jpeg;base64,").count - 1 == 6,
            "original, overlay and grid thumbnail for each explained image")
        #expect(
            html.contains("text.jpg") && html.contains("is not a JPEG or PNG image")
                && html.contains("conv5_block3_out"))
        let maps = try HDF5File(reading: scratch.appendingPathComponent("gradcam.h5").path)
        #expect(try maps.datasetShape("/maps") == [2, 3, 3] && maps.readIntegers("/classes").count == 2)
        #expect(try maps.stringAttribute("method") == "gradcam")
        // The overlay has the original (upright) size.
        let overlay = try Data(contentsOf: scratch.appendingPathComponent("exif6_overlay.jpg"))
        #expect(overlay.count > 100)
    }

    /// `--method` with several methods and `--metrics`: each method in its folder, and the
    /// ranking by faithfulness on these images in methods.html and on standard output.
    @Test func gradcamRanksSeveralMethods() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-methods-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let images = ["pears/pears_0.png", "apples/apples_1.png"].map {
            Self.fixtures.deletingLastPathComponent().appendingPathComponent("extract/\($0)").path
        }
        let result = try run(
            ["gradcam", Self.fixtures.appendingPathComponent("vgg16_keras3.h5").path] + images + [
                "-o", scratch.path, "--method", "gradcam,eigencam,saliency", "--metrics", "--sanity",
            ])
        #expect(result.status == 0, "\(result.err)")
        // The sanity check: a line per method, a verdict in the ranking and in the page. EigenCAM has
        // no class: randomising the classifier leaves its maps exactly as they were, so it fails.
        let eigencam = result.out.split(separator: "\n").first { $0.hasPrefix("sanity check of eigencam on 2 images") }
        #expect(
            eigencam?.contains("randomising predictions, ") == true && eigencam?.contains(": fails (1.00") == true,
            "\(result.out)")
        for method in ["gradcam", "eigencam", "saliency"] {
            #expect(
                FileManager.default.fileExists(
                    atPath: scratch.appendingPathComponent("\(method)/report.html").path), "\(method)")
        }
        let page = try String(contentsOf: scratch.appendingPathComponent("methods.html"), encoding: .utf8)
        #expect(page.contains("href=\"eigencam/report.html\"") && page.contains("Which explanation to trust"))
        #expect(page.contains("<th>sanity check</th>") && page.contains("<td>fails (1.00"))
        // Per image, every method's overlay side by side, each file present.
        #expect(page.contains("Per image, best method first"))
        let sources = page.components(separatedBy: "<img src=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(sources.count == 6, "2 images × 3 methods: \(sources)")
        for source in sources {
            #expect(
                FileManager.default.fileExists(atPath: scratch.appendingPathComponent(String(source)).path), "\(source)"
            )
        }
        let ranking = result.out.components(separatedBy: "best first):\n").last ?? ""
        #expect(ranking.split(separator: "\n").filter { $0.contains("   ") }.count >= 3, "\(result.out)")
        let refused = try run(
            ["gradcam", Self.fixtures.appendingPathComponent("vgg16_keras3.h5").path] + images + [
                "-o", scratch.path, "--method", "gradcam,nosuch",
            ])
        #expect(refused.status == 2 && refused.err.contains("--method gradcam,nosuch: not a method"))
    }

    @Test func gradcamExplainsSeveralClasses() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sightline-cam-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let image = Self.fixtures.deletingLastPathComponent().appendingPathComponent("extract/pears/pears_0.png").path
        let result = try run([
            "gradcam", Self.fixtures.appendingPathComponent("vgg16_keras3.h5").path, image, "-o", scratch.path,
            "--class", "2,7", "--method", "guided-gradcam",
        ])
        #expect(result.status == 0, "\(result.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
        #expect(
            Set(files).isSuperset(of: [
                "pears_0_c2_overlay.jpg", "pears_0_c7_overlay.jpg", "pears_0_c2_guided.jpg", "pears_0_c7_guided.jpg",
            ]), "\(files)")
        #expect(
            try HDF5File(reading: scratch.appendingPathComponent("gradcam.h5").path).readIntegers("/classes") == [2, 7])
        // The guided images are in the report, and are not the overlays.
        let html = try String(contentsOf: scratch.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "alt=\"guided Grad-CAM\"").count - 1 == 2)
        let guided = try Data(contentsOf: scratch.appendingPathComponent("pears_0_c2_guided.jpg"))
        #expect(guided != (try Data(contentsOf: scratch.appendingPathComponent("pears_0_c2_overlay.jpg"))))
    }

    @Test func finetuneWritesAModelThatPredictsWithItsClassNames() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-ft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let data = Self.fixtures.deletingLastPathComponent().appendingPathComponent("extract")
        let output = scratch.appendingPathComponent("tuned.h5").path
        let tune = try run([
            "finetune", Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path, "--data", data.path, "-o",
            output, "--validation-split", "0.3",
            "--head-epochs", "1", "--epochs", "1", "--batch", "4", "--schedule", "cosine:1",
        ])
        #expect(tune.status == 0 && tune.out.contains("phase 2 epoch  1"), "\(tune.err)")
        for suffix in ["", ".state.h5", ".metrics.csv", ".metrics.jsonl", ".training.html"] {
            #expect(FileManager.default.fileExists(atPath: output + suffix))
        }
        // Validation loss per epoch, the final evaluation, and the training page with its plots.
        #expect(
            tune.out.contains("validation loss") && tune.out.contains("confusion matrix")
                && tune.out.contains("top-1 accuracy"), "\(tune.out)")
        let page = try String(contentsOfFile: output + ".training.html", encoding: .utf8)
        for label in ["loss (cross-entropy)", "accuracy", "learning rate", "confusion matrix"] {
            #expect(page.contains("aria-label=\"\(label)\""), "\(label)")
        }
        let jsonl = try String(contentsOfFile: output + ".metrics.jsonl", encoding: .utf8)
        #expect(
            jsonl.contains("\"validation_loss\"") && jsonl.contains("\"training_accuracy\"")
                && !jsonl.contains("validationAccuracy"))
        let predict = try run([
            "predict", output, data.appendingPathComponent("apples/apples_0.png").path, "--top", "2",
        ])
        #expect(
            predict.status == 0 && predict.out.contains("apples") && predict.out.contains("pears"),
            "\(predict.out)\(predict.err)")
        let again = try run([
            "finetune", Self.fixtures.appendingPathComponent("resnet50_keras3.h5").path, "--data", data.path, "-o",
            output, "--resume", "--validation-split", "0.3",
            "--head-epochs", "1", "--epochs", "1", "--batch", "4", "--schedule", "cosine:1",
        ])
        #expect(again.status == 0, "resuming a finished run is a no-op: \(again.err)")
    }
}
