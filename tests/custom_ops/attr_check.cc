// An op with each kind of attr constraint TF's op_def_library checks at construction (a minimum, a minimum
// list length, allowed strings) and attrs of each scalar kind; the kernel returns x * scale * n.
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;

REGISTER_OP("AttrCheck")
    .Attr("n: int >= 1")
    .Attr("mode: {'fast', 'exact'} = 'fast'")
    .Attr("scale: float = 1.0")
    .Attr("flag: bool = false")
    .Attr("sizes: list(int) >= 2 = [1, 1]")
    .Input("x: float")
    .Output("y: float")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return Status::OK();
    });

class AttrCheckOp : public OpKernel {
 public:
  explicit AttrCheckOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("n", &n_));
    OP_REQUIRES_OK(context, context->GetAttr("scale", &scale_));
  }
  void Compute(OpKernelContext* context) override {
    const Tensor& in = context->input(0);
    Tensor* out = NULL;
    OP_REQUIRES_OK(context, context->allocate_output(0, in.shape(), &out));
    auto a = in.flat<float>();
    auto b = out->flat<float>();
    for (int i = 0; i < a.size(); i++) b(i) = a(i) * scale_ * n_;
  }
 private:
  int n_;
  float scale_;
};

REGISTER_KERNEL_BUILDER(Name("AttrCheck").Device(DEVICE_CPU), AttrCheckOp);
