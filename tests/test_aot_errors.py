"""Bad input to pygraph-compile: one clear line on stderr, exit status 2, and no output directory (or the
existing one untouched)."""

import aot_models
import pytest


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    merged = aot_models.train_housing(d / "model.ckpt", epochs=1)
    return d, merged


def compile_fails(d, *args):
    out = d / "out"
    status, stdout, stderr = aot_models.compile_command(*args, "-o", out)
    assert status == 2, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pygraph-compile: error: "), stderr
    assert not out.exists() and not [p for p in d.iterdir() if p.name.startswith(".out.")]
    return lines[0]


def test_unknown_fetch(ckpt):
    d, _ = ckpt
    line = compile_fails(d, d / "model.ckpt", "--feed", "X:float32[?,9]", "--fetch", "predictionz", "--name", "h")
    assert "unknown fetch 'predictionz'" in line


def test_unsupported_ops_are_all_listed_with_where_they_are_used(ckpt):
    d, merged = ckpt
    line = compile_fails(d, d / "model.ckpt", "--feed", "X:float32[?,9]", "--feed", "y:float32[?,1]",
                         "--fetch", merged, "--name", "h")
    for op_type in ("HistogramSummary", "MergeSummary", "ScalarSummary"):
        assert op_type in line
    assert "ScalarSummary used by 'MSE" in line and "aot_models.py:" in line  # the node and where it was made


def test_missing_checkpoint(ckpt):
    d, _ = ckpt
    line = compile_fails(d, d / "nothing.ckpt", "--fetch", "predictions", "--name", "h")
    assert "nothing.ckpt.meta not found" in line


def test_missing_feed_and_contradicting_feed_shape(ckpt):
    d, _ = ckpt
    assert "add --feed X" in compile_fails(d, d / "model.ckpt", "--fetch", "predictions", "--name", "h")
    line = compile_fails(d, d / "model.ckpt", "--feed", "X:float32[?,8]", "--fetch", "predictions", "--name", "h")
    assert "X:0" in line and "[None, 8]" in line
    line = compile_fails(d, d / "model.ckpt", "--feed", "X:int32", "--fetch", "predictions", "--name", "h")
    assert "dtype float32 in the graph, not int32" in line
    assert "dimension 'x'" in compile_fails(d, d / "model.ckpt", "--feed", "X:float32[?,x]", "--fetch",
                                            "predictions", "--name", "h")


def test_name_must_be_a_c_identifier(ckpt):
    d, _ = ckpt
    line = compile_fails(d, d / "model.ckpt", "--feed", "X", "--fetch", "predictions", "--name", "9-lives")
    assert "must be a C identifier" in line


def test_an_existing_directory_that_is_not_an_artifact_is_left_alone(ckpt):
    d, _ = ckpt
    keep = d / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    status, _, stderr = aot_models.compile_command(d / "model.ckpt", "--feed", "X", "--fetch", "predictions",
                                                   "--name", "h", "-o", keep)
    assert status == 2 and "is not a pygraph artifact" in stderr
    assert [p.name for p in keep.iterdir()] == ["notes.txt"]
