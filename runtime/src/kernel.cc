#include "kernel.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

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

static int32_t dtype_from_numpy(const py::dtype& dt) {
  char kind = dt.kind();
  py::ssize_t size = dt.itemsize();
  if (kind == 'f') return size == 4 ? PG_FLOAT32 : size == 8 ? PG_FLOAT64 : 0;
  if (kind == 'i') return size == 4 ? PG_INT32 : size == 8 ? PG_INT64 : 0;
  if (kind == 'b') return PG_BOOL;
  return 0;
}

static py::dtype numpy_dtype(int32_t dtype) {
  switch (dtype) {
    case PG_FLOAT32: return py::dtype::of<float>();
    case PG_FLOAT64: return py::dtype::of<double>();
    case PG_INT32: return py::dtype::of<int32_t>();
    case PG_INT64: return py::dtype::of<int64_t>();
    case PG_BOOL: return py::dtype::of<bool>();
    default: throw std::runtime_error("unknown dtype code " + std::to_string(dtype));
  }
}

namespace {
void free_capsule(void* p) { std::free(p); }

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
    t.dtype = dtype_from_numpy(arr.dtype());
    if (!t.dtype) throw py::type_error("kernel argument " + std::to_string(i) + " has an unsupported dtype");
    t.ndim = static_cast<int32_t>(arr.ndim());
    for (int d = 0; d < t.ndim; ++d) t.shape[d] = arr.shape(d);
    t.data = const_cast<void*>(arr.data());
  }

  BorrowedState borrowed(idle_, num_outputs_);
  CallState& st = *borrowed;
  std::vector<OutputSlot>& slots = st.host.slots();
  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    slot = OutputSlot();
    py::object& prev = st.cached[i];
    // only this state holds it, and nothing else can reach it: write the new result into its memory
    if (prev && Py_REFCNT(prev.ptr()) == 1) {
      auto arr = py::reinterpret_borrow<py::array>(prev);
      slot.data = arr.mutable_data();
      slot.dtype = dtype_from_numpy(arr.dtype());
      slot.ndim = static_cast<int32_t>(arr.ndim());
      for (int d = 0; d < slot.ndim; ++d) slot.shape[d] = arr.shape(d);
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
    status = module_->run()(&ctx, tensors.data(), static_cast<int32_t>(nargs));
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
    py::object err = py::module_::import("pygraph._runtime").attr("KernelError");
    PyErr_SetObject(err.ptr(), py::make_tuple(status, st.host.error_node(), st.host.error_message()).ptr());
    throw py::error_already_set();
  }

  py::tuple result(num_outputs_);
  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    if (slot.reused) {
      result[i] = st.cached[i];
      continue;
    }
    std::vector<py::ssize_t> shape(slot.shape, slot.shape + slot.ndim);
    py::capsule owner(slot.data, free_capsule);
    py::array arr(numpy_dtype(slot.dtype), shape, {}, slot.data, owner);
    st.cached[i] = arr;
    result[i] = arr;
  }
  return result;
}

}  // namespace pygraph
