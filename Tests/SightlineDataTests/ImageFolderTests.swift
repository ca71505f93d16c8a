import Foundation
import SightlineData
import SightlineTestSupport
import Testing

struct ImageFolderTests {
    static let extract = KerasFixture.directory.appendingPathComponent("extract").path

    @Test func classFoldersGiveSortedNamesAndLabels() throws {
        let folder = try ImageFolder(inputs: [Self.extract])
        #expect(folder.classNames == ["apples", "pears"])
        #expect(
            folder.items.map { ($0.path as NSString).lastPathComponent } == [
                "apples_0.png", "apples_1.png", "apples_2.png", "apples_3.png", "pears_0.png", "pears_1.png",
                "pears_2.png",
            ])
        #expect(folder.items.map { $0.label ?? -1 } == [0, 0, 0, 0, 1, 1, 1])
        #expect(
            try ImageFolder(inputs: [Self.extract], extensions: ["jpg"]).items.isEmpty, "the extension filter applies")
    }

    @Test func listFilesGlobsAndFiles() throws {
        let list = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).txt")
        try "# two images\n\(Self.extract)/pears/pears_1.png\n\n\(Self.extract)/apples/apples_0.png\n".write(
            to: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: list) }
        let folder = try ImageFolder(inputs: [list.path, "\(Self.extract)/apples/apples_[23].png"])
        #expect(
            folder.items.map { ($0.path as NSString).lastPathComponent } == [
                "pears_1.png", "apples_0.png", "apples_2.png", "apples_3.png",
            ])
        #expect(folder.classNames == nil)
        #expect(throws: DataError.self) { _ = try ImageFolder(inputs: ["/nonexistent/folder"]) }
    }

    @Test func stratifiedSplitIsSeededAndBalanced() throws {
        let items = (0..<100).map { ImageFolder.Item(path: "img\($0).jpg", label: $0 < 70 ? 0 : 1) }
        let folder = ImageFolder(items: items, classNames: ["a", "b"])
        let (training, validation) = folder.split(validationFraction: 0.2, seed: 42)
        #expect(
            validation.items.filter { $0.label == 0 }.count == 14
                && validation.items.filter { $0.label == 1 }.count == 6)
        #expect(
            training.items.count == 80 && Set(training.items.map(\.path)).isDisjoint(with: validation.items.map(\.path))
        )
        #expect(
            folder.split(validationFraction: 0.2, seed: 42).validation.items == validation.items,
            "the same seed gives the same split")
        #expect(folder.split(validationFraction: 0.2, seed: 7).validation.items != validation.items)
    }

    @Test func shardsAreContiguousAndCoverEverything() {
        let folder = ImageFolder(items: (0..<10).map { ImageFolder.Item(path: "\($0)", label: nil) }, classNames: nil)
        let ranges = (0..<3).map { folder.shard($0, of: 3).range }
        #expect(ranges == [0..<3, 3..<6, 6..<10])
    }
}
