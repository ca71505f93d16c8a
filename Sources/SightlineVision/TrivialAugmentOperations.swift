import Foundation
import SightlineCore

/// TrivialAugment's operations on whole-valued `[H, W, C]` images, each as torchvision 0.14's
/// tensor path computes it on uint8 (`functional_tensor.py`), float32 arithmetic included.
enum TrivialAugmentOperations {
    /// torchvision's `_get_inverse_affine_matrix` then its affine grid and nearest
    /// `grid_sample` (align_corners false, zeros outside). Angles and shears in degrees; `corner`
    /// puts the centre at the top-left pixel corner, as the shear operations ask.
    static func affine(
        _ image: Tensor, angle: Double = 0, translate: (Double, Double) = (0, 0), shear: (Double, Double) = (0, 0),
        corner: Bool = false
    ) -> Tensor {
        let (h, w, channels) = (image.shape[0], image.shape[1], image.shape[2])
        let (cx, cy) = corner ? (-Double(w) * 0.5, -Double(h) * 0.5) : (0, 0)
        let (rot, sx, sy) = (angle * .pi / 180, shear.0 * .pi / 180, shear.1 * .pi / 180)
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        var m = [d, -b, 0, -c, a, 0]
        m[2] += m[0] * (-cx - translate.0) + m[1] * (-cy - translate.1)
        m[5] += m[3] * (-cx - translate.0) + m[4] * (-cy - translate.1)
        m[2] += cx
        m[5] += cy
        // The grid in float32: rescaled θᵀ, base coordinates at pixel centres, then unnormalised.
        let theta = m.map { Float($0) }
        let (halfW, halfH) = (Float(0.5) * Float(w), Float(0.5) * Float(h))
        let (ax, bx, cxs) = (theta[0] / halfW, theta[1] / halfW, theta[2] / halfW)
        let (ay, by, cys) = (theta[3] / halfH, theta[4] / halfH, theta[5] / halfH)
        return Tensor(shape: image.shape) { out in
            for row in 0..<h {
                let y = -Float(h) * 0.5 + 0.5 + Float(row)
                for column in 0..<w {
                    let x = -Float(w) * 0.5 + 0.5 + Float(column)
                    let gx = x * ax + y * bx + cxs
                    let gy = x * ay + y * by + cys
                    let ix = (((gx + 1) * Float(w) - 1) / 2).rounded(.toNearestOrEven)
                    let iy = (((gy + 1) * Float(h) - 1) / 2).rounded(.toNearestOrEven)
                    let inside = ix >= 0 && ix < Float(w) && iy >= 0 && iy < Float(h)
                    for k in 0..<channels {
                        out[(row * w + column) * channels + k] =
                            inside ? image.scalars[(Int(iy) * w + Int(ix)) * channels + k] : 0
                    }
                }
            }
        }
    }

    /// `_blend`: `ratio · image + (1 − ratio) · other`, clamped to 0…255 and truncated; `other`
    /// nil is black, a one-channel `other` applies to every channel, a one-value one everywhere.
    /// `ratio` is a double, as Python's float is: torch casts `ratio` and `1 − ratio` to float32.
    static func blend(_ image: Tensor, with other: Tensor?, ratio: Double) -> Tensor {
        let (r, q) = (Float(ratio), Float(1 - ratio))
        let channels = image.shape[2]
        return Tensor(shape: image.shape) { out in
            for i in 0..<image.count {
                let second: Float
                if let other {
                    second =
                        other.count == 1
                        ? other.scalars[0] : other.scalars[other.count == image.count ? i : i / channels]
                } else {
                    second = 0
                }
                out[i] = min(max(r * image.scalars[i] + q * second, 0), 255).rounded(.towardZero)
            }
        }
    }

    /// `rgb_to_grayscale`: `0.2989 r + 0.587 g + 0.114 b`, truncated, `[H, W, 1]`.
    static func grey(_ image: Tensor) -> Tensor {
        let pixels = image.count / 3
        return Tensor(shape: [image.shape[0], image.shape[1], 1]) { out in
            for p in 0..<pixels {
                let (r, g, b) = (image.scalars[3 * p], image.scalars[3 * p + 1], image.scalars[3 * p + 2])
                out[p] = (Float(0.2989) * r + Float(0.587) * g + Float(0.114) * b).rounded(.towardZero)
            }
        }
    }

    /// `adjust_contrast`: a blend with the mean of the (truncated) grey image.
    static func contrast(_ image: Tensor, ratio: Double) -> Tensor {
        let grey = image.shape[2] == 3 ? grey(image) : image
        let mean = Float(grey.scalars.reduce(0) { $0 + Double($1) } / Double(max(grey.count, 1)))
        return blend(image, with: Tensor(shape: [1], scalars: [mean]), ratio: ratio)
    }

    /// `adjust_sharpness`: a blend with the image smoothed by [[1, 1, 1], [1, 5, 1], [1, 1, 1]]/13
    /// (rounded; the border keeps its pixels).
    static func sharpness(_ image: Tensor, ratio: Double) -> Tensor {
        let (h, w, channels) = (image.shape[0], image.shape[1], image.shape[2])
        guard h > 2 && w > 2 else { return image }
        let (edge, centre) = (Float(1) / 13, Float(5) / 13)
        var smooth = image
        for row in 1..<(h - 1) {
            for column in 1..<(w - 1) {
                for k in 0..<channels {
                    var sum: Float = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let v = image.scalars[((row + dy) * w + column + dx) * channels + k]
                            sum += v * (dy == 0 && dx == 0 ? centre : edge)
                        }
                    }
                    smooth.scalars[(row * w + column) * channels + k] = sum.rounded(.toNearestOrEven)
                }
            }
        }
        return blend(image, with: smooth, ratio: ratio)
    }

    /// `autocontrast`: each channel stretched to 0…255 (`(x − min) · 255/(max − min)`, truncated);
    /// a flat channel is left as it is.
    static func autoContrast(_ image: Tensor) -> Tensor {
        let channels = image.shape[2]
        var result = image
        for k in 0..<channels {
            let values = stride(from: k, to: image.count, by: channels).map { image.scalars[$0] }
            var (low, scale) = (values.min() ?? 0, Float(255) / ((values.max() ?? 0) - (values.min() ?? 0)))
            if !scale.isFinite { (low, scale) = (0, 1) }
            for i in stride(from: k, to: image.count, by: channels) {
                result.scalars[i] = min(max((image.scalars[i] - low) * scale, 0), 255).rounded(.towardZero)
            }
        }
        return result
    }

    /// `equalize`: each channel through torchvision's histogram look-up table.
    static func equalize(_ image: Tensor) -> Tensor {
        let channels = image.shape[2]
        var result = image
        for k in 0..<channels {
            var histogram = [Int](repeating: 0, count: 256)
            for i in stride(from: k, to: image.count, by: channels) { histogram[Int(image.scalars[i])] += 1 }
            let nonzero = histogram.filter { $0 != 0 }
            let step = nonzero.dropLast().reduce(0, +) / 255
            guard step > 0 else { continue }
            var table = [Int](repeating: 0, count: 256)
            var cumulative = 0
            for value in 0..<255 {
                cumulative += histogram[value]
                table[value + 1] = min((cumulative + step / 2) / step, 255)
            }
            for i in stride(from: k, to: image.count, by: channels) {
                result.scalars[i] = Float(table[Int(image.scalars[i])])
            }
        }
        return result
    }
}
