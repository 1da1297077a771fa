#include "kernel.h"

#include <dlfcn.h>

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

Kernel::Kernel(std::shared_ptr<Module> module, int num_outputs)
    : module_(std::move(module)), num_outputs_(num_outputs), state_(num_outputs), cached_(num_outputs) {}

namespace {
void free_capsule(void* p) { std::free(p); }
}  // namespace

py::tuple Kernel::call(const py::list& args) {
  size_t nargs = args.size();
  std::vector<pg_tensor> tensors(nargs);
  std::vector<py::array> copies;  // contiguous copies of strided inputs, alive until the call returns
  for (size_t i = 0; i < nargs; ++i) {
    py::handle h = args[i];
    if (!py::isinstance<py::array>(h)) throw py::type_error("kernel argument " + std::to_string(i) + " is not an ndarray");
    auto arr = py::reinterpret_borrow<py::array>(h);
    if (!(arr.flags() & py::array::c_style)) {
      arr = py::array::ensure(h, py::array::c_style);
      if (!arr) throw py::error_already_set();
      copies.push_back(arr);
    }
    if (arr.ndim() > PG_MAX_RANK)
      throw py::value_error("kernel argument " + std::to_string(i) + " has rank above 8");
    pg_tensor& t = tensors[i];
    t.dtype = dtype_from_numpy(arr.dtype());
    if (!t.dtype) throw py::type_error("kernel argument " + std::to_string(i) + " has an unsupported dtype");
    t.ndim = static_cast<int32_t>(arr.ndim());
    for (int d = 0; d < t.ndim; ++d) t.shape[d] = arr.shape(d);
    t.data = const_cast<void*>(arr.data());
  }

  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OutputSlot>& slots = state_.slots();
  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    slot = OutputSlot();
    py::object& prev = cached_[i];
    if (prev && Py_REFCNT(prev.ptr()) == 1) {  // only we hold it: write the new result into its memory
      auto arr = py::reinterpret_borrow<py::array>(prev);
      slot.data = arr.mutable_data();
      slot.dtype = dtype_from_numpy(arr.dtype());
      slot.ndim = static_cast<int32_t>(arr.ndim());
      for (int d = 0; d < slot.ndim; ++d) slot.shape[d] = arr.shape(d);
      slot.reused = true;
    }
  }
  state_.clear_error();

  pg_ctx ctx;
  state_.bind(&ctx, &global_pool());
  int32_t status;
  {
    py::gil_scoped_release release;
    status = module_->run()(&ctx, tensors.data(), static_cast<int32_t>(nargs));
  }

  bool missing = false;
  for (int i = 0; i < num_outputs_; ++i)
    if (!slots[i].data) missing = true;
  if (status != PG_OK || missing) {
    state_.free_fresh_outputs();
    for (auto& c : cached_) c = py::object();
    if (status == PG_OK) {
      status = PG_INTERNAL;
      state_.error_message() = "compiled module did not produce all its outputs (out of memory?)";
    }
    py::object err = py::module_::import("pygraph._runtime").attr("KernelError");
    PyErr_SetObject(err.ptr(), py::make_tuple(status, state_.error_node(), state_.error_message()).ptr());
    throw py::error_already_set();
  }

  py::tuple result(num_outputs_);
  for (int i = 0; i < num_outputs_; ++i) {
    OutputSlot& slot = slots[i];
    if (slot.reused) {
      result[i] = cached_[i];
      continue;
    }
    std::vector<py::ssize_t> shape(slot.shape, slot.shape + slot.ndim);
    py::capsule owner(slot.data, free_capsule);
    py::array arr(numpy_dtype(slot.dtype), shape, {}, slot.data, owner);
    cached_[i] = arr;
    result[i] = arr;
  }
  return result;
}

}  // namespace pygraph
