"""VariableScope and the per-graph variable store behind tf.get_variable (TF1's _VariableStore).

The store of shared variables (name -> Variable) lives on the graph (`graph._variable_scope_store`);
the current variable scope and the default-name counters are per thread, as in TF. The get-or-create
rules and the ValueError messages are TF1's (_VariableStore._get_single_variable).
"""

from __future__ import annotations

import enum
import inspect
import linecache
import threading

from . import dtypes
from .graph import GraphKeys, get_default_graph
from .initializers import GlorotUniform, Zeros
from .ops.state import Variable
from .shape import TensorShape


class _ReuseMode(enum.Enum):
    """Mode for variable access within a variable scope."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


class VariableScope:
    """The defaults `get_variable` uses inside a `variable_scope` (name, reuse, initializer, ...)."""

    def __init__(self, reuse, name="", initializer=None, regularizer=None, caching_device=None,
                 partitioner=None, custom_getter=None, name_scope="", dtype=dtypes.float32, use_resource=None,
                 constraint=None):
        self._name = name
        self._initializer = initializer
        self._regularizer = regularizer
        self._reuse = reuse
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self):
        """From now on, get_variable in this scope fetches existing variables."""
        self._reuse = True

    def set_initializer(self, initializer):
        self._initializer = initializer

    def set_dtype(self, dtype):
        self._dtype = dtype

    def set_use_resource(self, use_resource):
        self._use_resource = use_resource

    def set_regularizer(self, regularizer):
        self._regularizer = regularizer

    def set_caching_device(self, caching_device):
        self._caching_device = caching_device

    def set_partitioner(self, partitioner):
        self._partitioner = partitioner

    def set_custom_getter(self, custom_getter):
        self._custom_getter = custom_getter

    def get_collection(self, name):
        return get_default_graph().get_collection(name, self._name + "/" if self._name else "")

    def trainable_variables(self):
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def global_variables(self):
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def local_variables(self):
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(self, var_store, name, shape=None, dtype=None, initializer=None, regularizer=None,
                     reuse=None, trainable=None, collections=None, caching_device=None, partitioner=None,
                     validate_shape=True, use_resource=None, custom_getter=None, constraint=None,
                     synchronization=None, aggregation=None):
        """Get the variable `<scope name>/<name>` from `var_store`, or create it."""
        regularizer = self._regularizer if regularizer is None else regularizer
        partitioner = self._partitioner if partitioner is None else partitioner
        custom_getter = self._custom_getter if custom_getter is None else custom_getter
        reuse = self._reuse if reuse is None else reuse
        full_name = self._name + "/" + name if self._name else name
        # variable names depend on the variable scope only: create them at the root name scope
        with get_default_graph().name_scope(None):
            if dtype is not None and initializer is not None and not callable(initializer):
                init_dtype = getattr(initializer, "dtype", None) or _value_dtype(initializer)
                if dtypes.as_dtype(init_dtype) is not dtypes.as_dtype(dtype):
                    raise ValueError(f"Initializer type '{_dtype_str(init_dtype)}' and explicit dtype "
                                     f"'{_dtype_str(dtype)}' don't match.")
            initializer = self._initializer if initializer is None else initializer
            constraint = self._constraint if constraint is None else constraint
            dtype = self._dtype if dtype is None else dtype
            return var_store.get_variable(
                full_name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                partitioner=partitioner, validate_shape=validate_shape, custom_getter=custom_getter,
                constraint=constraint)

    def __repr__(self):
        return f"<VariableScope name={self._name!r} reuse={self._reuse!r}>"


def _value_dtype(value):
    from .ops.core import infer_dtype

    return infer_dtype(value)


def _dtype_str(dtype):
    return f"<dtype: '{dtypes.as_dtype(dtype).name}'>"


def _origin(var):
    """TF's 'Originally defined at' block, from the site where the variable's op was created."""
    site = var.op.creation_site
    filename, _, line = site.rpartition(":")
    if not filename or not line.isdigit():
        return f"  {site}\n"
    source = linecache.getline(filename, int(line)).strip()
    return f'  File "{filename}", line {line}\n' + (f"    {source}\n" if source else "")


def _accepts(fn, parameter):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return parameter in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _needs_no_arguments(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


class _VariableStore:
    """The variables created by get_variable in one graph, and the per-thread scope state."""

    def __init__(self):
        self.vars = {}
        self.lock = threading.RLock()
        self._local = threading.local()

    # per-thread: the current VariableScope and how often each scope name was opened (for default_name)
    @property
    def current_scope(self):
        scope = getattr(self._local, "current_scope", None)
        if scope is None:
            scope = self._local.current_scope = VariableScope(False)
        return scope

    @current_scope.setter
    def current_scope(self, scope):
        self._local.current_scope = scope

    @property
    def variable_scopes_count(self):
        counts = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
        return counts

    @variable_scopes_count.setter
    def variable_scopes_count(self, counts):
        self._local.counts = counts

    def open_variable_scope(self, scope_name):
        self.variable_scopes_count[scope_name] = self.variable_scopes_count.get(scope_name, 0) + 1

    def close_variable_subscopes(self, scope_name):
        counts = self.variable_scopes_count
        for k in list(counts):
            if scope_name is None or k.startswith(scope_name + "/"):
                counts[k] = 0

    def get_variable(self, name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None,
                     reuse=None, trainable=None, collections=None, caching_device=None, partitioner=None,
                     validate_shape=True, custom_getter=None, constraint=None):
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"Passed a custom_getter which is not callable: {custom_getter}")

        def true_getter(name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None, reuse=None,
                        trainable=None, collections=None, caching_device=None, partitioner=None,
                        validate_shape=True, use_resource=None, constraint=None, synchronization=None,
                        aggregation=None):
            is_scalar = shape is not None and isinstance(shape, (list, tuple)) and not shape
            if partitioner is not None and not is_scalar:
                raise NotImplementedError(f"Variable {name}: pygraph does not support partitioned variables "
                                          "(partitioner=...); create it without a partitioner.")
            with self.lock:
                return self._get_single_variable(name, shape, dtype, initializer, regularizer, reuse,
                                                 trainable, collections, validate_shape, constraint)

        kwargs = dict(name=name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                      reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                      partitioner=partitioner, validate_shape=validate_shape, use_resource=None)
        if custom_getter is None:
            return true_getter(constraint=constraint, **kwargs)
        if _accepts(custom_getter, "constraint"):
            kwargs["constraint"] = constraint
        return custom_getter(getter=true_getter, **kwargs)

    def _get_single_variable(self, name, shape, dtype, initializer, regularizer, reuse, trainable, collections,
                             validate_shape, constraint):
        from_value = initializer is not None and not callable(initializer)
        if shape is not None and from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = dtypes.as_dtype(dtype)
        shape = TensorShape(shape)

        if name in self.vars:
            found = self.vars[name]
            if reuse is False:
                raise ValueError(f"Variable {name} already exists, disallowed. Did you mean to set reuse=True or "
                                 f"reuse=tf.AUTO_REUSE in VarScope? Originally defined at:\n\n{_origin(found)}")
            if not shape.is_compatible_with(found.get_shape()):
                raise ValueError(f"Trying to share variable {name}, but specified shape {shape} and found shape "
                                 f"{found.get_shape()}.")
            if dtype is not found.dtype:
                raise ValueError(f"Trying to share variable {name}, but specified dtype {dtype.name} and found "
                                 f"dtype {found.dtype.name}.")
            return found

        if reuse is True:
            raise ValueError(f"Variable {name} does not exist, or was not created with tf.get_variable(). Did you "
                             "mean to set reuse=tf.AUTO_REUSE in VarScope?")

        if initializer is None:
            if dtype.is_floating:
                initializer = GlorotUniform()
            elif dtype.is_integer or dtype.is_bool or dtype is dtypes.string:
                initializer = Zeros()
            else:
                raise ValueError(f"An initializer for variable {name} of {dtype.name} is required")
        if from_value:
            init_val, variable_dtype = initializer, None
        else:
            if inspect.isclass(initializer):
                initializer = initializer()
            if shape.is_fully_defined():
                dims = shape.as_list()
                if _accepts(initializer, "partition_info"):
                    init_val = lambda: initializer(dims, dtype=dtype, partition_info=None)  # noqa: E731
                else:
                    init_val = lambda: initializer(dims, dtype=dtype)  # noqa: E731
                variable_dtype = dtype
            elif _needs_no_arguments(initializer):
                init_val, variable_dtype = initializer, None
            else:
                raise ValueError(f"Shape of a new variable ({name}) must be fully defined, but instead was "
                                 f"{shape}.")
        v = Variable(initial_value=init_val, name=name, trainable=True if trainable is None else trainable,
                     collections=collections, dtype=variable_dtype, validate_shape=validate_shape,
                     constraint=constraint)
        self.vars[name] = v
        if regularizer:
            with v.graph.as_default(), v.graph.name_scope(name + "/Regularizer/"):
                loss = regularizer(v)
            if loss is not None:
                v.graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        return v


def store_for(graph=None):
    """The variable store of `graph` (the default graph), created on first use."""
    graph = graph if graph is not None else get_default_graph()
    with graph._lock:
        if graph._variable_scope_store is None:
            graph._variable_scope_store = _VariableStore()
        return graph._variable_scope_store
