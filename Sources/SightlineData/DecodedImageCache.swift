import Foundation
import SightlineCore

/// Decoded, resized images kept on disk (`--cache DIR`) for datasets read every epoch: each
/// image is stored once as raw float32 `[H, W, C]` (little-endian) under a name derived from
/// its path, size, modification time and the target shape, so an edited file or another input
/// size is decoded afresh. Entries are written under a temporary name and renamed, so
/// concurrent workers and processes (data-parallel ranks sharing a folder) never read half a
/// file. Augmentation and preprocessing run after the cache, so it holds no random state.
public struct DecodedImageCache: Sendable {
    public let directory: String
    /// `[H, W, C]` of every entry.
    public let shape: [Int]

    public init(directory: String, shape: [Int]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        (self.directory, self.shape) = (directory, shape)
    }

    /// `decode` with the cache in front of it.
    public func wrapping(_ decode: @escaping @Sendable (String) throws -> Tensor) -> @Sendable (String) throws -> Tensor
    {
        { path in
            let entry = try self.entryPath(for: path)
            let count = self.shape.reduce(1, *)
            if let data = FileManager.default.contents(atPath: entry), data.count == count * 4 {
                return Tensor(shape: self.shape) { values in
                    data.withUnsafeBytes { raw in
                        for i in 0..<count {
                            values[i] = Float(
                                bitPattern: UInt32(
                                    littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                        }
                    }
                }
            }
            let image = try decode(path)
            var bytes = Data(capacity: count * 4)
            for value in image.scalars {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            try AtomicFile.write(bytes, to: entry)
            return image
        }
    }

    func entryPath(for path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        var md5 = MD5()
        md5.update(Array("\((path as NSString).standardizingPath)|\(size)|\(modified)|\(shape)".utf8))
        return (directory as NSString).appendingPathComponent(md5.finalize() + ".f32")
    }
}
