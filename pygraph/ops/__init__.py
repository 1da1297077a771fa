"""Op families. Importing this package registers every built-in op."""

from . import array, core, linalg, math, random, reduce, registry, state  # noqa: F401  # noqa: F401
