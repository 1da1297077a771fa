"""Variables, placeholders and assignment: the ops whose values live outside one run."""

from __future__ import annotations

from .. import dtypes
from ..graph import GraphKeys, Operation, Tensor, get_default_graph, name_scope
from ..shape import TensorShape
from . import attr_checks as checks
from . import registry
from .core import convert_to_tensor, fmt_shape, make_op, op_scope
from .math import install_operators

registry.register("VariableV2", registry.SOURCE, stateful=True, attrs={"dtype": "type", "shape": "shape"},
                  check=checks.placeholder)
registry.register("Placeholder", registry.SOURCE, attrs={"dtype": "type", "shape": "?shape"}, check=checks.placeholder)
registry.register("PlaceholderWithDefault", registry.ELEMENTWISE, numpy=lambda a: a, attrs={"shape": "?shape"},
                  check=checks.placeholder)
_ASSIGN_ATTRS = {"validate_shape": "?bool", "use_locking": "?bool"}
registry.register("Assign", registry.STATE, numpy=lambda ref, value: value, stateful=True, attrs=_ASSIGN_ATTRS)
registry.register("AssignAdd", registry.STATE, numpy=lambda ref, value: ref + value, stateful=True,
                  attrs=_ASSIGN_ATTRS)
registry.register("AssignSub", registry.STATE, numpy=lambda ref, value: ref - value, stateful=True,
                  attrs=_ASSIGN_ATTRS)
registry.register("NoOp", registry.CONTROL, attrs={})


def placeholder(dtype, shape=None, name=None):
    """tf.placeholder: a tensor that each run must feed."""
    dtype = dtypes.as_dtype(dtype)
    shape = TensorShape(shape)
    op = make_op("Placeholder", [], [(dtype, shape)], name or "Placeholder", {"dtype": dtype, "shape": shape})
    return op.outputs[0]


def placeholder_with_default(input, shape, name=None):  # noqa: A002
    """A tensor that takes `input`'s value unless fed."""
    with op_scope(name, "PlaceholderWithDefault", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        shape = TensorShape(shape)
        if not shape.is_compatible_with(x.shape):
            raise ValueError(f"Shapes {fmt_shape(x.shape)} and {fmt_shape(shape)} are incompatible "
                             f"(op PlaceholderWithDefault '{scope[:-1]}').")
        op = make_op("PlaceholderWithDefault", [x], [(x.dtype, shape)], scope, {"shape": shape})
        return op.outputs[0]


def _ref_tensor(ref):
    if isinstance(ref, Variable):
        return ref._ref
    if isinstance(ref, Tensor) and ref.op.type == "VariableV2":
        return ref
    raise TypeError(f"'ref' must be a Variable or the output of a variable op, got {ref!r} "
                    "(assignment needs a mutable tensor).")


def _assign_op(op_type, ref, value, validate_shape, name, default, use_locking=False):
    ref_t = _ref_tensor(ref)
    with op_scope(name, default, [ref_t, value]) as scope:
        value = convert_to_tensor(value, dtype=ref_t.dtype, name="value")
        if validate_shape and not ref_t.shape.is_compatible_with(value.shape):
            raise ValueError(f"Shapes must be equal rank, but are {ref_t.shape.ndims} and {value.shape.ndims} "
                             f"for '{scope[:-1]}' (op: '{op_type}') with input shapes: {fmt_shape(ref_t.shape)}, "
                             f"{fmt_shape(value.shape)}." if ref_t.shape.ndims != value.shape.ndims else
                             f"Dimension mismatch for '{scope[:-1]}' (op: '{op_type}') with input shapes: "
                             f"{fmt_shape(ref_t.shape)}, {fmt_shape(value.shape)}.")
        op = make_op(op_type, [ref_t, value], [(ref_t.dtype, ref_t.shape)], scope,
                     {"validate_shape": validate_shape, "use_locking": bool(use_locking)})
        return op.outputs[0]


# use_locking: a run writing the variable holds its mutex, so concurrent runs lose no update. The defaults
# are TF's op defaults: true for Assign, false for AssignAdd and AssignSub (unlocked updates race, as in TF).
def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    return _assign_op("Assign", ref, value, validate_shape is not False, name, "Assign", use_locking is not False)


def assign_add(ref, value, use_locking=None, name=None):
    return _assign_op("AssignAdd", ref, value, True, name, "AssignAdd", use_locking)


def assign_sub(ref, value, use_locking=None, name=None):
    return _assign_op("AssignSub", ref, value, True, name, "AssignSub", use_locking)


def no_op(name=None):
    return make_op("NoOp", [], [], name or "NoOp")


def group(*inputs, name=None):
    """An op that runs all `inputs` (through control dependencies) and has no output."""
    ops = []
    for x in inputs:
        for item in (x if isinstance(x, (list, tuple)) else [x]):
            item = getattr(item, "op", item) if not isinstance(item, Operation) else item
            if isinstance(item, Variable):
                item = item.op
            ops.append(item)
    g = ops[0].graph if ops else get_default_graph()
    with g.as_default():
        return g.create_op("NoOp", [], {}, [], name or "group_deps", ops)


class Variable:
    """tf.Variable (TF1 reference variable): a VariableV2 node, its `Assign` initializer and `read` value."""

    # numpy must defer to our operators (np_array + variable builds an op), as for Tensor
    __array_priority__ = 100

    def __init__(self, initial_value=None, trainable=True, collections=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
                 import_scope=None, constraint=None, use_resource=None, synchronization=None,
                 aggregation=None, shape=None):
        if variable_def is not None:
            if initial_value is not None:
                raise ValueError("variable_def and initial_value are mutually exclusive.")
            self._init_from_proto(variable_def, import_scope)
            return
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        init_from_fn = callable(initial_value)
        with name_scope(name, "Variable", [] if init_from_fn else [initial_value]) as scope:
            if init_from_fn:
                with name_scope("Initializer"):
                    initial_value = convert_to_tensor(initial_value(), dtype=dtype, name="initial_value")
            else:
                initial_value = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            var_shape = TensorShape(shape) if shape is not None else initial_value.shape
            if not var_shape.is_fully_defined():
                raise ValueError(f"initial_value must have a shape specified: {initial_value!r}")
            self._initial_value = initial_value
            op = make_op("VariableV2", [], [(initial_value.dtype, var_shape)], scope,
                         {"dtype": initial_value.dtype, "shape": var_shape})
            self._ref = op.outputs[0]
            self._initializer_op = assign(self._ref, initial_value, validate_shape, name="Assign").op
            self._snapshot = make_op("Identity", [self._ref], [(self._ref.dtype, var_shape)], "read").outputs[0]
        self._trainable = bool(trainable)
        self._constraint = constraint
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if self._trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections = list(collections) + [GraphKeys.TRAINABLE_VARIABLES]
        self._ref.graph.add_to_collections(collections, self)
        self._save_slice_info = None

    def _init_from_proto(self, variable_def, import_scope=None):
        """Wrap the existing ops named by `variable_def` (a dict with VariableDef's fields, e.g. from a meta
        graph) into a Variable; adds it to no collection, as TF does."""
        g = get_default_graph()
        scoped = (lambda n: f"{import_scope}/{n}") if import_scope else (lambda n: n)
        self._ref = g.as_graph_element(scoped(variable_def["variable_name"]))
        self._initializer_op = g.as_graph_element(scoped(variable_def["initializer_name"]))
        self._snapshot = g.as_graph_element(scoped(variable_def["snapshot_name"]))
        initial = variable_def.get("initial_value_name")
        self._initial_value = g.as_graph_element(scoped(initial)) if initial else None
        self._trainable = bool(variable_def.get("trainable", True))
        self._constraint = None
        self._save_slice_info = None

    def to_proto(self, export_scope=None):
        """This variable's VariableDef fields as a dict (names relative to `export_scope`), or None if it
        lies outside that scope."""
        names = {"variable_name": self._ref.name, "initializer_name": self._initializer_op.name,
                 "snapshot_name": self._snapshot.name}
        if self._initial_value is not None:
            names["initial_value_name"] = self._initial_value.name
        if export_scope:
            if not all(n.startswith(export_scope + "/") for n in names.values()):
                return None
            names = {k: n[len(export_scope) + 1:] for k, n in names.items()}
        return dict(names, trainable=self._trainable, is_resource=False)

    @staticmethod
    def from_proto(variable_def, import_scope=None):
        return Variable(variable_def=variable_def, import_scope=import_scope)

    # -- identity
    @property
    def name(self):
        return self._ref.name

    @property
    def op(self):
        return self._ref.op

    @property
    def graph(self):
        return self._ref.graph

    @property
    def dtype(self):
        return self._ref.dtype

    @property
    def shape(self):
        return self._ref.shape

    def get_shape(self):
        return self._ref.shape

    @property
    def device(self):
        return ""

    @property
    def trainable(self):
        return self._trainable

    @property
    def initializer(self):
        return self._initializer_op

    @property
    def initial_value(self):
        return self._initial_value

    @property
    def constraint(self):
        return self._constraint

    # -- values
    def value(self):
        return self._snapshot

    def read_value(self):
        return make_op("Identity", [self._ref], [(self.dtype, self.shape)], "read").outputs[0]

    def _as_tensor(self):
        return self._snapshot

    def _as_graph_element(self):
        return self._ref

    def _ref_tensor(self):
        return self._ref

    def eval(self, session=None):
        return self._snapshot.eval(session=session)

    def initialized_value(self):
        return self._initial_value

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return assign(self, value, use_locking=use_locking, name=name)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return assign_add(self, delta, use_locking=use_locking, name=name)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return assign_sub(self, delta, use_locking=use_locking, name=name)

    def load(self, value, session=None):
        from ..session import _session_for

        _session_for(self.graph, session, "Variable.load()")._load_variable(self, value)

    def __repr__(self):
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}_ref>"

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        return True


install_operators(Variable)


def global_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope=None):
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    if not var_list:
        return no_op(name=name)
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer():
    return variables_initializer(global_variables())


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init")


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer
initialize_local_variables = local_variables_initializer
