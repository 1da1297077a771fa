"""tf.train: optimizers, the global step (and the Saver)."""

from .cluster import ClusterSpec, Server, replica_device_setter  # noqa: F401
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
from .saver import (  # noqa: F401
    NewCheckpointReader,
    Saver,
    SaverDef,
    checkpoint_exists,
    export_meta_graph,
    get_checkpoint_state,
    import_meta_graph,
    latest_checkpoint,
    list_variables,
    load_checkpoint,
    load_variable,
)
from .training_util import (  # noqa: F401
    assert_global_step,
    create_global_step,
    get_global_step,
    get_or_create_global_step,
    global_step,
)
