"""tf.train: optimizers, the global step (and the Saver)."""

from .cluster import ClusterSpec, Server, replica_device_setter  # noqa: F401
from .graph_io import write_graph  # noqa: F401
from .learning_rate_decay import (  # noqa: F401
    exponential_decay,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)
from .optimizer import Optimizer  # noqa: F401
from .optimizers import (  # noqa: F401
    AdagradOptimizer,
    AdamOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    RMSPropOptimizer,
)
from .training_util import (  # noqa: F401
    assert_global_step,
    create_global_step,
    get_global_step,
    get_or_create_global_step,
    global_step,
)

# The Saver and meta graphs load on first use (PEP 562): they bring the checkpoint formats, zipfile, json and
# the custom-op machinery, which a program that never saves does not need at `import pygraph`.
_SAVER_NAMES = ("NewCheckpointReader", "Saver", "SaverDef", "checkpoint_exists", "export_meta_graph",
                "get_checkpoint_state", "import_meta_graph", "latest_checkpoint", "list_variables",
                "load_checkpoint", "load_variable")


def __getattr__(name):
    if name in _SAVER_NAMES or name == "saver":
        import importlib

        saver = importlib.import_module(".saver", __name__)  # the import lock serializes threads
        value = saver if name == "saver" else getattr(saver, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SAVER_NAMES})


__all__ = [n for n in __dir__() if not n.startswith("_")]  # `from pygraph.train import *`: the Saver's names too
