import CImageCodecs
import Foundation
import Testing

/// libjpeg-turbo and libpng behind the C target: codec errors come back as a code and a
/// message (never a crash or an exit), and libpng's conversions give 8-bit RGB. PNG fixtures:
/// `Tests/Fixtures/images/*.png` from `Tests/Fixtures/make_png_fixtures.py` (pure Python).
struct ImageCodecTests {
    static let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static func message(_ error: [CChar]) -> String {
        String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func decodeJPEG(_ bytes: [UInt8], maxPixels: Int64 = 1 << 30) -> (code: Int32, width: Int32, error: String) {
        var image = sl_image()
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        let code = sl_jpeg_decode(bytes, bytes.count, maxPixels, &image, &error)
        defer { sl_image_free(&image) }
        return (code, image.width, Self.message(error))
    }

    func encodeGradient(width: Int, height: Int, quality: Int32) throws -> [UInt8] {
        let rgb = (0..<(width * height * 3)).map { UInt8(($0 * 7 / 3) % 256) }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        #expect(sl_jpeg_encode(rgb, Int32(width), Int32(height), quality, &out, &size, &error) == 0)
        let buffer = try #require(out)
        defer { sl_buffer_free(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: size))
    }

    @Test func jpegRoundTripAndCorruption() throws {
        let jpeg = try encodeGradient(width: 32, height: 24, quality: 90)
        let decoded = decodeJPEG(jpeg)
        #expect(decoded.code == 0 && decoded.width == 32)
        let truncated = decodeJPEG(Array(jpeg.prefix(jpeg.count / 2)))
        #expect(truncated.code != 0 && !truncated.error.isEmpty, "a truncated JPEG must fail with a message")
        let text = decodeJPEG(Array("not a jpeg at all".utf8))
        #expect(text.code != 0 && text.error.lowercased().contains("jpeg"), "got '\(text.error)'")
        #expect(decodeJPEG([]).code != 0, "an empty file must fail")
        let bomb = decodeJPEG(jpeg, maxPixels: 100)
        #expect(bomb.code == 2 && bomb.error.contains("limit"), "the pixel limit is enforced before decoding")
    }

    func decodePNG(_ name: String) throws -> [UInt8] {
        let bytes = try [UInt8](Data(contentsOf: Self.images.appendingPathComponent(name)))
        var image = sl_image()
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        let code = sl_png_decode(bytes, bytes.count, 1 << 30, &image, &error)
        #expect(code == 0, "\(name): \(Self.message(error))")
        defer { sl_image_free(&image) }
        #expect(image.width == 5 && image.height == 3, "\(name) is 5×3")
        return image.pixels.map { Array(UnsafeBufferPointer(start: $0, count: 5 * 3 * 3)) } ?? []
    }

    /// Expected values as `make_png_fixtures.py` documents them.
    @Test func pngVariantsDecodeToRGB() throws {
        let rgb = try decodePNG("rgb8.png")
        let rgba = try decodePNG("rgba8.png")
        let gray = try decodePNG("gray16.png")
        let palette = try decodePNG("palette4.png")
        let colours: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]]
        for y in 0..<3 {
            for x in 0..<5 {
                let i = (y * 5 + x) * 3
                let expected = [UInt8(40 * x + 10), UInt8(60 * y + 20), UInt8(200 - 30 * x)]
                #expect(Array(rgb[i..<(i + 3)]) == expected)
                #expect(Array(rgba[i..<(i + 3)]) == expected, "alpha is dropped")
                #expect(
                    Array(gray[i..<(i + 3)]) == Array(repeating: UInt8(40 * x + 30 * y), count: 3),
                    "16-bit gray → 8-bit RGB")
                #expect(Array(palette[i..<(i + 3)]) == colours[(x + y) % 4])
            }
        }
    }

    @Test func truncatedPNGFailsWithAMessage() throws {
        let bytes = try [UInt8](Data(contentsOf: Self.images.appendingPathComponent("rgb8.png")))
        var image = sl_image()
        var error = [CChar](repeating: 0, count: Int(SL_ERROR_CAPACITY))
        #expect(sl_png_decode(Array(bytes.prefix(60)), 60, 1 << 30, &image, &error) != 0)
        #expect(!Self.message(error).isEmpty)
        #expect(image.pixels == nil, "nothing is handed out on failure")
    }
}
