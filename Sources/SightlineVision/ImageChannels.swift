import SightlineCore

/// Converting decoded RGB images to the channel count a model's input has, the way Keras users
/// feed them (`keras.utils.load_img(color_mode=…)`, which converts with PIL before resizing).
public enum ImageChannels {
    /// Channel counts images can be converted to: 1 (`grayscale`, PIL `L`), 3 (`rgb`), 4 (`rgba`).
    public static let supported = [1, 3, 4]

    /// Keras's `color_mode` name for a channel count.
    public static func colorMode(_ channels: Int) -> String {
        switch channels {
        case 1: return "grayscale"
        case 4: return "rgba"
        default: return "rgb"
        }
    }

    /// The image as `[height, width, channels]` floats in 0…255. One channel is PIL's `L`:
    /// `(19595·R + 38470·G + 7471·B + 2¹⁵) >> 16` (ITU-R 601-2 luma, rounded as PIL rounds);
    /// four channels append an opaque alpha (decoded images carry none).
    public static func convert(_ image: RGBImage, channels: Int) -> Tensor {
        let pixels = image.width * image.height
        let rgb = image.pixels
        switch channels {
        case 1:
            return Tensor(shape: [image.height, image.width, 1]) { out in
                for i in 0..<pixels {
                    let (r, g, b) = (Int(rgb[3 * i]), Int(rgb[3 * i + 1]), Int(rgb[3 * i + 2]))
                    out[i] = Float((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16)
                }
            }
        case 4:
            return Tensor(shape: [image.height, image.width, 4]) { out in
                for i in 0..<pixels {
                    for c in 0..<3 { out[4 * i + c] = Float(rgb[3 * i + c]) }
                    out[4 * i + 3] = 255
                }
            }
        default:
            return image.tensor
        }
    }
}
