"""TensorFlow 1.x graph mode as a TF1 user runs it today: tf.compat.v1 with v2 behaviour disabled, a
Session, the same programs as pygraph (tf1_programs.py)."""

from __future__ import annotations

import os

import tensorflow as _tf

from .tf1_programs import TF1Programs

tf = _tf.compat.v1
tf.disable_v2_behavior()

NAME = "tf1"
THREADS = int(os.environ.get("PYGRAPH_BENCH_THREADS", "0")) or (os.cpu_count() or 1)


def version():
    return _tf.__version__


def runtime_info():
    return dict(intra_op_parallelism_threads=THREADS, inter_op_parallelism_threads=1,
                onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"))


def _session(graph):
    config = tf.ConfigProto(intra_op_parallelism_threads=THREADS, inter_op_parallelism_threads=1)
    return tf.Session(graph=graph, config=config)


CASES = TF1Programs(tf, _session).cases()
