"""Emitters for ops that are not elementwise; each module registers its ops with emit.register_structured."""

from . import array, collective, cond, conv, layout, linalg, loop, random, reduce, slicing, sorting, stack, xent  # noqa: F401
