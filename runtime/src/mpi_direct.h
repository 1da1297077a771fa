// pygraph._runtime.set_direct_mpi: the collective engine that calls MPI's C functions (mpi_direct.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace pygraph {
void bind_direct_mpi(pybind11::module_& m);
}  // namespace pygraph
