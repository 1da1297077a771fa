// What the interpreter tier (pygraph/interpreter.py) needs from C++ to behave exactly as compiled code: the
// random ops' kernels, prebuilt, so it draws the same numbers and advances the same per-session counter
// without compiling anything, and the use_locking variable mutexes compiled calls hold. The kernels' source
// is the generated code's own (codegen/templates/random.h.j2 is plain C++), built with the generated
// code's floating-point contract (CMakeLists.txt: -ffp-contract=off), so both tiers give identical bits.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "host_services.h"
#include "pygraph/abi.h"
#include "interp_services.h"
#include "kernel.h"
#include "thread_pool.h"

#include "../../codegen/templates/random.h.j2"

namespace py = pybind11;

namespace pygraph {
namespace {

template <class T>
T* out_data(py::array& out) {
  if (!py::isinstance<py::array_t<T>>(out) || !(out.flags() & py::array::c_style) || !out.writeable())
    throw std::invalid_argument("random kernel: output must be a writable C-contiguous array of its dtype");
  return static_cast<T*>(out.mutable_data());
}

int64_t* state_data(py::array& state) {
  if (!py::isinstance<py::array_t<int64_t>>(state) || state.size() != 3 || !state.writeable())
    throw std::invalid_argument("random kernel: state must be a writable int64 array {seed, seed2, counter}");
  return static_cast<int64_t*>(state.mutable_data());
}

// kind: 0 uniform, 1 normal, 2 truncated normal, 3 integers in [lo, lo + span)
template <class T>
void draw_typed(int kind, T* out, int64_t n, int64_t* state, T lo, uint64_t span) {
  HostState host(0);
  pg_ctx ctx;
  host.bind(&ctx, &global_pool());
  switch (kind) {
    case PG_RAND_UNIFORM: pg_random<T, PG_RAND_UNIFORM>(&ctx, out, n, state, lo, span); break;
    case PG_RAND_NORMAL: pg_random<T, PG_RAND_NORMAL>(&ctx, out, n, state, lo, span); break;
    case PG_RAND_TRUNCATED: pg_random<T, PG_RAND_TRUNCATED>(&ctx, out, n, state, lo, span); break;
    default: throw std::invalid_argument("random kernel: unknown kind");
  }
}

void draw(int kind, py::array out, py::array state, int64_t lo, uint64_t span) {
  int64_t* st = state_data(state);
  const int64_t n = out.size();
  char k = out.dtype().kind();
  size_t size = out.dtype().itemsize();
  if (kind == PG_RAND_INT) {
    HostState host(0);
    pg_ctx ctx;
    host.bind(&ctx, &global_pool());
    if (k == 'i' && size == 4) {
      int32_t* p = out_data<int32_t>(out);
      py::gil_scoped_release release;
      pg_random<int32_t, PG_RAND_INT>(&ctx, p, n, st, static_cast<int32_t>(lo), span);
    } else if (k == 'i' && size == 8) {
      int64_t* p = out_data<int64_t>(out);
      py::gil_scoped_release release;
      pg_random<int64_t, PG_RAND_INT>(&ctx, p, n, st, lo, span);
    } else {
      throw std::invalid_argument("random kernel: integers are int32 or int64");
    }
  } else if (k == 'f' && size == 4) {
    float* p = out_data<float>(out);
    py::gil_scoped_release release;
    draw_typed<float>(kind, p, n, st, 0.0f, 0);
  } else if (k == 'f' && size == 8) {
    double* p = out_data<double>(out);
    py::gil_scoped_release release;
    draw_typed<double>(kind, p, n, st, 0.0, 0);
  } else {
    throw std::invalid_argument("random kernel: floats are float32 or float64");
  }
}

// tf.random_shuffle's kernel on raw bytes: rows of `row` elements of `itemsize` bytes
void shuffle(py::array out, py::array in, py::array state) {
  int64_t* st = state_data(state);
  if (!(out.flags() & py::array::c_style) || !(in.flags() & py::array::c_style) || !out.writeable() ||
      out.nbytes() != in.nbytes() || out.ndim() != in.ndim() || !out.dtype().is(in.dtype()))
    throw std::invalid_argument("shuffle: out and in must be C-contiguous arrays of one shape and dtype");
  const int64_t rows = out.ndim() ? out.shape(0) : 1;
  const int64_t row = rows ? out.size() / rows : 0;
  std::vector<int64_t> perm(static_cast<size_t>(rows) + 1);
  const size_t item = out.itemsize();
  auto run = [&](auto* o, const auto* i) { pg_shuffle(o, i, rows, row, st, perm.data()); };
  // the template copies elements of type T: any type of the same size moves the same bytes
  if (item == 1) run(static_cast<uint8_t*>(out.mutable_data()), static_cast<const uint8_t*>(in.data()));
  else if (item == 4) run(static_cast<uint32_t*>(out.mutable_data()), static_cast<const uint32_t*>(in.data()));
  else if (item == 8) run(static_cast<uint64_t*>(out.mutable_data()), static_cast<const uint64_t*>(in.data()));
  else throw std::invalid_argument("shuffle: unsupported item size");
}

// The mutexes of `locks` (VariableLock objects) taken in the order compiled calls take them (by address),
// without the GIL; unlock_variables releases them.
std::vector<VariableLock*> sorted_locks(const py::list& locks) {
  std::vector<VariableLock*> ptrs;
  for (py::handle h : locks) ptrs.push_back(h.cast<VariableLock*>());
  std::sort(ptrs.begin(), ptrs.end());
  return ptrs;
}

void lock_variables(const py::list& locks) {
  auto ptrs = sorted_locks(locks);
  py::gil_scoped_release release;
  for (VariableLock* l : ptrs) l->mu.lock();
}

void unlock_variables(const py::list& locks) {
  auto ptrs = sorted_locks(locks);
  for (auto it = ptrs.rbegin(); it != ptrs.rend(); ++it) (*it)->mu.unlock();
}

}  // namespace

void bind_interpreter_services(py::module& m) {
  m.def("random_draw", &draw, py::arg("kind"), py::arg("out"), py::arg("state"), py::arg("lo") = 0,
        py::arg("span") = 0,
        "Fill `out` as a compiled random op does (kind 0 uniform, 1 normal, 2 truncated normal, 3 integers "
        "in [lo, lo + span)) and advance its state {seed, seed2, counter} in place.");
  m.def("random_shuffle", &shuffle, py::arg("out"), py::arg("in"), py::arg("state"),
        "tf.random_shuffle's kernel: `out` gets `in`'s rows permuted; advances the state in place.");
  m.def("lock_variables", &lock_variables, py::arg("locks"),
        "Take these VariableLocks as a compiled call does (same order, without the GIL).");
  m.def("unlock_variables", &unlock_variables, py::arg("locks"), "Release what lock_variables took.");
  m.def("flush_denormals", &enter_flush_denormals,
        "Put the calling thread in compiled programs' floating-point mode (subnormals flushed to zero, as in "
        "TF); returns the previous mode for restore_fp_mode.");
  m.def("restore_fp_mode", &restore_fp_mode, py::arg("mode"), "Give the calling thread back a mode that "
        "flush_denormals returned.");
}

}  // namespace pygraph
