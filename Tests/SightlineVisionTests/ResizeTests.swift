import Foundation
import SightlineCore
import SightlineTestSupport
import Testing

@testable import SightlineVision

/// `Resize.bilinear` against Pillow's `Image.resize(BILINEAR)` on float images (antialiased
/// when shrinking). Fixture: `Tests/Fixtures/resize.json` from `make_resize_fixtures.py`.
struct ResizeTests {
    @Test func matchesPillow() throws {
        let fixture = try KerasFixture.load("resize.json")
        let image = try KerasFixture.tensor(fixture["input"])
        for entry in fixture["cases"] as? [[String: Any]] ?? [] {
            let height = try #require(entry["height"] as? Int)
            let width = try #require(entry["width"] as? Int)
            let expected = Tensor(
                shape: [height, width, 3], scalars: (entry["data"] as? [Double] ?? []).map { Float($0) })
            expectClose(
                Resize.bilinear(image, height: height, width: width), expected, tolerance: 1e-5, "\(height)×\(width)")
        }
    }

    @Test func decodingErrorsNameTheFile() throws {
        #expect(throws: ImageError(file: "empty.jpg", "is empty")) { _ = try RGBImage(data: Data(), name: "empty.jpg") }
        #expect(throws: ImageError(file: "notes.jpg", "is not a JPEG or PNG image")) {
            _ = try RGBImage(data: Data("hello".utf8), name: "notes.jpg")
        }
        let image = RGBImage(width: 4, height: 2, pixels: (0..<24).map { UInt8($0 * 10) })
        let jpeg = try image.jpegData(quality: 95)
        let decoded = try RGBImage(data: jpeg, name: "round.jpg")
        #expect(decoded.width == 4 && decoded.height == 2)
        do {
            _ = try RGBImage(data: jpeg.prefix(jpeg.count - 40), name: "cut.jpg")
            Issue.record("a truncated JPEG decoded")
        } catch {
            #expect(error.file == "cut.jpg")
        }
        #expect(throws: ImageError.self) { _ = try RGBImage(data: jpeg, name: "big.jpg", maxPixels: 4) }
    }
}

/// Issue 26: 8-bit pixels are resized without a full-size float copy, with the same sums. Issue
/// 21: their horizontal pass runs 16 (AVX-512) or 8 (AVX2) output pixels per vector with
/// lanes padded to the longest tap list; the sizes cover widths that are not a multiple of the
/// lanes, one-column outputs, upsampling and shrinking by up to 9× (19 taps).
struct ResizeFromPixelsTests {
    @Test func pixelsResizeExactlyAsTheirFloatImage() {
        var generator = SystemRandomNumberGenerator()
        let sizes = [
            (37, 53, 7, 11), (300, 200, 224, 224), (5, 9, 20, 3), (411, 324, 224, 224), (443, 538, 224, 224),
            (230, 2017, 224, 224), (64, 17, 30, 1), (9, 7, 33, 41), (50, 31, 50, 31),
        ]
        for (height, width, toHeight, toWidth) in sizes {
            let pixels = (0..<(height * width * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let image = RGBImage(width: width, height: height, pixels: pixels)
            let direct = Resize.bilinear(image, height: toHeight, width: toWidth)
            let viaFloats = Resize.bilinear(image.tensor, height: toHeight, width: toWidth)
            #expect(direct.shape == [toHeight, toWidth, 3] && direct.scalars == viaFloats.scalars)
            for lanes in [8, 1] {  // AVX2 (where the CPU has it) and scalar C
                let narrower = Resize.bilinear(image, height: toHeight, width: toWidth, maxLanes: lanes)
                #expect(narrower.scalars == viaFloats.scalars, "\(lanes) lanes")
            }
            #expect(image.prepared(height: toHeight, width: toWidth, policy: .squash).scalars == viaFloats.scalars)
        }
    }
}
