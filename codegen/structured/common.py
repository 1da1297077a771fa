"""Small helpers shared by the structured emitters: buffers, scratch slots, run-time shapes, messages."""

from __future__ import annotations

from ... import config
from .. import emit, render
from ..dims import cxx_dims, numel_expr
from ..ir import Ref

# Library templates (C++ helpers shared by every kernel of a family) go into a module once.
_LIBS_ATTR = "_structured_libs"


def library(lw, name, **context):
    """File-scope code of template `name`, the first time a module asks for it ("" afterwards)."""
    done = lw.__dict__.setdefault(_LIBS_ATTR, set())
    if name in done:
        return ""
    done.add(name)
    context.setdefault("sgemm_force", config.sgemm_path())  # sgemm.h.j2's pinned path (PYGRAPH_SGEMM)
    return render.template(name).render(**context)


def macros(name):
    """The macros of a block template, callable from Python: macros("reduce.cc.j2").call(...)."""
    return render.template(name).module


def node_of(lw, kernel):
    return lw.nodes[kernel.nodes[0]]


class InputValue:
    """Base of the structured ops whose output is their first input's value (tf.while_loop's Enter and Exit,
    PgStackPush): the input's dims, and the input's buffer when it can be shared (lower._alias decides)."""

    def dims(self, lw, node, input_dims):
        return [input_dims[0]]

    def alias(self, lw, node):
        return node.inputs[0]


def in_buf(lw, node, k=0):
    return lw.buffers[node.inputs[k]]


def out_buf(lw, node, k=0):
    return lw.buffers[Ref(node.id, k)]


def ctype(dtype_name):
    return emit.CXX[dtype_name]


def reserve_scratch(lw, count=1):
    """Reserve `count` scratch slots for a kernel's temporaries; returns the first slot number."""
    first = lw.scratch_slots
    lw.scratch_slots += count
    return first


def consumers(lw, node_id):
    return [n for n in lw.nodes if any(r.node == node_id for r in n.inputs)]


def is_output(lw, ref):
    return ref in lw.req.outputs


def dims_array(name, dims):
    """C++ declaration of an int64 array holding the (symbolic) dims."""
    return f"const int64_t {name}[] = {cxx_dims(dims)};"


def numel(dims):
    return numel_expr(dims)


def message(parts):
    """C++ statements that build a pg_msg `m` from parts: str literals, ("int", expr), ("shape", rank, array)."""
    code = ["pg_msg m; m.len = 0; m.text[0] = 0;"]
    for p in parts:
        if isinstance(p, str):
            text = p.replace("\\", "\\\\").replace('"', '\\"')
            code.append(f'pg_msg_add(&m, "{text}");')
        elif p[0] == "int":
            code.append(f"pg_msg_int(&m, {p[1]});")
        else:
            code.append(f"pg_msg_shape(&m, {p[1]}, {p[2]});")
    return " ".join(code)


def fail(node_id, parts, code="PG_INVALID_ARGUMENT", decls=""):
    """A C++ statement reporting an error for node `node_id` with a message built from `parts` (after the
    declarations `decls`, e.g. dims arrays the message prints)."""
    return "{ " + decls + " " + message(parts) + f" return ctx->fail(ctx, {code}, {node_id}, m.text); }}"


def shape_input_dims(lw, node, k, attr="shape"):
    """The dims a shape-valued input describes: the static attr when known, else the run-time dims of the
    tensor a `Shape` op measured (tf.zeros(tf.shape(x)) and friends)."""
    static = node.attrs.get(attr)
    if static is not None:
        return tuple(static)
    producer = lw.nodes[node.inputs[k].node]
    if producer.op == "Shape":
        return tuple(lw.dims[producer.inputs[0]])
    raise NotImplementedError(
        f"pygraph cannot compile '{node.name}' ({node.op}, defined at {node.site}): its shape argument must be "
        "a constant or the result of tf.shape(); a shape computed by other ops is not supported yet.")


def axis_of(node, axis, rank, what="axis", extra=0):
    """`axis` in [0, rank + extra): graphs built on an input of unknown rank keep a negative axis, and its
    range is checked only here, once the rank fed is known."""
    if not -(rank + extra) <= axis < rank + extra:
        raise ValueError(f"{node.op} '{node.name}' (defined at {node.site}): {what} {axis} is out of range for an "
                         f"input of rank {rank} (expected [{-(rank + extra)}, {rank + extra}))")
    return axis % (rank + extra)
