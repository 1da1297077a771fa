/* A library that claims ABI version 1: the loader must refuse it and say to rebuild. */
#include <stdint.h>
struct table { int32_t abi_version, num_ops; const void* ops; };
static const struct table t = {1, 0, 0};
__attribute__((visibility("default"))) const struct table* pg_op_library(void) { return &t; }
