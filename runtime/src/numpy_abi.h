// The few numpy C-API entries the runtime calls without pybind11's wrappers (per-call paths): taken from
// numpy's _ARRAY_API table by their fixed indices (numpy/__multiarray_api.h), as pybind11 itself does, so
// the runtime builds without numpy's headers. The array layout is pybind11's PyArray_Proxy.
#pragma once
#include <pybind11/numpy.h>

#include <cstdint>

namespace pygraph {

struct NumpyApi {
  PyTypeObject* array_type = nullptr;
  PyObject* (*descr_from_type)(int typenum) = nullptr;
  PyObject* (*new_from_descr)(PyTypeObject*, PyObject* descr, int nd, const Py_intptr_t* dims,
                              const Py_intptr_t* strides, void* data, int flags, PyObject* obj) = nullptr;
  int (*set_base_object)(PyObject* array, PyObject* base) = nullptr;  // steals base
  PyObject* (*scalar)(void* data, PyObject* descr, PyObject* base) = nullptr;

  // Loaded once at module import (pybind11 has imported numpy by then, or this imports it).
  static const NumpyApi& get();
};

inline pybind11::detail::PyArray_Proxy* array_fields(PyObject* array) {
  return pybind11::detail::array_proxy(array);
}

constexpr int kNpyCContiguous = pybind11::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
constexpr int kNpyAligned = pybind11::detail::npy_api::NPY_ARRAY_ALIGNED_;
constexpr int kNpyWriteable = pybind11::detail::npy_api::NPY_ARRAY_WRITEABLE_;

// numpy's type number for a pg_dtype (abi.h), -1 for none.
int numpy_typenum(int32_t dtype);
// The pg_dtype of a numpy dtype (0: not one the runtime handles).
int32_t dtype_code(const pybind11::dtype& dt);

}  // namespace pygraph
