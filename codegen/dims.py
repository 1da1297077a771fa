"""Symbolic shapes: each dimension is an int (known when the graph was built) or the name of a C++
variable read from the arguments at run time. Broadcasting emits the run-time checks TF would make."""

from __future__ import annotations


class DimTable:
    def __init__(self):
        self.code = []  # C++ statements, in order
        self._count = 0

    def define(self, expr):
        """A new symbol holding the C++ expression `expr`; returns its name."""
        name = f"d{self._count}"
        self._count += 1
        self.code.append(f"const int64_t {name} = {expr};")
        return name

    def check(self, cond, node_id, failure):
        """Emit `if (!(cond)) <failure>` where failure is a C++ statement that returns."""
        self.code.append(f"if (!({cond})) {{ {failure} }}")


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
            for other in syms[1:]:
                expr = f"pg_imax({expr}, {other})"
            size = table.define(expr)
            for s in syms:
                table.check(f"{s} == {size} || {s} == 1", node.id, fail_shapes)
            out.append(size)
        else:
            out.append(1)
    return tuple(out)
