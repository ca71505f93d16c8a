import Foundation
import SightlineCore
import Testing

/// An output never resolves to an input, however it is spelled (issue 26).
struct OutputPathTests {
    @Test func everySpellingOfAnInputIsRecognised() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("m.h5").path
        try Data("model".utf8).write(to: URL(fileURLWithPath: model))
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("link.h5").path, withDestinationPath: model)
        try FileManager.default.linkItem(atPath: model, toPath: root.appendingPathComponent("hard.h5").path)
        for spelling in ["m.h5", "sub/../m.h5", "./sub/./../m.h5", "link.h5", "hard.h5"] {
            let output = root.appendingPathComponent(spelling).path
            #expect(throws: OutputPath.Problem.self, "\(spelling)") {
                try OutputPath.check(output, kind: .file(extensions: ["h5"]), inputs: [model])
            }
        }
        #expect(throws: OutputPath.Problem.self, "a companion file that is the input") {
            try OutputPath.check(
                root.appendingPathComponent("x.h5").path, kind: .file(extensions: ["h5"]), inputs: [model],
                companions: [model])
        }
        try OutputPath.check(
            root.appendingPathComponent("new/deeper/x.h5").path, kind: .file(extensions: ["h5"]), inputs: [model])
    }
}
