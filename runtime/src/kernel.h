// A loaded generated module and the per-plan state needed to call it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pygraph/abi.h"

namespace pygraph {
namespace py = pybind11;

// dlopen'ed shared object; closed when the last Kernel using it goes away.
class Module {
 public:
  explicit Module(const std::string& path);
  ~Module();
  pg_run_fn run() const { return run_; }
  const std::string& path() const { return path_; }

 private:
  void* handle_ = nullptr;
  pg_run_fn run_ = nullptr;
  std::string path_;
};

struct OutputSlot {
  void* data = nullptr;
  int32_t dtype = 0;
  int32_t ndim = 0;
  int64_t shape[PG_MAX_RANK] = {};
  bool reused = false;
};

struct ScratchSlot {
  void* data = nullptr;
  size_t capacity = 0;
};

// One compiled program bound to a call site. Calls are serialised per Kernel
// (scratch and cached outputs are per Kernel), and run without the GIL.
class Kernel {
 public:
  Kernel(std::shared_ptr<Module> module, int num_outputs);
  ~Kernel();
  py::tuple call(const py::list& args);
  const std::string& path() const { return module_->path(); }

  // ctx callbacks
  void* alloc_output(int32_t index, int32_t dtype, int32_t ndim, const int64_t* shape);
  void* scratch(int32_t slot, size_t nbytes);
  int32_t fail(int32_t code, int32_t node, const char* message);

 private:
  std::shared_ptr<Module> module_;
  int num_outputs_;
  std::mutex mu_;
  std::vector<OutputSlot> slots_;
  std::vector<py::object> cached_;   // last call's outputs, reused once nobody else holds them
  std::vector<ScratchSlot> scratch_;
  int32_t error_node_ = -1;
  std::string error_message_;
};

size_t dtype_itemsize(int32_t dtype);

}  // namespace pygraph
