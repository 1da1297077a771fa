"""Op families. Importing this package registers every built-in op."""

from . import core, math, registry, state  # noqa: F401
from . import array, linalg, random, reduce  # noqa: F401
