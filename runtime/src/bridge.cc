// pygraph._runtime: loads generated modules and calls them on numpy buffers.
#include <pybind11/eval.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>

#include "fast_run.h"
#include "host_services.h"
#include "kernel.h"
#include "interp_services.h"
#include "mpi_direct.h"
#include "thread_pool.h"

namespace py = pybind11;
using pygraph::Kernel;
using pygraph::Module;
using pygraph::VariableLock;

// Modules are shared by every Kernel that runs the same file (called with the GIL held, which guards the map).
static std::shared_ptr<Module> load_module(const std::string& path) {
  static std::map<std::string, std::weak_ptr<Module>> loaded;
  auto it = loaded.find(path);
  if (it != loaded.end())
    if (auto m = it->second.lock()) return m;
  auto m = std::make_shared<Module>(path);
  loaded[path] = m;
  return m;
}

PYBIND11_MODULE(_runtime, m) {
  m.doc() = "pygraph runtime bridge: dlopen generated kernels and call them on numpy buffers";
  m.attr("ABI_VERSION") = PG_ABI_VERSION;
  m.attr("MAX_RANK") = PG_MAX_RANK;
  py::exec(R"(
class KernelError(RuntimeError):
    """A compiled program reported an error: args are (status code, node index, message)."""
)", m.attr("__dict__"));
  pygraph::add_fast_path(m);

  py::class_<Kernel>(m, "Kernel")
      .def(py::init([](const std::string& path, int num_outputs) {
             return new Kernel(load_module(path), num_outputs);
           }),
           py::arg("path"), py::arg("num_outputs"))
      .def("__call__", &Kernel::call, "Run the program on a list of C-contiguous arrays; returns its outputs.")
      .def("set_locks", &Kernel::set_locks, py::arg("locks"),
           "VariableLocks every call holds while the program runs (variables written with use_locking).")
      .def_property_readonly("path", &Kernel::path);

  py::class_<VariableLock>(m, "VariableLock", "The mutex of one variable's use_locking updates.")
      .def(py::init<>());

  // pygraph.distribute: the engine's C entry points (addresses of functions that live as long as the
  // process, e.g. ctypes callbacks it keeps), or all 0 for the one-process table.
  m.def("set_collectives", [](uintptr_t engine, uintptr_t allreduce, uintptr_t broadcast, uintptr_t exchange,
                              uintptr_t allgather) {
    if (!allreduce || !broadcast || !exchange || !allgather) return pygraph::set_collectives(nullptr);
    // never freed: a call that is running may still read the previous table (a few bytes per init)
    pg_collectives& t = *new pg_collectives();
    t.engine = reinterpret_cast<void*>(engine);
    t.allreduce = reinterpret_cast<decltype(t.allreduce)>(allreduce);
    t.broadcast = reinterpret_cast<decltype(t.broadcast)>(broadcast);
    t.exchange = reinterpret_cast<decltype(t.exchange)>(exchange);
    t.allgather = reinterpret_cast<decltype(t.allgather)>(allgather);
    pygraph::set_collectives(&t);
  }, py::arg("engine"), py::arg("allreduce"), py::arg("broadcast"), py::arg("exchange"), py::arg("allgather"),
     "Install the collective engine that compiled programs call (all 0: one process).");
  pygraph::bind_direct_mpi(m);  // mpi_direct.cc: the engine that calls MPI's C functions
  m.def("register_op_def", [](uintptr_t address) {
    pygraph::register_op_def(reinterpret_cast<const pg_op_def*>(address));
  }, py::arg("address"), "Make a loaded op library's op table (a pg_op_def*) visible to ctx->find_op.");
  m.def("set_num_threads", &pygraph::set_global_pool_size, "Threads used by ctx->parallel_for.");
  m.def("get_num_threads", [] { return pygraph::global_pool().size(); });
  pygraph::bind_interpreter_services(m);
}
