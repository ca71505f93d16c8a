// Open MPI, loaded with dlopen only when a process is started by mpirun or srun.
// Every function returns 0 on success; on failure sl_mpi_error() describes why.
#pragma once
#include <stddef.h>

/// 1 when the environment says an MPI launcher started this process (OMPI_COMM_WORLD_SIZE,
/// PMIX_RANK or PMI_RANK is set).
int sl_mpi_launched(void);
/// Loads libmpi.so.40 (Open MPI 4/5) and calls MPI_Init; writes this process's rank and the
/// world size.
int sl_mpi_start(int *rank, int *size);
/// Sums `count` floats (or doubles) over all processes, in place.
int sl_mpi_allreduce_sum_float(float *values, size_t count);
int sl_mpi_allreduce_sum_double(double *values, size_t count);
/// Copies `count` floats from rank `root` to every process.
int sl_mpi_broadcast_float(float *values, size_t count, int root);
int sl_mpi_barrier(void);
/// Ends every process of the job with `code` (after an error on one of them).
void sl_mpi_abort(int code);
int sl_mpi_finish(void);
/// The last failure, for error messages.
const char *sl_mpi_error(void);
