// OpenBLAS's CBLAS interface (pkg-config openblas adds its include directory).
#pragma once
#include <cblas.h>
