"""tf.nn: activations (more arrive with the neural-network ops)."""

from .ops.math import relu, sigmoid, softplus, tanh  # noqa: F401
