import Foundation
import SightlineCore
import SightlineNN
import SightlineTransfer
import SightlineVision
import SightlineWeights
import Testing

/// Fine-tuning at dataset scale (issue 13), through the `sightline` executable: streamed images
/// keep memory flat as the dataset grows, and `mpirun -np 2` trains the same weights as one
/// process with the same global batch, including after an interrupted run is resumed.
///
/// The model is written here: a small Keras-layout CNN (32×32×3 → Conv 3×3/16 + BatchNorm +
/// ReLU → Conv 3×3/16 stride 2 + ReLU → global average pooling → Dense 2), seeded weights. The
/// images are generated JPEGs of two classes (the brighter half is left or right, with noise).
/// Open MPI's launcher, when installed.
private let mpirunPath = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

struct ScaleTests {
    let cli = CLITests()

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes the test model to `path`.
    func writeModel(_ path: String) throws {
        var generator = SeededGenerator(seed: 3)
        let graph = Graph()
        try graph.addInput(name: "input_1", shape: [32, 32, 3])
        var last = try graph.add(
            Conv2D(
                name: "conv1", inputChannels: 3, filters: 16, kernelSize: (3, 3), padding: .same, generator: &generator),
            inputs: ["input_1"])
        let mean = Tensor(shape: [16]) { for i in 0..<16 { $0[i] = Float(i) * 0.1 } }
        let variance = Tensor(shape: [16]) { for i in 0..<16 { $0[i] = 1 + Float(i) * 0.05 } }
        last = try graph.add(
            BatchNormalization(
                name: "bn1", gamma: Tensor(repeating: 1, shape: [16]), beta: Tensor(repeating: 0, shape: [16]),
                movingMean: mean, movingVariance: variance),
            inputs: [last])
        last = try graph.add(Activation(name: "relu1", .relu), inputs: [last])
        last = try graph.add(
            Conv2D(
                name: "conv2", inputChannels: 16, filters: 16, kernelSize: (3, 3), strides: (2, 2), padding: .same,
                activation: .relu, generator: &generator),
            inputs: [last])
        last = try graph.add(GlobalPooling2D(name: "avg_pool", kind: .average), inputs: [last])
        last = try graph.add(
            Dense(name: "predictions", inputFeatures: 16, units: 2, activation: .softmax, generator: &generator),
            inputs: [last])
        graph.outputNames = [last]
        try KerasWriter.save(
            graph, to: path,
            metadata: KerasWriter.Metadata(sightlineVersion: "test", preprocessing: .tf, source: "ScaleTests"))
    }

    /// `count` JPEGs in `root/left` and `root/right` (half each).
    func writeImages(_ count: Int, to root: URL) throws {
        var generator = SeededGenerator(seed: UInt64(count))
        for (label, name) in ["left", "right"].enumerated() {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<(count / 2) {
                var pixels = [UInt8](repeating: 0, count: 32 * 32 * 3)
                for y in 0..<32 {
                    for x in 0..<32 {
                        let bright = (x < 16) == (label == 0)
                        for c in 0..<3 {
                            pixels[(y * 32 + x) * 3 + c] = UInt8(
                                clamping: (bright ? 170 : 70) + Int(generator.next() % 60))
                        }
                    }
                }
                try RGBImage(width: 32, height: 32, pixels: pixels).jpegData().write(
                    to: folder.appendingPathComponent(String(format: "%05d.jpg", index)))
            }
        }
    }

    /// Every parameter of the model at `path`, by `layer/weight`.
    func weights(_ path: String) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for layer in try ModelLoader.load(path: path).graph.layers {
            for p in layer.parameters { values["\(layer.name)/\(p.name)"] = p.value }
        }
        return values
    }

    /// ‖a − b‖ / ‖b‖ over all parameters together, and the largest element difference relative
    /// to the largest weight magnitude. (Per tensor, a bias that starts at zero and whose
    /// gradient is a sum that nearly cancels differs by more: Adam divides such a gradient's
    /// float32 summation noise by its own small magnitude; 1.2e-4 of conv1's bias here.)
    func relativeDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> (norm: Double, element: Float) {
        guard a.keys == b.keys else { return (.infinity, .infinity) }
        var difference = 0.0
        var reference = 0.0
        var largest: Float = 0
        var largestValue: Float = 0
        for (key, x) in a {
            guard let y = b[key], x.shape == y.shape else { return (.infinity, .infinity) }
            for (u, v) in zip(x.scalars, y.scalars) {
                difference += Double(u - v) * Double(u - v)
                reference += Double(v) * Double(v)
                largestValue = max(largestValue, abs(v))
            }
            largest = max(largest, x.maxAbsoluteDifference(y))
        }
        return ((difference / max(reference, 1e-30)).squareRoot(), largest / max(largestValue, 1e-12))
    }

    /// The peak resident MiB of a run's last epoch, from its metrics (measured by `getrusage`).
    func peakMiB(_ output: String) throws -> Int {
        let lines = try String(contentsOfFile: output + ".metrics.csv", encoding: .utf8).split(separator: "\n")
        let header = try #require(lines.first).split(separator: ",", omittingEmptySubsequences: false)
        let column = try #require(header.firstIndex(of: "peak_resident_mib"))
        let last = try #require(lines.last).split(separator: ",", omittingEmptySubsequences: false)
        return try #require(Int(last[column]))
    }

    /// 2,000 images need no more memory than 200: holding them decoded would add
    /// 1,800 × 32·32·3 floats ≈ 21 MiB, a third of what the whole 200-image run uses.
    @Test func streamedFineTuningMemoryDoesNotGrowWithTheDataset() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("model.h5").path
        try writeModel(model)
        var peaks: [Int: Int] = [:]
        for count in [200, 2000] {
            let data = directory.appendingPathComponent("images\(count)")
            try writeImages(count, to: data)
            let output = directory.appendingPathComponent("tuned\(count).h5").path
            let result = try cli.run(
                [
                    "finetune", model, "--data", data.path, "-o", output, "--head-epochs", "1", "--epochs", "1",
                    "--batch", "16", "--data-workers", "1",
                ], environment: ["SIGHTLINE_THREADS": "1"])  // one compute thread: fewer malloc arenas, steadier peaks
            #expect(result.status == 0, "\(result.err)")
            #expect(
                result.out.contains("img/s") && result.out.contains("data wait") && result.out.contains("MiB"),
                "each epoch line reports throughput: \(result.out)")
            peaks[count] = try peakMiB(output)
        }
        let small = try #require(peaks[200])
        let large = try #require(peaks[2000])
        #expect(
            Double(large) <= 1.15 * Double(small),
            "peak resident memory: \(small) MiB for 200 images, \(large) MiB for 2,000")
    }

    /// A labelled features file of `rows` 512-wide rows (two classes, shifted means), written a
    /// block at a time.
    func writeFeatures(_ rows: Int, to path: String) throws {
        let writer = try FeatureFileWriter(path: path, featureShape: [512], labelled: true, fingerprint: "test")
        var generator = SeededGenerator(seed: 4)
        for start in stride(from: 0, to: rows, by: 1000) {
            let count = min(1000, rows - start)
            let labels = (start..<(start + count)).map { $0 % 2 }
            let features = labels.flatMap { label in
                (0..<512).map { _ in generator.nextNormal() + (label == 0 ? 0.5 : -0.5) }
            }
            try writer.append(
                features: features, paths: labels.indices.map { "\(start + $0).jpg" },
                status: Array(repeating: 0, count: count),
                errors: Array(repeating: "", count: count), labels: labels)
        }
        try writer.finish(
            classNames: ["a", "b"], attributes: ["layer": "avg_pool", "pooling": "avg", "preprocessing": "caffe"])
    }

    /// `train-head` holds one block of features at a time: a file ten times larger (78 MiB
    /// against 7.8 MiB of features) needs only the per-row bookkeeping more.
    @Test func trainHeadMemoryDoesNotGrowWithTheFeatures() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        var peaks: [Int: Int] = [:]
        for rows in [4000, 40000] {
            let features = directory.appendingPathComponent("f\(rows).h5").path
            try writeFeatures(rows, to: features)
            let result = try cli.run([
                "train-head", features, "-o", directory.appendingPathComponent("h\(rows).h5").path, "--epochs", "1",
                "--block-mib", "4",
            ])
            #expect(result.status == 0, "\(result.err)")
            let digits = result.out.split(separator: "(peak memory ").last.map { String($0.prefix { $0.isNumber }) }
            let peak = Int(digits ?? "") ?? -1
            #expect(peak >= 0, "train-head reports its peak memory: \(result.out)")
            peaks[rows] = peak
            #expect(
                result.out.contains("validation accuracy 1.000") || result.out.contains("validation accuracy 0.99"),
                "the classes are separable: \(result.out)")
        }
        let small = try #require(peaks[4000])
        let large = try #require(peaks[40000])
        #expect(
            large - small < 30,
            "peak resident memory: \(small) MiB for 4,000 rows, \(large) MiB for 40,000 (the features alone differ by 70 MiB)"
        )
    }

    func mpirun(_ processes: Int, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(mpirunPath))
        process.arguments =
            ["--allow-run-as-root", "--oversubscribe", "-np", String(processes), try cli.executable().path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The processes whose parent is `parent` (the ranks mpirun started).
    func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    @Test(.enabled(if: mpirunPath != nil, "needs mpirun (openmpi-bin; scripts/bootstrap.sh installs it)"))
    func twoProcessesTrainWhatOneProcessTrainsAndResume() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("model.h5").path
        try writeModel(model)
        let data = directory.appendingPathComponent("images")
        try writeImages(200, to: data)
        func arguments(_ output: String, epochs: Int = 2) -> [String] {
            [
                "finetune", model, "--data", data.path, "-o", output, "--head-epochs", "1", "--epochs", String(epochs),
                "--batch", "16", "--lr", "1e-3",
            ]
        }
        let single = directory.appendingPathComponent("single.h5").path
        let one = try cli.run(arguments(single))
        #expect(one.status == 0, "\(one.err)")
        let parallel = directory.appendingPathComponent("parallel.h5").path
        let two = try mpirun(2, arguments(parallel))
        two.waitUntilExit()
        #expect(two.terminationStatus == 0)
        let difference = relativeDifference(try weights(parallel), try weights(single))
        #expect(
            difference.norm <= 1e-5 && difference.element <= 1e-5,
            "2 processes vs 1 with the same global batch: \(difference)")
        let history = { (path: String) in
            try String(contentsOfFile: path + ".metrics.csv", encoding: .utf8).split(separator: "\n").count
        }
        #expect(try history(parallel) == 4, "a header and three epochs")

        // Interrupted once the head phase is saved, as `scancel` does (SIGTERM to every task):
        // both processes stop at the same step and exit 130; resumed with the same number of
        // processes, the run ends with the uninterrupted run's weights.
        let resumed = directory.appendingPathComponent("resumed.h5").path
        let long = try mpirun(2, arguments(resumed, epochs: 200))
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: resumed + ".state.h5") && Date() < deadline { usleep(20_000) }
        for rank in children(of: long.processIdentifier) { kill(rank, SIGTERM) }
        let stop = Date().addingTimeInterval(120)
        while long.isRunning && Date() < stop { usleep(50_000) }
        if long.isRunning { for rank in children(of: long.processIdentifier) { kill(rank, SIGKILL) } }
        long.waitUntilExit()
        #expect(long.terminationStatus == 130, "both processes stopped after the interrupt")
        let again = try mpirun(2, arguments(resumed) + ["--resume"])
        again.waitUntilExit()
        #expect(again.terminationStatus == 0)
        #expect(try weights(resumed) == weights(parallel), "resuming ends with the uninterrupted run's weights")
    }
}
