"""tf.train.write_graph (tensorflow/python/framework/graph_io.py): a Graph or GraphDef to `logdir/name`, as
protobuf text (as_text=True) or binary, written atomically (a temporary file renamed into place)."""

from __future__ import annotations

import os


def write_graph(graph_or_graph_def, logdir, name, as_text=True):
    """Writes the GraphDef and returns the path written."""
    from ..checkpoint.files import write_atomic
    from ..graph import Graph
    from ..graph_protos import is_graph_def

    if isinstance(graph_or_graph_def, Graph):
        graph_def = graph_or_graph_def.as_graph_def()
    elif is_graph_def(graph_or_graph_def):
        graph_def = graph_or_graph_def
    else:
        raise TypeError(f"write_graph takes a Graph or a GraphDef, not {type(graph_or_graph_def).__name__}")
    path = os.path.join(logdir, name)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if as_text:
        from google.protobuf import text_format

        write_atomic(path, text_format.MessageToString(graph_def).encode("utf-8"))
    else:
        write_atomic(path, graph_def.SerializeToString(deterministic=True))
    return path
