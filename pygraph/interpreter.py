"""The interpreter tier: runs a program's nodes (the codegen Request a plan would compile) with the op
registry's numpy references, on the session's own buffers, so a new program's first calls need no compiler.

It is called like a compiled module (`interp(args) -> outputs`, pygraph._runtime.KernelError for a failing
node) and does what the compiled code does to session state: assign ops write the variable buffers in place
(holding the use_locking mutexes compiled calls hold), random ops draw with the compiled kernels' own code
(prebuilt in pygraph._runtime: the same numbers, the same per-session counter), and a tf.cond runs only its
taken branch. Floats agree with the compiled code to float32 rounding (numpy sums and math functions round
differently from fused C++ loops); random streams are exact.

A node numpy refuses (a shape the compiled code would reject with its own error, an index out of range)
undoes this call's writes and raises Fallback: the plan runs that call on compiled code, which reports the
compiled error or gives the result.
"""

from __future__ import annotations

import ctypes
import inspect
import os
from pathlib import Path

import numpy as np

from . import _runtime, errors
from .dtypes import DType
from .ops import registry

_RANDOM_KINDS = {"RandomUniform": 0, "RandomStandardNormal": 1, "TruncatedNormal": 2, "RandomUniformInt": 3}
_WRITES = {"Assign", "AssignAdd", "AssignSub"}
_STRUCTURAL = {"Arg", "Const", "NoOp", "Switch", "Merge", "RandomShuffle", *_RANDOM_KINDS}
# integer forms the compiled code refuses (codegen.emit.INT_ERROR_OPS): a zero divisor, a negative power
_INT_CHECKS = {"FloorDiv": lambda d: d == 0, "FloorMod": lambda d: d == 0, "TruncateDiv": lambda d: d == 0,
               "TruncateMod": lambda d: d == 0, "Pow": lambda d: d < 0}


class Fallback(Exception):
    """This call needs the compiled code (its writes were undone)."""


def interpretable(nodes):
    """Whether every node has a numpy reference (custom ops, collectives and the like do not), and no
    tf.cond needs the compiled code's check that its branches' sizes agree (codegen/structured/cond.py)."""
    for node in nodes:
        if getattr(node, "loop", ()):  # a while loop's body (compiled code only)
            return False
        if node.op in _STRUCTURAL:
            continue
        row = registry.REGISTRY.get(node.op)
        if row is None or row.numpy is None or row.user_defined:
            return False
    return not any(node.op == "Merge" and _sizes_checked(nodes, node) for node in nodes)


def _sizes_checked(nodes, merge):
    """A Merge whose predicate is computed and whose branches may differ in size: the compiled code refuses
    different sizes it learns only after sizing the result, which the interpreter (running one branch)
    cannot see."""
    if len(merge.inputs) != 3:  # not a tf.cond's (false, true, predicate)
        return True
    false_ref, true_ref, pred = merge.inputs
    source = nodes[pred.node]
    if source.op == "Const" or (source.op == "Arg" and source.attrs["kind"] in ("feed", "const")):
        return False
    fd, td = nodes[false_ref.node].shapes[false_ref.index], nodes[true_ref.node].shapes[true_ref.index]
    return fd is None or td is None or fd != td or None in fd  # None: a rank known only at run time


def _find_blas_threads_local():
    """numpy's OpenBLAS `openblas_set_num_threads_local` (sets the calling thread's BLAS thread count and
    returns the previous one), or None where numpy's BLAS is another one or cannot be found."""
    libs = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("libscipy_openblas*.so"))
    for lib in libs:
        try:
            fn = ctypes.CDLL(str(lib), mode=os.RTLD_NOLOAD | os.RTLD_LAZY).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
        return fn
    return None


# The interpreter serves while the compiler runs beside it: numpy's BLAS threads would fight g++ for the
# cores, and OpenBLAS's spinning threads lose badly (a 50x784 by 784x300 matmul took 37 ms instead of 0.3
# ms on 2 busy cores). Its calls use one BLAS thread, set for the calling thread only.
_blas_threads_local = _find_blas_threads_local() if hasattr(os, "RTLD_NOLOAD") else None


class _NodeOp:
    """The graph op as its numpy reference sees it, with the attributes the plan changed for the compiled
    code (e.g. MatMul's transpose_a when it reads a constant's transposed copy)."""

    def __init__(self, op, node_attrs):
        self._op = op
        self.attrs = dict(op.attrs)
        for k, v in node_attrs.items():
            if k in self.attrs and not isinstance(self.attrs[k], DType) and self.attrs[k] != v:
                self.attrs[k] = v

    def __getattr__(self, name):
        return getattr(self._op, name)


def _call_style(fn):
    try:
        return "op" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a numpy ufunc or builtin: no op argument
        return False


class _Step:
    __slots__ = ("id", "kind", "fn", "op", "inputs", "guard", "dtypes", "reads_var", "writes", "refuses")

    def __init__(self, node, op):
        self.id = node.id
        self.inputs = tuple((r.node, r.index) for r in node.inputs)  # env keys: (node id, output index)
        self.guard = tuple(((r.node, r.index), bool(v)) for r, v in node.guard)
        self.dtypes = [np.dtype(d) if d != "bool" else np.dtype(np.bool_) for d in node.dtypes]
        self.reads_var = False
        self.writes = node.op in _WRITES
        self.kind = node.op
        self.fn = self.op = None
        self.refuses = _INT_CHECKS.get(node.op) if node.dtypes[:1] in (("int32",), ("int64",)) else None
        if node.op not in _STRUCTURAL:
            row = registry.lookup(node.op)
            self.op = _NodeOp(op, node.attrs) if op is not None else None
            fn = row.numpy
            self.fn = (lambda *xs, _f=fn, _op=self.op: _f(*xs, op=_op)) if _call_style(fn) else fn
            self.kind = "numpy"


class Interpreter:
    """A program's nodes run one by one with numpy; callable like pygraph._runtime.Kernel."""

    def __init__(self, request, node_ops):
        nodes = request.nodes
        self.outputs = [(r.node, r.index) for r in request.outputs]
        self.num_outputs = len(self.outputs)
        self._locks = []
        writes_any = any(n.op in _WRITES for n in nodes)
        self._args = {}  # Arg node id -> (arg index, kind, static shape)
        self._steps = []
        for node in nodes:
            if node.op == "Arg":
                self._args[node.id] = (node.attrs["index"], node.attrs["kind"], node.shapes[0])
                continue
            step = _Step(node, node_ops[node.id] if node.id < len(node_ops) else None)
            if node.op == "Const":
                step.fn = node.attrs["value"]
            # a read of a variable that this program also writes must not change under the reader
            step.reads_var = writes_any and not step.writes and any(
                nodes[r.node].op == "Arg" and nodes[r.node].attrs["kind"] == "var" for r in node.inputs)
            self._steps.append(step)

    def set_locks(self, locks):
        """use_locking: the VariableLocks a call holds while it runs (as Kernel.set_locks)."""
        self._locks = list(locks)

    def __call__(self, args):
        env = {}
        for nid, (index, kind, shape) in self._args.items():
            value = args[index]
            if kind == "feed" and shape is not None and (value.ndim != len(shape) or any(
                    d is not None and d != s for d, s in zip(shape, value.shape))):
                raise _runtime.KernelError(errors.INVALID_ARGUMENT, nid, "feed shape")  # Plan names both shapes
            env[(nid, 0)] = value
        undo = []
        if self._locks:
            _runtime.lock_variables(self._locks)
        threads = _blas_threads_local(1) if _blas_threads_local is not None else None
        # compiled code's (and TF's) mode: subnormals flushed to zero in numpy's loops and BLAS on this thread
        fp_mode = _runtime.flush_denormals()
        try:
            with np.errstate(all="ignore"):
                for step in self._steps:
                    self._run(step, env, undo)
        except (_runtime.KernelError, Fallback):
            self._undo(undo)
            raise
        except Exception as e:  # numpy refused: the compiled code reports (or computes) this call
            self._undo(undo)
            raise Fallback(f"node {step.id}: {e}") from e
        finally:
            _runtime.restore_fp_mode(fp_mode)
            if threads is not None:
                _blas_threads_local(threads)
            if self._locks:
                _runtime.unlock_variables(self._locks)
        return self._results(env, args)

    def _run(self, step, env, undo):
        for ref, want in step.guard:
            pred = env.get(ref)
            if pred is None or bool(pred) != want:
                return  # a tf.cond branch not taken (or inside one not taken)
        kind = step.kind
        if kind == "numpy":
            values = [env[r] for r in step.inputs]
            if step.refuses is not None and np.any(step.refuses(values[1])):
                raise Fallback(f"node {step.id}: the compiled code reports this")
            if step.writes:
                result = step.fn(*values)
                var = values[0]
                undo.append((var, var.copy()))
                var[...] = result
                env[(step.id, 0)] = var
                return
            result = step.fn(*values)
            if len(step.dtypes) == 1:
                result = (result,)
            for k, (r, dt) in enumerate(zip(result, step.dtypes)):
                r = np.asarray(r, dtype=dt)
                if step.reads_var and any(np.may_share_memory(r, v) for v in values):
                    r = r.copy()
                env[(step.id, k)] = r
        elif kind == "Const":
            env[(step.id, 0)] = np.array(step.fn, dtype=step.dtypes[0])  # the caller may keep it: a new one
        elif kind == "Switch":
            env[(step.id, 0)] = env[(step.id, 1)] = env[step.inputs[0]]
        elif kind == "Merge":
            false_ref, true_ref, pred = step.inputs
            taken = bool(env[pred])
            env[(step.id, 0)] = env[true_ref if taken else false_ref]
            env[(step.id, 1)] = np.asarray(int(taken), dtype=step.dtypes[1])
        elif kind in _RANDOM_KINDS:
            self._random(step, env, undo)
        elif kind == "RandomShuffle":
            src, state = env[step.inputs[0]], env[step.inputs[-1]]
            undo.append((state, state.copy()))
            out = np.empty(src.shape, src.dtype)
            _runtime.random_shuffle(out, np.ascontiguousarray(src), state)
            env[(step.id, 0)] = out
        # NoOp: nothing to compute (its control inputs ran before it, in node order)

    def _random(self, step, env, undo):
        shape = [int(d) for d in np.asarray(env[step.inputs[0]]).reshape(-1)]
        state = env[step.inputs[-1]]
        out = np.empty(shape, step.dtypes[0])
        lo = span = 0
        if step.kind == "RandomUniformInt":
            lo, hi = int(env[step.inputs[1]].reshape(-1)[0]), int(env[step.inputs[2]].reshape(-1)[0])
            if not lo < hi:
                raise _runtime.KernelError(errors.INVALID_ARGUMENT, step.id, f"Need minval < maxval: {lo} >= {hi}")
            span = (hi - lo) % 2**64
        undo.append((state, state.copy()))
        _runtime.random_draw(_RANDOM_KINDS[step.kind], out, state, lo, span)
        env[(step.id, 0)] = out

    @staticmethod
    def _undo(undo):
        for buf, saved in reversed(undo):
            buf[...] = saved

    def _results(self, env, args):
        outs = []
        for o, ref in enumerate(self.outputs):
            if ref not in env:
                raise _runtime.KernelError(errors.INVALID_ARGUMENT, ref[0], f"Retval[{o}] does not have value")
            v = env[ref]
            # the caller owns every result: never a session buffer, a feed or a constant itself
            if not v.flags.owndata or any(v is a for a in args):
                v = v.copy()
            outs.append(v)
        return outs
