// Allocation, scratch, errors and the ctx callbacks: the one implementation that the Python bridge
// (kernel.cc) and every AOT artifact compile.
#include "host_services.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace pygraph {

size_t dtype_itemsize(int32_t dtype) {
  switch (dtype) {
    case PG_FLOAT32: case PG_INT32: return 4;
    case PG_FLOAT64: case PG_INT64: return 8;
    case PG_BOOL: return 1;
    default: return 0;
  }
}

// With overcommit, malloc of more than physical memory could still succeed and the process would be
// killed while writing it.
size_t host_memory_bytes() {
  static const size_t bytes = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : SIZE_MAX;
  }();
  return bytes;
}

// Large buffers go on 2 MB boundaries with transparent huge pages asked for (as numpy does): a fresh
// 40 MB output then costs 20 page faults instead of ~10,000.
void* aligned_alloc_buffer(size_t nbytes) {
  const size_t huge = size_t(1) << 21;
  void* data = nullptr;
  if (nbytes > host_memory_bytes()) return nullptr;
  if (nbytes >= 2 * huge) {
    if (posix_memalign(&data, huge, nbytes) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
    madvise(data, nbytes, MADV_HUGEPAGE);
#endif
    return data;
  }
  if (posix_memalign(&data, 64, nbytes ? nbytes : 64) != 0) return nullptr;
  return data;
}

size_t byte_size(int32_t ndim, const int64_t* shape, size_t itemsize) {
  size_t n = itemsize;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0 || __builtin_mul_overflow(n, static_cast<size_t>(shape[i]), &n)) return SIZE_MAX;
  }
  return n;
}

namespace {
std::mutex op_defs_mutex;
std::map<std::string, const pg_op_def*>& op_defs() {
  static auto* table = new std::map<std::string, const pg_op_def*>();  // never destroyed: kernels may run at exit
  return *table;
}
}  // namespace

void register_op_def(const pg_op_def* def) {
  std::lock_guard<std::mutex> lock(op_defs_mutex);
  op_defs()[def->name] = def;
}

const pg_op_def* find_op_def(const char* name) {
  std::lock_guard<std::mutex> lock(op_defs_mutex);
  auto it = op_defs().find(name);
  return it == op_defs().end() ? nullptr : it->second;
}

HostState::~HostState() {
  for (auto& s : scratch_) std::free(s.data);
}

void HostState::free_fresh_outputs() {
  for (auto& slot : slots_) {
    if (slot.data && !slot.reused) std::free(slot.data);
    slot = OutputSlot();
  }
}

void* HostState::alloc_output(int32_t index, int32_t dtype, int32_t ndim, const int64_t* shape) {
  if (index < 0 || index >= num_outputs_ || ndim < 0 || ndim > PG_MAX_RANK) return nullptr;
  OutputSlot& slot = slots_[index];
  if (slot.data && !slot.reused) std::free(slot.data);  // allocated twice in one call: keep the last
  bool same = slot.reused && slot.dtype == dtype && slot.ndim == ndim &&
              std::memcmp(slot.shape, shape, sizeof(int64_t) * ndim) == 0;
  slot.dtype = dtype;
  slot.ndim = ndim;
  std::memcpy(slot.shape, shape, sizeof(int64_t) * ndim);
  if (same) return slot.data;
  slot.reused = false;
  slot.data = aligned_alloc_buffer(byte_size(ndim, shape, dtype_itemsize(dtype)));
  return slot.data;
}

void* HostState::scratch(int32_t index, size_t nbytes) {
  if (index < 0) return nullptr;
  if (static_cast<size_t>(index) >= scratch_.size()) scratch_.resize(index + 1);
  ScratchSlot& s = scratch_[index];
  if (s.capacity < nbytes || !s.data) {
    std::free(s.data);
    s.data = nullptr;
    s.capacity = 0;
    s.data = aligned_alloc_buffer(nbytes);
    if (!s.data) return nullptr;
    s.capacity = nbytes;
  }
  return s.data;
}

int32_t HostState::fail(int32_t code, int32_t node, const char* message) {
  if (error_node_ < 0 && error_message_.empty()) {  // the first error wins
    error_node_ = node;
    error_message_ = message ? message : "";
  }
  return code;
}

namespace {
// One process: a sum or broadcast over one rank leaves the data as it is; a gather copies it.
int32_t local_allreduce(void*, int64_t, int64_t, void*, int64_t, int32_t, int32_t, char*, size_t) { return PG_OK; }
int32_t local_broadcast(void*, int64_t, int64_t, void*, int64_t, int32_t, int32_t root, char* err,
                        size_t errlen) {
  if (root == 0) return PG_OK;
  std::snprintf(err, errlen, "broadcast from root rank %d, but there is only one process (rank 0)", root);
  return PG_INVALID_ARGUMENT;
}
int32_t one_rank(int32_t size, char* err, size_t errlen) {
  if (size == 1) return PG_OK;
  std::snprintf(err, errlen, "the program was built for %d ranks, but there is only one process", size);
  return PG_FAILED_PRECONDITION;
}
int32_t local_exchange(void*, int64_t, int64_t, const int64_t* mine, int64_t n, int64_t* all, int32_t size, char* err,
                       size_t errlen) {
  if (all != mine) std::memcpy(all, mine, static_cast<size_t>(n) * sizeof(int64_t));
  return one_rank(size, err, errlen);
}
int32_t local_allgather(void*, int64_t, int64_t, const void* data, void* out, const int64_t* counts, int32_t size,
                        int32_t dtype, char* err, size_t errlen) {
  if (out != data) std::memcpy(out, data, static_cast<size_t>(counts[0]) * dtype_itemsize(dtype));
  return one_rank(size, err, errlen);
}
const pg_collectives kLocalCollectives = {nullptr, local_allreduce, local_broadcast, local_exchange, local_allgather};
std::atomic<const pg_collectives*> g_collectives{&kLocalCollectives};
}  // namespace

void set_collectives(const pg_collectives* table) { g_collectives.store(table ? table : &kLocalCollectives); }
const pg_collectives* current_collectives() { return g_collectives.load(); }

namespace {
void* cb_alloc_output(pg_ctx* ctx, int32_t index, int32_t dtype, int32_t ndim, const int64_t* shape) {
  return static_cast<HostState*>(ctx->host)->alloc_output(index, dtype, ndim, shape);
}
void* cb_scratch(pg_ctx* ctx, int32_t slot, size_t nbytes) {
  return static_cast<HostState*>(ctx->host)->scratch(slot, nbytes);
}
void cb_parallel_for(pg_ctx* ctx, int64_t n, int64_t grain, pg_range_fn fn, void* closure) {
  static_cast<HostState*>(ctx->host)->pool()->parallel_for(n, grain, fn, closure);
}
int32_t cb_fail(pg_ctx* ctx, int32_t code, int32_t node, const char* message) {
  return static_cast<HostState*>(ctx->host)->fail(code, node, message);
}
const pg_op_def* cb_find_op(pg_ctx*, const char* name) { return find_op_def(name); }
}  // namespace

void HostState::bind(pg_ctx* ctx, ThreadPool* pool) {
  pool_ = pool;
  ctx->abi_version = PG_ABI_VERSION;
  ctx->num_threads = pool->size();
  ctx->host = this;
  ctx->alloc_output = cb_alloc_output;
  ctx->scratch = cb_scratch;
  ctx->parallel_for = cb_parallel_for;
  ctx->fail = cb_fail;
  ctx->collectives = current_collectives();
  ctx->find_op = cb_find_op;
}

}  // namespace pygraph
