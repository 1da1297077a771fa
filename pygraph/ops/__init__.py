"""Op families. Importing this package registers every built-in op (nn_ops: tf.nn's primitives)."""

from . import (  # noqa: F401
    array,
    conv,
    conv_grad,
    core,
    linalg,
    math,
    nn_grad,
    nn_ops,
    random,
    reduce,
    registry,
    sorting,
    state,
    tensor_array,
    var_init,
    xent,
)
