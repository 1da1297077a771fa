// The C path of Session.run and make_callable, part one: FastPlan, one plan as that path calls it
// (fast_plan.cc). fast_run.cc finds plans (RunCache) and is called from Python (fast_run, FastCallable).
#pragma once
#include <pybind11/pybind11.h>

#include <cstddef>

namespace pygraph {
namespace fast {

extern bool enabled;               // _runtime.set_fast_path: tests and benchmarks force the Python path
extern PyObject* const kFallback;  // "take the Python path"; never handed to Python
constexpr int kSmall = 8;          // arguments and outputs kept on the stack up to this many

// How a call wants its values: one value (a single fetch), or a list or tuple of them (a flat list or tuple).
enum Container { kSingle = 0, kList = 1, kTuple = 2 };

struct FastPlanData;
struct FastPlanObject {
  PyObject_HEAD
  FastPlanData* d;
};
extern PyTypeObject FastPlanType;

// The plan's result for these feed values, in `container`; kFallback when the Python path must take the
// call; NULL with TF's error set when the program failed. GIL held.
PyObject* run_plan(PyObject* plan, PyObject* const* values, Py_ssize_t n, Container container);
// How many elements the plan fetches (0 once cleared).
size_t plan_outputs(PyObject* plan);

// A static type of this module (garbage-collected), PyType_Ready'd.
void ready_type(PyTypeObject& type, const char* name, const char* doc, size_t size);
void ready_fast_plan_type(PyObject* kernel_error);

}  // namespace fast
}  // namespace pygraph
