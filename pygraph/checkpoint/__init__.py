"""TensorFlow-compatible checkpoints: the V2 tensor bundle (`P.index` + `P.data-00000-of-00001`), the
`checkpoint` state file, and pygraph's meta graph files (`P.meta`)."""

from .bundle import BundleReader, data_filename, index_filename, write_bundle  # noqa: F401
from .reader import CheckpointReader, NewCheckpointReader, list_variables, load_checkpoint, load_variable  # noqa: F401
from .state import (  # noqa: F401
    checkpoint_exists,
    generate_checkpoint_state_proto,
    get_checkpoint_mtimes,
    get_checkpoint_state,
    latest_checkpoint,
    meta_graph_filename,
    remove_checkpoint,
    update_checkpoint_state,
)
