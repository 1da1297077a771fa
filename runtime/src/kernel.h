// A loaded generated module and the per-plan state needed to call it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host_services.h"
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

// One compiled program bound to a call site. Calls are serialised per Kernel
// (scratch and cached outputs are per Kernel), and run without the GIL.
class Kernel {
 public:
  Kernel(std::shared_ptr<Module> module, int num_outputs);
  py::tuple call(const py::list& args);
  const std::string& path() const { return module_->path(); }

 private:
  std::shared_ptr<Module> module_;
  int num_outputs_;
  std::mutex mu_;
  HostState state_;  // outputs, scratch and errors (host_services.cc, shared with AOT artifacts)
  std::vector<py::object> cached_;   // last call's outputs, reused once nobody else holds them
};

}  // namespace pygraph
