"""From a session and feed/fetch names to the program an artifact ships: the same Request that Session.run
compiles (built by plan.build_plan), its rendered source, and the tensors the host passes beside the feeds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .. import errors
from ..graph import Operation, Tensor
from ..ops import registry
from ..plan import build_plan, prune
from ..shape import TensorShape


class AotError(Exception):
    """Bad input to the compile command: one line for the user, exit status 2."""


_SPEC = re.compile(r"^(?P<name>[^:\[\]]+(?::\d+)?)(?::(?P<dtype>[a-z0-9]+)(?:\[(?P<shape>[^\]]*)\])?)?$")
_COMPILED_DTYPES = ("float32", "float64", "int32", "int64", "bool")


@dataclass
class FeedSpec:
    name: str
    dtype: str | None = None
    shape: tuple | None = None  # ints and None


def parse_feed(text):
    """`X:float32[?,8]`, `X:float32`, `X` or `X:0:float32[?,8]`."""
    m = _SPEC.match(text.strip())
    if not m:
        raise AotError(f"cannot read feed {text!r}: expected NAME, NAME:DTYPE or NAME:DTYPE[d0,d1,...] "
                       "with ? for a dimension known at run time")
    dtype, shape = m.group("dtype"), m.group("shape")
    if dtype is not None and dtype not in _COMPILED_DTYPES:
        raise AotError(f"feed {text!r}: dtype {dtype!r} is not one of {', '.join(_COMPILED_DTYPES)}")
    dims = None
    if shape is not None:
        dims = []
        for d in (s.strip() for s in shape.split(",")) if shape.strip() else ():
            if d in ("?", "-1", "None"):
                dims.append(None)
            elif d.isdigit():
                dims.append(int(d))
            else:
                raise AotError(f"feed {text!r}: dimension {d!r} is neither a size nor ?")
        dims = tuple(dims)
    return FeedSpec(m.group("name"), dtype, dims)


# C and C++ keywords, and the names the generated functions use beside their parameters
_RESERVED = set("""alignas alignof and asm auto bool break case catch char class const constexpr continue default
delete do double else enum explicit extern false float for friend goto if inline int long mutable namespace new
noexcept not nullptr operator or private protected public register restrict return short signed sizeof static
struct switch template this throw true try typedef typeid typename union unsigned using virtual void volatile
while xor m batch feeds results options status NULL errno assert""".split())


def c_identifier(text, taken):
    """A C identifier made of [A-Za-z0-9_] from a graph name, unique among `taken` (which it joins); never a
    keyword, never starting with a digit or an underscore (reserved to the implementation)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", text.split(":")[0]).strip("_") or "t"
    if base[0].isdigit() or base in _RESERVED:
        base = "t_" + base
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


@dataclass
class Tensorinfo:
    """An argument, result or variable of the artifact's C API."""

    name: str  # the graph's name
    ident: str  # its C identifier
    dtype: str
    shape: tuple  # -1 for a dimension given at run time


@dataclass
class Exported:
    source: str  # the generated kernels, as Session.run compiles them
    libs: tuple
    nargs: int
    feeds: list  # of Tensorinfo, arg index = position
    results: list  # of Tensorinfo, in fetch order
    result_outputs: list  # kernel output index of each result
    num_outputs: int
    state: list  # (arg index, kind, Tensorinfo, ndarray copy): consts and variables, after the feeds
    node_names: list  # the program's node table, for error messages
    trains: bool  # the program writes variables
    plan: object = field(repr=False, default=None)


def _resolve(graph, name, allow_op):
    """A tensor `op:k`, or by op name alone: its only output, or the op itself (a fetch of a training op)."""
    what = "fetch" if allow_op else "feed"
    try:
        if ":" in name:
            return graph.get_tensor_by_name(name)
        op = graph.get_operation_by_name(name)
    except (KeyError, ValueError, TypeError):
        raise AotError(f"unknown {what} {name!r}: the graph has no such {'tensor' if ':' in name else 'op'}") from None
    if len(op.outputs) == 1:
        return op.outputs[0]
    if not op.outputs and allow_op:
        return op
    raise AotError(f"{what} {name!r} names an op with {len(op.outputs)} outputs: give one as {name}:INDEX")


# pygraph.distribute's collectives: an artifact has no engine (it would silently train as one process)
_COLLECTIVES = ("PgAllreduce", "PgBroadcast", "PgAllgather")


def _unsupported(ops):
    bad = {}
    for op in ops:
        row = registry.REGISTRY.get(op.type)
        if row is None or row.kind == registry.HOST or op.type in _COLLECTIVES:
            bad.setdefault(op.type, []).append(op)
    if not bad:
        return
    parts = []
    for t, users in sorted(bad.items()):
        where = ", ".join(f"'{o.name}'" + (f" ({o.creation_site})" if o.creation_site else "") for o in users[:3])
        parts.append(f"{t} used by {where}" + (f" and {len(users) - 3} more" if len(users) > 3 else ""))
    hint = ("; artifacts run without pygraph.distribute's collective engine: export a graph built without "
            "DistributedOptimizer or hvd collectives" if any(t in _COLLECTIVES for t in bad) else "")
    raise AotError(f"unsupported op type{'s' if len(bad) > 1 else ''} for ahead-of-time compilation: "
                   + "; ".join(parts) + hint)


def export(sess, feeds, fetches, own_graph=False):
    """feeds: FeedSpec, Tensor or name; fetches: Tensor, Operation or name. own_graph: the graph was loaded for
    this export, so a feed spec may narrow a placeholder's shape."""
    graph = sess.graph
    feed_tensors = []
    for f in feeds:
        spec = f if isinstance(f, FeedSpec) else FeedSpec(f.name if isinstance(f, Tensor) else str(f))
        t = f if isinstance(f, Tensor) else _resolve(graph, spec.name, False)
        if not isinstance(t, Tensor):
            raise AotError(f"feed {spec.name!r} is an operation, not a tensor")
        _apply_spec(t, spec, own_graph)
        if t.dtype.name not in _COMPILED_DTYPES:
            raise AotError(f"feed {t.name} has dtype {t.dtype.name}, which compiled code cannot take")
        if t.shape.as_tuple() is None:
            raise AotError(f"feed {t.name} has unknown rank: give its shape, e.g. {t.op.name}:{t.dtype.name}[?,8]")
        feed_tensors.append(t)
    if len(set(feed_tensors)) != len(feed_tensors):
        raise AotError("a tensor is fed twice")
    elements = []
    for f in fetches:
        e = f if isinstance(f, (Tensor, Operation)) else _resolve(graph, str(f), True)
        if e in elements:
            raise AotError(f"{e.name} is fetched twice")
        elements.append(e)
    if not elements:
        raise AotError("nothing to fetch: give at least one --fetch")
    fed = set(feed_tensors)
    needed = prune([e for e in elements if isinstance(e, Tensor)], [e for e in elements if isinstance(e, Operation)],
                   fed)
    _unsupported(needed)
    for op in needed:
        if op.type == "Placeholder" and op.outputs[0] not in fed:
            raise AotError(f"placeholder '{op.name}' is needed by the fetches: add --feed {op.name}")
        if op.type == "VariableV2" and op not in sess._initialized:
            raise AotError(f"variable '{op.name}' has no value: restore a checkpoint or run its initializer first")
    try:
        plan = build_plan(sess, elements, feed_tensors, None, tiered=False)  # AOT ships -O3 code
    except errors.OpError as e:
        raise AotError(str(e).splitlines()[0]) from None
    from ..codegen.lower import compile_request

    if any(isinstance(e, Tensor) for e in plan.element_outputs):
        raise AotError("a fetch is computed on the host (strings or summaries); the artifact cannot produce it")
    program = compile_request(plan.request)  # renders the source (a cache hit for the compiled module)
    return _describe(plan, program, feed_tensors, elements)


def _apply_spec(t, spec, own_graph):
    if spec.dtype is not None and spec.dtype != t.dtype.name:
        raise AotError(f"feed {t.name} has dtype {t.dtype.name} in the graph, not {spec.dtype}")
    if spec.shape is None:
        return
    given = TensorShape(list(spec.shape))
    if not t.shape.is_compatible_with(given):
        raise AotError(f"feed {t.name} has shape {t.shape} in the graph, which {list(spec.shape)} contradicts")
    merged = t.shape.merge_with(given)
    if merged.as_tuple() != t.shape.as_tuple():
        if not own_graph:
            raise AotError(f"feed {t.name}: give the placeholder shape {list(spec.shape)} in the graph itself")
        t.set_shape(merged)


def _describe(plan, program, feed_tensors, elements):
    req = plan.request
    taken = set()
    feeds = [Tensorinfo(t.name, c_identifier(t.op.name, taken), t.dtype.name, _c_shape(t.shape.as_tuple()))
             for t in feed_tensors]
    results, result_outputs = [], []
    for e, idx in zip(elements, plan.element_outputs):
        if idx < 0:
            continue
        results.append(Tensorinfo(e.name, c_identifier(e.op.name, taken), e.dtype.name,
                                  _c_shape(e.shape.as_tuple())))
        result_outputs.append(idx)
    state, var_taken = [], set()
    nfeeds = len(feed_tensors)
    for arg, value in zip(req.args[nfeeds:], plan.static_args):
        node = req.nodes[arg.node]
        op = plan.node_ops[arg.node]
        is_variable = arg.kind == "var" and op is not None and op.type == "VariableV2"
        kind = "variable" if is_variable else ("state" if arg.kind == "var" else "const")
        name = op.name if op is not None else node.name
        info = Tensorinfo(name, c_identifier(name, var_taken), node.dtypes[0], tuple(value.shape))
        state.append((arg.index, kind, info, np.array(value, copy=True, order="C")))
    trains = any(n.op in ("Assign", "AssignAdd", "AssignSub") for n in req.nodes)
    return Exported(program.source, program.libs, len(req.args), feeds, results, result_outputs,
                    len(req.outputs), state, [n.name for n in req.nodes], trains, plan)


def _c_shape(shape):
    return tuple(-1 if d is None else int(d) for d in shape)
