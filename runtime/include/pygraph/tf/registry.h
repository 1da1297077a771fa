// The per-library op table behind REGISTER_OP / REGISTER_KERNEL_BUILDER, and pg_op_library(), the one
// symbol an op library exports (abi.h). Registrations run as the library's own static initializers when
// the host dlopens it; the host reads the table afterwards. Nothing here is shared between libraries.
#ifndef PYGRAPH_TF_REGISTRY_H
#define PYGRAPH_TF_REGISTRY_H

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pygraph/tf/op_kernel.h"

#pragma GCC visibility push(hidden)

namespace pygraph_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using ShapeFn = std::function<Status(tensorflow::shape_inference::InferenceContext*)>;
typedef OpKernel* (*KernelFactory)(OpKernelConstruction*);

struct OpEntry {
  std::string name;
  std::vector<std::string> inputs, outputs, attrs;
  ShapeFn shape_fn;
  bool stateful = false;
  // the C view handed to the host
  std::vector<const char*> c_inputs, c_outputs, c_attrs;
  std::vector<pg_kernel_def> kernels;
  pg_op_def def{};
};

struct KernelEntry {
  std::string op, type_attr;
  int32_t dtype;
  pg_kernel_fn compute;
};

struct Registry {
  std::vector<std::unique_ptr<OpEntry>> ops;
  std::vector<KernelEntry> kernels;
  std::vector<const pg_op_def*> table;
  pg_op_table library{};
  std::once_flag built;
};

inline Registry& registry() {
  static Registry r;
  return r;
}

inline void copy_message(const std::string& text, char* out, int32_t cap) {
  if (cap <= 0) return;
  std::snprintf(out, static_cast<size_t>(cap), "%s", text.c_str());
}

inline int32_t run_shape_fn(pg_shape_call* call) {
  try {
    const OpEntry* op = static_cast<const OpEntry*>(call->op->impl);
    tensorflow::shape_inference::InferenceContext c(call);
    Status s = op->shape_fn(&c);
    if (!s.ok()) {
      copy_message(s.error_message(), call->error, call->error_cap);
      return s.code();
    }
    c.pg_commit();
    return PG_OK;
  } catch (const std::exception& e) {
    copy_message(std::string("shape function threw: ") + e.what(), call->error, call->error_cap);
    return PG_INTERNAL;
  }
}

inline int32_t fail(pg_kernel_call* call, const Status& s) {
  return call->ctx->fail(call->ctx, s.code(), call->node, s.error_message().c_str());
}

// The kernel of one graph node is built on its first call and kept in *call->instance (the host's slot);
// threads racing on the first call build one each and keep the first.
template <KernelFactory Make> int32_t compute(pg_kernel_call* call) {
  try {
    OpKernel* kernel = static_cast<OpKernel*>(__atomic_load_n(call->instance, __ATOMIC_ACQUIRE));
    if (!kernel) {
      OpKernelConstruction construction(call);
      std::unique_ptr<OpKernel> made(Make(&construction));
      if (!construction.status().ok()) return fail(call, construction.status());
      void* expected = nullptr;
      if (__atomic_compare_exchange_n(call->instance, &expected, made.get(), false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE)) {
        kernel = made.release();  // owned by the slot for the rest of the process
      } else {
        kernel = static_cast<OpKernel*>(expected);
      }
    }
    OpKernelContext context(call);
    kernel->Compute(&context);
    if (!context.status().ok()) return fail(call, context.status());
    for (int i = 0; i < call->num_outputs; ++i) {
      if (!context.pg_allocated(i))
        return fail(call, tensorflow::errors::Internal("the kernel did not allocate output ", i));
    }
    return PG_OK;
  } catch (const std::exception& e) {
    return fail(call, tensorflow::errors::Internal("the kernel threw: ", e.what()));
  }
}

class OpBuilder {
 public:
  explicit OpBuilder(const char* name) : entry_(new OpEntry) { entry_->name = name; }
  OpBuilder& Input(const char* spec) {
    entry_->inputs.push_back(spec);
    return *this;
  }
  OpBuilder& Output(const char* spec) {
    entry_->outputs.push_back(spec);
    return *this;
  }
  OpBuilder& Attr(const char* spec) {
    entry_->attrs.push_back(spec);
    return *this;
  }
  OpBuilder& SetShapeFn(ShapeFn fn) {
    entry_->shape_fn = std::move(fn);
    return *this;
  }
  OpBuilder& Doc(const char*) { return *this; }
  OpBuilder& SetIsStateful() {
    entry_->stateful = true;
    return *this;
  }
  OpBuilder& SetIsCommutative() { return *this; }
  OpBuilder& SetIsAggregate() { return *this; }
  std::unique_ptr<OpEntry>& entry() { return entry_; }

 private:
  std::unique_ptr<OpEntry> entry_;
};

struct OpRegistrar {
  OpRegistrar(OpBuilder& builder) {  // NOLINT: the REGISTER_OP chain converts implicitly, as TF's
    registry().ops.push_back(std::move(builder.entry()));
  }
  OpRegistrar(OpBuilder&& builder) : OpRegistrar(builder) {}  // NOLINT
};

struct KernelRegistrar {
  KernelRegistrar(const tensorflow::register_kernel::Name& name, pg_kernel_fn compute) {
    if (name.device_ != tensorflow::DEVICE_CPU) return;  // pygraph runs CPU kernels only
    registry().kernels.push_back({name.op_, name.type_attr_, tensorflow::pg_dtype_of(name.dtype_), compute});
  }
};

inline const pg_op_table* library() {
  Registry& r = registry();
  std::call_once(r.built, [&r] {
    for (auto& op : r.ops) {
      for (auto& s : op->inputs) op->c_inputs.push_back(s.c_str());
      for (auto& s : op->outputs) op->c_outputs.push_back(s.c_str());
      for (auto& s : op->attrs) op->c_attrs.push_back(s.c_str());
      for (auto& k : r.kernels)
        if (k.op == op->name) op->kernels.push_back({k.type_attr.c_str(), k.dtype, k.compute});
      pg_op_def& d = op->def;
      d.name = op->name.c_str();
      d.num_inputs = static_cast<int32_t>(op->inputs.size());
      d.num_outputs = static_cast<int32_t>(op->outputs.size());
      d.num_attrs = static_cast<int32_t>(op->attrs.size());
      d.num_kernels = static_cast<int32_t>(op->kernels.size());
      d.inputs = op->c_inputs.data();
      d.outputs = op->c_outputs.data();
      d.attrs = op->c_attrs.data();
      d.shape = op->shape_fn ? run_shape_fn : nullptr;
      d.kernels = op->kernels.data();
      d.impl = op.get();
      d.stateful = op->stateful ? 1 : 0;
      r.table.push_back(&d);
    }
    r.library.abi_version = PG_ABI_VERSION;
    r.library.num_ops = static_cast<int32_t>(r.table.size());
    r.library.ops = r.table.data();
  });
  return &r.library;
}

}  // namespace pygraph_tf

#pragma GCC visibility pop

// The library's one export (weak: every translation unit that includes this header defines it).
extern "C" __attribute__((weak, visibility("default"))) const pg_op_table* pg_op_library(void) {
  return ::pygraph_tf::library();
}

// An AOT artifact compiles op sources into a static library too: a linker keeps an object of an archive only
// when something references it, so each source defines an anchor the artifact's C API references.
#ifdef PG_OP_LIBRARY_ANCHOR
extern "C" __attribute__((visibility("hidden"))) int PG_OP_LIBRARY_ANCHOR;
int PG_OP_LIBRARY_ANCHOR = 0;
#endif

#define PG_TF_CONCAT_(a, b) a##b
#define PG_TF_CONCAT(a, b) PG_TF_CONCAT_(a, b)

#define REGISTER_OP(name) PG_TF_REGISTER_OP(__COUNTER__, name)
#define PG_TF_REGISTER_OP(ctr, name)                                                                  \
  static ::pygraph_tf::OpRegistrar PG_TF_CONCAT(pg_tf_op_registrar_, ctr) __attribute__((unused)) = \
      ::pygraph_tf::OpBuilder(name)

#define REGISTER_KERNEL_BUILDER(kernel_builder, ...) PG_TF_REGISTER_KERNEL(__COUNTER__, kernel_builder, __VA_ARGS__)
#define PG_TF_REGISTER_KERNEL(ctr, kernel_builder, ...)                                                     \
  static ::tensorflow::OpKernel* PG_TF_CONCAT(pg_tf_make_kernel_, ctr)(::tensorflow::OpKernelConstruction * c) { \
    return new __VA_ARGS__(c);                                                                              \
  }                                                                                                         \
  static ::pygraph_tf::KernelRegistrar PG_TF_CONCAT(pg_tf_kernel_registrar_, ctr) __attribute__((unused))( \
      ::tensorflow::register_kernel::kernel_builder,                                                        \
      &::pygraph_tf::compute<PG_TF_CONCAT(pg_tf_make_kernel_, ctr)>)

#endif  // PYGRAPH_TF_REGISTRY_H
