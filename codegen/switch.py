"""An on/off setting for one lowering rewrite (MatMul chains, GEMM epilogues), so tests can compare the
rewritten program with the plain one; the request index keys on `enabled`."""

from __future__ import annotations

import contextlib


class Rewrite:
    def __init__(self):
        self.enabled = True

    def __bool__(self):
        return self.enabled

    def __repr__(self):
        return "on" if self.enabled else "off"

    @contextlib.contextmanager
    def disabled(self):
        """Lower without this rewrite inside the block."""
        saved, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = saved
