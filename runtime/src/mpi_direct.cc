// The collective engine of pygraph.distribute on MPI's C functions, called from the compiled step without
// Python: a Python callback costs ~5 us per bucket (the GIL), which halved small allreduces. It links no
// MPI: the Python side (pygraph/distribute/direct.py) hands over the addresses of MPI_Iallreduce, MPI_Ibcast
// and MPI_Test of the library mpi4py loaded, and the handles of its communicator, datatypes and MPI_SUM.
// Only MPICH's ABI (MPICH, Intel MPI, MVAPICH: handles are ints) is spoken here; other MPIs keep the mpi4py
// engine. The mpi4py engine still serves each call site's first call (the cross-rank graph check, with its
// descriptive error), fp16 compression and allgather; its errors mark this engine broken too, as a
// deadline or an MPI error here does, so that later collectives fail at once instead of waiting again.
// Large allreduces run MPICH's blocking MPI_Allreduce on a helper thread instead (mpi_blocking.h says why).
#include "mpi_direct.h"

#include <pybind11/stl.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "host_services.h"
#include "mpi_blocking.h"

namespace py = pybind11;

namespace pygraph {
namespace {

using IallreduceFn = int (*)(const void*, void*, int, Handle, Handle, Handle, Handle*);
using IbcastFn = int (*)(void*, int, Handle, int, Handle, Handle*);
using TestFn = int (*)(Handle*, int*, void*);
using ErrorStringFn = int (*)(int, char*, int*);

constexpr int32_t kDeadlineExceeded = 4, kUnavailable = 14;  // TF's codes, as the mpi4py engine returns
enum Kind : int { kUnchecked = -1, kAllreduce = 0, kBroadcast = 1 };

struct Engine {
  pg_collectives table{};   // what compiled programs call; table.engine is this
  pg_collectives python{};  // the mpi4py engine's entry points
  IallreduceFn iallreduce = nullptr;
  IbcastFn ibcast = nullptr;
  TestFn test = nullptr;
  ErrorStringFn error_string = nullptr;
  Handle comm = 0, sum = 0;
  Handle types[PG_BOOL + 1] = {};  // by pg_dtype; 0: not direct
  BlockingAllreduce blocking;      // allreduces of at least blocking.min_bytes (0: none) go through it
  int size = 1, rank = 0;
  double timeout = 120;
  std::mutex mutex;  // one collective at a time: MPI matches collectives on a communicator by call order
  std::set<std::pair<int, int64_t>> checked;  // call sites whose first (checked) call succeeded
  std::string broken;                          // the first deadline or MPI failure
};

int32_t report(char* err, size_t errlen, int32_t code, const std::string& message) {
  std::snprintf(err, errlen, "%s", message.c_str());
  return code;
}

int32_t mpi_failure(Engine& g, int rc, char* err, size_t errlen) {
  char text[1024] = "unknown MPI error";
  int len = 0;
  if (g.error_string) g.error_string(rc, text, &len);
  g.broken = std::string("MPI error in a collective (a rank has failed?): ") + text;
  return report(err, errlen, kUnavailable, g.broken);
}

int32_t deadline(Engine& g, const char* what, int64_t key, char* err, size_t errlen) {
  char text[512];
  std::snprintf(text, sizeof(text),
                "pygraph.distribute: %s (call site %#llx) on rank %d waited %g s (PYGRAPH_COLLECTIVE_TIMEOUT) "
                "for the other ranks: a rank has died, hangs or runs a different program",
                what, static_cast<unsigned long long>(key), g.rank, g.timeout);
  g.broken = text;
  return report(err, errlen, kDeadlineExceeded, g.broken);
}

// Polls like MPI's blocking calls (MPI progresses a nonblocking collective only inside MPI_Test), yielding the
// core after the first milliseconds to peers that may need it and sleeping between polls after a second;
// fails after the timeout.
int32_t wait(Engine& g, Handle* request, const char* what, int64_t key, char* err, size_t errlen) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  alignas(8) char status[64];  // MPI_Status (20 bytes in MPICH's ABI)
  for (;;) {
    int done = 0;
    int rc = g.test(request, &done, status);
    if (rc != 0) return mpi_failure(g, rc, err, errlen);
    if (done) return PG_OK;
    const double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > g.timeout) return deadline(g, what, key, err, errlen);
    if (waited > 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    } else if (waited > 0.005) {
      std::this_thread::yield();
    }
  }
}

// A call the mpi4py engine serves; its verdict on the call site and on the job is remembered here.
template <typename Fn, typename... Args>
int32_t delegate(Engine& g, Kind kind, int64_t key, char* err, size_t errlen, Fn fn, Args... args) {
  int32_t st = fn(g.python.engine, key, args..., err, errlen);
  if (st == PG_OK && kind >= 0) g.checked.insert({kind, key});
  if (st == kDeadlineExceeded || st == kUnavailable) g.broken = err;
  return st;
}

int64_t dtype_bytes(int32_t dtype) { return dtype == PG_FLOAT64 || dtype == PG_INT64 ? 8 : 4; }

bool direct(Engine& g, Kind kind, int64_t key, int64_t count, int32_t dtype) {
  return g.checked.count({kind, key}) && count <= INT_MAX && dtype > 0 && dtype <= PG_BOOL && g.types[dtype];
}

template <typename T>
void divide(void* data, int64_t count, int size) {
  T* x = static_cast<T*>(data);
  const T n = static_cast<T>(size);
  for (int64_t i = 0; i < count; ++i) x[i] /= n;
}

int32_t allreduce(void* engine, int64_t key, int64_t signature, void* data, int64_t count, int32_t dtype, int32_t op,
                  char* err, size_t errlen) {
  Engine& g = *static_cast<Engine*>(engine);
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.broken.empty()) return report(err, errlen, kUnavailable, "an earlier collective failed: " + g.broken);
  if ((op & PG_REDUCE_FP16) || !direct(g, kAllreduce, key, count, dtype))
    return delegate(g, kAllreduce, key, err, errlen, g.python.allreduce, signature, data, count, dtype, op);
  if (count == 0) return PG_OK;
  int32_t st = PG_OK;
  if (g.blocking.takes(count * dtype_bytes(dtype))) {
    int rc = 0;
    if (!g.blocking.run(data, static_cast<int>(count), g.types[dtype], g.timeout, &rc))
      return deadline(g, "allreduce", key, err, errlen);
    if (rc != 0) return mpi_failure(g, rc, err, errlen);
  } else {
    Handle request = 0;
    int rc = g.iallreduce(kInPlace, data, static_cast<int>(count), g.types[dtype], g.sum, g.comm, &request);
    if (rc != 0) return mpi_failure(g, rc, err, errlen);
    st = wait(g, &request, "allreduce", key, err, errlen);
  }
  if (st == PG_OK && (op & PG_REDUCE_AVERAGE)) {
    if (dtype == PG_FLOAT32) divide<float>(data, count, g.size);
    if (dtype == PG_FLOAT64) divide<double>(data, count, g.size);
  }
  return st;
}

int32_t broadcast(void* engine, int64_t key, int64_t signature, void* data, int64_t count, int32_t dtype, int32_t root,
                  char* err, size_t errlen) {
  Engine& g = *static_cast<Engine*>(engine);
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.broken.empty()) return report(err, errlen, kUnavailable, "an earlier collective failed: " + g.broken);
  if (!direct(g, kBroadcast, key, count, dtype))  // the first call also checks root against the size
    return delegate(g, kBroadcast, key, err, errlen, g.python.broadcast, signature, data, count, dtype, root);
  if (count == 0) return PG_OK;
  Handle request = 0;
  int rc = g.ibcast(data, static_cast<int>(count), g.types[dtype], root, g.comm, &request);
  if (rc != 0) return mpi_failure(g, rc, err, errlen);
  return wait(g, &request, "broadcast", key, err, errlen);
}

int32_t exchange(void* engine, int64_t key, int64_t signature, const int64_t* mine, int64_t n, int64_t* all,
                 int32_t size, char* err, size_t errlen) {
  Engine& g = *static_cast<Engine*>(engine);
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.broken.empty()) return report(err, errlen, kUnavailable, "an earlier collective failed: " + g.broken);
  return delegate(g, kUnchecked, key, err, errlen, g.python.exchange, signature, mine, n, all, size);
}

int32_t allgather(void* engine, int64_t key, int64_t signature, const void* data, void* out, const int64_t* counts,
                  int32_t size, int32_t dtype, char* err, size_t errlen) {
  Engine& g = *static_cast<Engine*>(engine);
  std::lock_guard<std::mutex> lock(g.mutex);
  if (!g.broken.empty()) return report(err, errlen, kUnavailable, "an earlier collective failed: " + g.broken);
  return delegate(g, kUnchecked, key, err, errlen, g.python.allgather, signature, data, out, counts, size,
                  dtype);
}

template <typename F>
F as_fn(uintptr_t address) {
  return reinterpret_cast<F>(address);
}

}  // namespace

void bind_direct_mpi(py::module_& m) {
  m.def(
      "set_direct_mpi",
      [](std::vector<uintptr_t> mpi_functions, int64_t comm, int64_t sum, std::vector<int64_t> types, int size,
         int rank, double timeout, std::vector<uintptr_t> python, int64_t blocking_min_bytes) {
        if (mpi_functions.size() != 5 || python.size() != 5 || types.size() != PG_BOOL + 1)
          throw std::invalid_argument("set_direct_mpi: 5 MPI functions, 6 datatypes and the 5 engine entries");
        auto* g = new Engine();  // never freed, as set_collectives' tables: a running call may still use it
        g->iallreduce = as_fn<IallreduceFn>(mpi_functions[0]);
        g->ibcast = as_fn<IbcastFn>(mpi_functions[1]);
        g->test = as_fn<TestFn>(mpi_functions[2]);
        g->error_string = as_fn<ErrorStringFn>(mpi_functions[3]);
        g->comm = static_cast<Handle>(comm);
        g->sum = static_cast<Handle>(sum);
        g->blocking.allreduce = as_fn<BlockingAllreduce::Fn>(mpi_functions[4]);
        g->blocking.comm = g->comm;
        g->blocking.sum = g->sum;
        g->blocking.min_bytes = blocking_min_bytes;
        for (size_t i = 0; i < types.size(); ++i) g->types[i] = static_cast<Handle>(types[i]);
        g->size = size;
        g->rank = rank;
        g->timeout = timeout;
        g->python.engine = reinterpret_cast<void*>(python[0]);
        g->python.allreduce = as_fn<decltype(g->python.allreduce)>(python[1]);
        g->python.broadcast = as_fn<decltype(g->python.broadcast)>(python[2]);
        g->python.exchange = as_fn<decltype(g->python.exchange)>(python[3]);
        g->python.allgather = as_fn<decltype(g->python.allgather)>(python[4]);
        g->table = {g, allreduce, broadcast, exchange, allgather};
        set_collectives(&g->table);
        return reinterpret_cast<uintptr_t>(&g->table);
      },
      py::arg("mpi_functions"), py::arg("comm"), py::arg("sum"), py::arg("types"), py::arg("size"), py::arg("rank"),
      py::arg("timeout"), py::arg("python"), py::arg("blocking_min_bytes") = 0,
      "Install the direct MPI engine (MPICH's ABI): MPI_Iallreduce, MPI_Ibcast, MPI_Test, MPI_Error_string and "
      "MPI_Allreduce addresses (the last for allreduces of at least blocking_min_bytes, 0: none), handles of the communicator, MPI_SUM and the datatypes by pg_dtype (0: none), and the "
      "mpi4py engine's (engine, allreduce, broadcast, exchange, allgather) that serves first calls.");
}

}  // namespace pygraph
