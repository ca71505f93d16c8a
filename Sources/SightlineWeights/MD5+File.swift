import Foundation
import SightlineCore

extension MD5 {
    /// The MD5 of a file, read in 1 MiB chunks; a file that cannot be opened is `.unreadable`.
    public static func hexDigest(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ModelFileError(file: path, "cannot be read", kind: .unreadable)
        }
        defer { try? handle.close() }
        var md5 = MD5()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { md5.update(chunk) }
        return md5.finalize()
    }
}
