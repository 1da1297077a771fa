#include "kernel.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "numpy_abi.h"
#include "thread_pool.h"

namespace pygraph {

Module::Module(const std::string& path) : path_(path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) throw std::runtime_error(std::string("cannot load compiled module: ") + dlerror());
  auto version = reinterpret_cast<pg_abi_version_fn>(dlsym(handle_, "pg_abi_version"));
  run_ = reinterpret_cast<pg_run_fn>(dlsym(handle_, "pg_run"));
  if (!version || !run_) {
    dlclose(handle_);
    handle_ = nullptr;
    throw std::runtime_error("compiled module " + path + " lacks pg_abi_version or pg_run");
  }
  if (version() != PG_ABI_VERSION) {
    int got = version();
    dlclose(handle_);
    handle_ = nullptr;
    throw std::runtime_error("compiled module " + path + " has ABI version " + std::to_string(got) +
                             ", runtime expects " + std::to_string(PG_ABI_VERSION));
  }
}

Module::~Module() {
  if (handle_) dlclose(handle_);
}

const NumpyApi& NumpyApi::get() {
  static const NumpyApi api = [] {
    py::module_ core = py::detail::import_numpy_core_submodule("multiarray");
    void** table = static_cast<void**>(PyCapsule_GetPointer(core.attr("_ARRAY_API").ptr(), nullptr));
    if (!table) throw py::error_already_set();
    NumpyApi a;  // indices from numpy/__multiarray_api.h (stable across numpy 1.x and 2.x)
    a.array_type = static_cast<PyTypeObject*>(table[2]);
    a.descr_from_type = reinterpret_cast<decltype(a.descr_from_type)>(table[45]);
    a.scalar = reinterpret_cast<decltype(a.scalar)>(table[60]);
    a.new_from_descr = reinterpret_cast<decltype(a.new_from_descr)>(table[94]);
    a.set_base_object = reinterpret_cast<decltype(a.set_base_object)>(table[282]);
    return a;
  }();
  return api;
}

int32_t dtype_code(const py::dtype& dt) {
  char kind = dt.kind();
  py::ssize_t size = dt.itemsize();
  if (kind == 'f') return size == 4 ? PG_FLOAT32 : size == 8 ? PG_FLOAT64 : 0;
  if (kind == 'i') return size == 4 ? PG_INT32 : size == 8 ? PG_INT64 : 0;
  if (kind == 'b') return PG_BOOL;
  return 0;
}

int numpy_typenum(int32_t dtype) {
  using api = py::detail::npy_api;
  switch (dtype) {
    case PG_FLOAT32: return api::NPY_FLOAT32_;
    case PG_FLOAT64: return api::NPY_FLOAT64_;
    case PG_INT32: return api::NPY_INT32_;
    case PG_INT64: return api::NPY_INT64_;
    case PG_BOOL: return api::NPY_BOOL_;
    default: return -1;
  }
}

namespace {
void free_capsule(PyObject* capsule) { std::free(PyCapsule_GetPointer(capsule, nullptr)); }

// A fresh output as an ndarray that frees its memory with it; NULL (Python error set) when out of memory.
PyObject* wrap_output(const OutputSlot& slot) {
  const NumpyApi& np = NumpyApi::get();
  Py_intptr_t dims[PG_MAX_RANK];
  for (int d = 0; d < slot.ndim; ++d) dims[d] = static_cast<Py_intptr_t>(slot.shape[d]);
  PyObject* owner = PyCapsule_New(slot.data, nullptr, nullptr);  // frees nothing until the array owns it
  if (!owner) return nullptr;
  PyObject* descr = np.descr_from_type(numpy_typenum(slot.dtype));
  PyObject* arr = descr ? np.new_from_descr(np.array_type, descr, slot.ndim, dims, nullptr, slot.data,
                                            kNpyCContiguous | kNpyAligned | kNpyWriteable, nullptr)
                        : nullptr;  // new_from_descr steals descr
  if (!arr) {
    Py_DECREF(owner);
    return nullptr;
  }
  if (np.set_base_object(arr, owner) < 0) {  // steals owner, also when it fails
    Py_DECREF(arr);
    return nullptr;
  }
  PyCapsule_SetDestructor(owner, free_capsule);
  return arr;
}

// Lends a CallState for one call and gives it back on every exit path (the GIL is held at both ends).
class BorrowedState {
 public:
  BorrowedState(std::vector<std::unique_ptr<CallState>>& idle, int num_outputs) : idle_(idle) {
    if (idle.empty()) {
      state_ = std::make_unique<CallState>(num_outputs);
    } else {
      state_ = std::move(idle.back());
      idle.pop_back();
    }
  }
  ~BorrowedState() { idle_.push_back(std::move(state_)); }
  CallState& operator*() { return *state_; }

 private:
  std::vector<std::unique_ptr<CallState>>& idle_;
  std::unique_ptr<CallState> state_;
};
}  // namespace

Kernel::Kernel(std::shared_ptr<Module> module, int num_outputs)
    : module_(std::move(module)), num_outputs_(num_outputs) {}

void Kernel::set_locks(const py::list& locks) {
  std::vector<VariableLock*> ptrs;
  for (py::handle h : locks) ptrs.push_back(h.cast<VariableLock*>());
  std::sort(ptrs.begin(), ptrs.end());
  ptrs.erase(std::unique(ptrs.begin(), ptrs.end()), ptrs.end());
  locks_ = std::move(ptrs);
  lock_owners_ = locks;
}

// Raises KernelError(code, i, message): feeds are the first arguments and the first nodes, so Python
// names the placeholder that argument i came from.
[[noreturn]] static void throw_argument_error(size_t i, int32_t code, const std::string& message) {
  py::object err = py::module_::import("pygraph._runtime").attr("KernelError");
  PyErr_SetObject(err.ptr(), py::make_tuple(code, static_cast<int32_t>(i), message).ptr());
  throw py::error_already_set();
}

static std::string non_contiguous_oom(py::handle h, const std::vector<int64_t>& dims) {
  std::string shape = "[";
  for (size_t d = 0; d < dims.size(); ++d) shape += (d ? "," : "") + std::to_string(dims[d]);
  return "OOM when copying a non-contiguous value of shape" + shape + "] and type " +
         py::str(py::reinterpret_borrow<py::array>(h).dtype()).cast<std::string>() +
         " into contiguous memory (a strided or broadcast view, e.g. from np.broadcast_to, is copied before "
         "the run; this one does not fit in memory)";
}

py::tuple Kernel::call(const py::list& args) {
  size_t nargs = args.size();
  std::vector<pg_tensor> tensors(nargs);
  std::vector<py::array> copies;  // contiguous copies of strided inputs, alive until the call returns
  for (size_t i = 0; i < nargs; ++i) {
    py::handle h = args[i];
    if (!py::isinstance<py::array>(h)) throw py::type_error("kernel argument " + std::to_string(i) + " is not an ndarray");
    auto arr = py::reinterpret_borrow<py::array>(h);
    if (arr.ndim() > PG_MAX_RANK)
      throw py::value_error("kernel argument " + std::to_string(i) + " has rank above " +
                            std::to_string(PG_MAX_RANK));
    if (!(arr.flags() & py::array::c_style)) {  // a strided view (transposed, sliced, broadcast): copy it
      std::vector<int64_t> dims(arr.shape(), arr.shape() + arr.ndim());
      bool fits = byte_size(static_cast<int32_t>(arr.ndim()), dims.data(), arr.itemsize()) <= host_memory_bytes();
      if (fits) arr = py::array::ensure(h, py::array::c_style);  // NULL (error cleared) when out of memory
      if (!fits || !arr) throw_argument_error(i, PG_RESOURCE_EXHAUSTED, non_contiguous_oom(h, dims));
      copies.push_back(arr);
    }
    pg_tensor& t = tensors[i];
    t.dtype = dtype_code(arr.dtype());
    if (!t.dtype) throw py::type_error("kernel argument " + std::to_string(i) + " has an unsupported dtype");
    t.ndim = static_cast<int32_t>(arr.ndim());
    for (int d = 0; d < t.ndim; ++d) t.shape[d] = arr.shape(d);
    t.data = const_cast<void*>(arr.data());
  }

  std::vector<PyObject*> outs(num_outputs_);
  KernelFailure failure;
  RunResult result = run(tensors.data(), static_cast<int32_t>(nargs), outs.data(), failure);
  if (result == RunResult::kPythonError) throw py::error_already_set();
  if (result == RunResult::kFailed) {
    py::object err = py::module_::import("pygraph._runtime").attr("KernelError");
    PyErr_SetObject(err.ptr(), py::make_tuple(failure.code, failure.node, failure.message).ptr());
    throw py::error_already_set();
  }
  py::tuple out(num_outputs_);
  for (int i = 0; i < num_outputs_; ++i) PyTuple_SET_ITEM(out.ptr(), i, outs[i]);  // steals
  return out;
}

RunResult Kernel::run(pg_tensor* tensors, int32_t nargs, PyObject** outputs, KernelFailure& failure) {
  BorrowedState borrowed(idle_, num_outputs_);
  CallState& st = *borrowed;
  std::vector<OutputSlot>& slots = st.host.slots();
  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    slot = OutputSlot();
    PyObject* prev = st.cached[i].ptr();
    // only this state holds it, and nothing else can reach it: write the new result into its memory
    if (prev && Py_REFCNT(prev) == 1) {
      auto* a = array_fields(prev);
      slot.data = a->data;
      slot.dtype = st.cached_dtype[i];
      slot.ndim = a->nd;
      for (int d = 0; d < slot.ndim; ++d) slot.shape[d] = a->dimensions[d];
      slot.reused = true;
    }
  }
  st.host.clear_error();

  pg_ctx ctx;
  st.host.bind(&ctx, &global_pool());
  int32_t status;
  {
    py::gil_scoped_release release;  // every wait below (variable locks, the pool) is without the GIL
    for (VariableLock* l : locks_) l->mu.lock();
    status = run_program(module_->run(), &ctx, tensors, nargs);
    for (auto it = locks_.rbegin(); it != locks_.rend(); ++it) (*it)->mu.unlock();
  }

  bool missing = false;
  for (int i = 0; i < num_outputs_; ++i)
    if (!slots[i].data) missing = true;
  if (status != PG_OK || missing) {
    st.host.free_fresh_outputs();
    for (auto& c : st.cached) c = py::object();
    if (status == PG_OK) {
      status = PG_INTERNAL;
      st.host.error_message() = "compiled module did not produce all its outputs (out of memory?)";
    }
    failure.code = status;
    failure.node = st.host.error_node();
    failure.message = st.host.error_message();
    return RunResult::kFailed;
  }

  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    if (slot.reused) {
      outputs[i] = st.cached[i].inc_ref().ptr();
      continue;
    }
    PyObject* arr = wrap_output(slot);
    if (!arr) {  // out of memory: free what nobody owns yet, drop what was handed out
      for (int j = i; j < num_outputs_; ++j)
        if (!slots[j].reused) std::free(slots[j].data);
      for (int j = 0; j < i; ++j) Py_DECREF(outputs[j]);
      for (auto& c : st.cached) c = py::object();
      return RunResult::kPythonError;
    }
    st.cached[i] = py::reinterpret_borrow<py::object>(arr);
    st.cached_dtype[i] = slot.dtype;
    outputs[i] = arr;
  }
  return RunResult::kOk;
}

}  // namespace pygraph
