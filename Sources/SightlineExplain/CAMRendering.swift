import Foundation
import SightlineCore
import SightlineVision

/// Turning raw maps into images people read: normalisation, upsampling, colouring, blending.
public enum CAMRendering {
    /// `(x − min) / (max − min)`; an all-constant map (e.g. all zero) becomes all zeros, not NaN.
    public static func normalised(_ map: Tensor) -> Tensor {
        let low = map.scalars.min() ?? 0
        let high = map.scalars.max() ?? 0
        guard high > low else { return Tensor(zeros: map.shape) }
        return Tensor(shape: map.shape, scalars: map.scalars.map { ($0 - low) / (high - low) })
    }

    /// pytorch-grad-cam's `scale_cam_image` without the resize: `(m − min) / (1e-7 + max(m − min))`,
    /// after a ReLU when `relu` (its per-layer step). The reference scripts' maps are scaled so.
    public static func scaledAsPytorchGradCAM(_ values: [Float], relu: Bool) -> [Float] {
        let kept = relu ? values.map { max($0, 0) } : values
        let low = kept.min() ?? 0
        let high = (kept.max() ?? 0) - low
        return kept.map { ($0 - low) / (1e-7 + high) }
    }

    /// A raw map `[h, w]` normalised to [0, 1] and bilinearly upsampled to `height × width`.
    public static func heatmap(_ map: Tensor, height: Int, width: Int) -> Tensor {
        let unit = normalised(map)
        let upsampled = Resize.bilinear(unit.reshaped([map.shape[0], map.shape[1], 1]), height: height, width: width)
        return Tensor(shape: [height, width], scalars: upsampled.scalars.map { min(max($0, 0), 1) })
    }

    /// matplotlib's "jet" as a 256-entry RGB table (`_jet_data` control points, linear between).
    public static let jet: [(UInt8, UInt8, UInt8)] = {
        let red: [(Double, Double)] = [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]
        let green: [(Double, Double)] = [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]
        let blue: [(Double, Double)] = [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]
        func value(_ points: [(Double, Double)], _ x: Double) -> Double {
            for (a, b) in zip(points, points.dropFirst()) where x <= b.0 {
                return a.1 + (b.1 - a.1) * (x - a.0) / max(b.0 - a.0, 1e-12)
            }
            return points.last?.1 ?? 0
        }
        return (0..<256).map { index in
            let x = Double(index) / 255
            func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }
            return (byte(value(red, x)), byte(value(green, x)), byte(value(blue, x)))
        }
    }()

    /// The heatmap `[H, W]` in [0, 1] coloured with jet.
    public static func colored(_ heatmap: Tensor) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: heatmap.count * 3)
        for (index, value) in heatmap.scalars.enumerated() {
            let colour = jet[Int(UInt8(255 * min(max(value, 0), 1)))]
            (pixels[index * 3], pixels[index * 3 + 1], pixels[index * 3 + 2]) = colour
        }
        return RGBImage(width: heatmap.shape[1], height: heatmap.shape[0], pixels: pixels)
    }

    /// The Keras Grad-CAM example's overlay: `image + alpha · jet(heatmap)`, rescaled so the
    /// largest value is 255 (`array_to_img` scaling; nothing clips).
    public static func overlay(_ image: RGBImage, heatmap: Tensor, alpha: Float = 0.4) -> RGBImage {
        let colours = colored(heatmap)
        let sums = zip(image.pixels, colours.pixels).map { Float($0) + alpha * Float($1) }
        let low = sums.min() ?? 0
        let high = sums.max() ?? 1
        let scale = high > low ? 255 / (high - low) : 0
        return RGBImage(
            width: image.width, height: image.height,
            pixels: sums.map { UInt8(min(255, max(0, (($0 - low) * scale).rounded()))) })
    }
}
