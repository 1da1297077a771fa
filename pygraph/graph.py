"""Graph, Operation, Tensor and the default-graph stack (TF1's tf.Graph and friends)."""

from __future__ import annotations

import contextlib
import re
import threading

from .errors import user_frame_site
from .shape import TensorShape, check_representable

# TF1's patterns; matched with fullmatch (`$` alone also accepts a trailing newline)
_VALID_ROOT = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


_check_node = None  # node_check.check_node, imported on first use


class GraphKeys:
    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    GLOBAL_STEP = "global_step"
    VARIABLES = GLOBAL_VARIABLES


class Tensor:
    """The symbolic output `value_index` of an Operation."""

    __slots__ = ("op", "value_index", "dtype", "_shape", "__weakref__")
    # numpy must defer to our operators (np_array + tensor builds an op, not an object array)
    __array_priority__ = 100

    def __init__(self, op, value_index, dtype, shape):
        self.op = op
        self.value_index = value_index
        self.dtype = dtype
        self._shape = TensorShape(shape)

    @property
    def name(self):
        return f"{self.op.name}:{self.value_index}"

    @property
    def graph(self):
        return self.op.graph

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(shape)

    @property
    def device(self):
        return ""

    def consumers(self):
        return [op for op in self.op.graph._ops if self in op.inputs]

    def eval(self, feed_dict=None, session=None):
        from .session import _session_for

        return _session_for(self.graph, session, "Tensor.eval()").run(self, feed_dict)

    def __repr__(self):
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype={self.dtype.name}>"

    __hash__ = object.__hash__  # identity, in C: every sess.run hashes its fetches

    def __eq__(self, other):  # TF1: tensors compare by identity; use tf.equal for elementwise
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError(
            "Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` instead of "
            "`if t:` to test if a tensor is defined, and use TensorFlow ops such as tf.cond to execute "
            "subgraphs conditioned on the value of a tensor.")

    def __iter__(self):
        raise TypeError("Tensor objects are only iterable when eager execution is enabled. "
                        "To iterate over this tensor use tf.map_fn or tf.unstack.")

    def __len__(self):
        raise TypeError(f"len is not well defined for symbolic Tensors. ({self.name}) Please call `x.shape` "
                        "rather than `len(x)` for shape information.")


class Operation:
    """A node: an op type applied to input tensors, with attributes and output tensors."""

    def __init__(self, graph, op_type, name, inputs, attrs, output_specs, control_inputs):
        self.graph = graph
        self.type = op_type
        self.name = name
        self.inputs = list(inputs)
        self.control_inputs = list(control_inputs)
        self.attrs = dict(attrs)
        self.outputs = [Tensor(self, i, dt, sh) for i, (dt, sh) in enumerate(output_specs)]
        self.creation_site = user_frame_site()
        self._id = len(graph._ops)

    @property
    def node_def(self):
        return self

    @property
    def device(self):
        return ""

    @property
    def values(self):
        return tuple(self.outputs)

    def get_attr(self, name):
        if name not in self.attrs:
            raise ValueError(f"Operation {self.name!r} has no attr named {name!r}.")
        return self.attrs[name]

    def run(self, feed_dict=None, session=None):
        from .session import _session_for

        _session_for(self.graph, session, "Operation.run()").run(self, feed_dict)

    def __repr__(self):
        return f"<tf.Operation '{self.name}' type={self.type}>"


class Graph:
    """A TF1 dataflow graph: operations, the name scope in effect, collections."""

    def __init__(self):
        self._ops = []
        self._ops_by_name = {}
        self._names_in_use = {}
        self._name_stack = ""
        self._control_dependencies = []
        self._collections = {}
        self._finalized = False
        self._seed = None
        self._last_id = 0
        self._version = 0
        self._lock = threading.RLock()
        self._variable_scope_store = None  # created by scopes.py on first use
        self._cond_context = None  # the tf.cond branch being built (ops/control_flow.py)

    @contextlib.contextmanager
    def _all_or_nothing(self):
        """Under the graph's lock: if the block fails, the ops, names and collections it added are removed
        (an import that fails part-way leaves the graph as it was)."""
        with self._lock:
            num_ops, names = len(self._ops), dict(self._names_in_use)
            collections = {k: list(v) for k, v in self._collections.items()}
            try:
                yield
            except BaseException:
                for op in self._ops[num_ops:]:
                    self._ops_by_name.pop(op.name, None)
                del self._ops[num_ops:]
                self._names_in_use, self._collections = names, collections
                self._version += 1
                raise

    # -- construction
    def _check_not_finalized(self):
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    def create_op(self, op_type, inputs, attrs, output_specs, name, control_inputs=()):
        """Add an Operation. `name` ending in '/' is taken exactly (a scope's own name); otherwise it is
        made unique under the current name scope."""
        self._check_not_finalized()
        ctx = self._cond_context
        if ctx is not None:  # inside a cond branch: outside values come in through Switch ops
            inputs, control_inputs = ctx.admit(list(inputs), list(control_inputs))
        with self._lock:
            if name.endswith("/"):
                name = name[:-1]
            else:
                name = self.unique_name(name)
            # TF1's check: a name such as "a b" or "a:b" breaks lookups
            if not isinstance(name, str) or not _VALID_ROOT.fullmatch(name):
                raise ValueError(f"'{name}' is not a valid node name")
            if name in self._ops_by_name:  # an exact name (from a scope) that an op already has
                raise ValueError(f"cannot add op with name {name} as that name is already used")
            attrs, output_specs = self._checked_node(op_type, name, inputs, attrs, output_specs, control_inputs)
            controls = list(control_inputs)
            for frame in self._control_dependencies:
                for c in frame:
                    if c not in controls:
                        controls.append(c)
            op = Operation(self, op_type, name, inputs, attrs, output_specs, controls)
            for i, t in enumerate(op.outputs):
                check_representable(t.shape, op_type, name, i, op.inputs)
            op._cond_context = ctx
            self._ops.append(op)
            self._ops_by_name[name] = op
            self._version += 1
            return op

    def _checked_node(self, op_type, name, inputs, attrs, output_specs, control_inputs):
        global _check_node
        if _check_node is None:  # node_check imports the op registry, which imports this module
            from .node_check import check_node as _check_node
        return _check_node(self, op_type, name, inputs, attrs, output_specs, control_inputs)

    def unique_name(self, name, mark_as_used=True):
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base_key = key
            while key in self._names_in_use:
                key = f"{base_key}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def get_name_scope(self):
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name):
        if name:
            pattern = _VALID_SCOPE if self._name_stack else _VALID_ROOT
            if not pattern.fullmatch(name):
                kind = "" if self._name_stack else "root "
                raise ValueError(f"'{name}' is not a valid {kind}scope name. A {kind}scope name has to match "
                                 f"the following pattern: {pattern.pattern}")
        old = self._name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        self._name_stack = new
        try:
            yield "" if new == "" else new + "/"
        finally:
            self._name_stack = old

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:  # clears the stack, as in TF
            saved, self._control_dependencies = self._control_dependencies, []
            try:
                yield
            finally:
                self._control_dependencies = saved
            return
        ops = []
        for c in control_inputs:
            c = getattr(c, "_as_graph_element", lambda c=c: c)()
            if isinstance(c, Tensor):
                c = c.op
            if not isinstance(c, Operation):
                raise TypeError(f"Control input must be an Operation or a Tensor: {c!r}")
            ops.append(c)
        self._control_dependencies.append(ops)
        try:
            yield
        finally:
            self._control_dependencies.pop()

    # -- lookup
    def get_operations(self):
        return list(self._ops)

    def get_operation_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj, allow_tensor=True, allow_operation=True):
        """The Tensor or Operation that `obj` (an object or a name) refers to, with TF1's messages."""
        obj = getattr(obj, "_as_graph_element", lambda: obj)()
        kinds = " or ".join(k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        if isinstance(obj, str):
            return self._element_by_name(obj, allow_tensor, allow_operation, kinds)
        if isinstance(obj, (Tensor, Operation)) and (allow_tensor if isinstance(obj, Tensor) else allow_operation):
            if obj.graph is not self:
                raise ValueError(f"{obj!r} is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {kinds}.")

    def _element_by_name(self, name, allow_tensor, allow_operation, kinds):
        if ":" in name:
            if not allow_tensor:
                raise ValueError(f"Name '{name}' appears to refer to a Tensor, not a {kinds}.")
            op_name, _, index = name.rpartition(":")
            op = self._ops_by_name.get(op_name)
            if op is None:
                raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                               f"'{op_name}', does not exist in the graph.{self._did_you_mean(name, True)}")
            try:
                return op.outputs[int(index)]
            except (ValueError, IndexError):
                raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                               f"'{op_name}', exists but only has {len(op.outputs)} outputs.") from None
        if allow_operation:
            op = self._ops_by_name.get(name)
            if op is None:
                raise KeyError(f"The name '{name}' refers to an Operation not in the graph."
                               f"{self._did_you_mean(name, False)}")
            return op
        if name in self._ops_by_name:
            what = f"The name '{name}' refers to an Operation, not a {kinds}."
        else:
            what = f"The name '{name}' looks like an (invalid) Operation name, not a {kinds}."
        raise ValueError(what + ' Tensor names must be of the form "<op_name>:<output_index>".')

    def _did_you_mean(self, name, tensor):
        """' Did you mean 'x:0'?' when a name in the graph is close to a mistyped one (difflib's ratio)."""
        import difflib

        names = [t.name for op in self._ops for t in op.outputs] if tensor else list(self._ops_by_name)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        return f" Did you mean '{close[0]}'?" if close else ""

    # -- collections
    def add_to_collection(self, name, value):
        self._check_not_finalized()
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value):
        for name in [names] if isinstance(names, str) else names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    def get_collection(self, name, scope=None):
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pattern = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and pattern.match(i.name)]

    def get_all_collection_keys(self):
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name):
        self._collections.pop(name, None)

    # -- state
    def finalize(self):
        self._finalized = True

    @property
    def finalized(self):
        return self._finalized

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, value):
        self._seed = value

    @property
    def version(self):
        return self._version

    def as_graph_def(self, from_version=None, add_shapes=False):
        """This graph as a GraphDef protobuf (needs the `tensorboard` package for the message classes)."""
        from .graph_def import graph_to_graph_def

        return graph_to_graph_def(self, from_version, add_shapes)

    @contextlib.contextmanager
    def as_default(self):
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    def _next_op_seed(self):
        self._last_id += 1
        return self._last_id


# -- default graph stack (per thread, as in TF)
_local = threading.local()
_global_default = [Graph()]


def _stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_default_graph():
    stack = _stack()
    return stack[-1] if stack else _global_default[0]


def reset_default_graph():
    if _stack():
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
                             "cleared graph, exit the nesting and create a new graph.")
    _global_default[0] = Graph()


def _graph_of(values):
    """The graph of the first graph element among `values`, else the default graph."""
    for v in values:
        g = getattr(v, "graph", None)
        if isinstance(g, Graph):
            return g
    return get_default_graph()


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    """tf.name_scope(name, default_name=None, values=None)."""
    if values is None:
        values = []
    g = _graph_of(values)
    n = name if name is not None else default_name
    if n is None and name is None and default_name is None and values:
        raise ValueError("At least one of name (None) and default_name (None) must be provided.")
    with g.as_default(), g.name_scope(n) as scope:
        yield scope


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)


def is_graph_element(x):
    return isinstance(x, (Tensor, Operation))


__all__ = ["Graph", "Operation", "Tensor", "GraphKeys", "get_default_graph", "reset_default_graph",
           "name_scope", "control_dependencies"]
