"""tf.variable_scope and tf.get_variable, with TF1's naming and reuse rules.

Variable names depend on the variable scope only (`relu/threshold`); ops follow the name scope that
every `variable_scope` also opens, so re-entering "relu" puts new ops in `relu_1/...`. The store and
VariableScope live in variable_store.py.
"""

from __future__ import annotations

import contextlib
import copy
import functools

from .graph import GraphKeys, _graph_of
from .variable_store import AUTO_REUSE, VariableScope, store_for


def get_variable_scope():
    """The current VariableScope (the root scope, named "", outside any variable_scope)."""
    return store_for().current_scope


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=None,
                 collections=None, caching_device=None, partitioner=None, validate_shape=True, use_resource=None,
                 custom_getter=None, constraint=None, synchronization=None, aggregation=None):
    """tf.get_variable: the variable `<variable scope>/<name>`, created or fetched by the current scope.

    With `reuse=False` (the default) it is created and an existing one raises ValueError ("Variable ...
    already exists"); with `reuse=True` the existing one is returned and a missing one raises ValueError;
    `tf.AUTO_REUSE` creates it the first time and returns it after. A new variable's value comes from
    `initializer` (an initializer such as tf.zeros_initializer(), or a constant/array, whose shape is then
    the variable's), else from the scope's initializer, else glorot_uniform_initializer for floats and zeros
    for integers; `dtype` defaults to float32. `trainable` (default True) puts it in TRAINABLE_VARIABLES, which
    optimizers train.
    """
    return get_variable_scope().get_variable(
        store_for(), name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        trainable=trainable, collections=collections, caching_device=caching_device, partitioner=partitioner,
        validate_shape=validate_shape, use_resource=use_resource, custom_getter=custom_getter,
        constraint=constraint)


def get_local_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=False,
                       collections=None, caching_device=None, partitioner=None, validate_shape=True,
                       use_resource=None, custom_getter=None, constraint=None, synchronization=None,
                       aggregation=None):
    """tf.get_local_variable: like get_variable, in LOCAL_VARIABLES and not trainable."""
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=False, collections=collections, caching_device=caching_device,
                        partitioner=partitioner, validate_shape=validate_shape, custom_getter=custom_getter,
                        constraint=constraint)


def _maybe_wrap_custom_getter(custom_getter, old_getter):
    """A nested scope's custom getter calls the enclosing scope's getter as its `getter`."""
    if old_getter is None:
        return custom_getter

    def wrapped_custom_getter(getter, *args, **kwargs):
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)

    return wrapped_custom_getter


class _PureVariableScope:
    """Enter a VariableScope without a name scope (TF's _pure_variable_scope)."""

    def __init__(self, name_or_scope, reuse=None, initializer=None, regularizer=None, caching_device=None,
                 partitioner=None, custom_getter=None, old_name_scope=None, dtype=None, use_resource=None,
                 constraint=None):
        self._name_or_scope = name_or_scope
        self._reuse = reuse
        self._old_name_scope = old_name_scope
        self._overrides = dict(initializer=initializer, regularizer=regularizer, caching_device=caching_device,
                               partitioner=partitioner, dtype=dtype, use_resource=use_resource)
        self._custom_getter = custom_getter
        self._constraint = constraint
        self._store = store_for()

    def _apply_overrides(self, scope, old_getter):
        for key, value in self._overrides.items():
            if value is not None:
                getattr(scope, "set_" + key)(value)
        if self._custom_getter is not None:
            scope.set_custom_getter(_maybe_wrap_custom_getter(self._custom_getter, old_getter))
        return scope

    def __enter__(self):
        store = self._store
        self._old = store.current_scope
        if isinstance(self._name_or_scope, VariableScope):
            # jumping to a saved scope: a copy of it, with this entry's reuse and defaults on top
            src = self._name_or_scope
            self._new_name = src.name
            scope = VariableScope(self._reuse if self._reuse else src.reuse, name=src.name,
                                  initializer=src.initializer, regularizer=src.regularizer,
                                  caching_device=src.caching_device, partitioner=src.partitioner, dtype=src.dtype,
                                  custom_getter=src.custom_getter, name_scope=src.original_name_scope,
                                  use_resource=src.use_resource, constraint=self._constraint)
            self._apply_overrides(scope, src.custom_getter)
            store.open_variable_scope(self._new_name)
            self._old_subscopes = copy.copy(store.variable_scopes_count)
        else:
            # prolonging the current scope: reuse is inherited (a True parent wins over a child's None)
            old = self._old
            self._new_name = old.name + "/" + self._name_or_scope if old.name else self._name_or_scope
            reuse = self._reuse or old.reuse
            name_scope = self._name_or_scope if self._old_name_scope is None else self._old_name_scope
            scope = VariableScope(reuse, name=self._new_name, initializer=old.initializer,
                                  regularizer=old.regularizer, caching_device=old.caching_device,
                                  partitioner=old.partitioner, dtype=old.dtype, use_resource=old.use_resource,
                                  custom_getter=old.custom_getter, name_scope=name_scope,
                                  constraint=self._constraint)
            self._apply_overrides(scope, old.custom_getter)
            store.open_variable_scope(self._new_name)
        store.current_scope = self._last = scope
        return scope

    def __exit__(self, *exc):
        store = self._store
        if store.current_scope is not self._last:
            raise RuntimeError("Improper nesting of variable_scope.")
        if isinstance(self._name_or_scope, VariableScope):
            store.variable_scopes_count = self._old_subscopes
        else:
            store.close_variable_subscopes(self._new_name)
        store.current_scope = self._old


def _get_unique_variable_scope(prefix):
    """`prefix`, or `prefix_N` if a scope of that name was opened already in the current scope."""
    store = store_for()
    current = store.current_scope
    name = current.name + "/" + prefix if current.name else prefix
    if store.variable_scopes_count.get(name, 0) == 0:
        return prefix
    idx = 1
    while store.variable_scopes_count.get(f"{name}_{idx}", 0) > 0:
        idx += 1
    return f"{prefix}_{idx}"


class variable_scope:  # noqa: N801 (TF's name)
    """tf.variable_scope: a context manager opening a variable scope and a name scope.

    `name_or_scope` (a string or a saved VariableScope) is used as is; with None, `default_name` is made
    unique (`dense`, `dense_1`, ...). `reuse`: None/False create (inheriting the parent's reuse), True
    fetch, tf.AUTO_REUSE either.
    """

    def __init__(self, name_or_scope, default_name=None, values=None, initializer=None, regularizer=None,
                 caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                 use_resource=None, constraint=None, auxiliary_name_scope=True):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if reuse is False:  # no non-inheriting scopes: False means None
            reuse = None
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError(f"The auxiliary_name_scope must be `True` or `False`, while get "
                            f"{auxiliary_name_scope}")
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._reuse = reuse
        self._auxiliary_name_scope = auxiliary_name_scope
        self._args = dict(initializer=initializer, regularizer=regularizer, caching_device=caching_device,
                          partitioner=partitioner, custom_getter=custom_getter, dtype=dtype,
                          use_resource=use_resource, constraint=constraint)
        self._graph = _graph_of(values or [])
        self._exits = []

    def __enter__(self):
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(self._graph.as_default())
            scope = self._enter(stack)
        except BaseException:
            stack.close()
            raise
        self._exits.append(stack)
        return scope

    def __exit__(self, *exc):
        self._exits.pop().__exit__(*exc)

    def _enter(self, stack):
        graph = self._graph
        reenter = None  # with auxiliary_name_scope=False: the current name scope, entered again
        if not self._auxiliary_name_scope:
            current = graph.get_name_scope()
            reenter = current + "/" if current else ""
        target = self._name_or_scope
        if target is not None:
            if not isinstance(target, (VariableScope, str)):
                raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
            own = target if isinstance(target, str) else target.name.split("/")[-1]
            old_name_scope = None
            if own or reenter is not None:
                entered = stack.enter_context(graph.name_scope(own if reenter is None else reenter))
                old_name_scope = entered if isinstance(target, str) else target.original_name_scope
            pure = _PureVariableScope(target, reuse=self._reuse, old_name_scope=old_name_scope, **self._args)
        else:
            if self._reuse:
                raise ValueError("reuse=True cannot be used without a name_or_scope")
            entered = stack.enter_context(graph.name_scope(self._default_name if reenter is None else reenter))
            unique = _get_unique_variable_scope(self._default_name)
            pure = _PureVariableScope(unique, old_name_scope=entered, **self._args)
        scope = pure.__enter__()
        stack.push(pure.__exit__)
        return scope


@contextlib.contextmanager
def variable_op_scope(values, name_or_scope, default_name=None, initializer=None, regularizer=None,
                      caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                      use_resource=None, constraint=None):
    """Deprecated TF1 spelling of variable_scope(name_or_scope, default_name, values)."""
    with variable_scope(name_or_scope, default_name=default_name, values=values, initializer=initializer,
                        regularizer=regularizer, caching_device=caching_device, partitioner=partitioner,
                        custom_getter=custom_getter, reuse=reuse, dtype=dtype, use_resource=use_resource,
                        constraint=constraint) as scope:
        yield scope


__all__ = ["AUTO_REUSE", "VariableScope", "get_variable", "get_local_variable", "get_variable_scope",
           "variable_scope", "variable_op_scope"]
