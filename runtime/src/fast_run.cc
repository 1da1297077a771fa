// The C fast path of Session.run and make_callable. A call whose plan Python has armed runs here from start
// to end without a Python frame: the plan is found by the identity of the fetch and of the feed dict's keys
// (RunCache), the feeds are checked (exact ndarray, the plan's dtype object, rank, static dims, C order) and
// the program runs (Kernel::run). Anything else (a miss, a plan not armed, a feed to convert or to reject,
// keywords it does not know, the switch off) calls the Python path, which stays the one place that converts
// values and raises TF's errors: a fallback behaves as if this file did not exist.
//
// Python keeps it right (pygraph/plan.py): a plan is armed only when its next call would go straight to its
// Kernel (no tier swap pending, variables initialized), assigning Plan.kernel disarms it, and the session
// closes its RunCache. All of this runs with the GIL held except the program itself, and everything the
// program reads is held by a reference while the GIL is released.
#include "fast_run.h"

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernel.h"
#include "numpy_abi.h"

namespace pygraph {
namespace {

bool g_enabled = true;               // _runtime.set_fast_path: tests and benchmarks force the Python path
char g_fallback_tag;                 // kFallback: "take the Python path"; never handed to Python
PyObject* const kFallback = reinterpret_cast<PyObject*>(&g_fallback_tag);
PyObject* g_kernel_error = nullptr;  // _runtime.KernelError
PyObject* g_str_feed_dict = nullptr;
PyObject* g_str_options = nullptr;
PyObject* g_str_run_metadata = nullptr;
PyObject* g_str_fast_cache = nullptr;
constexpr int kSmall = 8;  // arguments and outputs kept on the stack up to this many

// ---------------------------------------------------------------------------------------------- FastPlan
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

struct FastPlanObject {
  PyObject_HEAD
  FastPlanData* d;
};
PyTypeObject FastPlanType = {PyVarObject_HEAD_INIT(nullptr, 0)};

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

// How a call wants its values: one value (a single fetch), or a list or tuple of them (a flat list or tuple).
enum Container { kSingle = 0, kList = 1, kTuple = 2 };

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

// The plan's result for these feed values, in `container`; kFallback when the Python path must take the
// call; NULL with TF's error set when the program failed.
PyObject* run_plan(PyObject* plan, PyObject* const* values, Py_ssize_t n, Container container) {
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(plan)->d;
  if (!g_enabled || !d || !d->kernel || n != static_cast<Py_ssize_t>(d->feeds.size())) return kFallback;
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

PyMethodDef fast_plan_methods[] = {
    {"arm", fast_plan_arm, METH_O, "Let the C path run this Kernel; False (and not armed) for another callee."},
    {"disarm", fast_plan_disarm, METH_NOARGS, "Send every call to the Python path until armed again."},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef fast_plan_getset[] = {{"armed", fast_plan_armed, nullptr, "Whether calls may run in C.", nullptr},
                                  {nullptr, nullptr, nullptr, nullptr, nullptr}};

// ---------------------------------------------------------------------------------------------- RunCache
inline size_t mix(size_t h, PyObject* p) {
  return (h ^ (reinterpret_cast<uintptr_t>(p) >> 4)) * 0x9E3779B97F4A7C15ull;
}

struct CacheEntry {
  Container container;
  size_t nfetch;
  std::vector<PyObject*> key;  // the fetched elements, then the feed keys in the dict's order (held)
  PyObject* plan;              // a FastPlan (held)
};

// A fetch argument as the cache sees it: one element, or the elements of a flat list or tuple (exactly those
// types: a namedtuple, a dict or a nested structure is the Python path's).
struct Fetch {
  Container container = kSingle;
  PyObject* const* items = nullptr;
  Py_ssize_t n = 0;

  explicit Fetch(PyObject* const& fetch) {
    if (PyList_CheckExact(fetch) || PyTuple_CheckExact(fetch)) {
      container = PyList_CheckExact(fetch) ? kList : kTuple;
      items = PySequence_Fast_ITEMS(fetch);
      n = PySequence_Fast_GET_SIZE(fetch);
    } else {
      items = &fetch;
      n = 1;
    }
  }
  bool flat() const {
    for (Py_ssize_t i = 0; i < n && container != kSingle; ++i)
      if (PyList_Check(items[i]) || PyTuple_Check(items[i]) || PyDict_Check(items[i])) return false;
    return true;
  }
  size_t hash() const {
    size_t h = static_cast<size_t>(container) + 1;
    for (Py_ssize_t i = 0; i < n; ++i) h = mix(h, items[i]);
    return h;
  }
  bool same(const CacheEntry& e) const {
    if (e.container != container || e.nfetch != static_cast<size_t>(n)) return false;
    for (Py_ssize_t i = 0; i < n; ++i)
      if (e.key[i] != items[i]) return false;
    return true;
  }
};

struct RunCacheObject {
  PyObject_HEAD
  std::unordered_multimap<size_t, CacheEntry>* map;
  bool closed;
};
PyTypeObject RunCacheType = {PyVarObject_HEAD_INIT(nullptr, 0)};

void drop_entries(std::unordered_multimap<size_t, CacheEntry>& entries) {
  for (auto& [h, e] : entries) {
    for (PyObject* k : e.key) Py_DECREF(k);
    Py_DECREF(e.plan);
  }
}

PyObject* run_cache_new(PyTypeObject* type, PyObject*, PyObject*) {
  auto* self = reinterpret_cast<RunCacheObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->map = new std::unordered_multimap<size_t, CacheEntry>();
  self->closed = false;
  return reinterpret_cast<PyObject*>(self);
}

// Empties the map before releasing anything: a release may run Python code that reaches this cache.
void run_cache_empty(RunCacheObject* self) {
  if (!self->map) return;
  std::unordered_multimap<size_t, CacheEntry> old;
  old.swap(*self->map);
  drop_entries(old);
}

int run_cache_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* c = reinterpret_cast<RunCacheObject*>(self);
  if (c->map)
    for (auto& [h, e] : *c->map) {
      for (PyObject* k : e.key) Py_VISIT(k);
      Py_VISIT(e.plan);
    }
  return 0;
}

int run_cache_clear(PyObject* self) {
  run_cache_empty(reinterpret_cast<RunCacheObject*>(self));
  return 0;
}

void run_cache_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  auto* c = reinterpret_cast<RunCacheObject*>(self);
  run_cache_empty(c);
  delete c->map;
  c->map = nullptr;
  Py_TYPE(self)->tp_free(self);
}

// The plan stored for (fetch, the keys of feed_dict in order) (borrowed) or NULL; `values` (room for the
// dict's size) gets the feed values (borrowed) in that order.
PyObject* run_cache_find(RunCacheObject* c, const Fetch& fetch, PyObject* feed_dict, PyObject** values) {
  size_t h = fetch.hash(), n = 0;
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  if (feed_dict)
    while (PyDict_Next(feed_dict, &pos, &k, &v)) {
      h = mix(h, k);
      values[n++] = v;
    }
  auto range = c->map->equal_range(h);
  for (auto it = range.first; it != range.second; ++it) {
    const std::vector<PyObject*>& key = it->second.key;
    if (key.size() != n + fetch.n || !fetch.same(it->second)) continue;
    bool same = true;
    size_t i = fetch.n;
    pos = 0;
    if (feed_dict)
      while (same && PyDict_Next(feed_dict, &pos, &k, &v)) same = key[i++] == k;
    if (same) return it->second.plan;
  }
  return nullptr;
}

PyObject* run_cache_put(PyObject* self, PyObject* args) {
  PyObject *fetch_obj, *keys, *plan;
  if (!PyArg_ParseTuple(args, "OO!O!", &fetch_obj, &PyTuple_Type, &keys, &FastPlanType, &plan)) return nullptr;
  auto* c = reinterpret_cast<RunCacheObject*>(self);
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(plan)->d;
  Fetch fetch(fetch_obj);
  if (c->closed || !c->map || !d || !fetch.flat() || static_cast<size_t>(fetch.n) != d->outputs.size())
    Py_RETURN_FALSE;  // a structure the C path does not rebuild: the Python path keeps it
  std::vector<PyObject*> key(fetch.items, fetch.items + fetch.n);
  size_t h = fetch.hash();
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); ++i) {
    key.push_back(PyTuple_GET_ITEM(keys, i));
    h = mix(h, key.back());
  }
  auto range = c->map->equal_range(h);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second.container == fetch.container && it->second.key == key) {
      PyObject* old = std::exchange(it->second.plan, Py_NewRef(plan));
      Py_DECREF(old);
      Py_RETURN_TRUE;
    }
  for (PyObject* k : key) Py_INCREF(k);
  c->map->emplace(h, CacheEntry{fetch.container, static_cast<size_t>(fetch.n), std::move(key), Py_NewRef(plan)});
  Py_RETURN_TRUE;
}

PyObject* run_cache_close(PyObject* self, PyObject*) {
  auto* c = reinterpret_cast<RunCacheObject*>(self);
  c->closed = true;
  run_cache_empty(c);
  Py_RETURN_NONE;
}

Py_ssize_t run_cache_len(PyObject* self) {
  auto* c = reinterpret_cast<RunCacheObject*>(self);
  return c->map ? static_cast<Py_ssize_t>(c->map->size()) : 0;
}

PyMethodDef run_cache_methods[] = {
    {"put", run_cache_put, METH_VARARGS,
     "put(fetch, feed_keys, plan): calls with this fetch (an element, or a flat list or tuple of elements) and "
     "these feed-dict keys (identities, in order) run `plan`. False when the C path cannot take it."},
    {"close", run_cache_close, METH_NOARGS, "Forget every plan; later calls take the Python path."},
    {nullptr, nullptr, 0, nullptr}};
PySequenceMethods run_cache_sequence = {run_cache_len};

// ------------------------------------------------------------------------------------- fast_run (Session.run)
// A method descriptor wrapping Session.run's Python function: calls that hit the session's RunCache run in
// C, the rest call the function. A Py_TPFLAGS_METHOD_DESCRIPTOR type, so `sess.run(...)` calls it with the
// session first and no bound-method object in between.
struct FastRunObject {
  PyObject_HEAD
  PyObject* func;
  vectorcallfunc vectorcall;
};
PyTypeObject FastRunType = {PyVarObject_HEAD_INIT(nullptr, 0)};

bool is_name(PyObject* name, PyObject* interned) {
  return name == interned || PyUnicode_Compare(name, interned) == 0;
}

// Session.run(self, fetches, feed_dict=None, options=None, run_metadata=None) on the C path, or kFallback.
PyObject* try_fast_run(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs < 2 || nargs > 5) return kFallback;
  PyObject* feed_dict = nargs > 2 ? args[2] : nullptr;
  if (kwnames) {  // options and run_metadata are ignored, as in Python; anything else is Python's to judge
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      PyObject* name = PyTuple_GET_ITEM(kwnames, i);
      if (is_name(name, g_str_feed_dict) && !feed_dict) {
        feed_dict = args[nargs + i];
      } else if (!(is_name(name, g_str_options) && nargs <= 3) &&
                 !(is_name(name, g_str_run_metadata) && nargs <= 4)) {
        return kFallback;
      }
    }
  }
  if (feed_dict == Py_None) feed_dict = nullptr;
  if (feed_dict && !PyDict_CheckExact(feed_dict)) return kFallback;
  PyObject* cache = PyObject_GetAttr(args[0], g_str_fast_cache);
  if (!cache) {
    PyErr_Clear();
    return kFallback;
  }
  PyObject* result = kFallback;
  auto* c = reinterpret_cast<RunCacheObject*>(cache);
  if (Py_TYPE(cache) == &RunCacheType && !c->closed && c->map && !c->map->empty()) {
    Py_ssize_t n = feed_dict ? PyDict_GET_SIZE(feed_dict) : 0;
    PyObject* small[kSmall];
    std::vector<PyObject*> big(n > kSmall ? n : 0);
    PyObject** values = n > kSmall ? big.data() : small;
    Fetch fetch(args[1]);
    PyObject* plan = run_cache_find(c, fetch, feed_dict, values);
    if (plan) result = run_plan(plan, values, n, fetch.container);
  }
  Py_DECREF(cache);
  return result;
}

PyObject* fast_run_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  if (g_enabled) {
    PyObject* r = try_fast_run(args, PyVectorcall_NARGS(nargsf), kwnames);
    if (r != kFallback) return r;
  }
  PyObject* func = reinterpret_cast<FastRunObject*>(self)->func;
  if (!func) return PyErr_Format(PyExc_RuntimeError, "pygraph: Session.run used after it was collected");
  return PyObject_Vectorcall(func, args, nargsf, kwnames);
}

PyObject* fast_run_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  PyObject* func;
  if ((kwargs && PyDict_GET_SIZE(kwargs)) || !PyArg_ParseTuple(args, "O", &func)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "fast_run(function) takes one argument");
    return nullptr;
  }
  auto* self = reinterpret_cast<FastRunObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->func = Py_NewRef(func);
  self->vectorcall = fast_run_vectorcall;
  return reinterpret_cast<PyObject*>(self);
}

int fast_run_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(reinterpret_cast<FastRunObject*>(self)->func);
  return 0;
}

int fast_run_clear(PyObject* self) {
  Py_CLEAR(reinterpret_cast<FastRunObject*>(self)->func);
  return 0;
}

void fast_run_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  fast_run_clear(self);
  Py_TYPE(self)->tp_free(self);
}

PyObject* fast_run_get(PyObject* self, PyObject* obj, PyObject*) {
  if (!obj || obj == Py_None) return Py_NewRef(self);
  return PyMethod_New(self, obj);
}

// __doc__, __name__, __qualname__, __module__, __wrapped__: the wrapped function's (help(), inspect).
PyObject* fast_run_forward(PyObject* self, void* name) {
  PyObject* func = reinterpret_cast<FastRunObject*>(self)->func;
  if (!func) return PyErr_Format(PyExc_AttributeError, "%s", static_cast<const char*>(name));
  if (std::strcmp(static_cast<const char*>(name), "__wrapped__") == 0) return Py_NewRef(func);
  return PyObject_GetAttrString(func, static_cast<const char*>(name));
}

PyGetSetDef fast_run_getset[] = {
    {"__doc__", fast_run_forward, nullptr, nullptr, const_cast<char*>("__doc__")},
    {"__name__", fast_run_forward, nullptr, nullptr, const_cast<char*>("__name__")},
    {"__qualname__", fast_run_forward, nullptr, nullptr, const_cast<char*>("__qualname__")},
    {"__module__", fast_run_forward, nullptr, nullptr, const_cast<char*>("__module__")},
    {"__wrapped__", fast_run_forward, nullptr, nullptr, const_cast<char*>("__wrapped__")},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// ------------------------------------------------------------------------------- FastCallable (make_callable)
struct FastCallableObject {
  PyObject_HEAD
  PyObject* plan;   // FastPlan
  PyObject* cache;  // the session's RunCache: closed with the session
  PyObject* slow;   // the Python callable: every call the C path does not take
  Container container;
  vectorcallfunc vectorcall;
};
PyTypeObject FastCallableType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* fast_callable_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  auto* c = reinterpret_cast<FastCallableObject*>(self);
  if (!c->plan) return PyErr_Format(PyExc_RuntimeError, "pygraph: callable used after it was collected");
  if (!kwnames && !reinterpret_cast<RunCacheObject*>(c->cache)->closed) {
    PyObject* r = run_plan(c->plan, args, PyVectorcall_NARGS(nargsf), c->container);
    if (r != kFallback) return r;
  }
  return PyObject_Vectorcall(c->slow, args, nargsf, kwnames);
}

PyObject* fast_callable_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  PyObject *plan, *cache, *slow, *fetches;
  if ((kwargs && PyDict_GET_SIZE(kwargs)) ||
      !PyArg_ParseTuple(args, "O!O!OO", &FastPlanType, &plan, &RunCacheType, &cache, &slow, &fetches)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "FastCallable(plan, cache, slow, fetches)");
    return nullptr;
  }
  FastPlanData* d = reinterpret_cast<FastPlanObject*>(plan)->d;
  Fetch fetch(fetches);
  if (!d || !fetch.flat() || static_cast<size_t>(fetch.n) != d->outputs.size())
    return Py_NewRef(slow);  // a structure the C path does not rebuild: the Python callable alone
  auto* self = reinterpret_cast<FastCallableObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->plan = Py_NewRef(plan);
  self->cache = Py_NewRef(cache);
  self->slow = Py_NewRef(slow);
  self->container = fetch.container;
  self->vectorcall = fast_callable_vectorcall;
  return reinterpret_cast<PyObject*>(self);
}

int fast_callable_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* c = reinterpret_cast<FastCallableObject*>(self);
  Py_VISIT(c->plan);
  Py_VISIT(c->cache);
  Py_VISIT(c->slow);
  return 0;
}

int fast_callable_clear(PyObject* self) {
  auto* c = reinterpret_cast<FastCallableObject*>(self);
  Py_CLEAR(c->plan);
  Py_CLEAR(c->cache);
  Py_CLEAR(c->slow);
  return 0;
}

void fast_callable_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  fast_callable_clear(self);
  Py_TYPE(self)->tp_free(self);
}

void ready(PyTypeObject& type, const char* name, const char* doc, size_t size) {
  type.tp_name = name;
  type.tp_doc = doc;
  type.tp_basicsize = static_cast<Py_ssize_t>(size);
  type.tp_flags |= Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  if (PyType_Ready(&type) < 0) throw py::error_already_set();
}

PyObject* intern(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  if (!o) throw py::error_already_set();
  return o;
}

}  // namespace

void add_fast_path(py::module_& m) {
  NumpyApi::get();
  g_kernel_error = py::object(m.attr("KernelError")).release().ptr();
  g_str_feed_dict = intern("feed_dict");
  g_str_options = intern("options");
  g_str_run_metadata = intern("run_metadata");
  g_str_fast_cache = intern("_fast_cache");

  FastPlanType.tp_new = fast_plan_new;
  FastPlanType.tp_dealloc = fast_plan_dealloc;
  FastPlanType.tp_traverse = fast_plan_traverse;
  FastPlanType.tp_clear = fast_plan_clear;
  FastPlanType.tp_methods = fast_plan_methods;
  FastPlanType.tp_getset = fast_plan_getset;
  ready(FastPlanType, "pygraph._runtime.FastPlan",
        "FastPlan(feeds, bound, outputs, on_error): what the C path needs to call one plan. feeds: (numpy dtype, "
        "shape with None for unknown dims) per feed; bound: the arrays after the feeds; outputs: per fetched "
        "element, the kernel output returned (-1: None); on_error(KernelError, feed values) raises TF's error. "
        "Runs nothing until armed.",
        sizeof(FastPlanObject));

  RunCacheType.tp_new = run_cache_new;
  RunCacheType.tp_dealloc = run_cache_dealloc;
  RunCacheType.tp_traverse = run_cache_traverse;
  RunCacheType.tp_clear = run_cache_clear;
  RunCacheType.tp_methods = run_cache_methods;
  RunCacheType.tp_as_sequence = &run_cache_sequence;
  ready(RunCacheType, "pygraph._runtime.RunCache",
        "A session's plans for the C path of Session.run, by identity of the fetch and of the feed keys.",
        sizeof(RunCacheObject));

  FastRunType.tp_new = fast_run_new;
  FastRunType.tp_dealloc = fast_run_dealloc;
  FastRunType.tp_traverse = fast_run_traverse;
  FastRunType.tp_clear = fast_run_clear;
  FastRunType.tp_descr_get = fast_run_get;
  FastRunType.tp_getset = fast_run_getset;
  FastRunType.tp_call = PyVectorcall_Call;
  FastRunType.tp_vectorcall_offset = offsetof(FastRunObject, vectorcall);
  FastRunType.tp_flags = Py_TPFLAGS_METHOD_DESCRIPTOR | Py_TPFLAGS_HAVE_VECTORCALL;
  ready(FastRunType, "pygraph._runtime.fast_run",
        "fast_run(function): Session.run with a C path for calls its session's RunCache answers.",
        sizeof(FastRunObject));

  FastCallableType.tp_new = fast_callable_new;
  FastCallableType.tp_dealloc = fast_callable_dealloc;
  FastCallableType.tp_traverse = fast_callable_traverse;
  FastCallableType.tp_clear = fast_callable_clear;
  FastCallableType.tp_call = PyVectorcall_Call;
  FastCallableType.tp_vectorcall_offset = offsetof(FastCallableObject, vectorcall);
  FastCallableType.tp_flags = Py_TPFLAGS_HAVE_VECTORCALL;
  ready(FastCallableType, "pygraph._runtime.FastCallable",
        "FastCallable(plan, cache, slow, fetches): make_callable's result; calls the C path when it can, else "
        "slow (returned as it is when the C path cannot rebuild `fetches`).",
        sizeof(FastCallableObject));

  for (auto [name, type] : {std::pair{"FastPlan", &FastPlanType}, std::pair{"RunCache", &RunCacheType},
                            std::pair{"fast_run", &FastRunType}, std::pair{"FastCallable", &FastCallableType}})
    m.attr(name) = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(type));
  m.def("set_fast_path", [](bool enabled) { return std::exchange(g_enabled, enabled); }, py::arg("enabled"),
        "Turn the C path of Session.run and make_callable on or off (tests, benchmarks); returns the old setting.");
}

}  // namespace pygraph
