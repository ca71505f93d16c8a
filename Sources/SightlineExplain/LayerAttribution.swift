import SightlineCore

/// The CAM methods that combine a layer's activations A and the score's gradient g = ∂score/∂A
/// element by element rather than through one weight per channel (`CAMMethod`), and the
/// principal-component projection of EigenCAM. Inputs are `[N, h, w, C]`; maps `[N, h, w]`,
/// before the final ReLU.
enum LayerAttribution {
    /// The raw map of an element-wise or eigen method.
    static func rawMaps(_ method: CAMMethod, activations: Tensor, gradient: Tensor?) -> Tensor {
        let (n, h, w, channels) = (
            activations.shape[0], activations.shape[1], activations.shape[2], activations.shape[3]
        )
        let g = gradient?.scalars ?? []
        let a = activations.scalars
        func product(_ i: Int) -> Float {
            switch method {
            case .hirescam, .eigengradcam: return g[i] * a[i]
            case .gradcamElementwise: return max(g[i] * a[i], 0)
            case .layercam: return max(g[i], 0) * a[i]
            default: return a[i]
            }
        }
        if method == .eigencam || method == .eigengradcam {
            let values = Tensor(shape: activations.shape) { for i in 0..<$0.count { $0[i] = product(i) } }
            return eigenProjection(values)
        }
        return Tensor(shape: [n, h, w]) { out in
            for pixel in 0..<(n * h * w) {
                var sum: Float = 0
                for k in 0..<channels { sum += product(pixel * channels + k) }
                out[pixel] = sum
            }
        }
    }

    /// Per image: the `[h·w, C]` values centred per channel, projected on their first right
    /// singular vector (pytorch-grad-cam's `get_2d_projection`), computed by power iteration on
    /// XᵀX in double precision; the sign makes the projection correlate positively with the
    /// channel sum, so the map shows where the activations are.
    static func eigenProjection(_ values: Tensor) -> Tensor {
        let (n, h, w, channels) = (values.shape[0], values.shape[1], values.shape[2], values.shape[3])
        let pixels = h * w
        return Tensor(shape: [n, h, w]) { out in
            for image in 0..<n {
                var x = [Double](repeating: 0, count: pixels * channels)
                var mean = [Double](repeating: 0, count: channels)
                for p in 0..<pixels {
                    for k in 0..<channels { mean[k] += Double(values.scalars[(image * pixels + p) * channels + k]) }
                }
                for k in 0..<channels { mean[k] /= Double(pixels) }
                for p in 0..<pixels {
                    for k in 0..<channels {
                        x[p * channels + k] = Double(values.scalars[(image * pixels + p) * channels + k]) - mean[k]
                    }
                }
                var v = [Double](repeating: 1 / Double(channels).squareRoot(), count: channels)
                for k in 0..<channels { v[k] += 1e-3 * Double(k % 7) }  // break symmetric starts
                for _ in 0..<2000 {
                    var xv = [Double](repeating: 0, count: pixels)
                    for p in 0..<pixels { for k in 0..<channels { xv[p] += x[p * channels + k] * v[k] } }
                    var next = [Double](repeating: 0, count: channels)
                    for p in 0..<pixels { for k in 0..<channels { next[k] += x[p * channels + k] * xv[p] } }
                    let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    guard norm > 0 else { break }
                    for k in 0..<channels { next[k] /= norm }
                    let change = zip(next, v).reduce(0) { $0 + abs($1.0 - $1.1) }
                    v = next
                    if change < 1e-12 { break }
                }
                var projection = [Double](repeating: 0, count: pixels)
                var agreement = 0.0
                for p in 0..<pixels {
                    var sum = 0.0
                    for k in 0..<channels { projection[p] += x[p * channels + k] * v[k] }
                    for k in 0..<channels { sum += x[p * channels + k] }
                    agreement += projection[p] * sum
                }
                let sign: Double = agreement < 0 ? -1 : 1
                for p in 0..<pixels { out[image * pixels + p] = Float(sign * projection[p]) }
            }
        }
    }

    /// XGradCAM's channel weights: Σ_ij g·A / (Σ_ij A + 1e-7), per image.
    static func xgradcamWeights(_ gradient: Tensor, _ activations: Tensor) -> [[Float]] {
        let (n, pixels, channels) = (gradient.shape[0], gradient.shape[1] * gradient.shape[2], gradient.shape[3])
        return (0..<n).map { image in
            var products = [Double](repeating: 0, count: channels)
            var sums = [Double](repeating: 0, count: channels)
            for p in 0..<pixels {
                for k in 0..<channels {
                    let i = (image * pixels + p) * channels + k
                    products[k] += Double(gradient.scalars[i]) * Double(activations.scalars[i])
                    sums[k] += Double(activations.scalars[i])
                }
            }
            return (0..<channels).map { Float(products[$0] / (sums[$0] + 1e-7)) }
        }
    }
}
