import Foundation
import SightlineCore
import SightlineNN

/// The cascading model-parameter randomisation check of Adebayo et al. ("Sanity Checks for
/// Saliency Maps", NeurIPS 2018): a map that explains the model must change when the model's
/// weights are replaced by random ones. Layers with weights are randomised from the output
/// down, one more at each step (BatchNorm layers keep theirs), and after each step the maps are
/// compared with the trained model's by Spearman rank correlation and SSIM, per image, then
/// averaged. A method passes when the mean rank correlation is below 0.5 at every step, from the
/// first (only the top layer randomised) on: 0.5 is about four standard deviations above what two
/// unrelated maps of 64 values give, where an unchanged map gives 1. Guided backpropagation
/// famously fails it (its maps survive randomising the top layers); Grad-CAM passes.
///
/// Random weights are Gaussian with each parameter's own mean and standard deviation (so
/// activations keep their scale), from a seeded generator; the trained weights are restored bit
/// for bit afterwards, even when a step throws.
public enum SanityCheck {
    public struct Result: Sendable {
        public var method: String
        /// The randomised layers, top first: step i randomised `layers[0...i]`.
        public var layers: [String]
        /// Mean Spearman rank correlation with the trained model's maps after each step.
        public var rankCorrelation: [Double]
        /// Mean SSIM (maps min–max normalised, one window over the whole map) after each step.
        public var ssim: [Double]
        /// True when the maps depend on the weights from the top layer down (every step's rank
        /// correlation < 0.5).
        public var passes: Bool { !rankCorrelation.isEmpty && rankCorrelation.allSatisfy { $0 < 0.5 } }
    }

    /// The layers a cascade randomises, top first: those with weights, BatchNorm excepted.
    public static func cascade(_ graph: Graph, depth: Int) -> [any Layer] {
        Array(
            graph.nodes.reversed().compactMap(\.layer).filter {
                !$0.parameters.isEmpty && !($0 is BatchNormalization)
            }.prefix(depth))
    }

    /// Runs the check for `method` (its maps from `cam.compute`) on `images` and `classes`.
    public static func run(
        _ method: CAMMethod, cam: ClassActivationMaps, images: Tensor, classes: [Int], depth: Int = 3, seed: UInt64 = 0
    ) throws -> Result {
        try run(name: method.rawValue, graph: cam.logits, depth: depth, seed: seed) {
            try cam.compute(images, classes: classes, method: method, maxChannels: 64).maps
        }
    }

    /// Runs the check for any explanation: `maps` computes `[N, h, w]` maps from the current
    /// weights of `graph`'s layers.
    public static func run(
        name: String, graph: Graph, depth: Int = 3, seed: UInt64 = 0, maps: () throws -> Tensor
    ) throws -> Result {
        let original = try maps()
        let layers = cascade(graph, depth: depth)
        let saved = layers.map { $0.parameters.map(\.value) }
        defer {
            for (layer, values) in zip(layers, saved) {
                for (parameter, value) in zip(layer.parameters, values) { parameter.value = value }
            }
        }
        var generator = SeededGenerator(seed: seed)
        var result = Result(method: name, layers: layers.map(\.name), rankCorrelation: [], ssim: [])
        for layer in layers {
            for parameter in layer.parameters where parameter.role != .state {
                parameter.value = randomised(parameter.value, &generator)
            }
            let changed = try maps()
            let pairs = (0..<original.batchSize).map {
                (
                    Array(original.batch($0..<($0 + 1)).scalars),
                    Array(changed.batch($0..<($0 + 1)).scalars)
                )
            }
            result.rankCorrelation.append(pairs.map { spearman($0.0, $0.1) }.reduce(0, +) / Double(pairs.count))
            result.ssim.append(pairs.map { ssim($0.0, $0.1) }.reduce(0, +) / Double(pairs.count))
        }
        return result
    }

    /// Gaussian values with `value`'s mean and standard deviation.
    static func randomised(_ value: Tensor, _ generator: inout SeededGenerator) -> Tensor {
        let n = Double(max(value.count, 1))
        let mean = value.scalars.reduce(0) { $0 + Double($1) } / n
        let deviation = (value.scalars.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        return Tensor(
            shape: value.shape,
            scalars: (0..<value.count).map { _ in Float(mean + deviation * Double(generator.nextNormal())) })
    }

    /// Spearman's rank correlation (average ranks for ties); 0 when either side is constant.
    static func spearman(_ a: [Float], _ b: [Float]) -> Double {
        func ranks(_ values: [Float]) -> [Double] {
            let order = values.indices.sorted { values[$0] < values[$1] }
            var ranks = [Double](repeating: 0, count: values.count)
            var start = 0
            while start < order.count {
                var end = start
                while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
                for i in start...end { ranks[order[i]] = Double(start + end) / 2 }
                start = end + 1
            }
            return ranks
        }
        return pearson(ranks(a), ranks(b))
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let (ma, mb) = (a.reduce(0, +) / n, b.reduce(0, +) / n)
        var (sab, saa, sbb) = (0.0, 0.0, 0.0)
        for i in a.indices {
            sab += (a[i] - ma) * (b[i] - mb)
            saa += (a[i] - ma) * (a[i] - ma)
            sbb += (b[i] - mb) * (b[i] - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    /// SSIM of two maps normalised to [0, 1], over one window covering the whole map (Wang et
    /// al.'s constants for a dynamic range of 1).
    static func ssim(_ a: [Float], _ b: [Float]) -> Double {
        func normalised(_ v: [Float]) -> [Double] {
            let (low, high) = (Double(v.min() ?? 0), Double(v.max() ?? 0))
            return v.map { high > low ? (Double($0) - low) / (high - low) : 0 }
        }
        let (x, y) = (normalised(a), normalised(b))
        let n = Double(x.count)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        var (vx, vy, cxy) = (0.0, 0.0, 0.0)
        for i in x.indices {
            vx += (x[i] - mx) * (x[i] - mx)
            vy += (y[i] - my) * (y[i] - my)
            cxy += (x[i] - mx) * (y[i] - my)
        }
        (vx, vy, cxy) = (vx / n, vy / n, cxy / n)
        let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
        return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    }
}
