import SightlineCore

/// Test-time augmentation for `predict` and `evaluate`: each image's class probabilities are
/// the mean over the image and its augmented versions (ttach's `mean` merge; fastai's `tta`
/// with equal weights). `flip` adds the mirror image (left–right), the augmentation the
/// training pipelines of Keras, timm and fastai all use, so the model has seen both sides.
public enum TestTimeAugmentation: String, Sendable, CaseIterable {
    case none
    case flip

    /// `probabilities` (images `[N, H, W, C]` → probabilities `[N, K]`) under this
    /// augmentation: one extra pass per augmented version.
    public func wrapping(_ probabilities: @escaping (Tensor) throws -> Tensor) -> (Tensor) throws -> Tensor {
        switch self {
        case .none:
            return probabilities
        case .flip:
            return { images in
                var mean = try probabilities(images)
                let mirrored = try probabilities(Self.mirrored(images))
                mean.withUnsafeMutableBufferPointer { m in
                    mirrored.withUnsafeBufferPointer { r in
                        for i in m.indices { m[i] = (m[i] + r[i]) / 2 }
                    }
                }
                return mean
            }
        }
    }

    /// `images` `[N, H, W, C]` mirrored left to right.
    public static func mirrored(_ images: Tensor) -> Tensor {
        let (n, height, width, channels) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        return Tensor(shape: images.shape) { out in
            images.withUnsafeBufferPointer { x in
                for row in 0..<(n * height) {
                    let base = row * width * channels
                    for column in 0..<width {
                        let (to, from) = (base + column * channels, base + (width - 1 - column) * channels)
                        for c in 0..<channels { out[to + c] = x[from + c] }
                    }
                }
            }
        }
    }
}
