// Reading a node's attributes (pg_attr records from abi.h) as TF's GetAttr does, for kernels
// (OpKernelConstruction) and shape functions (InferenceContext). Header-only.
#ifndef PYGRAPH_TF_ATTRS_H
#define PYGRAPH_TF_ATTRS_H

#include <cstring>
#include <string>
#include <vector>

#include "pygraph/tf/tensor.h"

#pragma GCC visibility push(hidden)

namespace tensorflow {

class AttrReader {
 public:
  AttrReader(const pg_attr* attrs, int32_t count) : attrs_(attrs), count_(count) {}

  Status Get(const std::string& name, int32_t* v) const { return integer(name, v); }
  Status Get(const std::string& name, int64_t* v) const { return integer(name, v); }
  Status Get(const std::string& name, bool* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_BOOL, "bool", &a));
    *v = a->i != 0;
    return Status::OK();
  }
  Status Get(const std::string& name, float* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_FLOAT, "float", &a));
    *v = static_cast<float>(a->f);
    return Status::OK();
  }
  Status Get(const std::string& name, double* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_FLOAT, "float", &a));
    *v = a->f;
    return Status::OK();
  }
  Status Get(const std::string& name, DataType* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_TYPE, "type", &a));
    *v = data_type_of(static_cast<int32_t>(a->i));
    return Status::OK();
  }
  Status Get(const std::string& name, std::string* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_STRING, "string", &a));
    v->assign(static_cast<const char*>(a->items), a->count);
    return Status::OK();
  }
  template <typename I> Status Get(const std::string& name, std::vector<I>* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_LIST_INT, "list(int)", &a));
    const int64_t* items = static_cast<const int64_t*>(a->items);
    v->assign(items, items + a->count);
    return Status::OK();
  }
  Status Get(const std::string& name, std::vector<DataType>* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_LIST_TYPE, "list(type)", &a));
    const int32_t* items = static_cast<const int32_t*>(a->items);
    v->clear();
    for (int32_t k = 0; k < a->count; ++k) v->push_back(data_type_of(items[k]));
    return Status::OK();
  }

 private:
  template <typename I> Status integer(const std::string& name, I* v) const {
    const pg_attr* a;
    TF_RETURN_IF_ERROR(find(name, PG_ATTR_INT, "int", &a));
    *v = static_cast<I>(a->i);
    return Status::OK();
  }
  Status find(const std::string& name, int32_t kind, const char* what, const pg_attr** out) const {
    for (int32_t k = 0; k < count_; ++k) {
      if (name == attrs_[k].name) {
        if (attrs_[k].kind != kind) {
          return errors::InvalidArgument("Attr ", name, " is not of type ", what);
        }
        *out = &attrs_[k];
        return Status::OK();
      }
    }
    return errors::NotFound("No attr named '", name, "' in NodeDef");
  }
  const pg_attr* attrs_;
  int32_t count_;
};

}  // namespace tensorflow

#pragma GCC visibility pop

#endif  // PYGRAPH_TF_ATTRS_H
