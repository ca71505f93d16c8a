import Dispatch
import Foundation
import SightlineCore
import SightlineNN

/// `bench --job train --profile`: where one training step's time goes, per step kind of the
/// training plan (`Conv2D+bn+add+activation` is a convolution with its frozen BatchNorm folded
/// and the shortcut and ReLU fused), forward and backward side by side, then the optimizer.
enum TrainingProfile {
    /// Runs `repeats` profiled steps and prints the mean times per step kind (per training-plan
    /// step, named after its last layer, with `byLayer`) to standard error.
    static func print(
        _ graph: Graph, input: Tensor, labels: [Int], optimizer: any Optimizer, repeats: Int, byLayer: Bool = false
    ) throws {
        guard let name = graph.inputNames.first, let output = graph.outputNames.first else { return }
        var forward: [String: Double] = [:]
        var backward: [String: Double] = [:]
        var rest = (loss: 0.0, optimizer: 0.0)
        for _ in 0..<repeats {
            graph.zeroGradients()
            let (outputs, tape) = try graph.record(
                [name: input], outputs: [output], mode: .training, request: GradientRequest()
            ) { name, kind, seconds in forward[byLayer ? name : kind, default: 0] += seconds }
            var started = DispatchTime.now().uptimeNanoseconds
            guard let logits = outputs[output] else { return }
            let gradient = SoftmaxCrossEntropy()(logits: logits, labels: labels).gradient
            rest.loss += seconds(since: started)
            _ = graph.backward(tape, seeds: [output: gradient]) { name, kind, seconds in
                backward[byLayer ? name : kind, default: 0] += seconds
            }
            started = DispatchTime.now().uptimeNanoseconds
            optimizer.step(graph.trainableSlots)
            rest.optimizer += seconds(since: started)
        }
        let total = forward.values.reduce(0, +) + backward.values.reduce(0, +) + rest.loss + rest.optimizer
        let scale = 1e3 / Double(repeats)
        write(row("step kind", "forward ms", "backward ms", "share"))
        let kinds = Set(forward.keys).union(backward.keys).sorted {
            forward[$0, default: 0] + backward[$0, default: 0] > forward[$1, default: 0] + backward[$1, default: 0]
        }
        for kind in kinds {
            let (f, b) = (forward[kind, default: 0], backward[kind, default: 0])
            write(row(kind, milliseconds(f * scale), milliseconds(b * scale), percent((f + b) / total)))
        }
        write(row("loss", milliseconds(rest.loss * scale), "", percent(rest.loss / total)))
        write(row("optimizer step", "", milliseconds(rest.optimizer * scale), percent(rest.optimizer / total)))
        write("peak resident memory: \(ResourceUsage.peakResidentMiB()) MiB")
    }

    private static func row(_ kind: String, _ forward: String, _ backward: String, _ share: String) -> String {
        func right(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        return kind.padding(toLength: max(44, kind.count), withPad: " ", startingAt: 0) + right(forward, 12)
            + right(backward, 12) + right(share, 8)
    }

    private static func milliseconds(_ value: Double) -> String { String(format: "%.1f", value) }
    private static func percent(_ value: Double) -> String { String(format: "%.1f%%", 100 * value) }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private static func write(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
