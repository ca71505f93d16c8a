import SightlineCore

/// Image resizing with Pillow's bilinear filter: separable, and antialiased when shrinking (the
/// triangle filter is widened by the scale factor, so every source pixel contributes).
public enum Resize {
    /// Resizes an `[H, W, C]` float image to `height × width`.
    public static func bilinear(_ image: Tensor, height: Int, width: Int) -> Tensor {
        precondition(image.rank == 3 && height > 0 && width > 0, "resize needs an [H, W, C] image and a positive size")
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        let columns = weights(input: w, output: width)
        let rows = weights(input: h, output: height)
        // Horizontal pass: [h, width, c].
        var horizontal = [Float](repeating: 0, count: h * width * c)
        image.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for (x, taps) in columns.enumerated() {
                    for (source, weight) in taps {
                        for k in 0..<c { horizontal[(y * width + x) * c + k] += weight * p[(y * w + source) * c + k] }
                    }
                }
            }
        }
        // Vertical pass: [height, width, c].
        return Tensor(shape: [height, width, c]) { out in
            for i in 0..<out.count { out[i] = 0 }
            for (y, taps) in rows.enumerated() {
                for (source, weight) in taps {
                    for i in 0..<(width * c) { out[y * width * c + i] += weight * horizontal[source * width * c + i] }
                }
            }
        }
    }

    /// Per output index, the (source index, weight) taps of Pillow's bilinear filter.
    static func weights(input: Int, output: Int) -> [[(Int, Float)]] {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        return (0..<output).map { index in
            let center = (Double(index) + 0.5) * scale
            let low = max(Int(center - support + 0.5), 0)
            let high = min(Int(center + support + 0.5), input)
            var taps: [(Int, Float)] = []
            var total = 0.0
            for source in low..<max(high, low + 1) where source < input {
                let weight = max(0, 1 - abs((Double(source) - center + 0.5) / filterScale))
                taps.append((source, Float(weight)))
                total += weight
            }
            return taps.map { ($0.0, total > 0 ? Float(Double($0.1) / total) : 0) }
        }
    }
}
