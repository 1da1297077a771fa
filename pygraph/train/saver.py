"""tf.train.Saver: save variables to TF-compatible V2 checkpoints, restore them, keep the N newest.

Values move between the session's variable buffers and the bundle files directly (no graph ops), so
saving or restoring compiles nothing. Write order makes every step crash-safe: `P.meta`, then
`P.data-00000-of-00001`, then `P.index` (which marks the checkpoint as present), then the state file;
each file is written under a temporary name and renamed into place. Saving again to the same prefix keeps
the previous pair until the new one is whole, and restore falls back to it (with a warning) if a save was
killed in between (checkpoint/bundle.py).
"""

from __future__ import annotations

import numbers
import os
import time

import numpy as np

from .. import errors
from ..checkpoint import bundle, meta_graph, state
from ..checkpoint.reader import NewCheckpointReader, list_variables, load_checkpoint, load_variable  # noqa: F401
from ..graph import Operation, Tensor, get_default_graph
from ..ops.state import Variable


class SaverDef:
    """The settings of a Saver (TF's SaverDef), and the checkpoint format versions."""

    LEGACY, V1, V2 = 0, 1, 2

    def __init__(self, max_to_keep=5, keep_checkpoint_every_n_hours=10000.0, sharded=False, version=2,
                 var_names=None, pad_step_number=False, save_relative_paths=False, allow_empty=False,
                 reshape=False):
        self.max_to_keep = max_to_keep
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.sharded = sharded
        self.version = version
        self.var_names = dict(var_names or {})  # checkpoint key -> variable op name
        self.pad_step_number = pad_step_number
        self.save_relative_paths = save_relative_paths
        self.allow_empty = allow_empty
        self.reshape = reshape

    def to_dict(self):
        return dict(vars(self))

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


def _variable_op(value, name_for_error):
    if isinstance(value, Variable):
        return value.op
    if isinstance(value, Tensor) and value.op.type == "VariableV2":
        return value.op
    if isinstance(value, Operation) and value.type == "VariableV2":
        return value
    raise TypeError(f"Variable to save is not a Variable: {value!r}" +
                    (f" (key {name_for_error!r})" if name_for_error else ""))


def _names_to_ops(var_list):
    """{checkpoint key: VariableV2 op}, validated as TF's op_list_to_dict does."""
    out = {}
    if isinstance(var_list, dict):
        items = [(k, _variable_op(v, k)) for k, v in var_list.items()]
        for k, _ in items:
            if not isinstance(k, str):
                raise TypeError(f"Saver var_list keys must be strings (checkpoint names), got {k!r}")
    elif isinstance(var_list, (list, tuple, set)):
        items = []
        for v in var_list:
            op = _variable_op(v, None)
            if any(name == op.name for name, _ in items):
                raise ValueError(f"At least two variables have the same name: {op.name}")
            items.append((op.name, op))
    else:
        raise TypeError(f"Variables to save should be passed in a dict or a list: {var_list!r}")
    seen = {}
    for name, op in sorted(items):
        if op in seen:
            raise ValueError(f"The same saveable will be restored with two names: {seen[op]} and {name}")
        seen[op] = name
        out[name] = op
    return out


class Saver:
    """Saves and restores variables (TF1's tf.train.Saver) in TensorFlow's V2 checkpoint format.

    `saver = tf.train.Saver()` covers every global variable (or `var_list`: a list of variables or a
    {checkpoint name: variable} dict). `saver.save(sess, "dir/model.ckpt")` writes `model.ckpt.index`,
    `model.ckpt.data-00000-of-00001`, `model.ckpt.meta` (the graph, for tf.train.import_meta_graph) and the
    `checkpoint` state file that tf.train.latest_checkpoint reads; files are written atomically and the
    oldest checkpoints beyond `max_to_keep` are deleted. `saver.restore(sess, path)` loads the values into
    `sess`, so no initializer needs to run. TensorFlow reads the checkpoints pygraph writes and pygraph reads
    TensorFlow's.
    """

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False, saver_def=None,
                 builder=None, defer_build=False, allow_empty=False, write_version=SaverDef.V2,
                 pad_step_number=False, save_relative_paths=False, filename=None):
        if defer_build and var_list:
            raise ValueError("If `var_list` is provided then build cannot be deferred. Either set "
                             "defer_build=False or var_list=None.")
        if write_version != SaverDef.V2:
            raise errors.UnimplementedError(None, None, "pygraph writes only the V2 checkpoint format "
                                            "(write_version=tf.train.SaverDef.V2).")
        if saver_def is not None:
            if not isinstance(saver_def, SaverDef):
                raise ValueError(f"saver_def must be a SaverDef: {saver_def!r}")
            saver_def = SaverDef.from_dict(saver_def.to_dict())  # build() fills in var_names
        self._var_list = var_list
        self._name = name
        self._filename = filename
        self._graph = get_default_graph()
        self.saver_def = saver_def or SaverDef(max_to_keep, keep_checkpoint_every_n_hours, sharded, write_version,
                                               None, pad_step_number, save_relative_paths, allow_empty, reshape)
        self._last_checkpoints = []  # (prefix, time) oldest first
        self._checkpoints_to_be_deleted = []
        self._is_built = False
        self._is_empty = None
        self._names = {}
        if not defer_build:
            self.build()

    # -- building
    def build(self):
        if self._is_built:
            return
        self._is_built = True
        sd = self.saver_def
        if self._var_list is None and sd.var_names:  # rebuilt from a SaverDef (e.g. of a meta graph)
            scoped = (lambda n: f"{self._name}/{n}") if self._name else (lambda n: n)
            self._names = {k: self._graph.get_operation_by_name(scoped(v)) for k, v in sd.var_names.items()}
        else:
            var_list = self._var_list
            if var_list is None:
                var_list = self._graph.get_collection("variables")
            self._names = _names_to_ops(var_list) if var_list else {}
        if not self._names and not sd.allow_empty:
            raise ValueError("No variables to save")
        self._is_empty = not self._names
        if self._names:  # the variables' graph, which need not be the default one
            self._graph = next(iter(self._names.values())).graph
        sd.var_names = {k: op.name for k, op in self._names.items()}
        self._next_checkpoint_time = time.time() + sd.keep_checkpoint_every_n_hours * 3600

    def as_saver_def(self):
        return self.saver_def

    # -- bookkeeping of kept checkpoints (TF's _RecordLastCheckpoint / _MaybeDeleteOldCheckpoints)
    @property
    def last_checkpoints(self):
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints):
        if not isinstance(last_checkpoints, list):
            raise TypeError("last_checkpoints must be a list")
        self._last_checkpoints = [(p, np.inf) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time):
        if not isinstance(last_checkpoints_with_time, list):
            raise TypeError("last_checkpoints_with_time must be a list")
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths):
        found = []
        for path in checkpoint_paths:
            mtime = state.get_checkpoint_mtimes([path])
            if mtime:
                found.append((path, mtime[0]))
        self.set_last_checkpoints_with_time(found)

    def _record_last_checkpoint(self, path):
        if not self.saver_def.max_to_keep:
            return
        self._last_checkpoints = [p for p in self._last_checkpoints if p[0] != path]
        self._last_checkpoints.append((path, time.time()))
        if len(self._last_checkpoints) > self.saver_def.max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self, meta_graph_suffix):
        if not self._checkpoints_to_be_deleted:
            return
        path, saved_at = self._checkpoints_to_be_deleted.pop(0)
        if saved_at > self._next_checkpoint_time:  # keep one checkpoint every N hours
            self._next_checkpoint_time += self.saver_def.keep_checkpoint_every_n_hours * 3600
            return
        state.remove_checkpoint(path, meta_graph_suffix=meta_graph_suffix)

    # -- saving
    def _check_session(self, sess):
        from ..session import Session

        if not isinstance(sess, Session):
            raise TypeError(f"'sess' must be a Session; {sess}")
        if sess._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if sess.graph is not self._graph:
            raise ValueError("The Saver's variables are not in the session's graph.")

    def _global_step_value(self, sess, global_step):
        if isinstance(global_step, (numbers.Integral, np.integer)):
            return int(global_step)
        op = global_step.op if isinstance(global_step, Variable) else None
        if isinstance(global_step, Tensor) and global_step.op.type == "VariableV2":
            op = global_step.op
        if op is not None and op in sess._initialized:
            return int(sess._variable_buffer(op))
        return int(sess.run(global_step))

    def _values(self, sess):
        values = {}
        for name, op in self._names.items():
            if op not in sess._initialized:
                errors.raise_for_op(errors.FAILED_PRECONDITION, op, f"Attempting to use uninitialized value "
                                    f"{op.name}", "Run its initializer (or restore it) before saving.")
            values[name] = sess._variable_buffer(op)
        return values

    def save(self, sess, save_path, global_step=None, latest_filename=None, meta_graph_suffix="meta",
             write_meta_graph=True, write_state=True, strip_default_attrs=False, save_debug_info=False):
        """Write the variables' values in `sess` to a checkpoint; returns its prefix (`save_path-<step>`
        when `global_step`, an int or a variable, is given). write_meta_graph: also write
        `<prefix>.meta`; write_state: update the `checkpoint` file beside it (named `latest_filename`)."""
        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        latest_filename = latest_filename or "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        self._check_session(sess)
        if global_step is not None:
            step = self._global_step_value(sess, global_step)
            prefix = f"{save_path}-{step:08d}" if self.saver_def.pad_step_number else f"{save_path}-{step}"
        else:
            prefix = save_path
            if os.path.basename(save_path) == latest_filename and not self.saver_def.sharded:
                raise ValueError(f"'latest_filename' collides with 'save_path': '{latest_filename}' and "
                                 f"'{save_path}'")
        save_dir = os.path.dirname(save_path)
        meta_file = state.meta_graph_filename(prefix, meta_graph_suffix)
        if self._is_empty:
            if write_meta_graph:
                self.export_meta_graph(meta_file, strip_default_attrs=strip_default_attrs)
            return None
        values = self._values(sess)
        if save_dir and not os.path.isdir(save_dir):
            try:
                os.mkdir(save_dir)  # TF's BundleWriter creates the last directory level only
            except FileNotFoundError:
                raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.") from None
            except FileExistsError:
                pass
        if write_meta_graph:
            self.export_meta_graph(meta_file, strip_default_attrs=strip_default_attrs)
        bundle.write_bundle(prefix, values)
        if write_state:
            self._record_last_checkpoint(prefix)
            state.update_checkpoint_state(save_dir, prefix, self.last_checkpoints, latest_filename,
                                          self.saver_def.save_relative_paths)
            self._maybe_delete_old_checkpoints(meta_graph_suffix)
        return prefix

    # -- restoring
    def restore(self, sess, save_path):
        """Load every variable of this Saver from the checkpoint `save_path`. A failed restore leaves the
        session as it was: values for initialized variables are staged and checked before any is copied
        in; uninitialized ones are read in place and stay uninitialized on failure."""
        if self._is_empty:
            return
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        prefix = os.fspath(save_path)
        if not state.checkpoint_exists(prefix):
            raise ValueError("The passed save_path is not a valid checkpoint: " + prefix)
        self._check_session(sess)
        with bundle.BundleReader(prefix) as reader:
            shapes = {name: self._check_entry(reader, name, op) for name, op in self._names.items()}
            staged, direct = [], []
            for name, op in self._names.items():
                if op in sess._initialized:
                    staged.append((op, reader.read(name).reshape(shapes[name])))
                else:  # nothing to preserve: read straight into the variable's buffer
                    reader.read(name, out=sess._variable_buffer(op))
                    direct.append(op)
        for op, value in staged:
            np.copyto(sess._variable_buffer(op), value)
        sess._initialized.update(direct)
        sess._initialized.update(op for op, _ in staged)

    def _check_entry(self, reader, name, op):
        """The shape to load `name` as, after checking that it exists with op's dtype and shape."""
        t = op.outputs[0]
        if name not in reader.entries:
            raise _restore_error(errors.NotFoundError, "a Variable name or other graph key that is missing",
                                 f"Key {name} not found in checkpoint {reader.prefix}", op)
        entry = reader.entries[name]
        stored_dt = bundle.protos.DT_NAMES.get(entry.dtype, str(entry.dtype))
        wanted_dt = bundle.protos.DT_OF_NAME.get(t.dtype.name)
        if entry.dtype != wanted_dt:
            raise _restore_error(errors.InvalidArgumentError, "a mismatch between the current graph and the graph",
                                 f"tensor_name = {name}; expected dtype {t.dtype.name} does not equal original "
                                 f"dtype {stored_dt} (checkpoint {reader.prefix})", op)
        stored = bundle.BundleReader.shape_of(entry)
        wanted = t.shape.as_tuple()
        if stored != wanted:
            same_size = int(np.prod(stored)) == int(np.prod(wanted))
            if not (self.saver_def.reshape and same_size):
                raise _restore_error(
                    errors.InvalidArgumentError, "a mismatch between the current graph and the graph",
                    f"Assign requires shapes of both tensors to match. lhs shape= {_fmt(wanted)} rhs shape= "
                    f"{_fmt(stored)} (variable {op.name}, tensor {name} in checkpoint {reader.prefix})", op)
        return wanted

    # -- meta graph
    def export_meta_graph(self, filename=None, collection_list=None, as_text=False, export_scope=None,
                          clear_devices=False, clear_extraneous_savers=False, strip_default_attrs=False,
                          save_debug_info=False):
        return meta_graph.export_meta_graph(filename=filename, graph=self._graph, saver=self,
                                            collection_list=collection_list, export_scope=export_scope)

    def to_proto(self, export_scope=None):
        return self.saver_def

    @staticmethod
    def from_proto(saver_def, import_scope=None):
        return Saver(saver_def=saver_def, name=import_scope)


def _fmt(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def _restore_error(cls, verbiage, detail, op):
    return cls(None, op, f"Restoring from checkpoint failed. This is most likely due to {verbiage} from the "
               "checkpoint. Please ensure that you have not altered the graph expected based on the checkpoint. "
               f"Original error:\n\n{detail}")


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """Rebuild the graph saved in a `.meta` file into the default graph; returns a Saver for its variables
    (None when it has none)."""
    saver_def = meta_graph.import_meta_graph(meta_graph_or_file, clear_devices, import_scope, **kwargs)
    if saver_def is not None:
        return Saver(saver_def=SaverDef.from_dict(saver_def))
    if get_default_graph().get_collection("variables", scope=import_scope):
        return Saver()  # as TF: no stored saver, so one for all the graph's variables
    return None


def export_meta_graph(filename=None, meta_info_def=None, graph_def=None, saver_def=None, collection_list=None,
                      as_text=False, graph=None, export_scope=None, clear_devices=False,
                      clear_extraneous_savers=False, strip_default_attrs=False, save_debug_info=False, **kwargs):
    return meta_graph.export_meta_graph(filename=filename, graph=graph, saver=saver_def,
                                        collection_list=collection_list, export_scope=export_scope)


latest_checkpoint = state.latest_checkpoint
get_checkpoint_state = state.get_checkpoint_state
checkpoint_exists = state.checkpoint_exists
