// Cube(x) = x^3 for float and double, with a shape function that keeps the input's shape. Its gradient
// (3 x^2 dy) is registered in Python, as the guide does for its ops.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;

REGISTER_OP("Cube")
    .Attr("T: {float, double}")
    .Input("x: T")
    .Output("y: T")
    .SetShapeFn(::tensorflow::shape_inference::UnchangedShape);

template <typename T>
class CubeOp : public OpKernel {
 public:
  explicit CubeOp(OpKernelConstruction* context) : OpKernel(context) {}
  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &y));
    auto in = x.flat<T>();
    auto out = y->flat<T>();
    for (int64 i = 0; i < in.size(); ++i) out(i) = in(i) * in(i) * in(i);
  }
};

REGISTER_KERNEL_BUILDER(Name("Cube").Device(DEVICE_CPU).TypeConstraint<float>("T"), CubeOp<float>);
REGISTER_KERNEL_BUILDER(Name("Cube").Device(DEVICE_CPU).TypeConstraint<double>("T"), CubeOp<double>);
