import Foundation

/// `errno` values as the reasons Sightline prints, each with its fix.
public enum SystemError {
    /// The reason for `code`, lowercased, with what to do where there is something to do.
    public static func describe(_ code: Int32) -> String {
        switch code {
        case ENOSPC: return "no space left on device; free some space or write to another disk"
        case EDQUOT: return "disk quota exceeded; free some space or write to another disk"
        case EFBIG: return "file too large (the file size limit, ulimit -f, or the file system's)"
        case EROFS: return "read-only file system; write to another folder"
        case EACCES, EPERM: return "permission denied; write to a folder you can write to"
        default: return String(cString: strerror(code)).lowercased()
        }
    }
}
