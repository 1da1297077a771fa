"""Reading checkpoints by name: tf.train.NewCheckpointReader, load_checkpoint, list_variables."""

from __future__ import annotations

import os

from .. import dtypes
from . import protos
from .bundle import BundleReader
from .state import latest_checkpoint


class CheckpointReader:
    """TF's py_checkpoint_reader: tensors of one checkpoint by name, as numpy arrays."""

    def __init__(self, prefix):
        self._bundle = BundleReader(os.fspath(prefix))

    def get_tensor(self, tensor_str):
        return self._bundle.read(tensor_str)

    def has_tensor(self, tensor_str):
        return tensor_str in self._bundle.entries

    def get_variable_to_shape_map(self):
        return {name: list(BundleReader.shape_of(e)) for name, e in self._bundle.entries.items()}

    def get_variable_to_dtype_map(self):
        """name -> DType; types pygraph has no DType for map to their numpy dtype."""
        out = {}
        for name, entry in self._bundle.entries.items():
            if entry.dtype == protos.DT_STRING:
                out[name] = dtypes.string
            else:
                npd = protos.NUMPY_OF_DT.get(entry.dtype)
                try:
                    out[name] = dtypes.as_dtype(npd)
                except TypeError:
                    out[name] = npd if npd is not None else protos.DT_NAMES.get(entry.dtype, entry.dtype)
        return out

    def debug_string(self):
        lines = []
        for name, entry in sorted(self._bundle.entries.items()):
            shape = "[" + ",".join(str(d) for d in BundleReader.shape_of(entry)) + "]"
            lines.append(f"{name} ({protos.DT_NAMES.get(entry.dtype, entry.dtype)}) {shape}\n")
        return "".join(lines).encode()

    def close(self):
        self._bundle.close()


def NewCheckpointReader(filepattern):  # noqa: N802 (TF's name)
    return CheckpointReader(filepattern)


def _checkpoint_prefix(ckpt_dir_or_file):
    ckpt_dir_or_file = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(ckpt_dir_or_file):
        prefix = latest_checkpoint(ckpt_dir_or_file)
        if prefix is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory "
                             f"{ckpt_dir_or_file}")
        return prefix
    return ckpt_dir_or_file


def load_checkpoint(ckpt_dir_or_file):
    """A CheckpointReader for a checkpoint prefix, or for the latest checkpoint of a directory."""
    return CheckpointReader(_checkpoint_prefix(ckpt_dir_or_file))


def load_variable(ckpt_dir_or_file, name):
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


def list_variables(ckpt_dir_or_file):
    """Sorted [(name, shape)] of the tensors in a checkpoint."""
    reader = load_checkpoint(ckpt_dir_or_file)
    shapes = reader.get_variable_to_shape_map()
    reader.close()
    return [(name, shapes[name]) for name in sorted(shapes)]

