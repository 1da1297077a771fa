// FastPlan: what the C path of Session.run and make_callable (fast_run.cc) needs to call one plan, and the
// call itself: feed checks, the program (Kernel::run), the result as Plan.run returns it.
#include "fast_plan.h"

#include <cstring>
#include <utility>
#include <vector>

#include "kernel.h"
#include "numpy_abi.h"

namespace pygraph {
namespace fast {

bool enabled = true;
static char fallback_tag;
PyObject* const kFallback = reinterpret_cast<PyObject*>(&fallback_tag);
PyTypeObject FastPlanType = {PyVarObject_HEAD_INIT(nullptr, 0)};
static PyObject* g_kernel_error = nullptr;  // _runtime.KernelError

struct FeedSpec {
  PyObject* descr;  // the numpy dtype object a feed must have: identity, as pygraph/feeds.py checks it
  int32_t dtype;
  int ndim;
  int64_t dims[PG_MAX_RANK];  // -1: any size
};

struct FastPlanData {
  std::vector<FeedSpec> feeds;
  std::vector<pg_tensor> bound;  // the plan's constants, variables and op states, after the feeds
  std::vector<PyObject*> bound_refs;
  std::vector<int> outputs;        // per fetched element: the kernel output returned; -1: None (an operation)
  PyObject* on_error = nullptr;    // Plan._kernel_failed(KernelError, feed values): raises TF's error
  PyObject* kernel_obj = nullptr;  // while armed: the Kernel the next call runs
  Kernel* kernel = nullptr;

  ~FastPlanData() {
    for (auto& f : feeds) Py_DECREF(f.descr);
    for (PyObject* b : bound_refs) Py_DECREF(b);
    Py_XDECREF(on_error);
    Py_XDECREF(kernel_obj);
  }
};

namespace {
void read_feed_specs(PyObject* feeds, FastPlanData& d) {
  for (py::handle item : py::reinterpret_borrow<py::iterable>(feeds)) {
    auto pair = item.cast<py::tuple>();
    if (pair.size() != 2 || !py::isinstance<py::dtype>(pair[0])) throw py::value_error("feeds: (dtype, shape) pairs");
    auto dt = py::reinterpret_borrow<py::dtype>(pair[0]);
    auto shape = pair[1].cast<py::tuple>();
    FeedSpec f{};
    f.dtype = dtype_code(dt);
    f.ndim = static_cast<int>(shape.size());
    if (!f.dtype || f.ndim > PG_MAX_RANK) throw py::value_error("feed dtype or rank the runtime cannot take");
    for (int k = 0; k < f.ndim; ++k) f.dims[k] = shape[k].is_none() ? -1 : shape[k].cast<int64_t>();
    f.descr = dt.inc_ref().ptr();
    d.feeds.push_back(f);
  }
}

void read_bound(PyObject* bound, FastPlanData& d) {
  PyTypeObject* array_type = NumpyApi::get().array_type;
  for (py::handle item : py::reinterpret_borrow<py::iterable>(bound)) {
    if (Py_TYPE(item.ptr()) != array_type) throw py::value_error("bound arguments must be ndarrays");
    auto arr = py::reinterpret_borrow<py::array>(item);
    pg_tensor t{};
    t.dtype = dtype_code(arr.dtype());
    t.ndim = static_cast<int32_t>(arr.ndim());
    if (!t.dtype || t.ndim > PG_MAX_RANK || !(arr.flags() & py::array::c_style))
      throw py::value_error("bound argument the runtime would copy or reject");
    for (int k = 0; k < t.ndim; ++k) t.shape[k] = arr.shape(k);
    t.data = const_cast<void*>(arr.data());
    d.bound.push_back(t);
    d.bound_refs.push_back(arr.inc_ref().ptr());
  }
}

PyObject* fast_plan_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* names[] = {"feeds", "bound", "outputs", "on_error", nullptr};
  PyObject *feeds, *bound, *outputs, *on_error;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO", const_cast<char**>(names), &feeds, &bound, &outputs,
                                   &on_error))
    return nullptr;
  auto* d = new FastPlanData();
  try {
    read_feed_specs(feeds, *d);
    read_bound(bound, *d);
    for (py::handle o : py::reinterpret_borrow<py::iterable>(outputs)) d->outputs.push_back(o.cast<int>());
    if (d->outputs.empty()) throw py::value_error("a plan fetches at least one element");
  } catch (py::error_already_set& e) {
    e.restore();
    delete d;
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
    delete d;
    return nullptr;
  }
  d->on_error = Py_NewRef(on_error);
  auto* self = reinterpret_cast<FastPlanObject*>(type->tp_alloc(type, 0));
  if (!self) {
    delete d;
    return nullptr;
  }
  self->d = d;
  return reinterpret_cast<PyObject*>(self);
}

int fast_plan_traverse(PyObject* self, visitproc visit, void* arg) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(self)->d;
  if (d) {
    Py_VISIT(d->on_error);
    Py_VISIT(d->kernel_obj);
  }
  return 0;
}

int fast_plan_clear(PyObject* self) {
  FastPlanData* d = std::exchange(reinterpret_cast<FastPlanObject*>(self)->d, nullptr);
  delete d;
  return 0;
}

void fast_plan_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  fast_plan_clear(self);
  Py_TYPE(self)->tp_free(self);
}

PyObject* fast_plan_arm(PyObject* self, PyObject* kernel) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(self)->d;
  if (!d || !py::isinstance<Kernel>(kernel)) Py_RETURN_FALSE;  // another kind of callee: the Python path
  Kernel* k = py::handle(kernel).cast<Kernel*>();
  for (int o : d->outputs)
    if (o >= k->num_outputs()) Py_RETURN_FALSE;
  Py_XSETREF(d->kernel_obj, Py_NewRef(kernel));
  d->kernel = k;
  Py_RETURN_TRUE;
}

PyObject* fast_plan_disarm(PyObject* self, PyObject*) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(self)->d;
  if (d) {
    d->kernel = nullptr;
    Py_CLEAR(d->kernel_obj);
  }
  Py_RETURN_NONE;
}

PyObject* fast_plan_armed(PyObject* self, void*) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(self)->d;
  return PyBool_FromLong(d && d->kernel);
}

// The program's error as TF's: on_error raises it (naming the node and where the user created it).
PyObject* report_failure(FastPlanData& d, const KernelFailure& f, PyObject* const* values, Py_ssize_t n) {
  PyObject* message = PyUnicode_FromStringAndSize(f.message.data(), static_cast<Py_ssize_t>(f.message.size()));
  if (!message) return nullptr;
  PyObject* err = PyObject_CallFunction(g_kernel_error, "iiN", f.code, f.node, message);  // N: steals message
  if (!err) return nullptr;
  PyObject* feeds = PyTuple_New(n);
  if (!feeds) {
    Py_DECREF(err);
    return nullptr;
  }
  for (Py_ssize_t k = 0; k < n; ++k) PyTuple_SET_ITEM(feeds, k, Py_NewRef(values[k]));
  PyObject* r = PyObject_CallFunctionObjArgs(d.on_error, err, feeds, nullptr);
  Py_DECREF(err);
  Py_DECREF(feeds);
  if (r) {
    Py_DECREF(r);
    PyErr_SetString(PyExc_SystemError, "pygraph: the kernel error handler returned without raising");
  }
  return nullptr;
}

// One fetched element's value as Plan.run returns it: the output array, a numpy scalar for a 0-d one, None
// for an operation.
PyObject* element_value(int output, PyObject** outs) {
  if (output < 0) return Py_NewRef(Py_None);
  PyObject* arr = outs[output];
  auto* a = array_fields(arr);
  return a->nd == 0 ? NumpyApi::get().scalar(a->data, a->descr, arr) : Py_NewRef(arr);
}

PyObject* fetched_values(const std::vector<int>& outputs, Container container, PyObject** outs) {
  if (container == kSingle) return element_value(outputs[0], outs);
  const Py_ssize_t n = static_cast<Py_ssize_t>(outputs.size());
  PyObject* seq = container == kList ? PyList_New(n) : PyTuple_New(n);
  for (Py_ssize_t i = 0; seq && i < n; ++i) {
    PyObject* v = element_value(outputs[i], outs);
    if (!v) {
      Py_CLEAR(seq);
      break;
    }
    if (container == kList) PyList_SET_ITEM(seq, i, v);
    else PyTuple_SET_ITEM(seq, i, v);
  }
  return seq;
}

}  // namespace

PyObject* run_plan(PyObject* plan, PyObject* const* values, Py_ssize_t n, Container container) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(plan)->d;
  if (!enabled || !d || !d->kernel || n != static_cast<Py_ssize_t>(d->feeds.size())) return kFallback;
  if (container == kSingle && d->outputs.size() != 1) return kFallback;
  const size_t nfeeds = d->feeds.size(), nargs = nfeeds + d->bound.size();
  pg_tensor small[kSmall];
  std::vector<pg_tensor> big;
  pg_tensor* tensors = small;
  if (nargs > kSmall) {
    big.resize(nargs);
    tensors = big.data();
  }
  PyTypeObject* array_type = NumpyApi::get().array_type;
  for (size_t k = 0; k < nfeeds; ++k) {
    PyObject* v = values[k];
    const FeedSpec& f = d->feeds[k];
    if (Py_TYPE(v) != array_type) return kFallback;
    auto* a = array_fields(v);
    if (a->descr != f.descr || a->nd != f.ndim || !(a->flags & kNpyCContiguous)) return kFallback;
    pg_tensor& t = tensors[k];
    for (int i = 0; i < f.ndim; ++i) {
      int64_t size = a->dimensions[i];
      if (f.dims[i] >= 0 && size != f.dims[i]) return kFallback;
      t.shape[i] = size;
    }
    t.data = a->data;
    t.ndim = f.ndim;
    t.dtype = f.dtype;
  }
  if (!d->bound.empty()) std::memcpy(tensors + nfeeds, d->bound.data(), d->bound.size() * sizeof(pg_tensor));

  // held while the program runs without the GIL: another thread may disarm the plan, drop the feed dict
  Py_INCREF(plan);
  PyObject* kernel_obj = Py_NewRef(d->kernel_obj);
  Kernel* kernel = d->kernel;
  for (Py_ssize_t k = 0; k < n; ++k) Py_INCREF(values[k]);
  const int nout = kernel->num_outputs();
  PyObject* small_outs[kSmall];
  std::vector<PyObject*> big_outs;
  PyObject** outs = small_outs;
  if (nout > kSmall) {
    big_outs.resize(nout);
    outs = big_outs.data();
  }
  KernelFailure failure;
  PyObject* result = nullptr;
  switch (kernel->run(tensors, static_cast<int32_t>(nargs), outs, failure)) {
    case RunResult::kOk:
      result = fetched_values(d->outputs, container, outs);
      for (int i = 0; i < nout; ++i) Py_DECREF(outs[i]);
      break;
    case RunResult::kFailed: result = report_failure(*d, failure, values, n); break;
    case RunResult::kPythonError: break;
  }
  for (Py_ssize_t k = 0; k < n; ++k) Py_DECREF(values[k]);
  Py_DECREF(kernel_obj);
  Py_DECREF(plan);
  return result;
}

size_t plan_outputs(PyObject* plan) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(plan)->d;
  return d ? d->outputs.size() : 0;
}

void ready_type(PyTypeObject& type, const char* name, const char* doc, size_t size) {
  type.tp_name = name;
  type.tp_doc = doc;
  type.tp_basicsize = static_cast<Py_ssize_t>(size);
  type.tp_flags |= Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  if (PyType_Ready(&type) < 0) throw py::error_already_set();
}

namespace {
PyMethodDef fast_plan_methods[] = {
    {"arm", fast_plan_arm, METH_O, "Let the C path run this Kernel; False (and not armed) for another callee."},
    {"disarm", fast_plan_disarm, METH_NOARGS, "Send every call to the Python path until armed again."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef fast_plan_getset[] = {{"armed", fast_plan_armed, nullptr, "Whether calls may run in C.", nullptr},
                                  {nullptr, nullptr, nullptr, nullptr, nullptr}};
}  // namespace

void ready_fast_plan_type(PyObject* kernel_error) {
  NumpyApi::get();
  g_kernel_error = kernel_error;
  FastPlanType.tp_new = fast_plan_new;
  FastPlanType.tp_dealloc = fast_plan_dealloc;
  FastPlanType.tp_traverse = fast_plan_traverse;
  FastPlanType.tp_clear = fast_plan_clear;
  FastPlanType.tp_methods = fast_plan_methods;
  FastPlanType.tp_getset = fast_plan_getset;
  ready_type(FastPlanType, "pygraph._runtime.FastPlan",
             "FastPlan(feeds, bound, outputs, on_error): what the C path needs to call one plan. feeds: (numpy "
             "dtype, shape with None for unknown dims) per feed; bound: the arrays after the feeds; outputs: per "
             "fetched element, the kernel output returned (-1: None); on_error(KernelError, feed values) raises "
             "TF's error. Runs nothing until armed.",
             sizeof(FastPlanObject));
}

}  // namespace fast
}  // namespace pygraph
