import Foundation
import SightlineCore

/// RandAugment (Cubuk et al., 2020) as torchvision's `RandAugment`: `operations` operations in
/// turn, each drawn uniformly from TrivialAugment's fourteen (the same implementations), all at
/// bin `magnitude` of 31 of RandAugment's narrower space (shears up to 0.3, translations up to
/// 150/331 of the side, rotations up to 30°, brightness, colour, contrast and sharpness up to
/// 0.9, posterize down to 4 bits), the sign drawn for the signed ones. torchvision's defaults are
/// 2 operations at magnitude 9; timm's `rand-m9` recipe is the same strength.
public struct RandAugment: Sendable, Equatable {
    public var operations: Int
    public var magnitude: Int

    public init(operations: Int = 2, magnitude: Int = 9) { (self.operations, self.magnitude) = (operations, magnitude) }

    /// Parses `N:M` (operations, magnitude bin 0…30); nil when malformed or out of range.
    public init?(argument: String) {
        let parts = argument.split(separator: ":").map { Int($0) }
        guard parts.count == 2, let n = parts[0], let m = parts[1], (1...14).contains(n), (0...30).contains(m) else {
            return nil
        }
        self.init(operations: n, magnitude: m)
    }

    /// RandAugment's 31 magnitudes of `operation` for an image of `height × width` (torchvision
    /// `_augmentation_space(31, (height, width))`), empty for those without one.
    public static func magnitudes(_ operation: TrivialAugment.Operation, height: Int, width: Int) -> [Float] {
        func spaced(_ end: Double) -> [Float] { (0..<31).map { Float(end * Double($0) / 30) } }
        switch operation {
        case .identity, .autoContrast, .equalize: return []
        case .shearX, .shearY: return spaced(0.3)
        case .translateX: return spaced(150.0 / 331.0 * Double(width))
        case .translateY: return spaced(150.0 / 331.0 * Double(height))
        case .rotate: return spaced(30)
        case .brightness, .color, .contrast, .sharpness: return spaced(0.9)
        case .posterize: return (0..<31).map { 8 - Float((Double($0) / 7.5).rounded(.toNearestOrEven)) }
        case .solarize: return (0..<31).map { 255 - 255 * Float($0) / 30 }
        }
    }

    /// `image` `[H, W, C]` (0…255) through `operations` drawn operations, drawing from `generator`.
    public func apply(to image: Tensor, generator: inout SeededGenerator) -> Tensor {
        let all = TrivialAugment.Operation.allCases
        var x = image
        for _ in 0..<operations {
            let operation = all[Int(generator.next() % UInt64(all.count))]
            let values = Self.magnitudes(operation, height: image.shape[0], width: image.shape[1])
            var value: Float = values.isEmpty ? 0 : values[min(magnitude, values.count - 1)]
            if operation.magnitudes.signed && generator.next() % 2 == 1 { value = -value }
            x = TrivialAugment.apply(operation, magnitude: value, to: x)
        }
        return x
    }
}
