// TF's OpKernel, OpKernelConstruction, OpKernelContext, REGISTER_OP and REGISTER_KERNEL_BUILDER, header-only
// over abi.h. An op library built with these links nothing of pygraph: registrations collect into a
// per-library table (hidden visibility: two libraries never share one) that the one exported C function,
// pg_op_library, hands to the host. No C++ object or exception crosses the boundary.
//
// Threads: the host may call a kernel's Compute from several threads at once (as TF does); a kernel must
// not modify its members in Compute. Each graph node constructs its kernel once, on its first call.
#ifndef PYGRAPH_TF_OP_KERNEL_H
#define PYGRAPH_TF_OP_KERNEL_H

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pygraph/tf/shape_inference.h"

#pragma GCC visibility push(hidden)

namespace tensorflow {

constexpr const char DEVICE_CPU[] = "CPU";
constexpr const char DEVICE_GPU[] = "GPU";

class OpKernelConstruction {
 public:
  explicit OpKernelConstruction(const pg_kernel_call* call) : attrs_(call->attrs, call->num_attrs), call_(call) {}
  template <typename T> Status GetAttr(const std::string& name, T* value) const { return attrs_.Get(name, value); }
  int num_inputs() const { return call_->num_inputs; }
  int num_outputs() const { return call_->num_outputs; }
  void SetStatus(const Status& s) {
    if (status_.ok()) status_ = s;
  }
  void CtxFailure(const Status& s) { SetStatus(s); }
  void CtxFailure(const char*, int, const Status& s) { SetStatus(s); }
  const Status& status() const { return status_; }

 private:
  AttrReader attrs_;
  const pg_kernel_call* call_;
  Status status_;
};

class OpKernelContext {
 public:
  // Views of the first kInline inputs and outputs live in the context itself: no allocation per call.
  static constexpr int kInline = 4;
  explicit OpKernelContext(pg_kernel_call* call) : call_(call) {
    if (call->num_inputs > kInline) more_inputs_.resize(call->num_inputs - kInline);
    if (call->num_outputs > kInline) more_outputs_.resize(call->num_outputs - kInline);
    for (int i = 0; i < call->num_inputs; ++i) input_slot(i) = view(call->inputs[i]);
  }
  int num_inputs() const { return call_->num_inputs; }
  int num_outputs() const { return call_->num_outputs; }
  const Tensor& input(int i) const { return i < kInline ? inputs_[i] : more_inputs_[i - kInline]; }

  // The host planned each output from the op's shape function; a kernel asking for another shape has a
  // shape function that disagrees with it.
  Status allocate_output(int index, const TensorShape& shape, Tensor** out) {
    if (index < 0 || index >= call_->num_outputs) return errors::InvalidArgument("no output ", index);
    Tensor planned = view(call_->outputs[index]);
    if (planned.shape() != shape) {
      return errors::Internal("the kernel allocates output ", index, " with shape ", shape.DebugString(),
                              ", but the op's shape function gave ", planned.shape().DebugString());
    }
    output_slot(index) = planned;
    *out = &output_slot(index);
    return Status::OK();
  }
  Status allocate_temp(DataType dtype, const TensorShape& shape, Tensor* out) {
    size_t words = (static_cast<size_t>(shape.num_elements()) * 8 + 7) / 8 + 1;
    temps_.emplace_back(new int64_t[words]);
    *out = Tensor(temps_.back().get(), dtype, shape);
    return Status::OK();
  }
  Tensor* mutable_output(int index) { return &output_slot(index); }
  void SetStatus(const Status& s) {
    if (status_.ok()) status_ = s;
  }
  void CtxFailure(const Status& s) { SetStatus(s); }
  void CtxFailure(const char*, int, const Status& s) { SetStatus(s); }
  const Status& status() const { return status_; }
  bool pg_allocated(int index) { return output_slot(index).dtype() != DT_INVALID; }

 private:
  static Tensor view(const pg_tensor& t) {
    TensorShape shape;
    for (int k = 0; k < t.ndim; ++k) shape.AddDim(t.shape[k]);
    return Tensor(t.data, data_type_of(t.dtype), shape);
  }
  Tensor& input_slot(int i) { return i < kInline ? inputs_[i] : more_inputs_[i - kInline]; }
  Tensor& output_slot(int i) { return i < kInline ? outputs_[i] : more_outputs_[i - kInline]; }
  pg_kernel_call* call_;
  Tensor inputs_[kInline];
  Tensor outputs_[kInline];
  std::vector<Tensor> more_inputs_, more_outputs_;
  std::vector<std::unique_ptr<int64_t[]>> temps_;
  Status status_;
};

class OpKernel {
 public:
  explicit OpKernel(OpKernelConstruction*) {}
  virtual ~OpKernel() = default;
  virtual void Compute(OpKernelContext* context) = 0;
};

#define OP_REQUIRES(CTX, EXP, STATUS)                     \
  do {                                                    \
    if (!(EXP)) {                                         \
      (CTX)->CtxFailure(__FILE__, __LINE__, (STATUS));    \
      return;                                             \
    }                                                     \
  } while (0)

#define OP_REQUIRES_OK(CTX, ...)                          \
  do {                                                    \
    ::tensorflow::Status _pg_s(__VA_ARGS__);              \
    if (!_pg_s.ok()) {                                    \
      (CTX)->CtxFailure(__FILE__, __LINE__, _pg_s);       \
      return;                                             \
    }                                                     \
  } while (0)

namespace register_kernel {
class Name {
 public:
  explicit Name(const char* op) : op_(op) {}
  Name& Device(const char* device) {
    device_ = device;
    return *this;
  }
  template <typename T> Name& TypeConstraint(const char* attr) { return TypeConstraint(attr, DataTypeToEnum<T>::value); }
  Name& TypeConstraint(const char* attr, DataType t) {
    type_attr_ = attr;
    dtype_ = t;
    return *this;
  }
  Name& HostMemory(const char*) { return *this; }
  Name& Label(const char*) { return *this; }
  std::string op_, device_ = "CPU", type_attr_;
  DataType dtype_ = DT_INVALID;
};
}  // namespace register_kernel

}  // namespace tensorflow

#pragma GCC visibility pop

#endif  // PYGRAPH_TF_OP_KERNEL_H
