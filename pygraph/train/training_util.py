"""The global step: an int64 scalar variable `global_step` in the GLOBAL_STEP collection (TF1's training_util)."""

from __future__ import annotations

from .. import dtypes
from ..graph import GraphKeys, Tensor, get_default_graph
from ..ops.core import constant
from ..ops.state import Variable


def global_step(sess, global_step_tensor):
    """The global step's current value as a Python int."""
    return int(sess.run(global_step_tensor))


def get_global_step(graph=None):
    """The graph's global step variable (from the GLOBAL_STEP collection or named `global_step:0`), or None."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) == 1:
        step = found[0]
    elif not found:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
    else:
        import logging  # here: `import pygraph` does not load logging for this one rare message

        logging.getLogger("pygraph").error("Multiple tensors in global_step collection.")
        return None
    assert_global_step(step)
    return step


def assert_global_step(global_step_tensor):
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype!r}')
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def create_global_step(graph=None):
    """Create the int64 `global_step` variable (zero, not trainable); ValueError if one exists."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
        return Variable(lambda: constant(0, dtype=dtypes.int64, name="zeros"), name=GraphKeys.GLOBAL_STEP,
                        trainable=False, dtype=dtypes.int64,
                        collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph=None):
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    return step if step is not None else create_global_step(graph)
