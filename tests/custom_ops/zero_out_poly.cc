// The guide's polymorphic ZeroOut (named ZeroOutPoly here so that it can load beside zero_out.cc): one
// kernel per type T in {float, double, int32}; the shape function checks for a vector input.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;

REGISTER_OP("ZeroOutPoly")
    .Attr("T: {float, double, int32} = DT_INT32")
    .Input("to_zero: T")
    .Output("zeroed: T")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      ::tensorflow::shape_inference::ShapeHandle input;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &input));
      c->set_output(0, input);
      return Status::OK();
    });

template <typename T>
class ZeroOutPolyOp : public OpKernel {
 public:
  explicit ZeroOutPolyOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& input_tensor = context->input(0);
    auto input = input_tensor.flat<T>();
    OP_REQUIRES(context, input.size() > 0, errors::InvalidArgument("ZeroOutPoly needs a non-empty input"));
    Tensor* output_tensor = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, input_tensor.shape(), &output_tensor));
    auto output = output_tensor->flat<T>();
    for (int64 i = 0; i < input.size(); i++) output(i) = T(0);
    output(0) = input(0);
  }
};

#define REGISTER_KERNEL(type) \
  REGISTER_KERNEL_BUILDER(Name("ZeroOutPoly").Device(DEVICE_CPU).TypeConstraint<type>("T"), ZeroOutPolyOp<type>)

REGISTER_KERNEL(float);
REGISTER_KERNEL(double);
REGISTER_KERNEL(int32);

#undef REGISTER_KERNEL
