"""What a framework module hands the worker for one row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Case:
    step: Callable  # the timed call
    answer: Callable  # returns the value the row's check judges (may run its own computation)
    per_call: int = 1  # units of work per step() (the table reports time per unit)


class NotApplicable(Exception):
    """The row has no meaning for this framework (the message says why)."""
