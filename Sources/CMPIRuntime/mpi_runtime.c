// Open MPI through dlopen: the binary has no link-time dependency on libmpi, so it runs where
// Open MPI is not installed; under mpirun/srun the library is loaded RTLD_GLOBAL (its plugins
// resolve symbols against it) and the predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM)
// are looked up by their Open MPI symbol names. This ties the runtime to Open MPI's ABI, the
// MPI Debian ships as libopenmpi-dev; MPICH's handles are integers and would need their own table.
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <mpi/mpi.h>
#include "CMPIRuntime.h"

static struct {
    void *library;
    int (*init)(int *, char ***);
    int (*finalize)(void);
    int (*rank)(MPI_Comm, int *);
    int (*size)(MPI_Comm, int *);
    int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
    int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
    int (*barrier)(MPI_Comm);
    int (*abort)(MPI_Comm, int);
    MPI_Comm world;
    MPI_Datatype float_type, double_type;
    MPI_Op sum;
} mpi;

static char message[512] = "";

int sl_mpi_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static void *symbol(const char *name) {
    void *found = dlsym(mpi.library, name);
    if (!found && message[0] == 0) snprintf(message, sizeof message, "libmpi.so.40 has no symbol %s: not Open MPI 4 or 5", name);
    return found;
}

int sl_mpi_start(int *rank, int *size) {
    const char *names[] = {"libmpi.so.40", "libmpi.so"};
    for (int i = 0; i < 2 && !mpi.library; i++) mpi.library = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!mpi.library) {
        snprintf(message, sizeof message, "cannot load Open MPI (libmpi.so.40): %s; install openmpi-bin libopenmpi-dev", dlerror());
        return 1;
    }
    mpi.init = symbol("MPI_Init");
    mpi.finalize = symbol("MPI_Finalize");
    mpi.rank = symbol("MPI_Comm_rank");
    mpi.size = symbol("MPI_Comm_size");
    mpi.allreduce = symbol("MPI_Allreduce");
    mpi.bcast = symbol("MPI_Bcast");
    mpi.barrier = symbol("MPI_Barrier");
    mpi.abort = symbol("MPI_Abort");
    mpi.world = symbol("ompi_mpi_comm_world");
    mpi.float_type = symbol("ompi_mpi_float");
    mpi.double_type = symbol("ompi_mpi_double");
    mpi.sum = symbol("ompi_mpi_op_sum");
    if (message[0]) return 1;
    if (mpi.init(NULL, NULL) != MPI_SUCCESS) { snprintf(message, sizeof message, "MPI_Init failed"); return 1; }
    if (mpi.rank(mpi.world, rank) != MPI_SUCCESS || mpi.size(mpi.world, size) != MPI_SUCCESS) {
        snprintf(message, sizeof message, "MPI_Comm_rank/MPI_Comm_size failed");
        return 1;
    }
    return 0;
}

// MPI counts are int: long buffers go in pieces of at most INT_MAX elements.
static int allreduce(void *values, size_t count, size_t width, MPI_Datatype type) {
    char *bytes = values;
    for (size_t done = 0; done < count;) {
        int part = (int)(count - done > INT_MAX ? INT_MAX : count - done);
        if (mpi.allreduce(MPI_IN_PLACE, bytes + done * width, part, type, mpi.sum, mpi.world) != MPI_SUCCESS) {
            snprintf(message, sizeof message, "MPI_Allreduce failed");
            return 1;
        }
        done += (size_t)part;
    }
    return 0;
}

int sl_mpi_allreduce_sum_float(float *values, size_t count) { return allreduce(values, count, sizeof(float), mpi.float_type); }
int sl_mpi_allreduce_sum_double(double *values, size_t count) { return allreduce(values, count, sizeof(double), mpi.double_type); }

int sl_mpi_broadcast_float(float *values, size_t count, int root) {
    for (size_t done = 0; done < count;) {
        int part = (int)(count - done > INT_MAX ? INT_MAX : count - done);
        if (mpi.bcast(values + done, part, mpi.float_type, root, mpi.world) != MPI_SUCCESS) {
            snprintf(message, sizeof message, "MPI_Bcast failed");
            return 1;
        }
        done += (size_t)part;
    }
    return 0;
}

int sl_mpi_barrier(void) { return mpi.barrier(mpi.world) == MPI_SUCCESS ? 0 : 1; }
void sl_mpi_abort(int code) { if (mpi.abort) mpi.abort(mpi.world, code); exit(code); }
int sl_mpi_finish(void) { return mpi.finalize && mpi.finalize() == MPI_SUCCESS ? 0 : 1; }
const char *sl_mpi_error(void) { return message; }
