import CHDF5
import Foundation
import Testing

/// libhdf5 through the CHDF5 system-library target: the shim's native types write and read
/// a float32 dataset at a nested path (the layout Keras weight files use).
struct HDF5Tests {
    @Test func floatDatasetRoundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sightline-\(UUID().uuidString).h5")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values: [Float] = (0..<12).map { Float($0) * 0.5 - 1 }
        let file = H5Fcreate(path, sl_h5f_acc_trunc(), sl_h5p_default(), sl_h5p_default())
        #expect(file >= 0)
        var dims: [hsize_t] = [3, 4]
        let space = H5Screate_simple(2, &dims, nil)
        let links = sl_h5p_create_intermediate_groups()
        let dataset = H5Dcreate2(
            file, "conv1/conv1/kernel:0", sl_h5t_native_float(), space, links, sl_h5p_default(), sl_h5p_default())
        #expect(dataset >= 0)
        #expect(H5Dwrite(dataset, sl_h5t_native_float(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), values) >= 0)
        H5Dclose(dataset)
        H5Pclose(links)
        H5Sclose(space)
        H5Fclose(file)

        let reopened = H5Fopen(path, sl_h5f_acc_rdonly(), sl_h5p_default())
        let read = H5Dopen2(reopened, "conv1/conv1/kernel:0", sl_h5p_default())
        #expect(H5Sget_simple_extent_npoints(H5Dget_space(read)) == 12)
        var back = [Float](repeating: 0, count: 12)
        #expect(H5Dread(read, sl_h5t_native_float(), sl_h5s_all(), sl_h5s_all(), sl_h5p_default(), &back) >= 0)
        H5Dclose(read)
        H5Fclose(reopened)
        #expect(back == values)
    }
}
