internal import CKernels
import SightlineCore

/// Image resizing with Pillow's bilinear filter: separable, and antialiased when shrinking (the
/// triangle filter is widened by the scale factor, so every source pixel contributes).
public enum Resize {
    /// Resizes an `[H, W, C]` float image to `height × width`.
    public static func bilinear(_ image: Tensor, height: Int, width: Int) -> Tensor {
        precondition(image.rank == 3 && height > 0 && width > 0, "resize needs an [H, W, C] image and a positive size")
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        let columns = Taps(weights(input: w, output: width))
        let rows = Taps(weights(input: h, output: height))
        // Horizontal pass: [h, width, c]. Each output sums its taps in ascending source order.
        var horizontal = [Float](repeating: 0, count: h * width * c)
        image.withUnsafeBufferPointer { p in
            horizontal.withUnsafeMutableBufferPointer { out in
                columns.withPointers { starts, sources, weights in
                    guard let source = p.baseAddress, let target = out.baseAddress else { return }
                    for y in 0..<h {
                        let row = source + y * w * c
                        for x in 0..<width {
                            let o = target + (y * width + x) * c
                            if c == 3 {
                                var (r, g, b): (Float, Float, Float) = (0, 0, 0)
                                for t in starts[x]..<starts[x + 1] {
                                    let s = row + sources[t] * 3
                                    r += weights[t] * s[0]
                                    g += weights[t] * s[1]
                                    b += weights[t] * s[2]
                                }
                                (o[0], o[1], o[2]) = (r, g, b)
                            } else {
                                for t in starts[x]..<starts[x + 1] {
                                    let s = row + sources[t] * c
                                    for k in 0..<c { o[k] += weights[t] * s[k] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return vertical(horizontal, rows: rows, height: height, width: width, c: c)
    }

    /// Resizes 8-bit RGB pixels straight to a float `[height, width, 3]` image: the same sums as
    /// `bilinear(image.tensor, …)`, bit for bit (a byte converts to Float exactly), without the
    /// full-size float copy (a 16000×16000 photo would take 3 GiB as floats; here only the
    /// `[H, width, 3]` horizontal pass is float).
    public static func bilinear(_ image: RGBImage, height: Int, width: Int) -> Tensor {
        bilinear(image, height: height, width: width, maxLanes: 0)
    }

    /// `bilinear(_:height:width:)` with the horizontal pass's vector width capped at `maxLanes`
    /// (16, 8 or 1; 0 the widest the CPU has), so that tests reach every variant.
    static func bilinear(_ image: RGBImage, height: Int, width: Int, maxLanes: Int) -> Tensor {
        precondition(height > 0 && width > 0, "resize needs a positive size")
        let (h, w) = (image.height, image.width)
        let columns = weights(input: w, output: width)
        let rows = Taps(weights(input: h, output: height))
        // The horizontal pass in C, several output pixels per vector (`sl_resize_rows_rgb8`: the
        // same sums in the same order as the float path's loop, which takes over when the pass
        // finds no scratch memory).
        guard let horizontal = vectorHorizontal(image, columns: columns, maxLanes: maxLanes) else {
            return bilinear(image.tensor, height: height, width: width)
        }
        return vertical(horizontal, rows: rows, height: height, width: width, c: 3)
    }

    /// `[h, width, 3]` floats from 8-bit rows through `sl_resize_rows_rgb8`, or nil when its
    /// scratch memory could not be allocated.
    private static func vectorHorizontal(_ image: RGBImage, columns: [[(Int, Float)]], maxLanes: Int) -> [Float]? {
        let taps = columns.map(\.count).max() ?? 0
        var first = [Int32](repeating: 0, count: columns.count)
        var count = [Int32](repeating: 0, count: columns.count)
        var weights = [Float](repeating: 0, count: columns.count * taps)
        for (x, list) in columns.enumerated() {
            // Pillow's taps are a contiguous run of source columns.
            (first[x], count[x]) = (Int32(list.first?.0 ?? 0), Int32(list.count))
            for (t, (_, weight)) in list.enumerated() { weights[x * taps + t] = weight }
        }
        var horizontal = [Float](repeating: 0, count: image.height * columns.count * 3)
        let failed = image.pixels.withUnsafeBufferPointer { p in
            horizontal.withUnsafeMutableBufferPointer { out in
                sl_resize_rows_rgb8(
                    p.baseAddress, Int32(image.height), Int32(image.width), Int32(columns.count), first, count, weights,
                    Int32(taps), Int32(maxLanes), out.baseAddress)
            }
        }
        return failed == 0 ? horizontal : nil
    }

    /// The vertical pass of both: `[h, width, c]` floats to `[height, width, c]`.
    private static func vertical(_ horizontal: [Float], rows: Taps, height: Int, width: Int, c: Int) -> Tensor {
        let span = width * c
        return Tensor(shape: [height, width, c]) { out in
            guard let target = out.baseAddress else { return }
            target.initialize(repeating: 0, count: out.count)
            horizontal.withUnsafeBufferPointer { p in
                rows.withPointers { starts, sources, weights in
                    guard let source = p.baseAddress else { return }
                    for y in 0..<height {
                        let o = target + y * span
                        for t in starts[y]..<starts[y + 1] {
                            let weight = weights[t]
                            let s = source + sources[t] * span
                            for i in 0..<span { o[i] += weight * s[i] }
                        }
                    }
                }
            }
        }
    }

    /// The taps of every output index in flat arrays: output `i` uses the source indices and
    /// weights at `starts[i]..<starts[i + 1]`.
    private struct Taps {
        var starts: [Int] = [0]
        var sources: [Int] = []
        var weights: [Float] = []

        init(_ taps: [[(Int, Float)]]) {
            for list in taps {
                for (source, weight) in list {
                    sources.append(source)
                    weights.append(weight)
                }
                starts.append(sources.count)
            }
        }

        /// Calls `body` with unchecked views of `starts`, `sources` and `weights`.
        func withPointers(
            _ body: (UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<Float>) -> Void
        ) {
            starts.withUnsafeBufferPointer { s in
                sources.withUnsafeBufferPointer { i in weights.withUnsafeBufferPointer { w in body(s, i, w) } }
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
