"""pygraph-compile on files TensorFlow wrote: a frozen GraphDef (tests/fixtures/tf_frozen, made by
make_tf_frozen_graph.py) and a TF1 Saver's .meta with its checkpoint (tests/fixtures/tf_meta,
make_tf_meta_graph.py): the artifacts give TensorFlow's outputs."""

import ctypes
from pathlib import Path

import aot_models
import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tf_frozen"
META = Path(__file__).resolve().parent / "fixtures" / "tf_meta"


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    d = tmp_path_factory.mktemp("frozen")
    status, out, err = aot_models.compile_command(
        FIXTURE / "mlp.pb", "--feed", "X:float32[?,8]", "--fetch", "logits", "--fetch", "probs", "--fetch", "score",
        "--name", "frozen", "-o", d / "frozen", "--build")
    assert status == 0, err
    return d / "frozen"


def test_frozen_tf_graph_gives_tensorflows_outputs(frozen):
    want = np.load(FIXTURE / "expected.npz")
    lib = ctypes.CDLL(str(frozen / "build" / "libfrozen.so"))
    lib.frozen_create.restype = ctypes.c_void_p
    lib.frozen_run.argtypes = [ctypes.c_void_p, ctypes.c_int64] + [ctypes.c_void_p] * 4
    m = lib.frozen_create(None)
    x = want["x"]
    logits, probs, score = np.zeros((5, 4), np.float32), np.zeros((5, 4), np.float32), np.zeros(5, np.float32)
    assert lib.frozen_run(m, 5, x.ctypes.data, logits.ctypes.data, probs.ctypes.data, score.ctypes.data) == 0
    np.testing.assert_allclose(logits, want["logits"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, want["probs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(score, want["score"], rtol=1e-5, atol=1e-5)


def test_bad_frozen_input(tmp_path):
    status, _, err = aot_models.compile_command(FIXTURE / "mlp.pb", "--feed", "X", "--fetch", "nope", "--name", "f",
                                                "-o", tmp_path / "out")
    assert status == 2 and "unknown fetch 'nope'" in err and not (tmp_path / "out").exists()
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\xfe not a protobuf")
    status, _, err = aot_models.compile_command(junk, "--fetch", "y", "--name", "f", "-o", tmp_path / "out")
    assert status == 2 and "is not a TensorFlow GraphDef" in err and not (tmp_path / "out").exists()


def test_tf_written_meta_graph_and_checkpoint(tmp_path):
    status, _, err = aot_models.compile_command(META / "model.ckpt", "--feed", "X:float32[?,9]", "--fetch",
                                                "predictions", "--name", "tfmeta", "-o", tmp_path / "a", "--build")
    assert status == 0, err
    want = np.load(META / "expected.npz")
    lib = ctypes.CDLL(str(tmp_path / "a" / "build" / "libtfmeta.so"))
    lib.tfmeta_create.restype = ctypes.c_void_p
    lib.tfmeta_run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    out = np.zeros((5, 1), np.float32)
    assert lib.tfmeta_run(lib.tfmeta_create(None), 5, want["x"].ctypes.data, out.ctypes.data) == 0
    np.testing.assert_allclose(out, want["predictions"], rtol=1e-5, atol=1e-6)
    # TF's training op (its gradient ops and ApplyGradientDescent) compiles too: a training-step artifact
    status, _, err = aot_models.compile_command(META / "model.ckpt", "--feed", "X:float32[?,9]", "--feed",
                                                "y:float32[?,1]", "--fetch", "GradientDescent", "--name", "t",
                                                "-o", tmp_path / "b")
    assert status == 0, err
    assert (tmp_path / "b" / "t.h").exists()


def test_unsupported_tf_ops_are_all_listed(tmp_path):
    from tensorboard.compat.proto import attr_value_pb2, graph_pb2, types_pb2

    gd = graph_pb2.GraphDef()
    f32 = attr_value_pb2.AttrValue(type=types_pb2.DT_FLOAT)
    for name, op, inputs in (("X", "Placeholder", []), ("s", "Svd", ["X"]), ("l", "Lgamma", ["s"]),
                             ("y", "Relu", ["l"])):
        node = gd.node.add(name=name, op=op)
        node.input.extend(inputs)
        node.attr["dtype" if op == "Placeholder" else "T"].CopyFrom(f32)
    (tmp_path / "g.pb").write_bytes(gd.SerializeToString())
    status, _, err = aot_models.compile_command(tmp_path / "g.pb", "--feed", "X:float32[?,3]", "--fetch", "y",
                                                "--name", "g", "-o", tmp_path / "out")
    assert status == 2 and "unsupported op types" in err and "Lgamma (used by 'l')" in err and "Svd" in err, err
    assert not (tmp_path / "out").exists()
