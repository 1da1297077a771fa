"""The messages a newcomer meets first: feed keys given by name, mistyped names, an unfed placeholder and
a checkout nobody built. Texts follow TF1's session.py and ops.py; tracebacks carry no internal causes."""

import os
import pydoc
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

import pygraph as tf

ROOT = Path(__file__).resolve().parents[1]
TENSOR_FORM = 'Tensor names must be of the form "<op_name>:<output_index>".'


def _graph():
    a = tf.placeholder(tf.float32, shape=(None, 3), name="A")
    return a, a + 5


def _raised(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value


def test_feed_key_given_as_operation_name_says_so():
    _, b = _graph()
    err = _raised(lambda: tf.Session().run(b, feed_dict={"A": np.ones((1, 3))}))
    assert type(err) is TypeError
    assert str(err) == ("Cannot interpret feed_dict key as Tensor: The name 'A' refers to an Operation, not a "
                        f"Tensor. {TENSOR_FORM}")


def test_feed_key_by_tensor_name_works():
    _, b = _graph()
    np.testing.assert_array_equal(tf.Session().run(b, feed_dict={"A:0": [[1, 2, 3]]}), [[6, 7, 8]])


def test_unknown_feed_name_without_colon_looks_like_an_invalid_operation_name():
    _, b = _graph()
    err = _raised(lambda: tf.Session().run(b, feed_dict={"nothing_like_it": np.ones((1, 3))}))
    assert str(err) == ("Cannot interpret feed_dict key as Tensor: The name 'nothing_like_it' looks like an "
                        f"(invalid) Operation name, not a Tensor. {TENSOR_FORM}")


def test_mistyped_feed_name_has_no_stray_quotes_and_suggests_the_close_name():
    _, b = _graph()
    err = _raised(lambda: tf.Session().run(b, feed_dict={"Aa:0": np.ones((1, 3))}))
    assert type(err) is TypeError
    assert str(err) == ("Cannot interpret feed_dict key as Tensor: The name 'Aa:0' refers to a Tensor which does "
                        "not exist. The operation, 'Aa', does not exist in the graph. Did you mean 'A:0'?")


def test_mistyped_fetch_name_suggests_the_close_name():
    a, b = _graph()
    err = _raised(lambda: tf.Session().run("ad:0", {a: np.ones((1, 3))}))
    assert type(err) is ValueError
    assert str(err) == ("Fetch argument 'ad:0' cannot be interpreted as a Tensor. (The name 'ad:0' refers to a "
                        "Tensor which does not exist. The operation, 'ad', does not exist in the graph. "
                        "Did you mean 'add:0'?)")


def test_no_suggestion_when_nothing_is_close():
    _graph()
    err = _raised(lambda: tf.get_default_graph().get_operation_by_name("zzzzzz"))
    assert type(err) is KeyError and err.args[0] == "The name 'zzzzzz' refers to an Operation not in the graph."


def test_unfed_placeholder_traceback_starts_at_the_error():
    _, b = _graph()
    err = _raised(lambda: tf.Session().run(b))
    assert isinstance(err, tf.errors.InvalidArgumentError)
    assert str(err).startswith("You must feed a value for placeholder tensor 'A' with dtype float and shape [?,3]")
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "During handling of the above exception" not in text and "KeyError" not in text
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_unbuilt_checkout_names_the_build_command(tmp_path):
    # A copy of the package sources beside a pyproject.toml, with no compiled runtime: what a fresh clone is.
    shutil.copytree(ROOT / "pygraph", tmp_path / "pygraph", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    (tmp_path / "pyproject.toml").write_text("")
    # -S: the editable install's import hook (a .pth file) must not supply the built runtime
    proc = subprocess.run([sys.executable, "-S", "-c", "import pygraph"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"ImportError: pygraph's C++ runtime (pygraph._runtime) is not built: {tmp_path / 'pygraph'} "
                    f"is a source checkout. Run `make test` (or `make .venv/.installed`) in {tmp_path} and use "
                    f".venv/bin/python, or install it with `pip install {tmp_path}`.")
    assert "circular import" not in proc.stderr and "During handling" not in proc.stderr


@pytest.mark.parametrize("obj, words", [
    (tf.Session.run, ["fetches", "feed_dict", "compiles", "InvalidArgumentError"]),
    (tf.Session.make_callable, ["feed_list", "sess.run"]),
    (tf.train.Saver, ["save", "restore", "V2", "latest_checkpoint"]),
    (tf.summary.FileWriter, ["logdir", "add_summary", "flush", "tensorboard"]),
    (tf.train.Optimizer, ["minimize", "slot"]),
    (tf.train.Optimizer.minimize, ["loss", "var_list", "global_step"]),
    (tf.train.GradientDescentOptimizer, ["learning_rate"]),
    (tf.train.AdamOptimizer, ["Adam"]),
    (tf.get_variable, ["reuse", "AUTO_REUSE", "initializer"]),
])
def test_public_api_docstrings_explain_usage(obj, words):
    doc = pydoc.render_doc(obj, renderer=pydoc.plaintext)  # what help(obj) prints
    missing = [w for w in words if w not in doc]
    assert not missing, f"help({obj.__qualname__}) does not mention {missing}"


def test_demo_without_data_says_what_to_do_before_running_anything(tmp_path):
    env = dict(os.environ, PYGRAPH_HOUSING_DIR=str(tmp_path), PYGRAPH_DEMO_DIR=str(tmp_path / "out"))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "lecture.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""  # no section ran
    assert proc.stderr.strip() == (f"California-housing data not found at {tmp_path / 'california_housing.csv.gz'}: "
                                   "restore data/ from the repository (git checkout -- data) or point "
                                   "PYGRAPH_HOUSING_DIR at a folder holding california_housing.csv.gz")
