internal import CHDF5
import Foundation
import SightlineCore

/// Writing safely: every flush and close is checked, and a failed write says what the disk said
/// (`no space left on device`, `file too large`) by reading the `errno` libhdf5 records on its
/// error stack.
extension HDF5File {
    /// Flushes everything to disk and closes the file; throws, naming the file and the system's
    /// reason, when the data did not all reach the disk (the file must then not be used). Later
    /// calls do nothing; `deinit` closes a file never closed explicitly.
    public func close() throws(ModelFileError) {
        guard markClosed() else { return }
        let failure = withHDF5 { () -> String? in
            if H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 {
                let reason = Self.systemReason()
                _ = H5Fclose(id)
                return reason ?? "cannot flush it"
            }
            return H5Fclose(id) < 0 ? Self.systemReason() ?? "cannot close it" : nil
        }
        if let failure { throw ModelFileError(file: path, "\(failure); the file is incomplete") }
    }

    /// An error for a failed write of `object`, with the system's reason when libhdf5 recorded one.
    func writeError(_ object: String, _ message: String) -> ModelFileError {
        let reason = withHDF5 { Self.systemReason() }
        return error(object, reason.map { "\(message): \($0)" } ?? message)
    }

    /// The system error on libhdf5's current error stack (its file drivers record `errno = N`),
    /// as text with the fix; nil when there is none. Call holding the HDF5 lock.
    static func systemReason() -> String? {
        var code: Int32 = 0
        H5Ewalk2(
            sl_h5e_default(), H5E_WALK_DOWNWARD,
            { _, entry, data in
                guard let entry, let description = entry.pointee.desc, let data else { return 0 }
                let text = String(cString: description)
                if let range = text.range(of: "errno = ") {
                    let digits = text[range.upperBound...].prefix { $0.isNumber }
                    if let value = Int32(digits) { data.assumingMemoryBound(to: Int32.self).pointee = value }
                }
                return 0
            }, &code)
        return code == 0 ? nil : SystemError.describe(code)
    }
}
