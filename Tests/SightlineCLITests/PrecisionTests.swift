import Foundation
import Testing

/// `--precision` as users meet it: bf16 refused with the fix on a CPU without it (exit 2, before
/// the model loads), and bf16-emulated on the shipped fine-tuned digits model (real trained
/// weights, `pretrained/digits_resnet.h5`) giving the fp32 classes with probabilities close to fp32's.
struct PrecisionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// (path, class, probability) of each image's top class.
    func top(_ precision: String) throws -> [(String, Int, Double)] {
        let result = try CLITests().run([
            "predict", Self.root.appendingPathComponent("pretrained/digits_resnet.h5").path,
            Self.root.appendingPathComponent("pretrained/samples").path, "--json", "--precision", precision,
        ])
        #expect(result.status == 0, "\(result.err)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: Any]])
        return try rows.map { row in
            let best = try #require((row["top"] as? [[String: Any]])?.first)
            return (row["path"] as? String ?? "", best["class"] as? Int ?? -1, best["probability"] as? Double ?? -1)
        }
    }

    @Test func bf16EmulatedKeepsTheClassesOfTheTrainedModel() throws {
        let exact = try top("fp32")
        let reduced = try top("bf16-emulated")
        #expect(exact.count == 10 && reduced.count == 10)
        #expect(exact.map(\.1) == reduced.map(\.1), "same top class for every sample")
        let worst = zip(exact, reduced).map { abs($0.2 - $1.2) }.max() ?? 1
        #expect(worst < 0.1, "top-class probability moves by \(worst) (0.040 measured: digit_1, 0.927 → 0.886)")
        #expect(zip(exact, reduced).contains { $0.2 != $1.2 }, "the bf16 rounding changed something")
    }

    @Test func bf16IsRefusedWhereTheCPUHasNone() throws {
        let result = try CLITests().run([
            "predict", Self.root.appendingPathComponent("pretrained/digits_resnet.h5").path,
            Self.root.appendingPathComponent("pretrained/samples/digit_0.png").path, "--precision", "bf16",
        ])
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if cpu.contains("avx512_bf16") || cpu.contains("amx_bf16") {
            #expect(result.status == 0, "\(result.err)")
        } else {
            #expect(result.status == 2)
            #expect(result.err.hasPrefix("error: --precision bf16 needs a CPU with AVX512_BF16"))
            #expect(result.err.contains("bf16-emulated"))
        }
    }
}
