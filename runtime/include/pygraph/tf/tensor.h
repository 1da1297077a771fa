// TensorFlow-compatible Status, DataType, TensorShape and Tensor for custom op libraries: header-only, on
// top of abi.h's pg_tensor. The subset the "Create an op" guide and typical CPU kernels use. A Tensor here
// is a view of host-owned memory (inputs, planned outputs) or of a temporary its kernel call owns.
#ifndef PYGRAPH_TF_TENSOR_H
#define PYGRAPH_TF_TENSOR_H

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pygraph/abi.h"

#pragma GCC visibility push(hidden)  // every op library keeps its own copy: nothing is shared across libraries

namespace tensorflow {

typedef int8_t int8;
typedef int16_t int16;
typedef int32_t int32;
typedef int64_t int64;
typedef uint8_t uint8;
typedef uint64_t uint64;
typedef std::string string;

// TensorFlow's enum values (types.proto).
enum DataType { DT_INVALID = 0, DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_INT64 = 9, DT_BOOL = 10 };

template <typename T> struct DataTypeToEnum;
template <> struct DataTypeToEnum<float> { static constexpr DataType value = DT_FLOAT; };
template <> struct DataTypeToEnum<double> { static constexpr DataType value = DT_DOUBLE; };
template <> struct DataTypeToEnum<int32_t> { static constexpr DataType value = DT_INT32; };
template <> struct DataTypeToEnum<int64_t> { static constexpr DataType value = DT_INT64; };
template <> struct DataTypeToEnum<bool> { static constexpr DataType value = DT_BOOL; };

inline int32_t pg_dtype_of(DataType t) {
  switch (t) {
    case DT_FLOAT: return PG_FLOAT32;
    case DT_DOUBLE: return PG_FLOAT64;
    case DT_INT32: return PG_INT32;
    case DT_INT64: return PG_INT64;
    case DT_BOOL: return PG_BOOL;
    default: return 0;
  }
}
inline DataType data_type_of(int32_t pg) {
  switch (pg) {
    case PG_FLOAT32: return DT_FLOAT;
    case PG_FLOAT64: return DT_DOUBLE;
    case PG_INT32: return DT_INT32;
    case PG_INT64: return DT_INT64;
    case PG_BOOL: return DT_BOOL;
    default: return DT_INVALID;
  }
}
inline std::string DataTypeString(DataType t) {
  switch (t) {
    case DT_FLOAT: return "float";
    case DT_DOUBLE: return "double";
    case DT_INT32: return "int32";
    case DT_INT64: return "int64";
    case DT_BOOL: return "bool";
    default: return "invalid";
  }
}

namespace error {
// Numbered like TF's error codes, as pg_status is.
enum Code { OK = 0, CANCELLED = 1, UNKNOWN = 2, INVALID_ARGUMENT = 3, NOT_FOUND = 5, RESOURCE_EXHAUSTED = 8,
            FAILED_PRECONDITION = 9, OUT_OF_RANGE = 11, UNIMPLEMENTED = 12, INTERNAL = 13 };
}  // namespace error

class Status {
 public:
  Status() = default;
  Status(error::Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status OK() { return Status(); }
  bool ok() const { return code_ == error::OK; }
  error::Code code() const { return code_; }
  const std::string& error_message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  error::Code code_ = error::OK;
  std::string message_;
};

namespace errors {
template <typename... Args> std::string pg_cat(const Args&... args) {
  std::ostringstream out;
  (void)std::initializer_list<int>{((out << args), 0)...};
  return out.str();
}
#define PG_TF_ERROR(NAME, CODE) \
  template <typename... Args> Status NAME(const Args&... args) { return Status(error::CODE, pg_cat(args...)); }
PG_TF_ERROR(InvalidArgument, INVALID_ARGUMENT)
PG_TF_ERROR(NotFound, NOT_FOUND)
PG_TF_ERROR(OutOfRange, OUT_OF_RANGE)
PG_TF_ERROR(Unimplemented, UNIMPLEMENTED)
PG_TF_ERROR(Internal, INTERNAL)
PG_TF_ERROR(FailedPrecondition, FAILED_PRECONDITION)
PG_TF_ERROR(ResourceExhausted, RESOURCE_EXHAUSTED)
PG_TF_ERROR(Unknown, UNKNOWN)
#undef PG_TF_ERROR
}  // namespace errors

#define TF_RETURN_IF_ERROR(...)                        \
  do {                                                 \
    ::tensorflow::Status _pg_status = (__VA_ARGS__);   \
    if (!_pg_status.ok()) return _pg_status;           \
  } while (0)

// Dims live inline (at most PG_MAX_RANK, as every pygraph tensor): building one allocates nothing, which
// keeps a kernel call's overhead to tens of nanoseconds.
class TensorShape {
 public:
  TensorShape() = default;
  TensorShape(std::initializer_list<int64_t> dims) {
    for (int64_t d : dims) AddDim(d);
  }
  explicit TensorShape(const std::vector<int64_t>& dims) {
    for (int64_t d : dims) AddDim(d);
  }
  int dims() const { return rank_; }
  int64_t dim_size(int i) const { return dims_[i]; }
  int64_t num_elements() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  // A rank above PG_MAX_RANK cannot be a pygraph tensor: stop as TF's CHECK would.
  void AddDim(int64_t d) {
    if (rank_ >= PG_MAX_RANK) __builtin_trap();
    dims_[rank_++] = d;
  }
  void set_dim(int i, int64_t d) { dims_[i] = d; }
  void RemoveDim(int i) {
    for (int k = i; k + 1 < rank_; ++k) dims_[k] = dims_[k + 1];
    --rank_;
  }
  bool IsSameSize(const TensorShape& other) const { return *this == other; }
  bool operator==(const TensorShape& other) const {
    if (rank_ != other.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if (dims_[i] != other.dims_[i]) return false;
    return true;
  }
  bool operator!=(const TensorShape& other) const { return !(*this == other); }
  std::vector<int64_t> dim_sizes() const { return std::vector<int64_t>(dims_, dims_ + rank_); }
  const int64_t* pg_dims() const { return dims_; }
  std::string DebugString() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? "," : "") + std::to_string(dims_[i]);
    return s + "]";
  }

 private:
  int32_t rank_ = 0;
  int64_t dims_[PG_MAX_RANK] = {};
};
inline std::ostream& operator<<(std::ostream& out, const TensorShape& s) { return out << s.DebugString(); }

struct TensorShapeUtils {
  static bool IsScalar(const TensorShape& s) { return s.dims() == 0; }
  static bool IsVector(const TensorShape& s) { return s.dims() == 1; }
  static bool IsVectorOrHigher(const TensorShape& s) { return s.dims() >= 1; }
  static bool IsMatrix(const TensorShape& s) { return s.dims() == 2; }
  static bool IsSquareMatrix(const TensorShape& s) { return s.dims() == 2 && s.dim_size(0) == s.dim_size(1); }
};

// The Eigen-map subset kernels use on flat<T>(), vec<T>(), matrix<T>() and scalar<T>(): indexing, size(),
// dimension(k), data(), setZero() and setConstant().
template <typename T, int Rank> class TensorMap {
 public:
  TensorMap(T* data, const int64_t* dims) : data_(data) {
    for (int k = 0; k < Rank; ++k) dims_[k] = dims[k];
  }
  T* data() const { return data_; }
  int64_t dimension(int k) const { return dims_[k]; }
  int64_t size() const {
    int64_t n = 1;
    for (int k = 0; k < Rank; ++k) n *= dims_[k];
    return n;
  }
  T& operator()(int64_t i) const { return data_[i]; }
  T& operator()(int64_t i, int64_t j) const { return data_[i * dims_[1] + j]; }
  T& operator()(int64_t i, int64_t j, int64_t k) const { return data_[(i * dims_[1] + j) * dims_[2] + k]; }
  T& operator()() const { return data_[0]; }
  T& operator[](int64_t i) const { return data_[i]; }
  void setZero() const { setConstant(T(0)); }
  void setConstant(T v) const {
    for (int64_t i = 0, n = size(); i < n; ++i) data_[i] = v;
  }

 private:
  T* data_;
  int64_t dims_[Rank > 0 ? Rank : 1] = {};
};

template <typename T> struct TTypes {
  typedef TensorMap<T, 1> Flat;
  typedef TensorMap<const T, 1> ConstFlat;
  typedef TensorMap<T, 1> Vec;
  typedef TensorMap<const T, 1> ConstVec;
  typedef TensorMap<T, 2> Matrix;
  typedef TensorMap<const T, 2> ConstMatrix;
  typedef TensorMap<T, 0> Scalar;
  typedef TensorMap<const T, 0> ConstScalar;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(void* data, DataType dtype, TensorShape shape) : data_(data), dtype_(dtype), shape_(std::move(shape)) {}
  DataType dtype() const { return dtype_; }
  const TensorShape& shape() const { return shape_; }
  int dims() const { return shape_.dims(); }
  int64_t dim_size(int i) const { return shape_.dim_size(i); }
  int64_t NumElements() const { return shape_.num_elements(); }
  bool IsInitialized() const { return data_ != nullptr || NumElements() == 0; }

  template <typename T> TensorMap<T, 1> flat() {
    const int64_t n = NumElements();
    return map<T, 1>(&n, 1);
  }
  template <typename T> TensorMap<const T, 1> flat() const {
    const int64_t n = NumElements();
    return cmap<T, 1>(&n, 1);
  }
  template <typename T> TensorMap<T, 1> vec() { return map<T, 1>(shape_.pg_dims(), dims()); }
  template <typename T> TensorMap<const T, 1> vec() const { return cmap<T, 1>(shape_.pg_dims(), dims()); }
  template <typename T> TensorMap<T, 2> matrix() { return map<T, 2>(shape_.pg_dims(), dims()); }
  template <typename T> TensorMap<const T, 2> matrix() const { return cmap<T, 2>(shape_.pg_dims(), dims()); }
  template <typename T> TensorMap<T, 0> scalar() { return map<T, 0>(shape_.pg_dims(), dims()); }
  template <typename T> TensorMap<const T, 0> scalar() const { return cmap<T, 0>(shape_.pg_dims(), dims()); }
  template <typename T, size_t N> TensorMap<T, N> tensor() { return map<T, N>(shape_.pg_dims(), dims()); }
  template <typename T, size_t N> TensorMap<const T, N> tensor() const {
    return cmap<T, N>(shape_.pg_dims(), dims());
  }

  std::string DebugString() const { return "Tensor<type: " + DataTypeString(dtype_) + " shape: " +
                                            shape_.DebugString() + ">"; }

 private:
  // A view of the wrong type or rank is a kernel bug: TF aborts (CHECK); we stop the process the same way
  // rather than read memory as the wrong type.
  template <typename T, int R> void check(int rank) const {
    if (DataTypeToEnum<typename std::remove_const<T>::type>::value != dtype_ || rank != R) __builtin_trap();
  }
  template <typename T, int R> TensorMap<T, R> map(const int64_t* dims, int rank) {
    check<T, R>(rank);
    return TensorMap<T, R>(static_cast<T*>(data_), dims);
  }
  template <typename T, int R> TensorMap<const T, R> cmap(const int64_t* dims, int rank) const {
    check<T, R>(rank);
    return TensorMap<const T, R>(static_cast<const T*>(data_), dims);
  }

  void* data_ = nullptr;
  DataType dtype_ = DT_INVALID;
  TensorShape shape_;
};

}  // namespace tensorflow

#pragma GCC visibility pop

#endif  // PYGRAPH_TF_TENSOR_H
