internal import CHDF5
import Foundation

extension HDF5File {
    /// Writes a 1-D int64 dataset (labels, status codes).
    public func write(integers values: [Int], to object: String) throws(ModelFileError) {
        let ok = withHDF5 { () -> Bool in
            let dataset = createVector(object, type: sl_h5t_std_i64le(), count: values.count)
            guard dataset >= 0 else { return false }
            defer { H5Dclose(dataset) }
            let wide = values.map { Int64($0) }
            return values.isEmpty
                || H5Dwrite(dataset, sl_h5t_native_int64(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), wide) >= 0
        }
        guard ok else { throw writeError(object, "cannot write the dataset") }
    }

    /// Reads a 1-D integer dataset.
    public func readIntegers(_ object: String) throws(ModelFileError) -> [Int] {
        let count = try datasetShape(object).reduce(1, *)
        var values = [Int64](repeating: 0, count: count)
        let ok = withHDF5 { () -> Bool in
            let dataset = H5Dopen2(id, object, sl_h5p_default())
            guard dataset >= 0 else { return false }
            defer { H5Dclose(dataset) }
            return count == 0
                || H5Dread(dataset, sl_h5t_native_int64(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &values) >= 0
        }
        guard ok else { throw error(object, "cannot be read as integers") }
        return values.map { Int($0) }
    }

    /// Writes a 1-D dataset of variable-length UTF-8 strings (paths, error messages).
    public func write(strings values: [String], to object: String) throws(ModelFileError) {
        let ok = withHDF5 { () -> Bool in
            let type = H5Tcopy(sl_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, Int(bitPattern: UInt(bitPattern: -1)))
            H5Tset_cset(type, H5T_CSET_UTF8)
            let dataset = createVector(object, type: type, count: values.count)
            guard dataset >= 0 else { return false }
            defer { H5Dclose(dataset) }
            if values.isEmpty { return true }
            let copies = values.map { strdup($0) }
            defer { for copy in copies { free(copy) } }
            var pointers = copies.map { UnsafePointer($0) }
            return H5Dwrite(dataset, type, sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &pointers) >= 0
        }
        guard ok else { throw writeError(object, "cannot write the dataset") }
    }

    /// Reads a 1-D string dataset (variable-length or fixed-length).
    public func readStrings(_ object: String) throws(ModelFileError) -> [String] {
        let count = try datasetShape(object).reduce(1, *)
        let result = withHDF5 { () -> [String]? in
            let dataset = H5Dopen2(id, object, sl_h5p_default())
            guard dataset >= 0 else { return nil }
            defer { H5Dclose(dataset) }
            let fileType = H5Dget_type(dataset)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else { return nil }
            if count == 0 { return [] }
            if H5Tis_variable_str(fileType) > 0 {
                let memory = H5Tcopy(sl_h5t_c_s1())
                defer { H5Tclose(memory) }
                H5Tset_size(memory, Int(bitPattern: UInt(bitPattern: -1)))
                H5Tset_cset(memory, H5Tget_cset(fileType))
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Dread(dataset, memory, sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &pointers) >= 0 else {
                    return nil
                }
                let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                let space = H5Dget_space(dataset)
                H5Dvlen_reclaim(memory, space, sl_h5p_default(), &pointers)
                H5Sclose(space)
                return strings
            }
            let size = H5Tget_size(fileType)
            var bytes = [UInt8](repeating: 0, count: size * count)
            guard H5Dread(dataset, fileType, sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &bytes) >= 0 else {
                return nil
            }
            return (0..<count).map {
                String(decoding: bytes[($0 * size)..<(($0 + 1) * size)].prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        guard let result else { throw error(object, "cannot be read as strings") }
        return result
    }

    /// Creates a 1-D dataset of `count` elements of `type` at `object` (intermediate groups
    /// created, no timestamps, so files are reproducible); negative on failure. Call inside
    /// `withHDF5`; the caller closes the dataset.
    private func createVector(_ object: String, type: hid_t, count: Int) -> hid_t {
        var dims = [hsize_t(count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let links = sl_h5p_create_intermediate_groups()
        let creation = sl_h5p_untimed_dataset()
        defer {
            H5Pclose(links)
            H5Pclose(creation)
        }
        return H5Dcreate2(id, object, type, space, links, creation, sl_h5p_default())
    }
}
