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
class ThreadPool;

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

// TF's per-variable mutex for ops built with use_locking=True: a call that writes such a variable holds
// its lock for the whole run (taken and released without the GIL).
struct VariableLock {
  std::mutex mu;
};

// One call's host state (outputs, scratch, error: host_services.cc, shared with AOT artifacts) plus the
// Python objects of its last outputs. A Kernel keeps a stack of idle ones, so concurrent calls never share
// them and a single thread reuses the same one (and its outputs' memory) on every call.
struct CallState {
  HostState host;
  std::vector<py::object> cached;  // this state's last outputs, reused once nobody else holds them

  explicit CallState(int num_outputs) : host(num_outputs), cached(num_outputs) {}
};

// One compiled program bound to a call site. Any number of threads may call it at once: each call
// takes its own CallState, and the program runs without the GIL.
class Kernel {
 public:
  Kernel(std::shared_ptr<Module> module, int num_outputs);
  py::tuple call(const py::list& args);
  void set_locks(const py::list& locks);
  const std::string& path() const { return module_->path(); }

 private:
  std::shared_ptr<Module> module_;
  int num_outputs_;
  // Idle call states. Pushed and popped only while holding the GIL, which is what guards it (the
  // module does not declare itself free-threading safe, so the GIL always exists).
  std::vector<std::unique_ptr<CallState>> idle_;
  std::vector<VariableLock*> locks_;  // sorted by address: every call takes them in one order
  py::list lock_owners_;              // keeps the VariableLock objects alive
};

}  // namespace pygraph
