// The C fast path of Session.run and make_callable (see fast_run.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace pygraph {

// Adds FastPlan, RunCache, FastCallable, fast_run and set_fast_path to the module.
void add_fast_path(pybind11::module_& m);

}  // namespace pygraph
