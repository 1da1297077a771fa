"""Reading a frozen TensorFlow GraphDef (`.pb`, variables folded into constants, as TF's
convert_variables_to_constants writes it). Its nodes become pygraph ops through the one TensorFlow importer,
pygraph/tf_import (the same one tf.train.import_meta_graph uses for TF's `.meta` files)."""

from __future__ import annotations

from pathlib import Path

from .frontend import AotError


def read_graph_def(path):
    from ..graph_protos import messages

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise AotError(f"cannot read {path}: {e.strerror}") from None
    gd = messages().GraphDef()
    try:
        gd.ParseFromString(data)
    except Exception:  # noqa: BLE001 (protobuf's DecodeError)
        raise AotError(f"{path} is not a TensorFlow GraphDef protobuf") from None
    if not gd.node:
        raise AotError(f"{path} holds no nodes (is it a GraphDef?)")
    return gd
