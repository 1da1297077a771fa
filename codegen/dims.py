"""Symbolic shapes: each dimension is an int (known when the graph was built) or the name of a C++
variable read from the arguments at run time. Broadcasting emits the run-time checks TF would make.

Sizes never overflow: dims computed at run time use the checked pg_dmul/pg_dadd (templates/prelude.h.j2),
and every tensor's dims pass pg_check_shape before any buffer is allocated or loop runs. A tensor holds at
most MAX_ELEMENTS elements (zero dims counted as 1), so any product of its dims times an item size (8 bytes
at most, 16 for accumulators) and any offset into it fits in int64: the rest of the generated code
multiplies dims freely."""

from __future__ import annotations

from . import cxx

MAX_RANK = 8  # PG_MAX_RANK in runtime/include/pygraph/abi.h
MAX_ELEMENTS = 1 << 59  # PG_MAX_ELEMENTS in templates/prelude.h.j2
INT64_MAX = (1 << 63) - 1


def _term(x):
    """A dim as C++: a range-checked literal for an int, else a symbol this table defined."""
    return cxx.int_lit(x) if isinstance(x, int) else x


class DimTable:
    def __init__(self):
        self.code = []  # C++ statements, in order
        self._count = 0
        self._checked = set()  # dims already passed to check_shape

    def define(self, expr):
        """A new symbol holding the C++ expression `expr`; returns its name."""
        name = f"d{self._count}"
        self._count += 1
        self.code.append(f"const int64_t {name} = {expr};")
        return name

    def check(self, cond, node_id, failure):
        """Emit `if (!(cond)) <failure>` where failure is a C++ statement that returns."""
        self.code.append(f"if (!({cond})) {{ {failure} }}")

    def mul(self, a, b):
        """A dim equal to a * b: an int when both are, else a checked run-time product (-1 on overflow)."""
        if isinstance(a, int) and isinstance(b, int):
            return a * b
        if a == 1 or b == 1:
            return b if a == 1 else a
        return self.define(f"pg_dmul({_term(a)}, {_term(b)})")

    def add(self, terms):
        """A dim equal to the sum of `terms` (ints or symbols), checked like mul."""
        if all(isinstance(t, int) for t in terms):
            return sum(terms)
        static = sum(t for t in terms if isinstance(t, int))
        expr = str(static) if static <= INT64_MAX else "-1"
        for t in terms:
            if not isinstance(t, int):
                expr = f"pg_dadd({expr}, {t})"  # t: a symbol this table defined
        return self.define(expr)

    def check_shape(self, node, dims, dtype, fail_now):
        """Make sure a tensor of `dims` is representable before the program allocates or indexes it:
        run-time dims get a pg_check_shape call (once per distinct dims); static dims are judged here, and
        a static failure becomes an unconditional C++ failure (TF reports it when the op runs).
        `fail_now(code, message)` is the C++ statement reporting an error for `node`."""
        key = tuple(dims)
        if key in self._checked or not dims:
            return
        self._checked.add(key)
        if all(isinstance(d, int) for d in dims):
            problem = static_size_problem(dims, dtype)
            if problem and problem[0] == "PG_INVALID_ARGUMENT":  # not even a valid C++ literal
                raise ValueError(f"{problem[1]} (node '{node.name}', op {node.op}, defined at {node.site})")
            if problem:
                self.code.append(fail_now(*problem))
            return
        self.code.append(f"{{ const int64_t s[] = {cxx_dims(dims)}; const int32_t st = pg_check_shape(ctx, "
                         f"{node.id}, {len(dims)}, s, \"{dtype}\"); if (st != PG_OK) return st; }}")


def static_size_problem(dims, dtype="float32"):
    """(status code, message) when a tensor of these static dims is beyond MAX_ELEMENTS or overflows int64,
    else None; the messages are pg_check_shape's."""
    n = 1
    for d in dims:
        n *= max(d, 1)
    shape = "[" + ",".join(str(d) for d in dims) + "]"
    if n > INT64_MAX or any(d > INT64_MAX for d in dims):
        return ("PG_INVALID_ARGUMENT", f"Encountered overflow when computing the shape of a {dtype} tensor: "
                f"{shape} (a dimension, or the product of the dimensions, exceeds 2^63-1)")
    if n > MAX_ELEMENTS:
        return ("PG_RESOURCE_EXHAUSTED", f"OOM when allocating tensor with shape{shape} and type {dtype}: {n} "
                "elements is more than pygraph's limit of 2^59 per tensor")
    return None


def cxx_dims(dims):
    """A C++ initializer for an int64 array of the dims (a dummy element for rank 0)."""
    return "{" + ", ".join(str(d) for d in dims) + "}" if dims else "{0}"


def numel_expr(dims):
    return " * ".join(f"(int64_t){d}" if isinstance(d, int) else d for d in dims) if dims else "1"


def is_scalar(dims):
    return all(d == 1 for d in dims)


def broadcast(table, node, input_dims, fail_shapes):
    """Output dims of broadcasting `input_dims`; adds run-time checks for symbols that must match.
    `fail_shapes` is the C++ statement to run when they do not."""
    rank = max((len(d) for d in input_dims), default=0)
    aligned = [(1,) * (rank - len(d)) + tuple(d) for d in input_dims]
    out = []
    for k in range(rank):
        column = [d[k] for d in aligned]
        ints = {d for d in column if isinstance(d, int) and d != 1}
        syms = list(dict.fromkeys(d for d in column if isinstance(d, str)))
        if len(ints) > 1:
            raise ValueError(f"internal: static shapes of {node.name} do not broadcast: {input_dims}")
        if ints:
            size = ints.pop()
            for s in syms:
                table.check(f"{s} == {size} || {s} == 1", node.id, fail_shapes)
            out.append(size)
        elif len(syms) == 1:
            out.append(syms[0])
        elif syms:
            expr = syms[0]
            for other in syms[1:]:  # the first size that is not 1 (not the max: 0 broadcasts with 1 to 0)
                expr = f"({expr} == 1 ? {other} : {expr})"
            size = table.define(expr)
            for s in syms:
                table.check(f"{s} == {size} || {s} == 1", node.id, fail_shapes)
            out.append(size)
        else:
            out.append(1)
    return tuple(out)
