// The host-services state behind one pg_ctx (abi.h): output and scratch storage, the first error, and the
// thread pool parallel_for runs on. Python-free: the pybind11 bridge (kernel.cc) and every AOT artifact
// compile this same file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fp_mode.h"
#include "pygraph/abi.h"
#include "thread_pool.h"

namespace pygraph {

struct OutputSlot {
  void* data = nullptr;
  int32_t dtype = 0;
  int32_t ndim = 0;
  int64_t shape[PG_MAX_RANK] = {};
  bool reused = false;  // data is the host's (a previous result, or a caller's buffer), not allocated here
};

struct ScratchSlot {
  void* data = nullptr;
  size_t capacity = 0;
};

size_t dtype_itemsize(int32_t dtype);
// Bytes of a C-contiguous array; SIZE_MAX (never allocatable) for a negative dim or an overflow.
size_t byte_size(int32_t ndim, const int64_t* shape, size_t itemsize);
// Physical memory: no buffer larger than this can ever be filled, so such requests fail at once.
size_t host_memory_bytes();
void* aligned_alloc_buffer(size_t nbytes);  // release with std::free; NULL above host_memory_bytes()

// The collective engine every new call sees (pygraph.distribute registers one; NULL restores the
// one-process table). Process-wide: ranks are processes.
void set_collectives(const pg_collectives* table);
const pg_collectives* current_collectives();

// Custom op tables (abi.h) the process knows, by op type: ctx->find_op reads them. The Python bridge
// registers each op of a loaded library; an AOT artifact registers the libraries linked into it. Tables
// are never unregistered (libraries stay loaded); registering a name again replaces its table.
void register_op_def(const pg_op_def* def);
const pg_op_def* find_op_def(const char* name);

// What one call of a program writes: its outputs, its scratch arena and its first error. ctx->host points
// here. Used by one call at a time: the Python bridge keeps a stack of idle ones per Kernel, so concurrent
// calls never share one; an AOT instance owns one and is documented as one-thread-at-a-time.
// Calls a bound program the way every host must: in TF's floating-point mode (fp_mode.h), restoring the
// caller's mode after it. The Python bridge (kernel.cc) and every AOT artifact run programs through here.
inline int32_t run_program(pg_run_fn run, pg_ctx* ctx, pg_tensor* args, int32_t nargs) {
  ScopedFlushDenormals flush;
  return run(ctx, args, nargs);
}

class HostState {
 public:
  explicit HostState(int num_outputs) : num_outputs_(num_outputs), slots_(num_outputs) {}
  ~HostState();
  HostState(const HostState&) = delete;
  HostState& operator=(const HostState&) = delete;

  // Fills ctx's table so that generated code calls back into this state, running parallel_for on `pool`.
  void bind(pg_ctx* ctx, ThreadPool* pool);
  void clear_error() { error_node_ = -1; error_message_.clear(); }
  // Frees the outputs allocated during a failed call (the reused ones belong to the host).
  void free_fresh_outputs();

  // ctx callbacks
  void* alloc_output(int32_t index, int32_t dtype, int32_t ndim, const int64_t* shape);
  void* scratch(int32_t slot, size_t nbytes);
  int32_t fail(int32_t code, int32_t node, const char* message);

  int num_outputs() const { return num_outputs_; }
  ThreadPool* pool() const { return pool_; }
  std::vector<OutputSlot>& slots() { return slots_; }
  int32_t error_node() const { return error_node_; }
  std::string& error_message() { return error_message_; }

 private:
  int num_outputs_;
  std::vector<OutputSlot> slots_;
  std::vector<ScratchSlot> scratch_;
  ThreadPool* pool_ = nullptr;
  int32_t error_node_ = -1;
  std::string error_message_;
};

}  // namespace pygraph
