internal import CHDF5
import Foundation
import SightlineCore
import Synchronization

/// libhdf5 (the serial build Debian ships) is not thread-safe: every call goes through this lock.
private let hdf5Lock = Mutex<Void>(())

/// Set up once, before any other libhdf5 call: no automatic error printing, and no `atexit`
/// handler (after a write failed on a full disk, libhdf5's own cleanup at exit closes the
/// broken file a second time and crashes; every file is closed explicitly instead).
private let hdf5Configured: Bool = {
    H5dont_atexit()
    H5Eset_auto2(sl_h5e_default(), nil, nil)
    return true
}()

/// Runs `body` holding the process-wide HDF5 lock.
func withHDF5<R>(_ body: () throws -> R) rethrows -> R {
    try hdf5Lock.withLock { _ in
        _ = hdf5Configured
        return try body()
    }
}

/// An open HDF5 file: typed reads and writes of float32 datasets and string attributes, with
/// errors that name the file and the object path.
///
/// Paths are absolute inside the file (`/model_weights/conv1/conv1/kernel:0`). Reads use the
/// native memory type (`H5T_NATIVE_FLOAT`) whatever the file's type, and check the element count.
/// libhdf5's automatic error printing is turned off; failures come back as `ModelFileError`.
public final class HDF5File: @unchecked Sendable {
    /// The file's path.
    public let path: String
    let id: hid_t
    /// Whether `close()` has run (then `deinit` leaves the id alone).
    private let closed = Mutex<Bool>(false)

    /// Records the close; false when the file was already closed.
    func markClosed() -> Bool {
        closed.withLock { done in
            defer { done = true }
            return !done
        }
    }

    /// Opens an existing file read-only.
    public init(reading path: String) throws(ModelFileError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelFileError(file: path, "no such file", kind: .unreadable)
        }
        let id = withHDF5 { () -> hid_t in
            H5Eset_auto2(sl_h5e_default(), nil, nil)
            guard H5Fis_hdf5(path) > 0 else { return -2 }
            return H5Fopen(path, sl_h5f_acc_rdonly(), sl_h5p_default())
        }
        if id == -2 {
            throw ModelFileError(file: path, "not an HDF5 file (no HDF5 signature; truncated or another format)")
        }
        guard id >= 0 else { throw ModelFileError(file: path, "HDF5 could not open it (corrupt or truncated)") }
        self.id = id
    }

    /// Creates (or truncates) a file for writing.
    public init(creating path: String) throws(ModelFileError) {
        self.path = path
        let id = withHDF5 { () -> hid_t in
            H5Eset_auto2(sl_h5e_default(), nil, nil)
            return H5Fcreate(path, sl_h5f_acc_trunc(), sl_h5p_default(), sl_h5p_default())
        }
        guard id >= 0 else {
            let reason = withHDF5 { Self.systemReason() }
            throw ModelFileError(file: path, "cannot create the file" + (reason.map { ": \($0)" } ?? ""))
        }
        self.id = id
    }

    init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit {
        if markClosed() { withHDF5 { _ = H5Fclose(id) } }
    }

    func error(_ object: String, _ message: String) -> ModelFileError {
        ModelFileError(file: path, object: object, message)
    }

    // MARK: Structure

    /// Whether a group or dataset exists at `object`.
    public func exists(_ object: String) -> Bool {
        if object == "/" { return true }
        return withHDF5 {
            // Check each prefix: H5Lexists fails on a missing intermediate group.
            var prefix = ""
            for part in object.split(separator: "/") {
                prefix += "/" + part
                guard H5Lexists(id, prefix, sl_h5p_default()) > 0 else { return false }
            }
            return H5Oexists_by_name(id, object, sl_h5p_default()) > 0
        }
    }

    /// Whether `object` is a group.
    public func isGroup(_ object: String) -> Bool {
        guard exists(object) else { return false }
        return withHDF5 {
            var info = H5O_info_t()
            guard H5Oget_info_by_name1(id, object, &info, sl_h5p_default()) >= 0 else { return false }
            return info.type == H5O_TYPE_GROUP
        }
    }

    /// The names of the links in group `object`, in HDF5's (alphabetical) order. Never use this
    /// order as a model's layer order; Keras records that in `layer_names`.
    public func children(of object: String) throws(ModelFileError) -> [String] {
        guard isGroup(object) else { throw error(object, "is not a group") }
        return withHDF5 {
            var names: [String] = []
            let group = H5Gopen2(id, object, sl_h5p_default())
            defer { H5Gclose(group) }
            var info = H5G_info_t()
            H5Gget_info(group, &info)
            for index in 0..<info.nlinks {
                let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, sl_h5p_default())
                guard length >= 0 else { continue }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                H5Lget_name_by_idx(
                    group, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, Int(length) + 1, sl_h5p_default())
                names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return names
        }
    }

    /// Creates the group at `object` and any missing parents.
    public func createGroup(_ object: String) throws(ModelFileError) {
        if exists(object) { return }
        let ok = withHDF5 { () -> Bool in
            let links = sl_h5p_create_intermediate_groups()
            defer { H5Pclose(links) }
            let group = H5Gcreate2(id, object, links, sl_h5p_default(), sl_h5p_default())
            guard group >= 0 else { return false }
            H5Gclose(group)
            return true
        }
        guard ok else { throw writeError(object, "cannot create the group") }
    }

    // MARK: Datasets

    /// The shape of the dataset at `object`.
    public func datasetShape(_ object: String) throws(ModelFileError) -> [Int] {
        guard exists(object) else { throw error(object, "no such dataset") }
        let shape = withHDF5 { () -> [Int]? in
            let dataset = H5Dopen2(id, object, sl_h5p_default())
            guard dataset >= 0 else { return nil }
            defer { H5Dclose(dataset) }
            let space = H5Dget_space(dataset)
            defer { H5Sclose(space) }
            let rank = H5Sget_simple_extent_ndims(space)
            guard rank >= 0 else { return nil }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            H5Sget_simple_extent_dims(space, &dims, nil)
            return dims.map { Int($0) }
        }
        guard let shape else { throw error(object, "is not a readable dataset") }
        return shape
    }

    /// Reads a numeric dataset as float32 (converted by HDF5 to the native float type).
    public func readTensor(_ object: String) throws(ModelFileError) -> Tensor {
        let shape = try datasetShape(object)
        let count = shape.reduce(1, *)
        var scalars = [Float](repeating: 0, count: count)
        let status = withHDF5 { () -> herr_t in
            let dataset = H5Dopen2(id, object, sl_h5p_default())
            guard dataset >= 0 else { return -1 }
            defer { H5Dclose(dataset) }
            let type = H5Dget_type(dataset)
            defer { H5Tclose(type) }
            guard H5Tget_class(type) == H5T_FLOAT || H5Tget_class(type) == H5T_INTEGER else { return -2 }
            let space = H5Dget_space(dataset)
            defer { H5Sclose(space) }
            guard H5Sget_simple_extent_npoints(space) == count else { return -3 }
            if count == 0 { return 0 }
            return H5Dread(dataset, sl_h5t_native_float(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &scalars)
        }
        switch status {
        case -2: throw error(object, "is not a numeric dataset")
        case -3: throw error(object, "element count does not match its shape \(shape)")
        case ..<0: throw error(object, "cannot be read (corrupt or truncated file)")
        default: return Tensor(shape: shape, scalars: scalars)
        }
    }

    /// Writes `tensor` as a contiguous little-endian float32 dataset, creating parent groups.
    public func write(_ tensor: Tensor, to object: String) throws(ModelFileError) {
        let ok = withHDF5 { () -> Bool in
            var dims = tensor.shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            defer { H5Sclose(space) }
            let links = sl_h5p_create_intermediate_groups()
            defer { H5Pclose(links) }
            let creation = sl_h5p_untimed_dataset()
            defer { H5Pclose(creation) }
            let dataset = H5Dcreate2(id, object, sl_h5t_ieee_f32le(), space, links, creation, sl_h5p_default())
            guard dataset >= 0 else { return false }
            defer { H5Dclose(dataset) }
            if tensor.count == 0 { return true }
            return tensor.withUnsafeBufferPointer {
                H5Dwrite(dataset, sl_h5t_native_float(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), $0.baseAddress)
                    >= 0
            }
        }
        guard ok else { throw writeError(object, "cannot write the dataset") }
    }
}
