// The C fast path of Session.run and make_callable (this file: finding the plan; fast_plan.cc: calling it).
// A call whose plan Python has armed runs here from start
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

#include "fast_plan.h"

namespace pygraph {
namespace py = pybind11;
using namespace fast;
namespace {

PyObject* g_str_feed_dict = nullptr;
PyObject* g_str_options = nullptr;
PyObject* g_str_run_metadata = nullptr;
PyObject* g_str_fast_cache = nullptr;

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
  // One element, or a list/tuple of elements: a dict, namedtuple or other structure fetched alone is not
  // an element (the Python path rebuilds its structure).
  bool flat() const {
    for (Py_ssize_t i = 0; i < n; ++i)
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
  Fetch fetch(fetch_obj);
  if (c->closed || !c->map || !fetch.flat() || static_cast<size_t>(fetch.n) != plan_outputs(plan))
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
  if (enabled) {
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
  Fetch fetch(fetches);
  if (!fetch.flat() || static_cast<size_t>(fetch.n) != plan_outputs(plan))
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

PyObject* intern(const char* s) {
  PyObject* o = PyUnicode_InternFromString(s);
  if (!o) throw py::error_already_set();
  return o;
}

}  // namespace

void add_fast_path(py::module_& m) {
  ready_fast_plan_type(py::object(m.attr("KernelError")).release().ptr());
  g_str_feed_dict = intern("feed_dict");
  g_str_options = intern("options");
  g_str_run_metadata = intern("run_metadata");
  g_str_fast_cache = intern("_fast_cache");

  RunCacheType.tp_new = run_cache_new;
  RunCacheType.tp_dealloc = run_cache_dealloc;
  RunCacheType.tp_traverse = run_cache_traverse;
  RunCacheType.tp_clear = run_cache_clear;
  RunCacheType.tp_methods = run_cache_methods;
  RunCacheType.tp_as_sequence = &run_cache_sequence;
  ready_type(RunCacheType, "pygraph._runtime.RunCache",
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
  ready_type(FastRunType, "pygraph._runtime.fast_run",
        "fast_run(function): Session.run with a C path for calls its session's RunCache answers.",
        sizeof(FastRunObject));

  FastCallableType.tp_new = fast_callable_new;
  FastCallableType.tp_dealloc = fast_callable_dealloc;
  FastCallableType.tp_traverse = fast_callable_traverse;
  FastCallableType.tp_clear = fast_callable_clear;
  FastCallableType.tp_call = PyVectorcall_Call;
  FastCallableType.tp_vectorcall_offset = offsetof(FastCallableObject, vectorcall);
  FastCallableType.tp_flags = Py_TPFLAGS_HAVE_VECTORCALL;
  ready_type(FastCallableType, "pygraph._runtime.FastCallable",
        "FastCallable(plan, cache, slow, fetches): make_callable's result; calls the C path when it can, else "
        "slow (returned as it is when the C path cannot rebuild `fetches`).",
        sizeof(FastCallableObject));

  for (auto [name, type] : {std::pair{"FastPlan", &FastPlanType}, std::pair{"RunCache", &RunCacheType},
                            std::pair{"fast_run", &FastRunType}, std::pair{"FastCallable", &FastCallableType}})
    m.attr(name) = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(type));
  m.def("set_fast_path", [](bool on) { return std::exchange(enabled, on); }, py::arg("enabled"),
        "Turn the C path of Session.run and make_callable on or off (tests, benchmarks); returns the old setting.");
}

}  // namespace pygraph
