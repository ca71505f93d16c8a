import SightlineCore
import SightlineVision

/// Test-time-augmentation smoothing of a class activation map, as pytorch-grad-cam's
/// `aug_smooth=True` computes it: the map is computed for each of six versions of the
/// preprocessed batch (ttach's `HorizontalFlip` × `Multiply([0.9, 1, 1.1])`: mirrored or not,
/// times a factor), each map is scaled as pytorch-grad-cam's `scale_cam_image` does (ReLU, then
/// `(m − min) / (1e-7 + max(m − min))`), upsampled bilinearly to the input's size, scaled again
/// (its layer aggregation), mirrored back where the input was, and the six are averaged.
///
/// The result is at the input's resolution, `[N, H, W]` with values in [0, 1]. The classes are
/// those chosen for the unaugmented images (or requested) and kept for every version; pytorch-
/// grad-cam re-chooses the top class per version when no target is given, which can mix classes.
/// Six times the passes of the method.
public enum AugmentationSmoothing {
    /// ttach's `Multiply` factors in pytorch-grad-cam's default transforms.
    public static let factors: [Float] = [0.9, 1, 1.1]

    /// The smoothed result for preprocessed `images` `[N, H, W, C]`; `compute(images, classes)`
    /// computes the method's raw maps for one version.
    public static func smoothed(
        _ images: Tensor, classes requested: [Int?],
        compute: (Tensor, [Int?]) throws -> ClassActivationMaps.Result
    ) throws -> ClassActivationMaps.Result {
        let plain = try compute(images, requested)
        let (n, height, width) = (images.shape[0], images.shape[1], images.shape[2])
        var sums = [Double](repeating: 0, count: n * height * width)
        for mirrored in [false, true] {
            for factor in factors {
                let version: ClassActivationMaps.Result
                if !mirrored && factor == 1 {
                    version = plain
                } else {
                    var input = Tensor(shape: images.shape, scalars: images.scalars.map { $0 * factor })
                    if mirrored { input = Augmentation.mirrored(input) }
                    version = try compute(input, plain.classes.map { Optional($0) })
                }
                for image in 0..<n {
                    let raw = version.maps.batch(image..<(image + 1)).reshaped(Array(version.maps.shape.dropFirst()))
                    var map = scaled(raw, height: height, width: width)
                    if mirrored { map = Augmentation.mirrored(map.reshaped([height, width, 1])) }
                    for (i, value) in map.scalars.enumerated() { sums[image * height * width + i] += Double(value) }
                }
            }
        }
        var result = plain
        let versions = Double(2 * factors.count)
        result.maps = Tensor(shape: [n, height, width], scalars: sums.map { Float($0 / versions) })
        return result
    }

    /// pytorch-grad-cam's per-layer scaling, resize and aggregation of one raw map `[h, w]`.
    static func scaled(_ map: Tensor, height: Int, width: Int) -> Tensor {
        let unit = CAMRendering.scaledAsPytorchGradCAM(map.scalars, relu: true)
        let resized = Resize.bilinear(
            Tensor(shape: [map.shape[0], map.shape[1], 1], scalars: unit), height: height, width: width)
        return Tensor(
            shape: [height, width], scalars: CAMRendering.scaledAsPytorchGradCAM(resized.scalars, relu: true))
    }
}
