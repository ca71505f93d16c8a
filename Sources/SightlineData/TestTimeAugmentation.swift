import SightlineCore
import SightlineVision

/// Test-time augmentation for `predict` and `evaluate`: each image's class probabilities are
/// the mean over the image and its augmented versions (ttach's `mean` merge; fastai's `tta`
/// with equal weights). `flip` adds the mirror image (left–right), the augmentation the
/// training pipelines of Keras, timm and fastai all use, so the model has seen both sides.
/// `crops` decodes each image at 1/0.875 of the input's size (timm's `crop_pct`, torchvision's
/// 256 for 224) and averages torchvision's `FiveCrop`: the four corners and the centre.
public enum TestTimeAugmentation: String, Sendable, CaseIterable {
    case none
    case flip
    case crops

    /// The input the images are decoded to: `input`, or for `crops` the larger one.
    public func input(for input: ModelInput) -> ModelInput {
        guard self == .crops else { return input }
        return input.decoding(
            height: Int((Double(input.height) / 0.875).rounded()), width: Int((Double(input.width) / 0.875).rounded()))
    }

    /// `probabilities` (images `[N, H, W, C]` → probabilities `[N, K]`) under this
    /// augmentation, for a model input of `height × width` (used by `crops`): one pass per
    /// version.
    public func wrapping(
        _ probabilities: @escaping (Tensor) throws -> Tensor, height: Int = 0, width: Int = 0
    ) -> (Tensor) throws -> Tensor {
        switch self {
        case .none:
            return probabilities
        case .crops:
            return { images in
                let crops = Self.fiveCrops(imageHeight: images.shape[1], imageWidth: images.shape[2], height, width)
                var sum: Tensor?
                for (top, left) in crops {
                    let p = try probabilities(Self.crop(images, top: top, left: left, height: height, width: width))
                    if sum == nil { sum = p } else { sum?.add(p) }
                }
                guard var mean = sum else { return try probabilities(images) }
                mean.withUnsafeMutableBufferPointer { m in for i in m.indices { m[i] /= Float(crops.count) } }
                return mean
            }
        case .flip:
            return { images in
                var mean = try probabilities(images)
                let mirrored = try probabilities(Augmentation.mirrored(images))
                mean.withUnsafeMutableBufferPointer { m in
                    mirrored.withUnsafeBufferPointer { r in
                        for i in m.indices { m[i] = (m[i] + r[i]) / 2 }
                    }
                }
                return mean
            }
        }
    }

    /// torchvision's `FiveCrop` offsets (top, left): top-left, top-right, bottom-left,
    /// bottom-right, centre (rounded as `center_crop` rounds).
    static func fiveCrops(imageHeight: Int, imageWidth: Int, _ height: Int, _ width: Int) -> [(Int, Int)] {
        let (bottom, right) = (imageHeight - height, imageWidth - width)
        let centre = (
            Int((Double(bottom) / 2).rounded(.toNearestOrEven)), Int((Double(right) / 2).rounded(.toNearestOrEven))
        )
        return [(0, 0), (0, right), (bottom, 0), (bottom, right), centre]
    }

    /// The window `[N, height, width, C]` of `images` at (`top`, `left`).
    static func crop(_ images: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        let (n, h, w, c) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        return Tensor(shape: [n, height, width, c]) { out in
            images.withUnsafeBufferPointer { x in
                for image in 0..<n {
                    for y in 0..<height {
                        let from = ((image * h + top + y) * w + left) * c
                        let to = ((image * height + y) * width) * c
                        for i in 0..<(width * c) { out[to + i] = x[from + i] }
                    }
                }
            }
        }
    }
}
