import SightlineCore

/// How an image of any size becomes a model's `height × width` input.
public enum ResizePolicy: Sendable, Equatable {
    /// Resize both sides to the target, ignoring the aspect ratio (Keras `load_img(target_size=)`
    /// and `image_dataset_from_directory` without `crop_to_aspect_ratio`).
    case squash
    /// Resize the shorter side to `shorter` (default: target / 0.875, i.e. 256 for 224, as
    /// torchvision and timm evaluate), keeping the aspect ratio, then take the centre crop.
    case shorterSideThenCrop(shorter: Int? = nil)

    /// Parses `squash`, `crop` or `crop:256`.
    public init?(argument: String) {
        if argument == "squash" {
            self = .squash
        } else if argument == "crop" {
            self = .shorterSideThenCrop()
        } else if argument.hasPrefix("crop:"), let side = Int(argument.dropFirst(5)), side > 0 {
            self = .shorterSideThenCrop(shorter: side)
        } else {
            return nil
        }
    }

    /// A short name for file attributes: `squash` or `crop:<shorter side>` for a target.
    public func describe(height: Int, width: Int) -> String {
        switch self {
        case .squash: return "squash"
        case .shorterSideThenCrop(let shorter): return "crop:\(shorter ?? Self.defaultShorter(height, width))"
        }
    }

    /// The side a decoded image must reach so that resizing by this policy to `height`×`width`
    /// never upsamples: the target's longer side for squash, the shorter side to crop from.
    public func decodedSide(height: Int, width: Int) -> Int {
        switch self {
        case .squash: return max(height, width)
        case .shorterSideThenCrop(let shorter): return shorter ?? Self.defaultShorter(height, width)
        }
    }

    static func defaultShorter(_ height: Int, _ width: Int) -> Int {
        Int((Double(min(height, width)) / 0.875).rounded())
    }
}

extension RGBImage {
    /// The image as a `[height, width, channels]` float tensor in 0…255, resized by `policy` with
    /// antialiased bilinear filtering. Channels are converted first, as Keras's `load_img`
    /// (`color_mode`) does: 3 is RGB, 1 is PIL's luminance `L`, 4 is RGBA with opaque alpha.
    /// `channels` must be one of `ImageChannels.supported` (checked when a job is set up).
    public func prepared(height: Int, width: Int, policy: ResizePolicy, channels: Int = 3) -> Tensor {
        // RGB models resize the 8-bit pixels directly (no full-size float copy of a large photo).
        func resized(_ height: Int, _ width: Int) -> Tensor {
            channels == 3
                ? Resize.bilinear(self, height: height, width: width)
                : Resize.bilinear(ImageChannels.convert(self, channels: channels), height: height, width: width)
        }
        switch policy {
        case .squash:
            return resized(height, width)
        case .shorterSideThenCrop(let shorter):
            let side = max(shorter ?? ResizePolicy.defaultShorter(height, width), max(height, width))
            let scale = Double(side) / Double(min(self.height, self.width))
            let resizedHeight = max(height, Int((Double(self.height) * scale).rounded()))
            let resizedWidth = max(width, Int((Double(self.width) * scale).rounded()))
            return Self.centerCrop(resized(resizedHeight, resizedWidth), height: height, width: width)
        }
    }

    /// The centre `height × width` window of an `[H, W, C]` tensor (torchvision's rounding).
    public static func centerCrop(_ image: Tensor, height: Int, width: Int) -> Tensor {
        let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
        precondition(height <= h && width <= w, "crop \(height)×\(width) is larger than the image \(h)×\(w)")
        let top = Int((Double(h - height) / 2).rounded())
        let left = Int((Double(w - width) / 2).rounded())
        return Tensor(shape: [height, width, c]) { out in
            image.withUnsafeBufferPointer { p in
                for y in 0..<height {
                    (out.baseAddress! + y * width * c).update(
                        from: p.baseAddress! + ((top + y) * w + left) * c, count: width * c)
                }
            }
        }
    }
}
