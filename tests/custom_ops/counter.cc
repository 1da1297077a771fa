// A stateful op (SetIsStateful): Counter(x) = x + the number of times this node has run. TF never
// constant-folds a stateful op, so a constant input still gives 1, 2, 3, ... on successive runs.
#include <atomic>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;

REGISTER_OP("Counter").Input("x: int64").Output("y: int64").SetIsStateful().SetShapeFn(
    ::tensorflow::shape_inference::ScalarShape);

class CounterOp : public OpKernel {
 public:
  explicit CounterOp(OpKernelConstruction* context) : OpKernel(context) {}
  void Compute(OpKernelContext* context) override {
    OP_REQUIRES(context, TensorShapeUtils::IsScalar(context->input(0).shape()),
                errors::InvalidArgument("Counter takes a scalar"));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({}), &out));
    out->scalar<int64>()() = context->input(0).scalar<int64>()() + (++runs_);
  }

 private:
  std::atomic<int64> runs_{0};  // the kernel's state: atomic, since Compute may run on several threads
};

REGISTER_KERNEL_BUILDER(Name("Counter").Device(DEVICE_CPU), CounterOp);
