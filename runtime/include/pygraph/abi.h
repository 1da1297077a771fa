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

// ---- Collectives (version 2; pygraph.distribute): the engine that reduces across processes (MPI, ...). ----
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
  // Allgather, in two calls (ranks may contribute different amounts, as in Horovod): `exchange` writes every
  // rank's `n` values `mine` into `all` (n per rank, rank 0's first; `size` ranks expected, an error if the
  // job has another number); `allgather` then writes every rank's `data` into `out`, counts[r] elements from
  // rank r (counts: `size` entries), rank 0's first.
  int32_t (*exchange)(void* engine, int64_t key, int64_t signature, const int64_t* mine, int64_t n, int64_t* all,
                      int32_t size, char* err, size_t errlen);
  int32_t (*allgather)(void* engine, int64_t key, int64_t signature, const void* data, void* out,
                       const int64_t* counts, int32_t size, int32_t dtype, char* err, size_t errlen);
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
  // -- collectives (version 2): never NULL; a host without an engine gives the one-process table.
  const pg_collectives* collectives;
  // -- custom ops (version 2): the op library's table for op type `name`, NULL when none is loaded.
  const struct pg_op_def* (*find_op)(pg_ctx* ctx, const char* name);
};

// ---- Custom op libraries (version 2) ------------------------------------------------------------------
// An op library (TF's REGISTER_OP / OpKernel sources compiled against runtime/include/tensorflow/...) links
// nothing of pygraph: it exports one C symbol, pg_op_library, returning the table below. The host reads the
// op specs from it, runs shape functions at graph construction and calls kernels from generated code
// between fused loops. Kernels may run on several threads at once (as in TF): Compute must be reentrant.

enum pg_attr_kind {
  PG_ATTR_INT = 1, PG_ATTR_FLOAT = 2, PG_ATTR_BOOL = 3, PG_ATTR_TYPE = 4, PG_ATTR_STRING = 5,
  PG_ATTR_LIST_INT = 6, PG_ATTR_LIST_TYPE = 7,
};

// One attribute value, as data: i (int, bool, type: a pg_dtype), f (float), or `count` items at `items`
// (string: chars, not NUL-terminated; list(int): int64_t; list(type): int32_t).
typedef struct pg_attr {
  const char* name;
  int32_t kind;
  int32_t count;
  int64_t i;
  double f;
  const void* items;
} pg_attr;

// A shape function's question and answer: dims -1 are unknown; a rank of -1 is an unknown rank.
typedef struct pg_shape_call {
  const struct pg_op_def* op;
  int32_t num_inputs, num_outputs, num_attrs;
  const int32_t* input_ranks;
  const int64_t* input_dims;  // num_inputs x PG_MAX_RANK
  const pg_attr* attrs;
  int32_t* output_ranks;      // written by the op
  int64_t* output_dims;       // num_outputs x PG_MAX_RANK, written by the op
  char* error;                // message when it returns non-zero (error_cap bytes)
  int32_t error_cap;
} pg_shape_call;

// One kernel call: outputs are planned by the host (shape from the shape function, storage allocated);
// the kernel's allocate_output checks the shape it asks for against them. Errors go through ctx->fail.
typedef struct pg_kernel_call {
  pg_ctx* ctx;
  int32_t node;  // for ctx->fail
  int32_t num_inputs, num_outputs, num_attrs;
  const pg_tensor* inputs;
  pg_tensor* outputs;
  const pg_attr* attrs;
  void** instance;  // where the library keeps this node's constructed kernel (NULL until the first call)
} pg_kernel_call;

typedef int32_t (*pg_kernel_fn)(pg_kernel_call* call);
typedef int32_t (*pg_shape_fn)(pg_shape_call* call);

typedef struct pg_kernel_def {
  const char* type_attr;  // the attribute its TypeConstraint names ("" when unconstrained)
  int32_t dtype;          // the pg_dtype it is constrained to
  pg_kernel_fn compute;
} pg_kernel_def;

// REGISTER_OP's spec as TF writes it: "to_zero: int32", "T: {float, int32} = DT_INT32", ...
typedef struct pg_op_def {
  const char* name;
  int32_t num_inputs, num_outputs, num_attrs, num_kernels;
  const char* const* inputs;
  const char* const* outputs;
  const char* const* attrs;
  pg_shape_fn shape;  // NULL: no shape function (outputs of unknown shape)
  const pg_kernel_def* kernels;
  void* impl;  // the library's own data (opaque to the host)
  int32_t stateful;  // SetIsStateful(): never constant-folded, as in TF
} pg_op_def;

typedef struct pg_op_table {
  int32_t abi_version;  // PG_ABI_VERSION the library was built with; the host refuses any other
  int32_t num_ops;
  const pg_op_def* const* ops;
} pg_op_table;

typedef const pg_op_table* (*pg_op_library_fn)(void);  // the exported symbol pg_op_library
// ---- end of custom op libraries --------------------------------------------------------------------------

// Every generated module exports these two symbols.
typedef int32_t (*pg_abi_version_fn)(void);
typedef int32_t (*pg_run_fn)(pg_ctx* ctx, pg_tensor* args, int32_t nargs);

#ifdef __cplusplus
}
#endif

#endif  // PYGRAPH_ABI_H
