// Open MPI's header (libopenmpi-dev; Debian puts it under the multiarch include folder).
// Headers only: CMPIRuntime loads libmpi at run time, when the process is launched by
// mpirun or srun, so a machine without Open MPI still runs every single-process command.
#pragma once
#include <mpi/mpi.h>
