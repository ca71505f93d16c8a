import SightlineCore

/// How a model expects its input pixels, part of the model's identity (Keras
/// `imagenet_utils.preprocess_input` modes). Input is RGB in 0…255, NHWC.
public enum Preprocessing: String, Sendable, CaseIterable {
    /// RGB → BGR, then subtract the ImageNet mean [103.939, 116.779, 123.68] (B, G, R); no
    /// scaling. Keras VGG16/19 and ResNet50/101/152 (v1).
    case caffe
    /// `x / 255`, then subtract [0.485, 0.456, 0.406] and divide by [0.229, 0.224, 0.225] (RGB).
    /// torchvision weights.
    case torch
    /// `x / 127.5 − 1`. Keras ResNetV2, MobileNet, Xception, Inception.
    case tf
    /// Pixels are passed unchanged (the model does its own, e.g. with a `Rescaling` layer).
    case none

    /// Why this mode cannot run on images of `channels` channels, or nil when it can: `caffe`
    /// and `torch` use per-channel RGB statistics; `tf` and `none` work on any channel count.
    public func problem(channels: Int) -> String? {
        switch self {
        case .caffe where channels != 3, .torch where channels != 3:
            return
                "preprocessing '\(rawValue)' uses RGB statistics and the model takes \(channels)-channel images; pass --preprocessing tf or none"
        default:
            return nil
        }
    }

    /// Applies the mode to a batch `[N, H, W, C]` in 0…255: any C for `tf` and `none`, 3 (RGB)
    /// for `caffe` and `torch` (check `problem(channels:)` first).
    public func apply(to images: Tensor) -> Tensor {
        if self == .none { return images }
        if self == .tf { return Tensor(shape: images.shape, scalars: images.scalars.map { $0 / 127.5 - 1 }) }
        precondition(
            images.shape.last == 3, "preprocessing \(rawValue) needs RGB images [N, H, W, 3], got \(images.shape)")
        var result = images
        result.withUnsafeMutableBufferPointer { p in
            for pixel in stride(from: 0, to: p.count, by: 3) {
                let (r, g, b) = (p[pixel], p[pixel + 1], p[pixel + 2])
                switch self {
                case .caffe:
                    (p[pixel], p[pixel + 1], p[pixel + 2]) = (b - 103.939, g - 116.779, r - 123.68)
                case .torch:
                    (p[pixel], p[pixel + 1], p[pixel + 2]) = (
                        (r / 255 - 0.485) / 0.229, (g / 255 - 0.456) / 0.224, (b / 255 - 0.406) / 0.225
                    )
                case .tf:
                    (p[pixel], p[pixel + 1], p[pixel + 2]) = (r / 127.5 - 1, g / 127.5 - 1, b / 127.5 - 1)
                case .none:
                    return
                }
            }
        }
        return result
    }
}
