"""pygraph.distribute on real MPI (the mpich and mpi4py wheels of the test extra): ranks started by mpiexec
train the lecture's regression on shards and must match one process on the global batch; broadcasts,
checkpoints, a killed rank, mismatched graphs and the collective inside the compiled step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pygraph as tf
import pygraph.distribute as hvd

WORKER = Path(__file__).resolve().parent / "distribute_worker.py"
MPIEXEC = Path(sys.executable).parent / "mpiexec"
try:
    import mpi4py  # noqa: F401

    HAVE_MPI = MPIEXEC.exists()
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py and the mpich wheel (pip install 'pygraph[mpi]') "
                                                    "are not installed")
OPTIMIZERS = ("sgd", "momentum", "adam", "adagrad", "rmsprop")


def launch(ranks, scenario, out, timeout=180, extra_env=None, mpiexec_args=()):
    env = dict(os.environ, **(extra_env or {}))
    if ranks == 0:  # one process without mpiexec: size() == 1
        command = [sys.executable, str(WORKER), scenario, str(out)]
    else:
        command = [str(MPIEXEC), *mpiexec_args, "-n", str(ranks), sys.executable, str(WORKER), scenario, str(out)]
    start = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.monotonic() - start


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process on the global batch: the thetas every data-parallel run must reach."""
    out = tmp_path_factory.mktemp("reference")
    proc, _ = launch(0, "regression", out)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(out / "rank0.npz"))


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_sharded_training_matches_one_process(ranks, reference, tmp_path):
    proc, _ = launch(ranks, "regression", tmp_path, extra_env={"PYGRAPH_DEBUG": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(ranks)]
    for name in OPTIMIZERS:
        # broadcast: every rank starts from rank 0's initial values, which are the reference's (seeded by rank)
        for r in range(ranks):
            np.testing.assert_array_equal(results[r][f"{name}_start_rank{r}"], reference[f"{name}_start_rank0"])
        assert not np.array_equal(np.random.default_rng(101).uniform(-1, 1, (9, 1)), reference[f"{name}_start_rank0"])
        # the averaged shard gradients are the global batch's gradient: the same theta, to rounding
        for r in range(ranks):
            np.testing.assert_allclose(results[r][f"{name}_final_rank{r}"], reference[f"{name}_final_rank0"],
                                       rtol=1e-9, atol=1e-9, err_msg=f"{name}, rank {r} of {ranks}")
        assert not np.allclose(reference[f"{name}_final_rank0"], reference[f"{name}_start_rank0"])
    # rank 0 saved, every rank restored rank 0's trained Adam theta
    for r in range(ranks):
        np.testing.assert_array_equal(results[r][f"restored_rank{r}"], results[0]["adam_final_rank0"])
    # Compression.fp16: summed as half floats (0.1 -> 1638/16384; 3 of them round to 2456/8192)
    half = np.float16(0.1)
    expected = half
    for _ in range(ranks - 1):
        expected = np.float16(expected + half)
    for r in range(ranks):
        np.testing.assert_array_equal(results[r]["fp16_sum"], np.full(4, np.float32(expected)))
        np.testing.assert_allclose(results[r]["fp32_sum"], np.full(4, ranks * 0.1), rtol=1e-6)
    assert abs(np.float32(expected) - ranks * 0.1) > 1e-5  # the half-float sum is not the float32 one
    # the collective runs inside the step: one program per training step, with one bucket (theta and bias)
    for name in ("GradientDescent", "Momentum", "Adam", "Adagrad", "RMSProp"):
        # compiled once per rank (the ranks' stderr lines may interleave), then reused for every step
        assert proc.stderr.count(f"[pygraph] fetch {name}:") == ranks, (name, proc.stderr)
    assert proc.stderr.count("PgAllreduce(Distributed") == len(OPTIMIZERS) * ranks, proc.stderr


@pytest.mark.parametrize("ranks", [0, pytest.param(2, marks=needs_mpi)])
def test_gradient_accumulation_equals_a_larger_batch(ranks, reference, tmp_path):
    """backward_passes_per_step=2 (averaged) on half shards: one process on the whole batch's updates. The
    lone first step of rank 0 (an accumulation only) must not wait for rank 1 (timeout 20 s)."""
    proc, _ = launch(ranks, "accumulate", tmp_path, extra_env={"PYGRAPH_COLLECTIVE_TIMEOUT": "20"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for r in range(max(ranks, 1)):
        result = dict(np.load(tmp_path / f"rank{r}.npz"))
        for name in ("sgd", "adam"):
            np.testing.assert_allclose(result[f"{name}_final_rank{r}"], reference[f"{name}_final_rank0"],
                                       rtol=1e-9, atol=1e-9, err_msg=f"{name}, rank {r} of {ranks}")
            assert result[f"{name}_unchanged_rank{r}"], "the first of two steps applied an update"
            assert result[f"{name}_global_step_rank{r}"] == 2 * 15  # every step counts, as in Horovod
        if ranks > 1:  # the mpich wheel speaks MPICH's ABI: compiled steps call MPI directly
            assert str(result["direct_problem"]) == "None", result["direct_problem"]


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_allgather_of_different_first_dimensions(ranks, tmp_path):
    proc, _ = launch(ranks, "gather", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    constant = np.concatenate([np.arange((r + 1) * 3, dtype=np.float64).reshape(r + 1, 3) + 100 * r
                               for r in range(ranks)])
    fed = np.concatenate([np.full((2 - r % 2, 2), r, np.int32) for r in range(ranks)])
    for r in range(ranks):
        result = dict(np.load(tmp_path / f"rank{r}.npz"))
        assert result["static_shape"] == "(?, 3)"
        np.testing.assert_array_equal(result["constant"], constant)
        assert result["fed"].dtype == np.int32
        np.testing.assert_array_equal(result["fed"], fed)
        assert result["empty"].shape == (0, 2)
        other = 1 if r != 1 else 0
        assert (f"dimension 1 of the tensor is {3 if other == 1 else 2} on rank {other} but {3 if r == 1 else 2} "
                "on this rank; only the first dimension may differ across ranks") in str(result["error"])


@needs_mpi
def test_stuck_rank_fails_the_others_within_the_timeout(tmp_path):
    """Rank 1 stops taking part mid-training; rank 0 must fail its next step with the error, after waiting
    the timeout, not hang."""
    timeout = 2
    proc, _ = launch(2, "hang", tmp_path, timeout=120, extra_env={"PYGRAPH_COLLECTIVE_TIMEOUT": str(timeout)})
    assert proc.returncode != 0, proc.stdout + proc.stderr
    report = tmp_path / "rank0.err"
    assert report.exists(), proc.stdout + proc.stderr
    waited, error = report.read_text().split("\n", 1)
    assert error.startswith("DeadlineExceededError: pygraph.distribute: allreduce"), error
    assert "waited 2 s (PYGRAPH_COLLECTIVE_TIMEOUT)" in error and "allreduce_bucket" in error, error
    assert timeout <= float(waited) < timeout + 2, waited
    assert "finished training" not in proc.stdout


@needs_mpi
def test_stuck_rank_fails_a_large_allreduce_within_the_timeout(tmp_path):
    """As above, on a buffer that the direct engine reduces with the blocking MPI_Allreduce on its helper
    thread: the caller gives up after the timeout, and the job ends at once although the helper thread stays
    inside MPI (rank 1 would only leave 20 s later)."""
    proc, _ = launch(2, "hang_large", tmp_path, timeout=120, extra_env={"PYGRAPH_COLLECTIVE_TIMEOUT": "2"})
    ended = time.time()
    assert proc.returncode != 0, proc.stdout + proc.stderr
    report = tmp_path / "rank0.err"
    assert report.exists(), proc.stdout + proc.stderr
    waited, error = report.read_text().split("\n", 1)
    assert error.startswith("DeadlineExceededError: pygraph.distribute: allreduce"), error
    assert "waited 2 s (PYGRAPH_COLLECTIVE_TIMEOUT)" in error, error
    assert 2 <= float(waited) < 4, waited
    assert ended - report.stat().st_mtime < 10, "the job did not end when rank 0 failed"
    steps = np.load(tmp_path / "rank0.npz")
    assert steps["sum_right"]
    if steps["blocking"]:  # MPICH's ABI and MPI_THREAD_MULTIPLE: the second step started the helper thread
        assert steps["threads"][1] == steps["threads"][0] + 1, steps["threads"]


@needs_mpi
def test_killed_rank_ends_the_job(tmp_path):
    """A SIGKILLed rank: mpiexec ends the others at once (their own timeout covers launchers that do not)."""
    proc, took = launch(2, "kill", tmp_path, timeout=120, extra_env={"PYGRAPH_COLLECTIVE_TIMEOUT": "60"})
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Killed (signal 9)" in proc.stdout + proc.stderr
    assert "finished training" not in proc.stdout
    assert took < 60, took


@needs_mpi
def test_mismatched_graphs_name_the_difference(tmp_path):
    proc, _ = launch(2, "mismatch", tmp_path, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "ran a step" not in text
    assert "FailedPreconditionError" in text and "the ranks built different graphs" in text, text
    assert "rank 0: allreduce of [" in text and "float64 [9, 1]" in text and "float64 [5, 1]" in text, text


def test_one_process_without_mpiexec_is_size_one():
    hvd.init()
    assert hvd.is_initialized() and hvd.size() == 1 and hvd.rank() == 0
    assert hvd.local_size() == 1 and hvd.local_rank() == 0
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    with tf.Session() as sess:
        s, a, g, b = sess.run([hvd.allreduce(x, op=hvd.Sum), hvd.allreduce(x), hvd.allgather(x), hvd.broadcast(x, 0)])
    for value in (s, a, g, b):
        np.testing.assert_array_equal(value, np.arange(6.0).reshape(2, 3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="root rank 1, but there is only one process"):
        with tf.Session() as sess:
            sess.run(hvd.broadcast(x, 1))


def test_distributed_optimizer_wraps_and_refuses_what_it_cannot_do():
    hvd.init()
    with pytest.raises(TypeError, match="wraps a tf.train.Optimizer"):
        hvd.DistributedOptimizer(object())
    hvd.DistributedOptimizer(tf.train.AdamOptimizer(), compression=hvd.Compression.fp16)
    with pytest.raises(ValueError, match="Compression.none or hvd.Compression.fp16"):
        hvd.DistributedOptimizer(tf.train.AdamOptimizer(), compression="int8")
    with pytest.raises(ValueError, match="backward_passes_per_step must be an int >= 1"):
        hvd.DistributedOptimizer(tf.train.AdamOptimizer(), backward_passes_per_step=0)
    with pytest.raises(TypeError, match="averages floating-point tensors only"):
        hvd.allreduce(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="one bucket holds one dtype"):
        hvd.grouped_allreduce([tf.constant([1.0]), tf.constant(np.array([1.0]))])  # float32, float64


def test_cluster_api_points_to_pygraph_distribute():
    for api in (tf.train.ClusterSpec, tf.train.Server, tf.train.replica_device_setter):
        with pytest.raises(NotImplementedError, match="pygraph.distribute"):
            api({"ps": ["localhost:2222"]})


def test_aot_artifact_refuses_collectives(tmp_path):
    from pygraph.aot import compiler
    from pygraph.aot.frontend import AotError

    hvd.init()
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    total = hvd.allreduce(x * 2.0, name="grad_sum")
    with tf.Session() as sess:
        with pytest.raises(AotError, match="PgAllreduce used by 'grad_sum'.*without pygraph.distribute's collective"):
            compiler.compile(sess, [x], [total], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_gradients_are_fused_into_buckets_by_dtype_and_size():
    from pygraph.distribute.optimizer import buckets

    a, b = tf.zeros([100], tf.float32), tf.zeros([100], tf.float32)  # 400 bytes each
    c, d = tf.zeros([10], tf.float64), tf.zeros([300], tf.float32)
    assert buckets([a, b, c, d], 1000) == [[a, b], [c], [d]]  # a dtype change starts a bucket
    assert buckets([a, b, d], 800) == [[a, b], [d]]  # 800 fits, 2000 does not
    assert buckets([d, a], 100) == [[d], [a]]  # a tensor above the limit is a bucket alone


def test_meta_graph_with_collectives_imports_without_pygraph_distribute(tmp_path):
    """The collectives' ops register themselves when a file needs them (one process: the identity)."""
    hvd.init()
    with tf.Graph().as_default():
        v = tf.Variable(np.arange(4.0).reshape(2, 2), name="v")
        hvd.allreduce(v, name="summed", op=hvd.Sum)
        hvd.allgather(v, name="gathered")
        tf.train.export_meta_graph(str(tmp_path / "collectives.meta"))
    reader = f"""
import sys
import pygraph as tf
assert "pygraph.distribute" not in sys.modules
tf.train.import_meta_graph({str(tmp_path / "collectives.meta")!r})
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    print(sess.run("summed:0").tolist(), sess.run("gathered:0").tolist())
"""
    proc = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "[[0.0, 1.0], [2.0, 3.0]] [[0.0, 1.0], [2.0, 3.0]]"
