// pygraph kernel ABI: the only contract between generated code and its host.
// Generated modules, custom ops and ahead-of-time libraries include this header
// and nothing of Python. Bump PG_ABI_VERSION on any layout change.
#ifndef PYGRAPH_ABI_H
#define PYGRAPH_ABI_H

#include <stddef.h>
#include <stdint.h>

#define PG_ABI_VERSION 2
#define PG_MAX_RANK 8

#ifdef __cplusplus
extern "C" {
#endif

// Element types, numbered like pygraph.dtypes.DType.code.
enum pg_dtype { PG_FLOAT32 = 1, PG_FLOAT64 = 2, PG_INT32 = 3, PG_INT64 = 4, PG_BOOL = 5 };

// Status codes, numbered like TensorFlow's error codes (tensorflow/core/protobuf/error_codes.proto).
enum pg_status {
  PG_OK = 0,
  PG_INVALID_ARGUMENT = 3,
  PG_NOT_FOUND = 5,
  PG_FAILED_PRECONDITION = 9,
  PG_OUT_OF_RANGE = 11,
  PG_UNIMPLEMENTED = 12,
  PG_INTERNAL = 13,
  PG_RESOURCE_EXHAUSTED = 8,
};

// A dense, C-contiguous array. Inputs are owned by the host; the kernel may write
// into inputs that the program marks as mutable (variables).
typedef struct pg_tensor {
  void* data;
  int64_t shape[PG_MAX_RANK];
  int32_t ndim;
  int32_t dtype;
} pg_tensor;

typedef void (*pg_range_fn)(void* closure, int64_t begin, int64_t end);

// ---- Collectives (ABI 2; pygraph.distribute): the engine that reduces across processes (MPI, ...). ----
// Every function works in place on `count` elements at `data` and returns PG_OK or an error code with a
// NUL-terminated message in `err` (at most `errlen` bytes). `key` names the call site (a bucket of one
// program) and `signature` hashes the names, shapes and dtypes it carries: an engine compares them across
// ranks on first use, so ranks running different graphs fail with the mismatch named.
// AVERAGE: the sum divided by the number of ranks (floating-point dtypes only). FP16: a flag, or'ed in:
// values travel and are summed as IEEE half floats (Horovod's Compression.fp16), then widen again.
enum pg_reduce_op { PG_REDUCE_SUM = 0, PG_REDUCE_AVERAGE = 1, PG_REDUCE_FP16 = 2 };
typedef struct pg_collectives {
  void* engine;
  // Sums (or averages, pg_reduce_op) `data` over all ranks.
  int32_t (*allreduce)(void* engine, int64_t key, int64_t signature, void* data, int64_t count, int32_t dtype,
                       int32_t op, char* err, size_t errlen);
  // Replaces `data` with root's.
  int32_t (*broadcast)(void* engine, int64_t key, int64_t signature, void* data, int64_t count, int32_t dtype,
                       int32_t root, char* err, size_t errlen);
  // `out` (size * count elements) receives every rank's `data`, rank 0's first.
  int32_t (*allgather)(void* engine, int64_t key, int64_t signature, const void* data, void* out, int64_t count,
                       int32_t dtype, char* err, size_t errlen);
} pg_collectives;

// The host's services, passed to every call. A host (the Python bridge, or the
// AOT wrapper) fills in the function pointers.
typedef struct pg_ctx pg_ctx;
struct pg_ctx {
  int32_t abi_version;
  int32_t num_threads;
  void* host;
  // Output `index` of this call: returns storage for a C-contiguous array, or NULL when out of memory.
  void* (*alloc_output)(pg_ctx* ctx, int32_t index, int32_t dtype, int32_t ndim, const int64_t* shape);
  // Scratch storage for temporary `slot`, valid until the call returns.
  void* (*scratch)(pg_ctx* ctx, int32_t slot, size_t nbytes);
  // Runs fn over [0, n) split in chunks of at least `grain`, on the host's threads; returns when all are done.
  void (*parallel_for)(pg_ctx* ctx, int64_t n, int64_t grain, pg_range_fn fn, void* closure);
  // Records an error for graph node `node` (index in the program's node table); returns `code`.
  int32_t (*fail)(pg_ctx* ctx, int32_t code, int32_t node, const char* message);
  // ABI 2: never NULL; a host without an engine gives the one-process table (every collective an identity).
  const pg_collectives* collectives;
};

// Every generated module exports these two symbols.
typedef int32_t (*pg_abi_version_fn)(void);
typedef int32_t (*pg_run_fn)(pg_ctx* ctx, pg_tensor* args, int32_t nargs);

#ifdef __cplusplus
}
#endif

#endif  // PYGRAPH_ABI_H
