"""A frozen TensorFlow GraphDef (`.pb`, variables folded into constants, as TF's
convert_variables_to_constants writes it), or the graph of a TF-written `.meta` with its checkpoint's values
for the variables -> a pygraph graph. Each node goes through pygraph's own op
builders (so their attribute checks apply), and only the subgraph the fetches need is built: a frozen graph
often keeps training leftovers that the artifact never runs."""

from __future__ import annotations

from pathlib import Path

from .frontend import AotError

# TF's DataType enum (tensorflow/core/framework/types.proto) for the dtypes compiled code holds
_DTYPES = {1: "float32", 2: "float64", 3: "int32", 9: "int64", 10: "bool"}
_BINARY = {"Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "divide",
           "Maximum": "maximum", "Minimum": "minimum"}
_UNARY = {"Relu": "nn.relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
          "Square": "square", "Neg": "negative", "Abs": "abs", "Identity": "identity", "Softmax": "nn.softmax"}
_REDUCE = {"Sum": "reduce_sum", "Mean": "reduce_mean", "Max": "reduce_max", "Min": "reduce_min"}
SUPPORTED = {"Const", "Placeholder", "NoOp", "MatMul", "BiasAdd", "Reshape", "Cast", *_BINARY, *_UNARY, *_REDUCE}


def _fn(tf, dotted):
    obj = tf
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _dtype(node, key):
    code = node.attr[key].type
    if code not in _DTYPES:
        raise AotError(f"node '{node.name}' ({node.op}) has a dtype (TF enum {code}) compiled code cannot hold")
    return _DTYPES[code]


def _source(name):
    """(op name, output index) of an input string `op`, `op:k`; None for a control input `^op`."""
    if name.startswith("^"):
        return None
    op, _, k = name.partition(":")
    return op, int(k) if k else 0


def read_graph_def(path):
    from tensorboard.compat.proto import graph_pb2

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise AotError(f"cannot read {path}: {e.strerror}") from None
    gd = graph_pb2.GraphDef()
    try:
        gd.ParseFromString(data)
    except Exception:  # protobuf's DecodeError
        raise AotError(f"{path} is not a TensorFlow GraphDef protobuf") from None
    if not gd.node:
        raise AotError(f"{path} holds no nodes (is it a GraphDef?)")
    return gd


def import_frozen(gd, fetch_names, graph, variable_value=None):
    """Builds the nodes `fetch_names` (op or tensor names) need into `graph` (the default graph while
    building); raises AotError listing every unsupported op type and its nodes. With `variable_value`
    (op name -> ndarray, e.g. from a checkpoint), VariableV2 nodes become variables holding those values;
    returns {node name: outputs} and the variables made."""
    import pygraph as tf

    nodes = {n.name: n for n in gd.node}
    order, seen, stack = [], set(), []
    for f in fetch_names:
        op = f.partition(":")[0]
        if op not in nodes:
            raise AotError(f"unknown fetch {f!r}: the graph has no such node")
        stack.append((op, False))
    while stack:  # post-order: inputs before their users
        name, done = stack.pop()
        if done:
            order.append(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        stack.append((name, True))
        for i in nodes[name].input:  # data and control inputs (^op): TF runs both
            src = i[1:] if i.startswith("^") else _source(i)[0]
            if src not in nodes:
                raise AotError(f"node '{name}' reads '{i}', which the graph lacks")
            stack.append((src, False))
    supported = SUPPORTED | ({"VariableV2"} if variable_value else set())
    bad = {}
    for name in order:
        if nodes[name].op not in supported:
            bad.setdefault(nodes[name].op, []).append(name)
    if bad:
        raise AotError("unsupported op types in the TensorFlow graph: " + "; ".join(
            f"{t} used by " + ", ".join(f"'{n}'" for n in names[:3]) for t, names in sorted(bad.items())))
    made, ops, variables = {}, {}, []
    with graph.as_default():
        for name in order:
            node = nodes[name]
            if node.op == "VariableV2":
                value = variable_value(name)
                var = tf.Variable(value.astype(_dtype(node, "dtype")), name=name)
                variables.append(var)
                made[name], ops[name] = [var.op.outputs[0]], var.op
                continue
            ins = [made[s[0]][s[1]] for s in map(_source, node.input) if s is not None]
            controls = [ops[i[1:]] for i in node.input if i.startswith("^")]
            with tf.control_dependencies(controls):
                if node.op == "NoOp":
                    op = tf.no_op(name=name)
                    made[name], ops[name] = [], op
                    continue
                made[name] = _build(tf, node, ins, nodes)
            ops[name] = made[name][0].op
    return made, variables


def _const_value(nodes, tensor_name, user):
    from tensorboard.util import tensor_util

    src = nodes[_source(tensor_name)[0]]
    if src.op != "Const":
        raise AotError(f"node '{user.name}' ({user.op}) needs a constant for {tensor_name}, not a {src.op}")
    return tensor_util.make_ndarray(src.attr["value"].tensor)


def _build(tf, node, ins, nodes):
    op, name = node.op, node.name
    if op == "Const":
        from tensorboard.util import tensor_util

        value = tensor_util.make_ndarray(node.attr["value"].tensor)
        return [tf.constant(value, dtype=_dtype(node, "dtype"), name=name)]
    if op == "Placeholder":
        shape = node.attr["shape"].shape
        dims = None if shape.unknown_rank else [None if d.size < 0 else d.size for d in shape.dim]
        return [tf.placeholder(_dtype(node, "dtype"), dims, name=name)]
    if op == "MatMul":
        return [tf.matmul(ins[0], ins[1], transpose_a=node.attr["transpose_a"].b,
                          transpose_b=node.attr["transpose_b"].b, name=name)]
    if op == "BiasAdd":
        fmt = node.attr["data_format"].s.decode() if "data_format" in node.attr else "NHWC"
        if fmt != "NHWC":
            raise AotError(f"node '{name}' (BiasAdd) has data_format {fmt}; only NHWC is supported")
        return [tf.add(ins[0], ins[1], name=name)]
    if op == "Reshape":
        return [tf.reshape(ins[0], [int(d) for d in _const_value(nodes, node.input[1], node).reshape(-1)], name=name)]
    if op == "Cast":
        return [tf.cast(ins[0], _dtype(node, "DstT"), name=name)]
    if op in _BINARY:
        return [_fn(tf, _BINARY[op])(ins[0], ins[1], name=name)]
    if op in _UNARY:
        return [_fn(tf, _UNARY[op])(ins[0], name=name)]
    axes = [int(a) for a in _const_value(nodes, node.input[1], node).reshape(-1)]
    return [_fn(tf, _REDUCE[op])(ins[0], axis=axes, keepdims=node.attr["keep_dims"].b, name=name)]
