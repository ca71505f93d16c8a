import Foundation
import SightlineCore

/// TrivialAugment (Müller and Hutter, 2021) as torchvision's `TrivialAugmentWide` applies it to a
/// uint8 image: one operation drawn uniformly from fourteen, at a magnitude drawn uniformly from
/// 31 bins of the wide space, negated half the time for the signed ones. Geometric operations
/// sample the nearest pixel and fill with black, as torchvision does without `fill`.
///
/// Images are `[H, W, C]` in 0…255 (C = 3, or 1: colour operations leave grey images alone); they
/// are rounded to whole values first, as a uint8 image is, and every operation returns whole
/// values, with torchvision's own roundings (blends truncate, the sharpness filter rounds).
public enum TrivialAugment {
    public enum Operation: String, Sendable, CaseIterable {
        case identity, shearX, shearY, translateX, translateY, rotate, brightness, color, contrast, sharpness
        case posterize, solarize, autoContrast, equalize

        /// The wide space's 31 magnitudes (torchvision `_augmentation_space(31)`), empty for the
        /// operations without one; and whether the magnitude's sign is drawn too.
        public var magnitudes: (values: [Float], signed: Bool) {
            func spaced(_ end: Float) -> [Float] { (0..<31).map { end * Float($0) / 30 } }
            switch self {
            case .identity, .autoContrast, .equalize: return ([], false)
            case .shearX, .shearY, .brightness, .color, .contrast, .sharpness: return (spaced(0.99), true)
            case .translateX, .translateY: return (spaced(32), true)
            case .rotate: return (spaced(135), true)
            case .posterize: return ((0..<31).map { 8 - Float((Double($0) / 5).rounded(.toNearestOrEven)) }, false)
            case .solarize: return ((0..<31).map { 255 - 255 * Float($0) / 30 }, false)
            }
        }
    }

    /// One draw: an operation, then a bin, then a sign, from `generator`.
    public static func apply(to image: Tensor, generator: inout SeededGenerator) -> Tensor {
        let operations = Operation.allCases
        let operation = operations[Int(generator.next() % UInt64(operations.count))]
        let (values, signed) = operation.magnitudes
        var magnitude: Float = values.isEmpty ? 0 : values[Int(generator.next() % UInt64(values.count))]
        if signed && generator.next() % 2 == 1 { magnitude = -magnitude }
        return apply(operation, magnitude: magnitude, to: image)
    }

    /// `operation` at `magnitude` (in the wide space's units) on `image`.
    public static func apply(_ operation: Operation, magnitude: Float, to image: Tensor) -> Tensor {
        let x = Tensor(shape: image.shape, scalars: image.scalars.map { min(max($0.rounded(), 0), 255) })
        let m = Double(magnitude)
        switch operation {
        case .identity: return x
        case .shearX: return TrivialAugmentOperations.affine(x, shear: (atan(m) * 180 / .pi, 0), corner: true)
        case .shearY: return TrivialAugmentOperations.affine(x, shear: (0, atan(m) * 180 / .pi), corner: true)
        case .translateX: return TrivialAugmentOperations.affine(x, translate: (Double(Int(m)), 0))
        case .translateY: return TrivialAugmentOperations.affine(x, translate: (0, Double(Int(m))))
        case .rotate: return TrivialAugmentOperations.affine(x, angle: -m)
        case .brightness: return TrivialAugmentOperations.blend(x, with: nil, ratio: 1 + m)
        case .color:
            return x.shape[2] == 3
                ? TrivialAugmentOperations.blend(x, with: TrivialAugmentOperations.grey(x), ratio: 1 + m) : x
        case .contrast: return TrivialAugmentOperations.contrast(x, ratio: 1 + m)
        case .sharpness: return TrivialAugmentOperations.sharpness(x, ratio: 1 + m)
        case .posterize:
            let mask = ~((1 << (8 - Int(magnitude))) - 1) & 255
            return Tensor(shape: x.shape, scalars: x.scalars.map { Float(Int($0) & mask) })
        case .solarize: return Tensor(shape: x.shape, scalars: x.scalars.map { $0 >= magnitude ? 255 - $0 : $0 })
        case .autoContrast: return TrivialAugmentOperations.autoContrast(x)
        case .equalize: return TrivialAugmentOperations.equalize(x)
        }
    }
}
