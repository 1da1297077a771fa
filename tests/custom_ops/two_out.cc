// Two outputs and a float attr: SplitScale(x, scale) -> (x * scale, x row sums) for a matrix x.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("ScaleAndRowSum")
    .Attr("scale: float = 1.0")
    .Input("x: float")
    .Output("scaled: float")
    .Output("row_sum: float")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &x));
      c->set_output(0, x);
      c->set_output(1, c->MakeShape({c->Dim(x, 0)}));
      return Status::OK();
    });

class ScaleAndRowSumOp : public OpKernel {
 public:
  explicit ScaleAndRowSumOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("scale", &scale_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    auto in = x.matrix<float>();
    Tensor* scaled = nullptr;
    Tensor* sums = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &scaled));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({x.dim_size(0)}), &sums));
    auto out = scaled->matrix<float>();
    auto sum = sums->vec<float>();
    for (int64 i = 0; i < in.dimension(0); ++i) {
      float s = 0;
      for (int64 j = 0; j < in.dimension(1); ++j) {
        out(i, j) = in(i, j) * scale_;
        s += in(i, j);
      }
      sum(i) = s;
    }
  }

 private:
  float scale_;
};

REGISTER_KERNEL_BUILDER(Name("ScaleAndRowSum").Device(DEVICE_CPU), ScaleAndRowSumOp);
