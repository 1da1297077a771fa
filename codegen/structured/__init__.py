"""Emitters for ops that are not elementwise; each module registers its ops with emit.register_structured."""

from . import cond, layout, linalg, random, reduce, slicing  # noqa: F401
