import Foundation
import SightlineCore
import SightlineTestSupport
import SightlineWeights
import Testing

struct MD5Tests {
    func digest(_ text: String) -> String {
        var md5 = MD5()
        md5.update(Array(text.utf8))
        return md5.finalize()
    }

    /// RFC 1321, appendix A.5.
    @Test func rfcVectors() {
        #expect(digest("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(digest("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(digest("message digest") == "f96b697d7cb7938d525a2f31aaf161d0")
        #expect(
            digest("12345678901234567890123456789012345678901234567890123456789012345678901234567890")
                == "57edf4a22be3c955ac49da2e2107b67a")
    }

    @Test func chunkingDoesNotChangeTheDigest() {
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        var whole = MD5()
        var pieces = MD5()
        whole.update(bytes)
        for start in stride(from: 0, to: bytes.count, by: 37) {
            pieces.update(bytes[start..<min(start + 37, bytes.count)])
        }
        #expect(whole.finalize() == pieces.finalize())
    }

    @Test func fileDigestMatchesPythonHashlib() throws {
        // python3 -c "import hashlib; print(hashlib.md5(open('Tests/Fixtures/images/rgb8.png','rb').read()).hexdigest())"
        // (make_png_fixtures.py writes this file byte for byte the same on every run)
        let path = KerasFixture.directory.appendingPathComponent("images/rgb8.png").path
        #expect(try MD5.hexDigest(ofFile: path) == "c08307596f407a55884653dca4345fe5")
    }

    /// The table the CLI uses is generated from pretrained/manifest.json (scripts/make_known_files.py).
    @Test func knownFilesMatchTheManifest() throws {
        let manifest = try KerasFixture.load(
            KerasFixture.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "pretrained/manifest.json"
            ).path)
        let files = try #require(manifest["files"] as? [[String: Any]])
        #expect(files.map { $0["md5"] as? String ?? "" } == KnownWeightFiles.entries.map(\.md5))
        #expect(
            KnownWeightFiles.lookup(md5: "64373286793e3c8b2b4e3219cbf3544b")?.file
                == "vgg16_weights_tf_dim_ordering_tf_kernels.h5")
        #expect(Set(KnownWeightFiles.entries.map(\.md5)).count == KnownWeightFiles.entries.count)
    }
}
