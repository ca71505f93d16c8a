internal import CImageCodecs
import Foundation
import SightlineCore

/// An 8-bit RGB image, row-major, `height × width × 3` bytes.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(
            pixels.count == width * height * 3,
            "RGB image \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// The default limit on decoded pixels (a 16384 × 16384 image): larger headers are rejected
    /// before any pixel buffer is allocated (decompression bombs).
    public static let defaultMaxPixels = 16_384 * 16_384

    /// Decodes a JPEG or PNG file, chosen by its signature, not its extension, and turns it
    /// upright by its EXIF orientation unless `applyOrientation` is false.
    ///
    /// `atLeast` (width, height) lets a JPEG decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT
    /// scaling, as Pillow's `draft`) when the result still covers that size; nil decodes exactly.
    public init(
        contentsOf path: String, maxPixels: Int = RGBImage.defaultMaxPixels, applyOrientation: Bool = true,
        atLeast: (Int, Int)? = nil
    ) throws(ImageError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(file: path, "cannot be read")
        }
        try self.init(
            data: data, name: path, maxPixels: maxPixels, applyOrientation: applyOrientation, atLeast: atLeast)
    }

    /// Decodes JPEG or PNG bytes; `name` appears in errors.
    public init(
        data: Data, name: String, maxPixels: Int = RGBImage.defaultMaxPixels, applyOrientation: Bool = true,
        atLeast: (Int, Int)? = nil
    ) throws(ImageError) {
        let bytes = [UInt8](data)
        var image = sl_image()
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        let code: Int32
        if bytes.starts(with: [0xFF, 0xD8]) {
            // EXIF orientations 5–8 swap the axes: ask for the transposed minimum.
            let minimum = atLeast ?? (0, 0)
            code = sl_jpeg_decode_scaled(
                bytes, bytes.count, Int64(maxPixels), Int32(max(minimum.0, minimum.1)),
                Int32(max(minimum.0, minimum.1)), &image, &error)
        } else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            code = sl_png_decode(bytes, bytes.count, Int64(maxPixels), &image, &error)
        } else {
            throw ImageError(file: name, bytes.isEmpty ? "is empty" : "is not a JPEG or PNG image")
        }
        defer { sl_image_free(&image) }
        guard code == 0, let pixels = image.pixels else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError(file: name, message.isEmpty ? "cannot be decoded" : message)
        }
        let count = Int(image.width) * Int(image.height) * 3
        self.init(
            width: Int(image.width), height: Int(image.height),
            pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
        if applyOrientation { self = oriented(Int(image.orientation)) }
    }

    /// The image as a viewer shows it, for an EXIF orientation (1–8): 2 mirror, 3 rotate 180°,
    /// 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° anticlockwise
    /// (what Pillow's `ImageOps.exif_transpose` does).
    public func oriented(_ orientation: Int) -> RGBImage {
        guard orientation >= 2 && orientation <= 8 else { return self }
        let swaps = orientation >= 5
        let (w, h) = swaps ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                // Source pixel (sx, sy) shown at (x, y).
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)
                }
                let source = (sy * width + sx) * 3
                let target = (y * w + x) * 3
                out[target] = pixels[source]
                out[target + 1] = pixels[source + 1]
                out[target + 2] = pixels[source + 2]
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Encodes as a baseline JPEG of the given quality (1–100).
    public func jpegData(quality: Int = 90) throws(ImageError) -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        guard sl_jpeg_encode(pixels, Int32(width), Int32(height), Int32(quality), &out, &size, &error) == 0, let out
        else {
            throw ImageError(
                file: "<jpeg encoder>",
                String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { sl_buffer_free(out) }
        return Data(bytes: out, count: size)
    }

    /// The pixels as a float tensor `[height, width, 3]` in 0…255.
    public var tensor: Tensor {
        Tensor(shape: [height, width, 3]) { out in
            pixels.withUnsafeBufferPointer { p in for i in 0..<out.count { out[i] = Float(p[i]) } }
        }
    }
}
