"""Fused inline ops: an elementwise op declared in Python with a C++ expression per dtype, compiled into
the surrounding generated loop like a built-in (no kernel of its own, no extra pass over memory).

The expression is the declaring program's own C++: pygraph pastes it into generated code by design, as a
lambda of the inputs (no captures: it sees only its arguments and the prelude's pg_* helpers). A graph
holds only the op's type name, so model files still carry no code: a graph that uses an inline op runs
only in a process whose Python declared it (importing it elsewhere says the op type is not registered).
"""

from __future__ import annotations

import re

from .. import dtypes, errors
from ..ops import attr_schema, registry
from ..ops.core import convert_to_tensor, make_op, op_scope
from ..ops.math import broadcast_shape

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OP_NAME = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
_CXX_TYPES = {dtypes.float32: "float", dtypes.float64: "double", dtypes.int32: "int32_t", dtypes.int64: "int64_t",
              dtypes.bool_: "bool"}


def inline_op(name, inputs, cxx, gradient=None, numpy=None):
    """Declare elementwise op `name` over `inputs` (argument names, used by the expressions) with
    `cxx` = {dtype: C++ expression}; the output has the inputs' dtype and their broadcast shape.
    `gradient(op, grad)` (pygraph ops) makes it differentiable; `numpy` is an optional reference.
    Returns the op's Python function f(*inputs, name=None)."""
    if not isinstance(name, str) or not _OP_NAME.match(name):
        raise ValueError(f"inline op name {name!r} must be CamelCase letters and digits")
    if name in registry.REGISTRY and registry.REGISTRY[name].attrs is not None:
        raise errors.AlreadyExistsError(None, None, f"op type {name!r} is already registered")
    inputs = list(inputs)
    if not inputs or not all(isinstance(a, str) and _IDENT.match(a) for a in inputs) or len(set(inputs)) != len(inputs):
        raise ValueError(f"{name}: inputs must be distinct C++ identifiers, got {inputs!r}")
    exprs = {}
    for dt, expr in dict(cxx).items():
        dt = dtypes.as_dtype(dt)
        if dt not in _CXX_TYPES or not isinstance(expr, str) or not expr.strip():
            raise ValueError(f"{name}: need a non-empty C++ expression for each of "
                             f"{', '.join(d.name for d in _CXX_TYPES)}; got {dt.name}: {expr!r}")
        exprs[dt] = expr

    def check(attrs, ins, outs):
        if len(ins) != len(inputs):
            raise attr_schema.AttrError(f"{name} takes {len(inputs)} input(s), got {len(ins)}")
        for t in ins:
            if t.dtype is not ins[0].dtype or t.dtype not in exprs:
                raise attr_schema.AttrError(f"{name} has expressions for {', '.join(d.name for d in exprs)}; "
                                            f"input {t.name} has dtype {t.dtype.name}")
        if outs[0][0] is not ins[0].dtype:
            raise attr_schema.AttrError(f"{name}'s output has its inputs' dtype")

    numpy_fn = (lambda op, *xs: numpy(*xs)) if numpy is not None else None
    row = registry.REGISTRY.get(name)
    if row is None:
        row = registry.register(name, registry.ELEMENTWISE, numpy=numpy_fn, attrs={}, check=check)
    else:  # a gradient registered first
        row.kind, row.numpy, row.attrs, row.check = registry.ELEMENTWISE, numpy_fn, {}, check
    row.user_defined = True
    if gradient is not None:
        registry.RegisterGradient(name)(gradient)
    from ..codegen import emit

    emit.register_inline(name, inputs, {dt.name: (_CXX_TYPES[dt], e) for dt, e in exprs.items()})

    def op_function(*args, name_=None, **kwargs):
        op_name = kwargs.pop("name", name_)
        if kwargs or len(args) != len(inputs):
            raise TypeError(f"{name}() takes {len(inputs)} input(s) ({', '.join(inputs)}) and name=")
        with op_scope(op_name, name, [a for a in args if hasattr(a, "graph")]) as scope:
            ts = [convert_to_tensor(a, name=n) for a, n in zip(args, inputs)]
            shape = broadcast_shape(name, scope, [t.shape for t in ts])
            return make_op(name, ts, [(ts[0].dtype, shape)], scope).outputs[0]

    op_function.__name__ = name
    return op_function

