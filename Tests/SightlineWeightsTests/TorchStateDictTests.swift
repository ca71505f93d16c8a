import Foundation
import SightlineCore
import SightlineNN
import SightlineTestSupport
import Testing

@testable import SightlineWeights

/// PyTorch files read natively, no Python: the zip `.pth` torch 1.6+ writes, the legacy pickle
/// stream (as a DataParallel training checkpoint with `module.` keys), and safetensors give torch's
/// own logits. Fixtures: `Tests/Fixtures/make_torch_fixtures.py` (torch 1.13 and safetensors
/// writing the same random torchvision models as the converted `.h5` fixtures, whose
/// `*_expected.json` hold torch's logits for x[i] = 2·sin(0.37·i)).
struct TorchStateDictTests {
    static let directory = KerasFixture.directory.appendingPathComponent("torchvision")

    static func input(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = Float(2 * sin(0.37 * Double(i))) } }
    }

    @Test(arguments: [
        "resnet18_reduced.pth", "resnet18_reduced_legacy.pth", "resnet18_reduced.safetensors", "vgg16_reduced.pth",
        "vgg11_bn_reduced.pth", "vgg13_reduced.pth",
    ])
    func torchFilesGiveTorchsLogits(_ name: String) throws {
        let arch = name.components(separatedBy: "_reduced").first ?? name
        let expected = try KerasFixture.load(Self.directory.appendingPathComponent("\(arch)_expected.json").path)
        let shape = try #require(expected["input_shape"] as? [Int])
        let loaded = try ModelLoader.load(path: Self.directory.appendingPathComponent(name).path, inputSize: shape[1])
        #expect(loaded.preprocessing == .torch, "PyTorch weights expect torch's normalisation")
        #expect(loaded.file.format == (name.hasSuffix(".safetensors") ? .safetensors : .pytorch))
        let logits = try KerasFixture.tensor(expected["logits"])
        let output = try loaded.graph(Self.input(shape))
        if arch.hasPrefix("vgg") {
            // Sightline's VGG ends in Keras's softmax `predictions`; torch returns logits.
            expectClose(output, ActivationFunction.softmax.applied(to: logits), tolerance: 1e-4, "\(name)")
            #expect(loaded.architecture?.rawValue == arch.replacingOccurrences(of: "_", with: "-"), "\(name)")
        } else {
            #expect(loaded.architecture?.rawValue == "torchvision-\(arch)")
            expectClose(output, logits, tolerance: 1e-4, "\(name) logits")
        }
    }

    /// A pickle naming anything but what a state dict holds is refused before it is called.
    @Test func aPickleThatNamesOsSystemIsRefused() throws {
        // PROTO 2; GLOBAL posix.system; 'echo owned'; TUPLE1; REDUCE; STOP.
        var bytes: [UInt8] = [0x80, 0x02, 0x63] + Array("posix\nsystem\n".utf8)
        bytes += [0x58, 10, 0, 0, 0] + Array("echo owned".utf8) + [0x85, 0x52, 0x2E]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evil-\(UUID().uuidString).pth").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try ModelLoader.load(path: path)
        } throws: { error in
            "\(error)".contains("'posix.system'") && "\(error)".contains("runs nothing from a file")
        }
    }

    /// A pickle bomb (100,000 nested tuples, whose teardown alone would overflow the stack) is
    /// refused as it is read.
    @Test func deeplyNestedPicklesAreRefused() throws {
        let bytes: [UInt8] = [0x80, 0x02, 0x5D] + Array(repeating: 0x85, count: 100_000) + [0x2E]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString).pth").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try ModelLoader.load(path: path)
        } throws: { error in
            "\(error)".contains("nests containers more than 64 deep")
        }
    }

    /// Truncated and bit-flipped copies of every format give errors or load; nothing crashes and
    /// no declared size is allocated before it is checked.
    @Test(arguments: ["resnet18_reduced.pth", "resnet18_reduced_legacy.pth", "resnet18_reduced.safetensors"])
    func damagedFilesGiveErrorsNotCrashes(_ name: String) throws {
        let original = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name)))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("torch-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SeededGenerator(seed: 22)
        var refused = 0
        for trial in 0..<40 {
            var bytes = original
            if trial % 2 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            } else {
                // Flip bits in the first 4 KiB (headers, pickle) where a flip changes structure.
                for _ in 0..<4 {
                    let at = Int.random(in: 0..<min(4096, bytes.count), using: &generator)
                    bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                }
            }
            let path = folder.appendingPathComponent("\(trial)-\(name)").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ModelLoader.load(path: path, inputSize: 64)
            } catch let error as ModelFileError {
                #expect(error.file == path && !error.message.isEmpty)
                refused += 1
            } catch {
                refused += 1
            }
        }
        #expect(refused >= 20, "most damaged copies are refused with an error")
    }

    @Test func aNetworkWithoutABuilderSaysSo() throws {
        #expect {
            _ = try ModelLoader.load(path: Self.directory.appendingPathComponent("custom_cnn.pth").path)
        } throws: { error in
            let text = "\(error)"
            return text.contains("no builder for") && text.contains("modules 0, 4")
                && (error as? ModelFileError)?.kind == .architecture
        }
    }

    @Test func wrappedKeysAndCheckpointsAreUnwrapped() {
        let tensors = [("module.conv1.weight", Tensor(zeros: [1])), ("module.fc.bias", Tensor(zeros: [1]))]
        #expect(TorchStateDict.normalisedKeys(tensors).map(\.key) == ["conv1.weight", "fc.bias"])
        let mixed = [("module.conv1.weight", Tensor(zeros: [1])), ("fc.bias", Tensor(zeros: [1]))]
        #expect(TorchStateDict.normalisedKeys(mixed).map(\.key) == ["module.conv1.weight", "fc.bias"])
    }
}
