import Foundation
import SightlineTestSupport
import SightlineVision
import Testing

/// Decoded pixels against Pillow's (`ImageOps.exif_transpose(Image.open(f)).convert("RGB")`).
/// Fixtures: `Tests/Fixtures/decode/` from `Tests/Fixtures/make_image_fixtures.py` (Pillow 12):
/// baseline, progressive, grayscale, Adobe CMYK and EXIF-oriented JPEGs, 16-bit, gray+alpha and
/// palette+transparency PNGs, and three broken files.
struct DecodeTests {
    static let directory = KerasFixture.directory.appendingPathComponent("decode")

    static var names: [String] {
        ((try? KerasFixture.load(directory.appendingPathComponent("expected.json").path))?.keys.sorted()) ?? []
    }

    @Test(arguments: names)
    func pixelsEqualPillow(_ name: String) throws {
        let expected = try #require(
            try KerasFixture.load(Self.directory.appendingPathComponent("expected.json").path)[name] as? [String: Any])
        let image = try RGBImage(contentsOf: Self.directory.appendingPathComponent(name).path)
        #expect(
            image.width == expected["width"] as? Int && image.height == expected["height"] as? Int,
            "\(name): \(image.width)×\(image.height)")
        let pixels = (expected["pixels"] as? [Int] ?? []).map { UInt8($0) }
        let differing = zip(image.pixels, pixels).filter { $0 != $1 }.count
        #expect(
            image.pixels.count == pixels.count && differing == 0,
            "\(name): \(differing) of \(pixels.count) values differ from Pillow")
    }

    @Test func brokenFilesAreErrorsNamingTheFile() {
        for name in ["truncated.jpg", "text.jpg", "empty.jpg"] {
            let path = Self.directory.appendingPathComponent(name).path
            do {
                _ = try RGBImage(contentsOf: path)
                Issue.record("\(name) decoded")
            } catch {
                #expect(error.file == path && !error.message.isEmpty)
            }
        }
    }

    @Test func orientationCanBeIgnored() throws {
        let path = Self.directory.appendingPathComponent("exif6.jpg").path
        let raw = try RGBImage(contentsOf: path, applyOrientation: false)
        let upright = try RGBImage(contentsOf: path)
        #expect(raw.width == 24 && raw.height == 16 && upright.width == 16 && upright.height == 24)
        #expect(upright == raw.oriented(6))
    }
}
