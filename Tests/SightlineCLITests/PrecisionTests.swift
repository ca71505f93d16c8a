import Foundation
import SightlineNN
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

    /// One fine-tuning run of the shipped digits model on `pretrained/digits-mini` (head phase
    /// skipped, one epoch of phase 2): (standard error, the epoch lines of the metrics JSONL,
    /// the training page).
    func finetune(_ precision: String) throws -> (String, [[String: Any]], String) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bf16-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("m.h5").path
        let result = try CLITests().run([
            "finetune", Self.root.appendingPathComponent("pretrained/digits_resnet.h5").path, "--data",
            Self.root.appendingPathComponent("pretrained/digits-mini").path, "-o", output, "--head-epochs", "0",
            "--epochs", "1", "--batch", "20", "--lr", "1e-3", "--precision", precision, "--seed", "3",
        ])
        #expect(result.status == 0, "\(result.err)")
        let lines = try String(contentsOfFile: output + ".metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        return (result.err, records, try String(contentsOfFile: output + ".training.html", encoding: .utf8))
    }

    /// `finetune --precision bf16-emulated` trains with bf16's rounding (forward and backward),
    /// says so, and records it; `--precision bf16` on an Intel CPU with AVX512_BF16 but no AMX
    /// trains exactly as fp32 and says why, and on AMD's AVX512_BF16 trains in bf16 but for the
    /// layers that keep fp32 Winograd, and says so.
    @Test func finetuneTrainsInBFloat16AndRecordsIt() throws {
        let (_, exact, _) = try finetune("fp32")
        let (err, emulated, page) = try finetune("bf16-emulated")
        #expect(err.contains("--precision bf16-emulated: convolutions forward and backward in bfloat16"), "\(err)")
        #expect(emulated.allSatisfy { $0["precision"] as? String == "bf16-emulated" })
        #expect(page.contains("--precision bf16-emulated"))
        let (fp32Loss, bf16Loss) = (exact.last?["loss"] as? Double ?? 0, emulated.last?["loss"] as? Double ?? 0)
        #expect(fp32Loss != bf16Loss, "the rounding changed the training")
        #expect(abs(fp32Loss - bf16Loss) < 0.05 * fp32Loss, "an epoch's loss moves by \(fp32Loss) → \(bf16Loss)")
        switch BF16Hardware.current {
        case .slowerThanFP32:
            let (err, native, _) = try finetune("bf16")
            #expect(err.contains("no AMX") && err.contains("training runs fp32"), "\(err)")
            #expect(native.last?["loss"] as? Double == fp32Loss, "bf16 here is the fp32 run, bit for bit")
            #expect(native.allSatisfy { $0["precision"] as? String == "fp32" })
        case .dotProducts, .amx:
            let (err, native, _) = try finetune("bf16")
            let said =
                BF16Hardware.current == .amx ? "convolutions forward and backward in bfloat16" : "keep fp32 Winograd"
            #expect(err.contains(said), "\(err)")
            #expect(native.allSatisfy { $0["precision"] as? String == "bf16" })
            let loss = native.last?["loss"] as? Double ?? 0
            #expect(abs(fp32Loss - loss) < 0.05 * fp32Loss, "an epoch's loss moves by \(fp32Loss) → \(loss)")
        case .none: break
        }
    }
}
