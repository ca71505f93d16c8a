import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineExplain
import SightlineNN
import SightlineTransfer
import SightlineVision

/// `sightline evaluate MODEL --data DIR`: accuracy, per-class figures, the confusion matrix and
/// the mistakes of a classifier on labelled class folders.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Measure a classifier on class folders: top-1/top-k accuracy, per-class precision, recall, F1, confusion matrix, mistakes.",
        discussion:
            "Class folders are matched to the model's classes by name when the model records them (fine-tuned models, heads), else in sorted order, as Keras image_dataset_from_directory labels them."
    )

    @OptionGroup var options: ModelOptions
    @OptionGroup var engine: EngineOptionGroup

    @Option(help: "A folder with one subfolder per class.")
    var data: String

    @Option(help: "A head from `sightline train-head`, stacked on MODEL.")
    var head: String?

    @Option(help: "k of the top-k accuracy.")
    var top = 5

    @Option(help: "Images per batch.")
    var batch = 16

    @Option(
        help:
            "Write report.html (confusion matrix picture, per-class bars, thumbnails of the worst mistakes) into this folder."
    )
    var report: String?

    @Flag(
        help:
            "With --report: under each of the most confident mistakes, the Grad-CAM map of the predicted class and of the true class over the image (where the model looked for each answer)."
    )
    var explain = false

    @Option(
        help:
            "Test-time augmentation: none, flip (each image and its mirror image, class probabilities averaged; twice the passes) or crops (decoded at 1/0.875 of the input's size, the four corners and the centre averaged; five passes)."
    )
    var tta: TestTimeAugmentation = .none

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard top > 0, batch > 0 else { throw ValidationError("--top and --batch must be positive") }
        if explain && report == nil {
            throw ValidationError("--explain draws into the report: give --report DIR too")
        }
    }

    func run() throws {
        let folder = try ImageInputs.folder([data])
        guard folder.classNames != nil else {
            throw CommandError.usage("--data \(data): needs one subfolder per class")
        }
        if let report {
            try Outputs.check(
                report, option: "--report", kind: .folder, inputs: [options.model, head] + folder.items.map(\.path))
        }
        let classifier = try options.classifier(head: head, engine: engine, use: "evaluate needs a classifier")
        let graph = classifier.graph
        let display = ProgressDisplay(label: "evaluate")
        let evaluation: Evaluation
        do {
            // With test-time augmentation the model's probabilities are averaged, so the
            // softmax comes first.
            let probabilities = { (images: Tensor) in
                let output = try graph(images)
                return classifier.outputsProbabilities ? output : ActivationFunction.softmax.applied(to: output)
            }
            if tta != .none { Report.write("test-time augmentation: \(tta.rawValue) (\(tta.summary))") }
            evaluation = try Evaluation.run(
                model: tta == .none
                    ? { try graph($0) }
                    : tta.wrapping(probabilities, height: classifier.input.height, width: classifier.input.width),
                input: tta.input(for: classifier.input),
                data: folder, modelClassNames: classifier.recordedClassNames,
                classCount: classifier.classes, outputsProbabilities: tta != .none || classifier.outputsProbabilities,
                topK: top,
                batchSize: batch,
                progress: { display.update(done: $0, total: $1) })
        } catch let error as TransferError where error.kind == .data {
            throw CommandError(message: "\(data): \(error.message)")
        }
        for (path, reason) in evaluation.skipped { Report.skipped(path, reason) }
        if evaluation.count == 0 {
            throw CommandError(message: "\(data): no image could be read; nothing was evaluated")
        }
        if let report {
            try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
            let explanations = explain ? try Self.explanations(evaluation, classifier: classifier, batch: batch) : [:]
            let page = EvaluationReport.html(evaluation, model: options.model, data: data, explanations: explanations)
            try AtomicFile.write(Data(page.utf8), to: (report as NSString).appendingPathComponent("report.html"))
        }
        print(json ? try JSONOutput.text(Self.object(evaluation)) : Self.text(evaluation))
        try Report.finish(skipped: evaluation.skipped.count)
    }

    /// `--explain`: for the mistakes the report shows, the predicted and the true class's Grad-CAM
    /// over each image, as HTML fragments by path.
    static func explanations(_ evaluation: Evaluation, classifier: ModelOptions.Classifier, batch: Int) throws
        -> [String: String]
    {
        let cam = try ClassActivationMaps(graph: classifier.graph)
        let mistakes = evaluation.mistakes.prefix(EvaluationReport.mistakesShown).map {
            MistakeExplanations.Mistake(path: $0.path, predicted: $0.predicted, trueClass: $0.trueClass)
        }
        let names = evaluation.classNames
        var fragments: [String: String] = [:]
        let explained = try MistakeExplanations.explain(
            Array(mistakes), cam: cam, input: classifier.input, batchSize: batch)
        for item in explained {
            let mistake = item.mistake
            func figure(_ image: RGBImage, _ caption: String) -> String {
                guard let data = EvaluationReport.thumbnail(image, size: 120) else { return "" }
                return "<br><img alt=\"\(caption)\" src=\"data:image/jpeg;base64,\(data)\"><br>\(caption)"
            }
            fragments[mistake.path] =
                figure(item.predicted, "Grad-CAM for \(names[mistake.predicted]) (predicted)")
                + figure(item.truth, "Grad-CAM for \(names[mistake.trueClass]) (true)")
        }
        Report.write(
            "explained \(explained.count) mistakes at \(cam.layer): Grad-CAM of the predicted and of the true class")
        return fragments
    }

    static func object(_ e: Evaluation) -> [String: Any] {
        [
            "images": e.count, "top1_accuracy": e.top1Accuracy, "top_k": e.topK, "top_k_accuracy": e.topKAccuracy,
            "class_names": e.classNames,
            "confusion_matrix": e.confusion,
            "per_class": zip(e.classNames, e.perClass).map {
                ["class": $0, "precision": $1.precision, "recall": $1.recall, "f1": $1.f1, "support": $1.support]
                    as [String: Any]
            },
            "misclassified": e.mistakes.map {
                [
                    "path": $0.path, "true_class": e.classNames[$0.trueClass], "predicted": e.classNames[$0.predicted],
                    "confidence": Double($0.confidence), "true_class_probability": Double($0.trueProbability),
                ] as [String: Any]
            },
            "skipped": e.skipped.map { ["path": $0.path, "reason": $0.reason] },
            "most_confused": e.mostConfused().map {
                ["true_class": e.classNames[$0.actual], "predicted": e.classNames[$0.predicted], "images": $0.count]
                    as [String: Any]
            },
            "top_losses": e.topLosses.map {
                [
                    "path": $0.path, "true_class": e.classNames[$0.trueClass], "predicted": e.classNames[$0.predicted],
                    "loss": $0.loss, "true_class_probability": Double($0.trueProbability),
                ] as [String: Any]
            },
        ]
    }

    static func text(_ e: Evaluation) -> String {
        let width = max(12, (e.classNames.map(\.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int = width) -> String {
            s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0)
        }
        var lines = [
            String(
                format: "images %d  top-1 accuracy %.4f  top-%d accuracy %.4f  misclassified %d", e.count,
                e.top1Accuracy, e.topK, e.topKAccuracy, e.mistakes.count), "",
            pad("class") + "precision  recall  f1      support",
        ]
        for (name, f) in zip(e.classNames, e.perClass) {
            lines.append(pad(name) + String(format: "%-10.3f %-7.3f %-7.3f %d", f.precision, f.recall, f.f1, f.support))
        }
        lines += [
            "", "confusion matrix (rows: true class, columns: predicted)",
            pad("") + e.classNames.map { pad($0, 8) }.joined(),
        ]
        for (name, row) in zip(e.classNames, e.confusion) {
            lines.append(pad(name) + row.map { pad(String($0), 8) }.joined())
        }
        if !e.mistakes.isEmpty {
            lines += ["", "misclassified (most confident first)"]
            for m in e.mistakes.prefix(20) {
                lines.append(
                    String(
                        format: "  %@  true %@ (%.2f)  predicted %@ (%.2f)", m.path, e.classNames[m.trueClass],
                        m.trueProbability, e.classNames[m.predicted], m.confidence))
            }
            if e.mistakes.count > 20 { lines.append("  … \(e.mistakes.count - 20) more (--json lists all)") }
        }
        let confused = e.mostConfused()
        if !confused.isEmpty {
            lines += ["", "most confused (true → predicted: images)"]
            for pair in confused.prefix(10) {
                lines.append("  \(e.classNames[pair.actual]) → \(e.classNames[pair.predicted]): \(pair.count)")
            }
        }
        if !e.topLosses.isEmpty {
            lines += ["", "top losses (−ln p(true class), highest first)"]
            for m in e.topLosses.prefix(10) {
                lines.append(
                    String(
                        format: "  %.3f  %@  true %@ (%.2f)  predicted %@", m.loss, m.path, e.classNames[m.trueClass],
                        m.trueProbability, e.classNames[m.predicted]))
            }
        }
        return lines.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }.joined(
            separator: "\n")
    }
}
