"""The protobuf messages TensorBoard reads, from the `tensorboard` package (the optional extra).

Imported lazily so that building summary ops never needs tensorboard; writing or serializing them does.
"""

from __future__ import annotations

import importlib

INSTALL_HINT = ("TensorBoard summaries need the `tensorboard` package (it ships the protobuf messages): "
                "pip install pygraph[tensorboard]")


def proto(module):
    """tensorboard.compat.proto.<module> (e.g. "summary_pb2"), or ImportError with the install hint."""
    try:
        return importlib.import_module(f"tensorboard.compat.proto.{module}")
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from e
