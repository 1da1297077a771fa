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
  std::vector<int32_t> cached_dtype;

  explicit CallState(int num_outputs) : host(num_outputs), cached(num_outputs), cached_dtype(num_outputs) {}
};

// Why a program stopped: its status, the node that reported it (-1: none) and its message.
struct KernelFailure {
  int32_t code = 0;
  int32_t node = -1;
  std::string message;
};

// The result of Kernel::run.
enum class RunResult { kOk, kFailed, kPythonError };

// One compiled program bound to a call site. Any number of threads may call it at once: each call
// takes its own CallState, and the program runs without the GIL.
class Kernel {
 public:
  Kernel(std::shared_ptr<Module> module, int num_outputs);
  py::tuple call(const py::list& args);
  // The core of every call (call above, the fast path in fast_run.cc), entered and left with the GIL held:
  // runs the program on `tensors` (feeds first, then bound arguments). kOk: outputs[0..num_outputs) hold new
  // references to the results. kFailed: `failure` says what the program reported. kPythonError: wrapping
  // an output failed (out of memory) and a Python error is set. Never throws.
  RunResult run(pg_tensor* tensors, int32_t nargs, PyObject** outputs, KernelFailure& failure);
  void set_locks(const py::list& locks);
  const std::string& path() const { return module_->path(); }
  int num_outputs() const { return num_outputs_; }

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
