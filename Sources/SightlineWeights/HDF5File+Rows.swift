internal import CHDF5
import Foundation
import SightlineCore

/// Datasets read and written a block of rows at a time (the first axis), so files larger than
/// memory can be produced and consumed: growable (chunked, unlimited first axis) datasets that
/// batches are appended to, and hyperslab reads of a row range.
extension HDF5File {
    /// The element types of growable datasets.
    public enum RowType: Sendable { case float32, int64, string }

    /// Opens an existing file for reading and appending.
    public convenience init(appending path: String) throws(ModelFileError) {
        guard FileManager.default.fileExists(atPath: path) else { throw ModelFileError(file: path, "no such file") }
        let id = withHDF5 { () -> hid_t in
            H5Eset_auto2(sl_h5e_default(), nil, nil)
            return H5Fopen(path, sl_h5f_acc_rdwr(), sl_h5p_default())
        }
        guard id >= 0 else {
            throw ModelFileError(
                file: path, "HDF5 could not open it for appending (corrupt or truncated: delete it to start over)")
        }
        self.init(path: path, id: id)
    }

    /// Creates an empty dataset of rows of `rowShape` that `append` grows, chunked by `chunkRows`.
    public func createRows(_ object: String, rowShape: [Int] = [], type: RowType, chunkRows: Int = 256)
        throws(ModelFileError)
    {
        let ok = withHDF5 { () -> Bool in
            var dims = [hsize_t(0)] + rowShape.map { hsize_t($0) }
            var maximum = [sl_h5s_unlimited()] + rowShape.map { hsize_t($0) }
            var chunk = [hsize_t(max(chunkRows, 1))] + rowShape.map { hsize_t(max($0, 1)) }
            let space = H5Screate_simple(Int32(dims.count), &dims, &maximum)
            defer { H5Sclose(space) }
            let links = sl_h5p_create_intermediate_groups()
            let creation = sl_h5p_chunked_dataset(Int32(chunk.count), &chunk)
            defer {
                H5Pclose(links)
                H5Pclose(creation)
            }
            let fileType = Self.fileType(type)
            defer { if type == .string { H5Tclose(fileType) } }
            let dataset = H5Dcreate2(id, object, fileType, space, links, creation, sl_h5p_default())
            guard dataset >= 0 else { return false }
            return H5Dclose(dataset) >= 0
        }
        guard ok else { throw writeError(object, "cannot create the growable dataset") }
    }

    /// Appends rows of float32 (`values.count` a multiple of the row size).
    public func append(_ values: [Float], to object: String) throws(ModelFileError) {
        try appendRows(object, elements: values.count, type: .float32) { dataset, memory, file in
            H5Dwrite(dataset, sl_h5t_native_float(), memory, file, sl_h5p_default(), values) >= 0
        }
    }

    /// Appends int64 rows of one element.
    public func append(integers values: [Int], to object: String) throws(ModelFileError) {
        let wide = values.map { Int64($0) }
        try appendRows(object, elements: values.count, type: .int64) { dataset, memory, file in
            H5Dwrite(dataset, sl_h5t_native_int64(), memory, file, sl_h5p_default(), wide) >= 0
        }
    }

    /// Appends variable-length UTF-8 string rows.
    public func append(strings values: [String], to object: String) throws(ModelFileError) {
        try appendRows(object, elements: values.count, type: .string) { dataset, memory, file in
            let type = Self.fileType(.string)
            defer { H5Tclose(type) }
            let copies = values.map { strdup($0) }
            defer { for copy in copies { free(copy) } }
            var pointers = copies.map { UnsafePointer($0) }
            return H5Dwrite(dataset, type, memory, file, sl_h5p_default(), &pointers) >= 0
        }
    }

    /// Reads rows `range` of a numeric dataset as float32: `[range.count] + rowShape`.
    public func readRows(_ object: String, _ range: Range<Int>) throws(ModelFileError) -> Tensor {
        var scalars: [Float] = []
        let shape = try readRows(object, range, into: &scalars)
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Reads rows `range` into `buffer` (resized to fit, its storage reused when large enough:
    /// a loop over blocks then keeps one block's memory) and returns their shape.
    @discardableResult
    public func readRows(_ object: String, _ range: Range<Int>, into buffer: inout [Float]) throws(ModelFileError)
        -> [Int]
    {
        let shape = try datasetShape(object)
        guard let rows = shape.first, range.lowerBound >= 0, range.upperBound <= rows else {
            throw error(object, "has \(shape.first ?? 0) rows; rows \(range) were asked for")
        }
        let rowShape = Array(shape.dropFirst())
        let count = range.count * rowShape.reduce(1, *)
        if buffer.count > count {
            buffer.removeLast(buffer.count - count)
        } else if buffer.count < count {
            buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
        }
        if count > 0 {
            let ok = withHDF5 { () -> Bool in
                let dataset = H5Dopen2(id, object, sl_h5p_default())
                guard dataset >= 0 else { return false }
                defer { H5Dclose(dataset) }
                let (memory, file) = Self.selection(
                    dataset, start: range.lowerBound, rows: range.count, rowShape: rowShape)
                defer {
                    H5Sclose(memory)
                    H5Sclose(file)
                }
                return buffer.withUnsafeMutableBufferPointer {
                    H5Dread(dataset, sl_h5t_native_float(), memory, file, sl_h5p_default(), $0.baseAddress) >= 0
                }
            }
            guard ok else { throw error(object, "rows \(range) cannot be read (corrupt or truncated file)") }
        }
        return [range.count] + rowShape
    }

    /// Writes buffered data to disk, so that the file is readable as it stands.
    public func flush() throws(ModelFileError) {
        let reason = withHDF5 { H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 ? nil : Self.systemReason() ?? "cannot flush it" }
        if let reason { throw ModelFileError(file: path, "cannot flush the file: \(reason)") }
    }

    private static func fileType(_ type: RowType) -> hid_t {
        switch type {
        case .float32: return sl_h5t_ieee_f32le()
        case .int64: return sl_h5t_std_i64le()
        case .string:
            let string = H5Tcopy(sl_h5t_c_s1())
            H5Tset_size(string, Int(bitPattern: UInt(bitPattern: -1)))
            H5Tset_cset(string, H5T_CSET_UTF8)
            return string
        }
    }

    /// Memory and file dataspaces selecting `rows` rows from `start` (caller closes both).
    private static func selection(_ dataset: hid_t, start: Int, rows: Int, rowShape: [Int]) -> (
        memory: hid_t, file: hid_t
    ) {
        let file = H5Dget_space(dataset)
        var offset = [hsize_t(start)] + rowShape.map { _ in hsize_t(0) }
        var count = [hsize_t(rows)] + rowShape.map { hsize_t($0) }
        H5Sselect_hyperslab(file, H5S_SELECT_SET, &offset, nil, &count, nil)
        let memory = H5Screate_simple(Int32(count.count), &count, nil)
        return (memory, file)
    }

    /// Grows `object` by `elements / rowSize` rows and writes them with `write`.
    private func appendRows(_ object: String, elements: Int, type: RowType, _ write: (hid_t, hid_t, hid_t) -> Bool)
        throws(ModelFileError)
    {
        let shape = try datasetShape(object)
        let rowShape = Array(shape.dropFirst())
        let rowSize = max(rowShape.reduce(1, *), 1)
        guard elements % rowSize == 0 else {
            throw error(object, "\(elements) values are not whole rows of \(rowShape)")
        }
        let rows = elements / rowSize
        let start = shape.first ?? 0
        guard rows > 0 else { return }
        let ok = withHDF5 { () -> Bool in
            let dataset = H5Dopen2(id, object, sl_h5p_default())
            guard dataset >= 0 else { return false }
            defer { H5Dclose(dataset) }
            var grown = [hsize_t(start + rows)] + rowShape.map { hsize_t($0) }
            guard H5Dset_extent(dataset, &grown) >= 0 else { return false }
            let (memory, file) = Self.selection(dataset, start: start, rows: rows, rowShape: rowShape)
            defer {
                H5Sclose(memory)
                H5Sclose(file)
            }
            return write(dataset, memory, file)
        }
        guard ok else { throw writeError(object, "cannot append \(rows) rows") }
    }
}
