import SightlineCore
import SightlineVision

/// Maps of one method at several layers fused into one, as pytorch-grad-cam does with several
/// `target_layers` (LayerCAM's multi-layer use; any layer method): each layer's map is scaled as
/// `scale_cam_image` does (ReLU, `(m − min) / (1e-7 + max(m − min))`) and upsampled bilinearly to
/// the input's size, the layers' maps are averaged, and the mean is scaled again. The result is
/// at the input's resolution, `[N, H, W]`; the classes are those of the first layer's pass.
public enum MultiLayerMaps {
    /// The fused result for preprocessed `images` `[N, H, W, C]`; `compute(cam, images, classes)`
    /// computes the method's raw maps at one layer's `cam`.
    public static func fused(
        _ cams: [ClassActivationMaps], images: Tensor, classes requested: [Int?],
        compute: (ClassActivationMaps, Tensor, [Int?]) throws -> ClassActivationMaps.Result
    ) throws -> ClassActivationMaps.Result {
        guard let first = cams.first else {
            throw ClassActivationMaps.CAMError(subject: "--layer", "names no layer; name one or more")
        }
        let (n, height, width) = (images.shape[0], images.shape[1], images.shape[2])
        var result = try compute(first, images, requested)
        let classes = result.classes.map { Optional($0) }
        var sums = [Float](repeating: 0, count: n * height * width)
        for (index, cam) in cams.enumerated() {
            let maps = index == 0 ? result.maps : try compute(cam, images, classes).maps
            for image in 0..<n {
                let raw = maps.batch(image..<(image + 1)).reshaped(Array(maps.shape.dropFirst()))
                let unit = Tensor(
                    shape: [raw.shape[0], raw.shape[1], 1],
                    scalars: CAMRendering.scaledAsPytorchGradCAM(raw.scalars, relu: true))
                let resized = Resize.bilinear(unit, height: height, width: width)
                for (p, value) in resized.scalars.enumerated() { sums[image * height * width + p] += value }
            }
        }
        let count = Float(cams.count)
        result.maps = Tensor(
            shape: [n, height, width],
            scalars: (0..<n).flatMap { image in
                CAMRendering.scaledAsPytorchGradCAM(
                    sums[(image * height * width)..<((image + 1) * height * width)].map { $0 / count }, relu: true)
            })
        return result
    }
}
