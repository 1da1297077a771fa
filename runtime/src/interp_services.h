// What the interpreter tier needs from C++: prebuilt random kernels and variable locks (interp_services.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace pygraph {
void bind_interpreter_services(pybind11::module& m);
}
