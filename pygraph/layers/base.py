"""The variable scope every tf.layers function runs in."""

from __future__ import annotations

import numpy as np

from ..graph import Tensor
from ..scopes import variable_scope


def layer_scope(name, default_name, reuse):
    """`name` if given, else a unique `default_name`, `default_name_1`, ... (TF1's layer naming)."""
    if name is None and reuse:  # TF: a reused layer without a name shares the base name's scope
        return variable_scope(default_name, reuse=True)
    return variable_scope(name, default_name=default_name, reuse=True if reuse else None)


def static_bool(training):
    """training as a Python bool when it is one (or a constant), else None (a tensor known at run time)."""
    if isinstance(training, (bool, np.bool_)):
        return bool(training)
    if isinstance(training, Tensor) and training.op.type == "Const":
        return bool(training.op.attrs["value"])
    if not isinstance(training, Tensor) and not hasattr(training, "_as_tensor"):
        return bool(training)
    return None
