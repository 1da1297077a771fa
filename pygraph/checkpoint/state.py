"""The `checkpoint` state file (a text CheckpointState proto) and the checkpoint-discovery functions of
tensorflow/python/checkpoint/checkpoint_management.py: latest_checkpoint, get_checkpoint_state, ..."""

from __future__ import annotations

import glob
import logging
import os

from . import protos
from .bundle import delete_bundle, index_filename
from .files import write_atomic

_log = logging.getLogger("pygraph.checkpoint")


def _state_filename(save_dir, latest_filename):
    return os.path.join(save_dir, latest_filename or "checkpoint")


def generate_checkpoint_state_proto(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                                    all_model_checkpoint_timestamps=None, last_preserved_timestamp=None):
    """A CheckpointState whose paths are relative to `save_dir` when `save_dir` itself is relative."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    if all_model_checkpoint_timestamps and len(all_model_checkpoint_timestamps) != len(paths):
        raise ValueError(f"Checkpoint timestamps, if provided, must match checkpoint paths (got paths {paths} "
                         f"and timestamps {all_model_checkpoint_timestamps})")
    if not os.path.isabs(save_dir):
        base = save_dir or os.curdir
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, base)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, base) for p in paths]
    state = protos.messages().CheckpointState(model_checkpoint_path=model_checkpoint_path,
                                              all_model_checkpoint_paths=paths)
    if all_model_checkpoint_timestamps:
        state.all_model_checkpoint_timestamps.extend(all_model_checkpoint_timestamps)
    if last_preserved_timestamp is not None:
        state.last_preserved_timestamp = last_preserved_timestamp
    return state


def update_checkpoint_state(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                            latest_filename=None, save_relative_paths=False,
                            all_model_checkpoint_timestamps=None, last_preserved_timestamp=None):
    """Rewrite the state file (atomically) to name `model_checkpoint_path` as the latest checkpoint."""
    from google.protobuf import text_format

    paths = list(all_model_checkpoint_paths or [])
    if save_relative_paths:
        rel = lambda p: os.path.relpath(p, save_dir) if os.path.isabs(p) else p  # noqa: E731
        model_checkpoint_path, paths = rel(model_checkpoint_path), [rel(p) for p in paths]
    state = generate_checkpoint_state_proto(save_dir, model_checkpoint_path, paths,
                                            all_model_checkpoint_timestamps, last_preserved_timestamp)
    filename = _state_filename(save_dir, latest_filename)
    if filename == state.model_checkpoint_path:
        raise RuntimeError(f"Save path '{model_checkpoint_path}' conflicts with path used for checkpoint state."
                           "  Please use a different save path.")
    write_atomic(filename, text_format.MessageToString(state))


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The CheckpointState of `checkpoint_dir` with paths made absolute (joined to the directory), or None
    when there is no readable state file."""
    from google.protobuf import text_format

    checkpoint_dir = os.fspath(checkpoint_dir)
    filename = _state_filename(checkpoint_dir, latest_filename)
    try:
        with open(filename, encoding="utf-8") as f:
            content = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        _log.warning("%s: %s: Checkpoint ignored", filename, e)
        return None
    state = protos.messages().CheckpointState()
    try:
        text_format.Merge(content, state)
    except text_format.ParseError as e:
        _log.warning("%s: %s: Checkpoint ignored", filename, e)
        return None
    if not state.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    if not os.path.isabs(state.model_checkpoint_path):
        state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    for i, p in enumerate(state.all_model_checkpoint_paths):
        if not os.path.isabs(p):
            state.all_model_checkpoint_paths[i] = os.path.join(checkpoint_dir, p)
    return state


def checkpoint_exists(checkpoint_prefix):
    """Whether a checkpoint (its `.index`, or a V1 file of exactly that name) exists; globs like TF."""
    checkpoint_prefix = os.fspath(checkpoint_prefix)
    return bool(glob.glob(index_filename(checkpoint_prefix)) or glob.glob(checkpoint_prefix))


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint named by the state file, or None if it names none that exists."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and state.model_checkpoint_path:
        if checkpoint_exists(state.model_checkpoint_path):
            return state.model_checkpoint_path
        _log.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


def meta_graph_filename(checkpoint_filename, meta_graph_suffix="meta"):
    return f"{checkpoint_filename}.{meta_graph_suffix}"


def get_checkpoint_mtimes(checkpoint_prefixes):
    mtimes = []
    for prefix in checkpoint_prefixes:
        for path in (index_filename(prefix), prefix):
            matches = glob.glob(path)
            if matches:
                mtimes.append(os.stat(matches[0]).st_mtime_ns / 1e9)
                break
    return mtimes


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=2, meta_graph_suffix="meta"):
    """Delete a checkpoint's files: the index first (it is what marks a checkpoint), then data and meta."""
    delete_bundle(checkpoint_prefix)
    try:
        os.remove(meta_graph_filename(checkpoint_prefix, meta_graph_suffix))
    except FileNotFoundError:
        pass
