"""TF1's own distribution API (ClusterSpec, Server, replica_device_setter): not in pygraph, which trains
across processes with Horovod's API on MPI instead. Each raises at once, saying what to use."""

from __future__ import annotations

_MESSAGE = ("tf.train.{name} (TensorFlow's parameter-server runtime) is not supported by pygraph. Train "
            "data-parallel with pygraph.distribute (Horovod's API, on MPI): `import pygraph.distribute as hvd; "
            "hvd.init(); opt = hvd.DistributedOptimizer(opt)`, start with `python -m pygraph.distribute.run -np "
            "N train.py`; README section 'Distributed training' translates chapter-12 style code.")


def _unsupported(name):
    def raiser(*args, **kwargs):
        raise NotImplementedError(_MESSAGE.format(name=name))
    raiser.__name__ = name
    raiser.__doc__ = f"Not supported: raises NotImplementedError pointing to pygraph.distribute ({name})."
    return raiser


ClusterSpec = _unsupported("ClusterSpec")
Server = _unsupported("Server")
replica_device_setter = _unsupported("replica_device_setter")
