"""tf.Session: runs fetches through compiled plans, one per (fetches, feeds) it has seen.

A plan is the fetched subgraph, pruned at the feeds and compiled to one module; running it is one
call into pygraph._runtime with the feeds, bound constants and the session's variable buffers.
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np

from . import _runtime, errors
from .feeds import Replan
from .graph import Operation, Tensor, get_default_graph
from .plan import build_plan

_local = threading.local()


def _session_stack():
    stack = getattr(_local, "sessions", None)
    if stack is None:
        stack = _local.sessions = []
    return stack


def get_default_session():
    stack = _session_stack()
    return stack[-1] if stack else None


def _session_for(graph, session, what):
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(f"Cannot evaluate tensor using `{what.split('(')[0].split('.')[-1]}()`: No default "
                             "session is registered. Use `with sess.as_default()` or pass an explicit session "
                             f"to `{what.split('(')[0].split('.')[-1]}(session=sess)`")
    if session.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is different "
                         "from the session's graph.")
    return session


def _fetch_key(fetches):
    """A hashable stand-in for a fetch structure, keeping its types: lists and dicts (TF1's usual
    `sess.run([train_op, loss])`) are not hashable, and without a key every call would plan again."""
    t = type(fetches)
    if t is list or t is tuple or hasattr(fetches, "_fields"):
        return (t, *[_fetch_key(f) for f in fetches])
    if isinstance(fetches, dict):
        return (t, *[(k, _fetch_key(v)) for k, v in fetches.items()])
    return fetches


def _flatten(graph, fetches):
    """(graph elements, rebuild) where rebuild(values) gives results in the fetches' structure."""
    if fetches is None:
        raise TypeError(f"Fetch argument None has invalid type {type(None)}")
    if isinstance(fetches, (list, tuple)):
        parts = [_flatten(graph, f) for f in fetches]
        elements = [e for p in parts for e in p[0]]
        sizes = [len(p[0]) for p in parts]
        maker = (lambda items: type(fetches)(*items)) if hasattr(fetches, "_fields") else type(fetches)

        def rebuild(values):
            out, pos = [], 0
            for (_, sub), n in zip(parts, sizes):
                out.append(sub(values[pos:pos + n]))
                pos += n
            return maker(out)

        return elements, rebuild
    if isinstance(fetches, dict):
        keys = list(fetches)
        elements, rebuild_list = _flatten(graph, [fetches[k] for k in keys])
        return elements, lambda values: type(fetches)(zip(keys, rebuild_list(values)))
    try:
        element = graph.as_graph_element(fetches)
    except (TypeError, ValueError, KeyError) as e:
        if isinstance(e, TypeError):
            raise TypeError(f"Fetch argument {fetches!r} has invalid type {type(fetches)}, must be a string or "
                            "Tensor. (Can not convert a " f"{type(fetches).__name__} into a Tensor or Operation.)"
                            ) from None
        raise ValueError(f"Fetch argument {fetches!r} cannot be interpreted as a Tensor. ({e.args[0]})") from None
    return [element], lambda values: values[0]


class Session:
    """A TF1 session: owns variable values and compiled plans for one graph."""

    def __init__(self, target="", graph=None, config=None):
        self._graph = graph if graph is not None else get_default_graph()
        self._closed = False
        self._variables = {}  # VariableV2 Operation -> ndarray (the buffer kernels update in place)
        self._initialized = set()  # VariableV2 Operations that hold a value
        self._folded = {}  # Tensor -> ndarray, constant subgraphs evaluated once per session
        self._op_states = {}  # Operation -> ndarray, state of stateful kernels (random counters)
        self._plans = {}  # hashable fetch/feed key -> (Plan, rebuild or None)
        # the same plans for the C path of run, by identity of the fetched elements and of the feed keys
        self._fast_cache = _runtime.RunCache()
        self._var_locks = {}  # VariableV2 Operation -> _runtime.VariableLock (use_locking writes)
        # Held while planning (graph walk, folding, compile): threads asking for one new plan build it once,
        # and session dicts change under it. Running a built plan never takes it.
        self._lock = threading.RLock()
        self._context_stack = []

    # -- TF1 surface
    @property
    def graph(self):
        return self._graph

    @property
    def graph_def(self):
        from .graph_def import graph_to_graph_def

        return graph_to_graph_def(self._graph)

    @property
    def sess_str(self):
        return ""

    def close(self):
        self._closed = True
        if "pygraph.codegen.tiers" in sys.modules:  # stop the background compiles only this session wanted
            sys.modules["pygraph.codegen.tiers"].release(self)
        self._plans.clear()
        self._fast_cache.close()
        self._variables.clear()
        self._initialized.clear()
        self._folded.clear()
        self._op_states.clear()

    def as_default(self):
        return _default_session(self)

    def __enter__(self):
        ctx = contextlib.ExitStack()
        ctx.enter_context(self._graph.as_default())
        ctx.enter_context(_default_session(self))
        self._context_stack.append(ctx)
        return self

    def __exit__(self, *exc):
        self._context_stack.pop().close()
        self.close()

    def __del__(self):
        self._closed = True

    # -- running
    @_runtime.fast_run  # a call _fast_cache knows runs in C (runtime/src/fast_run.cc); the rest come here
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Run the part of the graph that `fetches` needs and return their values.

        fetches: a Tensor, an Operation, a name ("add:0" for a tensor, "init" for an operation) or a
            nested list, tuple, namedtuple or dict of them. The result has the same structure: a numpy
            value (np.float32, np.ndarray, bytes for a serialized summary) for each tensor, None for each
            operation.
        feed_dict: {tensor or "name:0": value}; a value is anything np.asarray accepts, checked against
            the tensor's dtype and shape. Any tensor can be fed, not only placeholders; a fed tensor's
            inputs are not computed.
        options, run_metadata: accepted for TF1 compatibility and ignored.

        The first run of a (fetches, feed keys) combination compiles the pruned subgraph to C++ (or loads it
        from the disk cache, see the README's "Differences from TensorFlow 1.x"); later runs only check the
        feeds and call the compiled code. Variable updates (assign ops, optimizer steps) are kept by this
        session.

        Raises TF1's errors: TypeError/ValueError for fetches or feed keys that are not in the graph,
        tf.errors.InvalidArgumentError for an unfed placeholder or a value of the wrong shape,
        tf.errors.FailedPreconditionError for an uninitialized variable; each names the node and where it
        was created.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        fkey = fetches if type(fetches) is Tensor else _fetch_key(fetches)
        key = (fkey, *feed_dict) if feed_dict else (fkey,)
        try:
            plan, rebuild = self._plans[key]
        except (KeyError, TypeError):
            plan = None
        if plan is None:  # planned outside the except: a planning error must not show the cache miss as its cause
            plan, rebuild = self._plan_for(fetches, feed_dict, key)
        if rebuild is None:
            if not feed_dict:
                return plan.run_single()
            try:
                return plan.run_one(list(feed_dict.values()))
            except Replan:
                pass
        else:
            try:
                return rebuild(plan.run(list(feed_dict.values()) if feed_dict else ()))
            except Replan:
                pass
        self._plans.pop(key, None)  # a feed of unknown rank changed rank: plan again for the new ranks
        plan, rebuild = self._plan_for(fetches, feed_dict, None, ranks=True)
        flat = plan.run(list(feed_dict.values()))
        return flat[0] if rebuild is None else rebuild(flat)

    def _plan_for(self, fetches, feed_dict, key, ranks=False):
        elements, rebuild = _flatten(self._graph, fetches)
        feeds = []
        for k in (feed_dict or {}):
            feeds.append(self._feed_tensor(k))
        # placeholders of unknown rank compile for the rank of the value fed now (a new rank replans)
        feed_ranks = [np.ndim(v) if t.shape.ndims is None else None
                      for t, v in zip(feeds, feed_dict.values())] if feed_dict else None
        single = not isinstance(fetches, (list, tuple, dict))
        with self._lock:
            if key is not None:
                try:
                    return self._plans[key]  # another thread built it while this one waited
                except (KeyError, TypeError):
                    pass
            plan = build_plan(self, elements, feeds, feed_ranks)
            entry = (plan, None if single else rebuild)
            if key is not None:
                try:
                    self._plans[key] = entry
                except TypeError:
                    pass  # unhashable fetch structure: the codegen cache still makes the next plan cheap
                if plan.fast is not None:  # single fetches and flat lists or tuples of them
                    self._fast_cache.put(fetches, tuple(feed_dict or ()), plan.fast)
        return entry

    def _feed_tensor(self, key):
        conv = getattr(key, "_as_graph_element", None)
        if conv is not None and not isinstance(key, Tensor):
            key = conv()
        try:
            t = self._graph.as_graph_element(key, allow_operation=False)
        except (KeyError, ValueError, TypeError) as e:
            raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e.args[0]}") from None
        if isinstance(t, Operation):
            raise TypeError(f"Cannot interpret feed_dict key as Tensor: Can not convert an Operation into a "
                            f"Tensor ({t.name}).")
        return t

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        """A function of the feed values that runs `fetches`: the low-overhead path for loops.

        `callable = sess.make_callable(fetches, feed_list)`, then `callable(*values)` returns what
        `sess.run(fetches, dict(zip(feed_list, values)))` would, with the fetch structure, the feed keys and
        the compiled program resolved once, here, instead of on every call. feed_list: tensors or tensor
        names, in the order the callable takes their values. accept_options: accepted for TF1
        compatibility. Calling it after the session is closed raises RuntimeError.
        """
        elements, rebuild = _flatten(self._graph, fetches)
        feeds = [self._feed_tensor(f) for f in (feed_list or [])]
        if any(t.shape.ndims is None for t in feeds):  # the rank is known only from the values fed
            def call_by_run(*values):
                if len(values) != len(feeds):
                    raise TypeError(f"Callable expects {len(feeds)} feed values, got {len(values)}")
                return self.run(fetches, dict(zip(feeds, values)))

            return call_by_run
        with self._lock:
            plan = build_plan(self, elements, feeds, None)
        single = not isinstance(fetches, (list, tuple, dict))

        def call(*values, **kwargs):
            if self._closed:
                raise RuntimeError("Attempted to use a closed Session.")
            if len(values) != len(feeds):
                raise TypeError(f"Callable expects {len(feeds)} feed values, got {len(values)}")
            return plan.run_one(values) if single else rebuild(plan.run(values))

        if not feeds and single:
            run_single = plan.run_single

            def call_single():
                if self._closed:  # its variable buffers are gone
                    raise RuntimeError("Attempted to use a closed Session.")
                return run_single()

            call = call_single
        if plan.fast is not None:  # C first (fast_run.cc); `call` takes what C does not (or all: nested fetches)
            return _runtime.FastCallable(plan.fast, self._fast_cache, call, fetches)
        return call

    def _op_state(self, op, make):
        """The per-session state buffer of a stateful op (e.g. a random op's seeds and counter)."""
        buf = self._op_states.get(op)
        if buf is None:
            buf = self._op_states[op] = make(op)
        return buf

    # -- variables
    def _variable_lock(self, var_op):
        lock = self._var_locks.get(var_op)
        if lock is None:
            with self._lock:
                lock = self._var_locks.setdefault(var_op, _runtime.VariableLock())
        return lock

    def _variable_buffer(self, var_op):
        buf = self._variables.get(var_op)
        if buf is None:
            with self._lock:  # one buffer per variable, also when two threads first touch it together
                buf = self._variables.get(var_op)
                if buf is None:
                    t = var_op.outputs[0]
                    buf = self._variables[var_op] = np.zeros(t.shape.as_tuple(), dtype=t.dtype.np)
        return buf

    def _load_variable(self, var, value):
        buf = self._variable_buffer(var.op)
        arr = np.asarray(value, dtype=buf.dtype)
        if arr.shape != buf.shape:
            errors.raise_for_op(errors.INVALID_ARGUMENT, var.op,
                                f"Cannot load value of shape {arr.shape} into variable {var.op.name} of shape "
                                f"{buf.shape}")
        buf[...] = arr
        self._initialized.add(var.op)



@contextlib.contextmanager
def _default_session(session):
    stack = _session_stack()
    stack.append(session)
    try:
        yield session
    finally:
        stack.remove(session)


class InteractiveSession(Session):
    """A Session that makes itself the default on creation (for shells and notebooks)."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._graph_ctx = self._graph.as_default()
        self._graph_ctx.__enter__()
        _session_stack().append(self)

    def close(self):
        if not self._closed:
            stack = _session_stack()
            if self in stack:
                stack.remove(self)
            try:
                self._graph_ctx.__exit__(None, None, None)
            except (IndexError, ValueError):
                pass
        super().close()


@contextlib.contextmanager
def fast_path_disabled():
    """Every run and callable takes the Python path inside (tests compare both; benchmarks time both)."""
    was = _runtime.set_fast_path(False)
    try:
        yield
    finally:
        _runtime.set_fast_path(was)
