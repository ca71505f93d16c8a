import ArgumentParser
import Foundation
import SightlineCore
import SightlineData
import SightlineModels
import SightlineNN
import SightlineTransfer
import SightlineVision
import SightlineWeights

/// `sightline predict MODEL IMAGE...`: top-k classes per image.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images: the top classes with probabilities for each image.",
        discussion: """
            Each image is decoded (JPEG or PNG), resized to the model's input size with an antialiased \
            bilinear filter (squashed, as Keras's load_img with target_size does), preprocessed as the \
            model expects, and run in batches. An image that cannot be read is reported and skipped; \
            the exit status is then 1.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var engine: EngineOptionGroup

    @Argument(help: ArgumentHelp(stringLiteral: ImageInputs.help))
    var images: [String]

    @Option(help: "How many classes to show per image.")
    var top = 5

    @Option(help: "A text file with one class name per line (default: ImageNet names for 1000-class models).")
    var labels: String?

    @Option(help: "Images per forward pass.")
    var batch = 8

    @Option(help: "A head from `sightline train-head`, stacked on MODEL at the layer it was trained on.")
    var head: String?

    @Option(
        help:
            "Test-time augmentation: none, flip (each image and its mirror image, class probabilities averaged; twice the passes) or crops (decoded at 1/0.875 of the input's size, the four corners and the centre averaged; five passes)."
    )
    var tta: TestTimeAugmentation = .none

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard top > 0, batch > 0 else { throw ValidationError("--top and --batch must be positive") }
    }

    func run() throws {
        let classifier = try options.classifier(
            head: head, engine: engine, use: "predict needs a classifier (use extract for features)")
        let (graph, classes) = (classifier.graph, classifier.classes)
        let names =
            try labels == nil
            ? classifier.recordedClassNames ?? Self.classNames(count: classes, labels: nil)
            : Self.classNames(count: classes, labels: labels)
        guard names.count == classes else {
            throw CommandError.usage(
                "\(names.count) class names for a model with \(classes) outputs; give --labels with one name per class")
        }
        let images = try ImageInputs.folder(self.images).items
        let order = Dictionary(images.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
        var results: [[String: Any]] = []
        var failures = 0
        let probabilities = { (input: Tensor) in
            let output = try graph(input)
            return classifier.outputsProbabilities ? output : ActivationFunction.softmax.applied(to: output)
        }
        if tta != .none { Report.write("test-time augmentation: \(tta.rawValue) (\(tta.summary))") }
        try BatchLoop(input: tta.input(for: classifier.input)).run(
            BatchLoop.plan(images, batchSize: batch),
            forward: tta.wrapping(probabilities, height: classifier.input.height, width: classifier.input.width)
        ) {
            ready, output in
            for (sample, error) in ready.failed {
                failures += 1
                Report.skipped(sample.path, error)
                results.append(["path": sample.path, "error": error])
            }
            guard let output else { return true }
            for (row, sample) in ready.samples.enumerated() {
                let scores = Array(output.scalars[(row * classes)..<((row + 1) * classes)])
                let ranked = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top)
                results.append([
                    "path": sample.path,
                    "top": ranked.map {
                        ["class": $0, "name": names[$0], "probability": Double(scores[$0])] as [String: Any]
                    },
                ])
            }
            return true
        }
        // Nothing readable is nothing done (3), not "done, some skipped" (1).
        if failures == images.count { throw CommandError(message: "no image could be read; nothing was predicted") }
        results.sort { order[$0["path"] as? String ?? ""] ?? 0 < order[$1["path"] as? String ?? ""] ?? 0 }
        if json {
            print(try JSONOutput.text(results))
        } else {
            for result in results {
                print(result["path"] as? String ?? "")
                if let error = result["error"] as? String { print("  error: \(error)") }
                for entry in result["top"] as? [[String: Any]] ?? [] {
                    let probability = entry["probability"] as? Double ?? 0
                    print(
                        String(
                            format: "  %6.2f%%  %4d  %@", probability * 100, entry["class"] as? Int ?? 0,
                            entry["name"] as? String ?? ""))
                }
            }
        }
        try Report.finish(skipped: failures)
    }

    /// True when the graph's last layer already produces probabilities.
    static func endsInSoftmax(_ layer: (any Layer)?) -> Bool {
        switch layer {
        case let dense as Dense: return dense.activation == .softmax
        case let activation as Activation: return activation.function == .softmax
        default: return false
        }
    }

    /// Names from a `--labels` file, else ImageNet's for 1000 classes, else "class N" (models
    /// Sightline trained record their own `class_names`, which callers check first).
    static func classNames(count: Int, labels: String?) throws -> [String] {
        if let labels {
            guard let text = try? String(contentsOfFile: labels, encoding: .utf8) else {
                throw CommandError.usage("--labels \(labels): no such file or not UTF-8 text")
            }
            let names = text.split(whereSeparator: \.isNewline).map(String.init)
            guard names.count == count else {
                throw CommandError.usage("--labels \(labels) has \(names.count) names, the model \(count) classes")
            }
            return names
        }
        return count == 1000 ? ImageNetClasses.names : (0..<count).map { "class \($0)" }
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {
    /// What `--tta` does, for the line the commands print.
    var summary: String {
        switch self {
        case .none: return "one pass per image"
        case .flip: return "each image and its mirror image, class probabilities averaged"
        case .crops: return "each image decoded at 1/0.875 of the input's size, its four corners and centre averaged"
        }
    }
}
