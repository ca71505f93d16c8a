internal import CHDF5
import Foundation

extension HDF5File {
    /// Whether `object` carries the attribute `name`.
    public func hasAttribute(_ name: String, on object: String = "/") -> Bool {
        guard exists(object) else { return false }
        return withHDF5 { H5Aexists_by_name(id, object, name, sl_h5p_default()) > 0 }
    }

    /// Reads a string attribute as a list, or nil when it is absent.
    ///
    /// Accepts every encoding Keras files contain: fixed-length NUL-padded strings (h5py 2.x
    /// lists; a name exactly as long as the type has no terminator), variable-length ASCII and
    /// UTF-8 strings (h5py 3), each as a scalar (one element) or a 1-D array. A numeric attribute
    /// with no elements (h5py's form of an empty list) reads as `[]`.
    public func stringsAttribute(_ name: String, on object: String = "/") throws(ModelFileError) -> [String]? {
        guard hasAttribute(name, on: object) else { return nil }
        let result = withHDF5 { () -> Result<[String], ModelFileError> in
            let attribute = H5Aopen_by_name(id, object, name, sl_h5p_default(), sl_h5p_default())
            guard attribute >= 0 else { return .failure(error(object, "attribute '\(name)' cannot be opened")) }
            defer { H5Aclose(attribute) }
            let type = H5Aget_type(attribute)
            defer { H5Tclose(type) }
            let space = H5Aget_space(attribute)
            defer { H5Sclose(space) }
            let count = Int(H5Sget_simple_extent_npoints(space))
            switch H5Tget_class(type) {
            case H5T_STRING:
                if H5Tis_variable_str(type) > 0 {
                    let memory = H5Tcopy(sl_h5t_c_s1())
                    defer { H5Tclose(memory) }
                    H5Tset_size(memory, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
                    H5Tset_cset(memory, H5Tget_cset(type))
                    var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                    guard H5Aread(attribute, memory, &pointers) >= 0 else {
                        return .failure(error(object, "attribute '\(name)' cannot be read"))
                    }
                    let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                    H5Dvlen_reclaim(memory, space, sl_h5p_default(), &pointers)
                    return .success(strings)
                }
                let size = H5Tget_size(type)
                var bytes = [UInt8](repeating: 0, count: size * count)
                guard H5Aread(attribute, type, &bytes) >= 0 else {
                    return .failure(error(object, "attribute '\(name)' cannot be read"))
                }
                return .success(
                    (0..<count).map { index in
                        let field = bytes[(index * size)..<((index + 1) * size)]
                        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
                    })
            case H5T_FLOAT,
                H5T_INTEGER where count == 0:
                return .success([])
            default:
                return .failure(error(object, "attribute '\(name)' is not a string attribute"))
            }
        }
        return try result.get()
    }

    /// Reads one string attribute (a scalar, or the first element of an array), or nil.
    public func stringAttribute(_ name: String, on object: String = "/") throws(ModelFileError) -> String? {
        try stringsAttribute(name, on: object)?.first
    }

    /// Writes a list of strings as a fixed-length, NUL-padded ASCII/UTF-8 array (what h5py 2.x
    /// wrote for Keras's `layer_names` and `weight_names`; every Keras version reads it).
    public func writeStrings(_ values: [String], attribute name: String, on object: String = "/") throws(ModelFileError)
    {
        let width = max(values.map { $0.utf8.count }.max() ?? 1, 1)
        var bytes = [UInt8](repeating: 0, count: width * values.count)
        for (index, value) in values.enumerated() {
            for (offset, byte) in value.utf8.enumerated() { bytes[index * width + offset] = byte }
        }
        let ok = withHDF5 { () -> Bool in
            let type = H5Tcopy(sl_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, width)
            H5Tset_strpad(type, H5T_STR_NULLPAD)
            var dims = [hsize_t(values.count)]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            return createAttribute(name, on: object, type: type, space: space) { H5Awrite($0, type, bytes) >= 0 }
        }
        guard ok else { throw writeError(object, "cannot write attribute '\(name)'") }
    }

    /// Writes one variable-length UTF-8 string scalar (Keras's `keras_version`, `backend`,
    /// `model_config`; variable-length data lives outside the 64 KiB object header).
    public func writeString(_ value: String, attribute name: String, on object: String = "/") throws(ModelFileError) {
        let ok = withHDF5 { () -> Bool in
            let type = H5Tcopy(sl_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, Int(bitPattern: UInt(bitPattern: -1)))
            H5Tset_cset(type, H5T_CSET_UTF8)
            let space = sl_h5s_scalar_create()
            defer { H5Sclose(space) }
            return value.withCString { pointer in
                var pointers: [UnsafePointer<CChar>?] = [pointer]
                return createAttribute(name, on: object, type: type, space: space) {
                    H5Awrite($0, type, &pointers) >= 0
                }
            }
        }
        guard ok else { throw writeError(object, "cannot write attribute '\(name)'") }
    }

    /// Writes an empty float64 array attribute: h5py's (and so Keras's) form of an empty list.
    public func writeEmptyList(attribute name: String, on object: String = "/") throws(ModelFileError) {
        let ok = withHDF5 { () -> Bool in
            var dims = [hsize_t(0)]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            return createAttribute(name, on: object, type: sl_h5t_ieee_f64le(), space: space) { _ in true }
        }
        guard ok else { throw writeError(object, "cannot write attribute '\(name)'") }
    }

    /// Creates (replacing) attribute `name` on `object` and calls `write` with it. Lock held by caller.
    private func createAttribute(_ name: String, on object: String, type: hid_t, space: hid_t, write: (hid_t) -> Bool)
        -> Bool
    {
        if H5Aexists_by_name(id, object, name, sl_h5p_default()) > 0 {
            H5Adelete_by_name(id, object, name, sl_h5p_default())
        }
        let attribute = H5Acreate_by_name(
            id, object, name, type, space, sl_h5p_default(), sl_h5p_default(), sl_h5p_default())
        guard attribute >= 0 else { return false }
        defer { H5Aclose(attribute) }
        return write(attribute)
    }
}
