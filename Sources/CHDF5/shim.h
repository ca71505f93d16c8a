// HDF5 C API for Swift. The H5T_NATIVE_*, H5P_DEFAULT-style values are macros that call
// H5open() and read a global; Swift cannot import them, so each is a static inline function.
#pragma once
#include <hdf5.h>

static inline hid_t sl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t sl_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t sl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t sl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t sl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t sl_h5s_all(void) { return H5S_ALL; }
static inline hid_t sl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned sl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned sl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
/// A link-creation property list that creates missing parent groups ("a/b/c" paths).
static inline hid_t sl_h5p_create_intermediate_groups(void) {
    hid_t list = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(list, 1);
    return list;
}
static inline hid_t sl_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t sl_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t sl_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t sl_h5s_scalar_create(void) { return H5Screate(H5S_SCALAR); }
static inline hid_t sl_h5t_std_i64le(void) { return H5T_STD_I64LE; }
/// Dataset and group creation lists that do not record modification times, so that writing the
/// same content twice gives the same bytes.
static inline hid_t sl_h5p_untimed_dataset(void) {
    hid_t list = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(list, 0);
    return list;
}
static inline hsize_t sl_h5s_unlimited(void) { return H5S_UNLIMITED; }
static inline unsigned sl_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
/// A dataset creation list for a growable dataset: chunked by `rank` sizes, no times recorded.
static inline hid_t sl_h5p_chunked_dataset(int rank, const hsize_t *chunk) {
    hid_t list = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(list, 0);
    H5Pset_chunk(list, rank, chunk);
    return list;
}
