import Foundation
import SightlineCore
import SightlineNN

/// ROAD (Rong et al., 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
/// Methods: Remove And Debias") as pytorch-grad-cam's `ROADMostRelevantFirstAverage`,
/// `ROADLeastRelevantFirstAverage` and `ROADCombined` compute it.
///
/// For each percentile p of 10, 20, …, 90: most-relevant-first keeps the pixels whose map value
/// lies below the map's p-th percentile (numpy's linear interpolation) and removes the rest;
/// least-relevant-first keeps those above the (100 − p)-th. Removed pixels are filled by noisy
/// linear imputation: each is the weighted mean of its 8 neighbours (1/6 for edge neighbours,
/// 1/12 for corners; neighbours outside the image drop out), solved for all removed pixels at once
/// (a sparse symmetric system, by conjugate gradients to 1e-10), plus Gaussian noise of `noise`
/// (absolute, in preprocessed units; seeded). The score is the class logit after imputation minus
/// before; each order's scores are averaged over the percentiles. A faithful map makes
/// most-relevant-first fall far and least-relevant-first little: `combined` = (LeRF − MoRF) / 2,
/// higher is better. One batch of 19 forward passes per image.
public enum ROAD {
    public static let percentiles: [Double] = [10, 20, 30, 40, 50, 60, 70, 80, 90]

    /// One image's ROAD scores.
    public struct Scores: Sendable, Equatable {
        /// Mean logit change removing the most relevant pixels first (lower is better).
        public var mostRelevantFirst: Double
        /// Mean logit change removing the least relevant pixels first (higher is better).
        public var leastRelevantFirst: Double
        /// (LeRF − MoRF) / 2 (higher is better).
        public var combined: Double { (leastRelevantFirst - mostRelevantFirst) / 2 }
    }

    /// The scores for one preprocessed image `[1, H, W, C]`, its map `[H, W]` at input
    /// resolution, and class.
    public static func measure(
        _ cam: ClassActivationMaps, image: Tensor, map: Tensor, classIndex: Int, noise: Float = 0.01, seed: UInt64 = 0
    ) throws -> Scores {
        let (height, width, channels) = (image.shape[1], image.shape[2], image.shape[3])
        var generator = SeededGenerator(seed: seed)
        var frames = [image]
        for most in [true, false] {
            let values = most ? map.scalars : map.scalars.map { 1 - $0 }
            for p in percentiles {
                let threshold = percentile(values, p)
                let keep = values.map { $0 < threshold }
                var filled = impute(image.scalars, keep: keep, height: height, width: width, channels: channels)
                for (pixel, kept) in keep.enumerated() where !kept {
                    for c in 0..<channels { filled[pixel * channels + c] += noise * generator.nextNormal() }
                }
                frames.append(Tensor(shape: image.shape, scalars: filled))
            }
        }
        guard let input = cam.logits.inputNames.first,
            let logits = try cam.logits.forward([input: Tensor.concatenatingBatches(frames)], outputs: [cam.scoreNode])[
                cam.scoreNode]
        else { throw ClassActivationMaps.CAMError(subject: "the model", "produced no scores for ROAD's images") }
        let classes = logits.shape[1]
        let scores = (0..<frames.count).map { Double(logits.scalars[$0 * classes + classIndex]) }
        let n = percentiles.count
        let morf = scores[1...n].map { $0 - scores[0] }.reduce(0, +) / Double(n)
        let lerf = scores[(n + 1)...(2 * n)].map { $0 - scores[0] }.reduce(0, +) / Double(n)
        return Scores(mostRelevantFirst: morf, leastRelevantFirst: lerf)
    }

    /// numpy's `percentile` (linear interpolation between the closest ranks).
    static func percentile(_ values: [Float], _ p: Double) -> Float {
        let sorted = values.sorted()
        guard let last = sorted.indices.last else { return 0 }
        let position = p / 100 * Double(last)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, last)
        return sorted[low] + (sorted[high] - sorted[low]) * Float(position - Double(low))
    }

    /// The 8 neighbours and their weights (`neighbors_weights` in pytorch-grad-cam's `road.py`).
    static let neighbours: [(dy: Int, dx: Int, weight: Double)] = [
        (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12), (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12),
        (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
    ]

    /// `image` (`[H, W, C]` flat) with the pixels where `keep` is false replaced by the linear
    /// imputation: for each, (Σ_valid w)·x − Σ_removed w·x_n = Σ_kept w·v_n, solved per channel.
    static func impute(_ image: [Float], keep: [Bool], height: Int, width: Int, channels: Int) -> [Float] {
        let removed = keep.indices.filter { !keep[$0] }
        guard !removed.isEmpty, removed.count < keep.count else { return image }
        var unknown = [Int](repeating: -1, count: keep.count)
        for (index, pixel) in removed.enumerated() { unknown[pixel] = index }
        // Per removed pixel: its diagonal, its removed neighbours (unknown index, weight), and per
        // channel the known neighbours' weighted sum.
        var diagonal = [Double](repeating: 0, count: removed.count)
        var links: [[(Int, Double)]] = Array(repeating: [], count: removed.count)
        var rhs = [Double](repeating: 0, count: removed.count * channels)
        for (index, pixel) in removed.enumerated() {
            let (y, x) = (pixel / width, pixel % width)
            for n in neighbours {
                let (ny, nx) = (y + n.dy, x + n.dx)
                guard ny >= 0, nx >= 0, ny < height, nx < width else { continue }
                diagonal[index] += n.weight
                let neighbour = ny * width + nx
                if keep[neighbour] {
                    for c in 0..<channels {
                        rhs[index * channels + c] += n.weight * Double(image[neighbour * channels + c])
                    }
                } else {
                    links[index].append((unknown[neighbour], n.weight))
                }
            }
        }
        var result = image
        for c in 0..<channels {
            let b = (0..<removed.count).map { rhs[$0 * channels + c] }
            let solution = conjugateGradient(diagonal: diagonal, links: links, b: b)
            for (index, pixel) in removed.enumerated() { result[pixel * channels + c] = Float(solution[index]) }
        }
        return result
    }

    /// Solves (D − L) x = b for the symmetric positive definite system of `impute`.
    static func conjugateGradient(diagonal: [Double], links: [[(Int, Double)]], b: [Double]) -> [Double] {
        let n = b.count
        // Compressed rows, so each product is one pass over flat arrays.
        var rowStart = [Int](repeating: 0, count: n + 1)
        var columns: [Int] = []
        var weights: [Double] = []
        for i in 0..<n {
            for (j, w) in links[i] {
                columns.append(j)
                weights.append(w)
            }
            rowStart[i + 1] = columns.count
        }
        var x = [Double](repeating: 0, count: n)
        var r = b
        var p = r
        var ap = [Double](repeating: 0, count: n)
        var rr = r.reduce(0) { $0 + $1 * $1 }
        let target = 1e-20 * max(rr, 1e-300)
        for _ in 0..<(4 * n + 100) where rr > target {
            var pap = 0.0
            diagonal.withUnsafeBufferPointer { d in
                rowStart.withUnsafeBufferPointer { start in
                    columns.withUnsafeBufferPointer { col in
                        weights.withUnsafeBufferPointer { w in
                            p.withUnsafeBufferPointer { p in
                                ap.withUnsafeMutableBufferPointer { ap in
                                    for i in 0..<n {
                                        var sum = d[i] * p[i]
                                        for e in start[i]..<start[i + 1] { sum -= w[e] * p[col[e]] }
                                        ap[i] = sum
                                        pap += p[i] * sum
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let alpha = rr / pap
            var next = 0.0
            x.withUnsafeMutableBufferPointer { x in
                r.withUnsafeMutableBufferPointer { r in
                    p.withUnsafeBufferPointer { p in
                        ap.withUnsafeBufferPointer { ap in
                            for i in 0..<n {
                                x[i] += alpha * p[i]
                                r[i] -= alpha * ap[i]
                                next += r[i] * r[i]
                            }
                        }
                    }
                }
            }
            let beta = next / rr
            rr = next
            r.withUnsafeBufferPointer { r in
                p.withUnsafeMutableBufferPointer { p in for i in 0..<n { p[i] = r[i] + beta * p[i] } }
            }
        }
        return x
    }
}
