// TF's shape_inference::InferenceContext over abi.h's pg_shape_call. Shapes and dims are small values
// here (TF's are handles into the context); the API reads the same. Unknown dims are -1, an unknown rank -1.
#ifndef PYGRAPH_TF_SHAPE_INFERENCE_H
#define PYGRAPH_TF_SHAPE_INFERENCE_H

#include <initializer_list>
#include <string>
#include <vector>

#include "pygraph/tf/attrs.h"

#pragma GCC visibility push(hidden)

namespace tensorflow {
namespace shape_inference {

struct DimensionHandle {
  int64_t value = -1;
};

struct ShapeHandle {
  int32_t rank = -1;
  std::vector<int64_t> dims;
};

struct DimensionOrConstant {
  DimensionOrConstant(DimensionHandle d) : value(d.value) {}  // NOLINT: implicit, as TF's
  DimensionOrConstant(int64_t v) : value(v) {}               // NOLINT
  DimensionOrConstant(int v) : value(v) {}                   // NOLINT
  int64_t value;
};

class InferenceContext {
 public:
  static constexpr int64_t kUnknownDim = -1;
  static constexpr int32_t kUnknownRank = -1;

  explicit InferenceContext(pg_shape_call* call)
      : call_(call), attrs_(call->attrs, call->num_attrs), outputs_(call->num_outputs) {}

  int num_inputs() const { return call_->num_inputs; }
  int num_outputs() const { return call_->num_outputs; }
  ShapeHandle input(int i) const {
    ShapeHandle s;
    s.rank = call_->input_ranks[i];
    for (int k = 0; k < s.rank; ++k) s.dims.push_back(call_->input_dims[i * PG_MAX_RANK + k]);
    return s;
  }
  void set_output(int i, ShapeHandle s) { outputs_[i] = std::move(s); }
  ShapeHandle output(int i) const { return outputs_[i]; }

  static int32_t Rank(const ShapeHandle& s) { return s.rank; }
  static bool RankKnown(const ShapeHandle& s) { return s.rank >= 0; }
  static DimensionHandle Dim(const ShapeHandle& s, int64_t idx) {
    if (s.rank < 0) return DimensionHandle();
    if (idx < 0) idx += s.rank;
    return DimensionHandle{s.dims[idx]};
  }
  static DimensionHandle DimKnownRank(const ShapeHandle& s, int64_t idx) { return Dim(s, idx); }
  static int64_t Value(DimensionHandle d) { return d.value; }
  static bool ValueKnown(DimensionHandle d) { return d.value >= 0; }
  static bool FullyDefined(const ShapeHandle& s) {
    if (s.rank < 0) return false;
    for (int64_t d : s.dims)
      if (d < 0) return false;
    return true;
  }

  ShapeHandle MakeShape(std::initializer_list<DimensionOrConstant> dims) const {
    ShapeHandle s;
    for (const auto& d : dims) s.dims.push_back(d.value);
    s.rank = static_cast<int32_t>(s.dims.size());
    return s;
  }
  ShapeHandle MakeShape(const std::vector<DimensionHandle>& dims) const {
    ShapeHandle s;
    for (const auto& d : dims) s.dims.push_back(d.value);
    s.rank = static_cast<int32_t>(s.dims.size());
    return s;
  }
  DimensionHandle MakeDim(DimensionOrConstant d) const { return DimensionHandle{d.value}; }
  DimensionHandle UnknownDim() const { return DimensionHandle(); }
  ShapeHandle UnknownShape() const { return ShapeHandle(); }
  ShapeHandle UnknownShapeOfRank(int32_t rank) const {
    ShapeHandle s;
    s.rank = rank;
    s.dims.assign(rank, -1);
    return s;
  }
  ShapeHandle Scalar() const { return MakeShape({}); }
  ShapeHandle Vector(DimensionOrConstant d) const { return MakeShape({d}); }
  ShapeHandle Matrix(DimensionOrConstant a, DimensionOrConstant b) const { return MakeShape({a, b}); }

  Status WithRank(ShapeHandle s, int64_t rank, ShapeHandle* out) const {
    if (s.rank < 0) {
      *out = UnknownShapeOfRank(static_cast<int32_t>(rank));
      return Status::OK();
    }
    if (s.rank != rank) return errors::InvalidArgument("Shape must be rank ", rank, " but is rank ", s.rank);
    *out = s;
    return Status::OK();
  }
  Status WithRankAtLeast(ShapeHandle s, int64_t rank, ShapeHandle* out) const {
    if (s.rank >= 0 && s.rank < rank)
      return errors::InvalidArgument("Shape must be at least rank ", rank, " but is rank ", s.rank);
    *out = s;
    return Status::OK();
  }
  Status WithRankAtMost(ShapeHandle s, int64_t rank, ShapeHandle* out) const {
    if (s.rank > rank) return errors::InvalidArgument("Shape must be at most rank ", rank, " but is rank ", s.rank);
    *out = s;
    return Status::OK();
  }
  Status WithValue(DimensionHandle d, int64_t value, DimensionHandle* out) const {
    if (d.value >= 0 && d.value != value)
      return errors::InvalidArgument("Dimension must be ", value, " but is ", d.value);
    *out = DimensionHandle{value};
    return Status::OK();
  }
  Status Merge(DimensionHandle a, DimensionHandle b, DimensionHandle* out) const {
    if (a.value >= 0 && b.value >= 0 && a.value != b.value)
      return errors::InvalidArgument("Dimensions must be equal, but are ", a.value, " and ", b.value);
    *out = a.value >= 0 ? a : b;
    return Status::OK();
  }
  Status Merge(ShapeHandle a, ShapeHandle b, ShapeHandle* out) const {
    if (a.rank < 0 || b.rank < 0) {
      *out = a.rank < 0 ? b : a;
      return Status::OK();
    }
    if (a.rank != b.rank) return errors::InvalidArgument("Shapes must be equal rank, but are ", a.rank, " and ", b.rank);
    ShapeHandle s = a;
    for (int k = 0; k < a.rank; ++k) {
      DimensionHandle d;
      TF_RETURN_IF_ERROR(Merge(DimensionHandle{a.dims[k]}, DimensionHandle{b.dims[k]}, &d));
      s.dims[k] = d.value;
    }
    *out = s;
    return Status::OK();
  }
  template <typename T> Status GetAttr(const std::string& name, T* value) const { return attrs_.Get(name, value); }

  // Writes the outputs back into the call (the host reads them).
  void pg_commit() const {
    for (int i = 0; i < call_->num_outputs; ++i) {
      const ShapeHandle& s = outputs_[i];
      call_->output_ranks[i] = s.rank > PG_MAX_RANK ? PG_MAX_RANK : s.rank;
      for (int k = 0; k < s.rank && k < PG_MAX_RANK; ++k) call_->output_dims[i * PG_MAX_RANK + k] = s.dims[k];
    }
  }

 private:
  pg_shape_call* call_;
  AttrReader attrs_;
  std::vector<ShapeHandle> outputs_;
};

inline Status UnchangedShape(InferenceContext* c) {
  c->set_output(0, c->input(0));
  return Status::OK();
}
inline Status ScalarShape(InferenceContext* c) {
  c->set_output(0, c->Scalar());
  return Status::OK();
}
inline Status UnknownShape(InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->UnknownShape());
  return Status::OK();
}

}  // namespace shape_inference
}  // namespace tensorflow

#pragma GCC visibility pop

#endif  // PYGRAPH_TF_SHAPE_INFERENCE_H
