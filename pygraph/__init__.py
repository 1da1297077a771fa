"""pygraph: TensorFlow 1.x graph programs, compiled to fused C++.  `import pygraph as tf`."""

__version__ = "0.1.0"


def _load_runtime():
    """Import the compiled bridge first, so a checkout nobody built says so instead of a circular import."""
    try:
        from . import _runtime
    except ImportError as e:
        import importlib.util
        import os

        if importlib.util.find_spec(__name__ + "._runtime") is not None:
            raise  # built, but it does not load (a missing library, another Python): the error says why
        here = os.path.dirname(os.path.abspath(__file__))
        root = os.path.dirname(here)
        if os.path.exists(os.path.join(root, "pyproject.toml")):
            raise ImportError(f"pygraph's C++ runtime (pygraph._runtime) is not built: {here} is a source checkout. "
                              f"Run `make test` (or `make .venv/.installed`) in {root} and use .venv/bin/python, "
                              f"or install it with `pip install {root}`.", name=e.name, path=e.path) from None
        raise ImportError(f"pygraph's C++ runtime (pygraph._runtime) is missing from {here}; reinstall pygraph "
                          "(`pip install --force-reinstall pygraph`).", name=e.name, path=e.path) from None
    return _runtime


_load_runtime()

from . import (  # noqa: E402
    dtypes,
    errors,
    initializers,  # noqa: E402
    nn,  # noqa: E402
    sysconfig,  # noqa: E402
    train,  # noqa: E402  (its Saver and meta graphs load on first use: train/__init__.py)
)
from .dtypes import DType, as_dtype, float32, float64, int32, int64, string  # noqa: E402,A004
from .dtypes import bool_ as bool
from .gradients import AggregationMethod, UnconnectedGradients, gradients  # noqa: E402
from .graph import (  # noqa: E402
    Graph,
    GraphKeys,
    Operation,
    Tensor,
    add_to_collection,
    add_to_collections,
    control_dependencies,
    get_collection,
    get_collection_ref,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
from .initializers import (  # noqa: E402
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)

# array, reduction, linear-algebra and random ops (after the submodule imports: tf.shape is a function)
from .ops.array import (  # noqa: E402
    concat,
    expand_dims,
    fill,
    gather,
    one_hot,
    ones,
    range,
    rank,
    reshape,
    shape,
    size,
    split,
    squeeze,
    stack,
    stop_gradient,
    tile,
    unstack,
    zeros,
)
from .ops.clip import clip_by_global_norm, clip_by_norm, clip_by_value, global_norm  # noqa: E402
from .ops.control_flow import case, cond  # noqa: E402
from .ops.core import constant, convert_to_tensor  # noqa: E402
from .ops.linalg import matmul, matrix_inverse, transpose  # noqa: E402
from .ops.math import (  # noqa: E402
    abs,
    add,
    add_n,
    cast,
    ceil,
    div,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    identity,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    realdiv,
    reciprocal,
    round,
    rsqrt,
    sigmoid,
    sign,
    softplus,
    sqrt,
    square,
    squared_difference,
    subtract,
    tanh,
    to_double,
    to_float,
    to_int32,
    to_int64,
    truediv,
    where,
    zeros_like,
)
from .ops.nn_ops import (  # noqa: E402
    acos,
    asin,
    atan,
    atan2,
    cos,
    erf,
    is_finite,
    is_inf,
    is_nan,
    sin,
    tan,
    truncatediv,
    truncatemod,
)
from .ops.random import (  # noqa: E402
    multinomial,
    random_normal,
    random_shuffle,
    random_uniform,
    set_random_seed,
    truncated_normal,
)
from .ops.reduce import argmax, argmin, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum  # noqa: E402
from .ops.reduce_more import count_nonzero, reduce_all, reduce_any, reduce_logsumexp  # noqa: E402
from .ops.registry import NoGradient, NotDifferentiable, RegisterGradient  # noqa: E402
from .ops.sorting import argsort, sort  # noqa: E402
from .ops.state import (  # noqa: E402
    Variable,
    all_variables,
    assign,
    assign_add,
    assign_sub,
    global_variables,
    global_variables_initializer,
    group,
    initialize_all_variables,
    initialize_local_variables,
    initialize_variables,
    local_variables,
    local_variables_initializer,
    model_variables,
    no_op,
    placeholder,
    placeholder_with_default,
    trainable_variables,
    variables_initializer,
)
from .ops.var_init import (  # noqa: E402
    assert_variables_initialized,
    is_variable_initialized,
    report_uninitialized_variables,
)
from .ops.while_loop import while_loop  # noqa: E402
from .scopes import (  # noqa: E402
    AUTO_REUSE,
    VariableScope,
    get_local_variable,
    get_variable,
    get_variable_scope,
    variable_op_scope,
    variable_scope,
)
from .session import InteractiveSession, Session, get_default_session  # noqa: E402
from .shape import Dimension, TensorShape  # noqa: E402

sub = subtract
mul = multiply
neg = negative


class random:  # noqa: N801  (TF 1.x's tf.random namespace)
    from .ops.random import categorical, multinomial, set_random_seed, truncated_normal
    from .ops.random import random_normal as normal
    from .ops.random import random_shuffle as shuffle
    from .ops.random import random_uniform as uniform


# Loaded on first use (PEP 562), so `import pygraph` does not pay for what a program may never touch:
# tf.losses, tf.layers, tf.summary (event files, logging) and the C++ custom-op machinery. tf.nn and tf.train
# stay eager: most programs build with them, and deferring them would only move their cost into graph
# construction (timed by benchmarks/first_compile.py). Every op type is still registered at import
# (ops/__init__.py): a graph read from a file finds its rows.
# name -> (module, attribute; None: the module itself)
_LAZY = {
    "layers": (".layers", None),
    "losses": (".losses", None),
    "summary": (".summary", None),
    "import_graph_def": (".tf_import.public", "import_graph_def"),
    "GraphDef": (".graph_protos", "GraphDef"),
    "NodeDef": (".graph_protos", "NodeDef"),
    "AttrValue": (".graph_protos", "AttrValue"),
    "io": (".gfile", "io"),
    "build_op_library": (".custom_ops", "build_op_library"),
    "inline_op": (".custom_ops", "inline_op"),
    "load_op_library": (".custom_ops", "load_op_library"),
}


def _submodules():
    """The modules and packages in this folder (pkgutil would also list the editable install's extra paths)."""
    import os

    here = os.path.dirname(__file__)
    return {e.name[:-3] if e.name.endswith(".py") else e.name for e in os.scandir(here)
            if not e.name.startswith("_") and (e.name.endswith(".py") or os.path.exists(os.path.join(e.path,
                                                                                                 "__init__.py")))}


def __getattr__(name):
    """A deferred name, or a submodule (tf.checkpoint, tf.custom_ops, ...: the eager import loaded some as a
    side effect). The import system's per-module lock makes a first touch from several threads safe:
    each waits for the one import, and the value stored is the same object whoever stores it."""
    if name not in _LAZY and (name.startswith("_") or name not in _submodules()):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY.get(name, ("." + name, None))
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


# submodules the eager import loaded as a side effect, so dir(pygraph) listed them
_FORMERLY_LISTED = ("checkpoint", "checksums", "custom_ops", "nn_impl")


def __dir__():
    """What dir(pygraph) listed when everything loaded at import: the loaded names and the deferred ones."""
    return sorted({*globals(), *_LAZY, *_FORMERLY_LISTED})


__all__ = sorted(n for n in {*globals(), *_LAZY} if not n.startswith("_"))  # `import *`: the lazy names too
