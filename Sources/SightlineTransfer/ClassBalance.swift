import Foundation
import SightlineCore

/// What fine-tuning does about classes of different sizes in the training part.
///
/// - `weights`: each image's loss is weighted by `N / (K · n_c)` for its class c (scikit-learn's
///   and Keras's "balanced" class weights), the batch's loss staying a mean over its images, as
///   Keras's `class_weight` does; every class then weighs the same in an epoch.
/// - `sampler`: each epoch draws N images with replacement, each with probability ∝ `1 / n_c`
///   (PyTorch's `WeightedRandomSampler` over inverse class frequencies), so batches hold the
///   classes in equal shares on average; the images stay unweighted.
public enum ClassBalance: String, Sendable, CaseIterable {
    case none, weights, sampler

    /// Images per class in `labels` for `classes` classes.
    public static func counts(_ labels: [Int], classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels where counts.indices.contains(label) { counts[label] += 1 }
        return counts
    }

    /// The balanced weight of each class, `N / (K · n_c)` (0 for a class with no images).
    public static func weights(_ counts: [Int]) -> [Float] {
        let (total, classes) = (Float(counts.reduce(0, +)), Float(counts.count))
        return counts.map { $0 > 0 ? total / (classes * Float($0)) : 0 }
    }

    /// `count` indices into `labels` drawn with replacement, each with probability proportional
    /// to the inverse of its class's size (the sampler's epoch).
    public static func sample(_ labels: [Int], classes: Int, count: Int, using generator: inout SeededGenerator)
        -> [Int]
    {
        let sizes = counts(labels, classes: classes)
        var cumulative: [Double] = []
        var sum = 0.0
        for label in labels {
            sum += sizes.indices.contains(label) && sizes[label] > 0 ? 1 / Double(sizes[label]) : 0
            cumulative.append(sum)
        }
        guard sum > 0 else { return [] }
        return (0..<count).map { _ in
            let target = Double(generator.next() >> 11) * (1.0 / 9_007_199_254_740_992.0) * sum
            // The first index whose cumulative weight exceeds the target.
            var (low, high) = (0, cumulative.count - 1)
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] > target { high = middle } else { low = middle + 1 }
            }
            return low
        }
    }

    /// The largest and smallest class sizes when they differ by more than 2× (worth balancing).
    public static func imbalance(_ counts: [Int]) -> (largest: Int, smallest: Int)? {
        guard let largest = counts.max(), let smallest = counts.min(), largest > 2 * smallest else { return nil }
        return (largest, smallest)
    }
}
