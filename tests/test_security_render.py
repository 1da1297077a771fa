"""Issue 8 §1: attributes are typed where nodes are made (Graph.create_op checks each against its op's
schema), and code generation renders only typed values: a string attribute cannot reach C++ source, and a
node name cannot escape the comment it is shown in."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from pygraph.codegen import cxx, lower

import pygraph as tf
from pygraph import codegen, errors
from pygraph.ops import registry
from pygraph.shape import TensorShape


def _spy_requests(monkeypatch):
    seen = []
    real = codegen.compile_request

    def spy(req, debug=0, **kwargs):
        seen.append(req)
        return real(req, debug, **kwargs)

    monkeypatch.setattr(codegen, "compile_request", spy)
    return seen


# -- the registry: every op declares its attributes
def test_every_registered_op_declares_an_attribute_schema():
    code = ("import pygraph, pygraph.ops.registry as r; "
            "print(' '.join(sorted(t for t, row in r.REGISTRY.items() if row.attrs is None)))")
    missing = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert missing == [], f"op types without an attribute schema: {missing}"
    with pytest.raises(TypeError, match="declare the op's attributes"):
        registry.register("TestOpWithoutSchema", registry.ELEMENTWISE)
    with pytest.raises(TypeError, match="unknown type 'text'"):
        registry.register("TestOpWithBadSchema", registry.ELEMENTWISE, attrs={"x": "text"})
    assert "TestOpWithoutSchema" not in registry.REGISTRY and "TestOpWithBadSchema" not in registry.REGISTRY


# -- Graph.create_op checks every node, built or imported
def _one_hot_parts():
    i = tf.placeholder(tf.int32, (None,), name="i")
    return i, [i, tf.constant(3), tf.constant(1.0), tf.constant(0.0)]


def test_create_op_refuses_attributes_of_the_wrong_type():
    g = tf.get_default_graph()
    i, inputs = _one_hot_parts()
    good = {"axis": -1, "depth": 3, "T": tf.float32, "TI": tf.int32}
    out = [(tf.float32, TensorShape([None, 3]))]
    bad_values = {"depth": ["3", 3.0, True, None, [3], 2**70, -1], "axis": ["-1", 5, -2],
                  "T": ["float32", np.float32]}
    for attr, values in bad_values.items():
        for value in values:
            with pytest.raises(errors.InvalidArgumentError, match=f"node 'oh.*' \\(op: 'OneHot'\\).*attr '{attr}'"):
                g.create_op("OneHot", inputs, dict(good, **{attr: value}), out, "oh")
    with pytest.raises(errors.InvalidArgumentError, match="attr 'depth' \\(int\\) is missing"):
        g.create_op("OneHot", inputs, {k: v for k, v in good.items() if k != "depth"}, out, "oh")
    with pytest.raises(errors.InvalidArgumentError, match="attr 'code' is not an attribute of OneHot"):
        g.create_op("OneHot", inputs, dict(good, code="x"), out, "oh")
    with pytest.raises(errors.InvalidArgumentError, match="OneHot takes 4 input"):
        g.create_op("OneHot", inputs[:3], good, out, "oh")
    with pytest.raises(errors.NotFoundError, match="Op type not registered 'System'"):
        g.create_op("System", [], {}, [], "s")
    op = g.create_op("OneHot", inputs, dict(good, depth=np.int64(3)), out, "oh")
    assert type(op.get_attr("depth")) is int  # normalised: codegen sees a Python int
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(op.outputs[0], {i: [2, 0]}), [[0, 0, 1], [1, 0, 0]])


def test_values_codegen_relies_on_are_checked():
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float32, (2, 3, 4), name="x")
    perm = tf.constant([2, 0, 1])

    def transpose(p):
        return g.create_op("Transpose", [x, perm], {"perm": p, "T": tf.float32, "Tperm": tf.int32},
                           [(tf.float32, TensorShape([4, 2, 3]))], "t")

    for p in ([], [0, 1], [0, 1, 1], [0, 1, 3], (2, 0, "1")):
        with pytest.raises(errors.InvalidArgumentError, match="attr 'perm'"):
            transpose(p)
    assert transpose([2, 0, 1]).get_attr("perm") == (2, 0, 1)
    spec_attrs = {m: 0 for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    idx = [tf.constant([0]), tf.constant([1]), tf.constant([1])]
    for spec in ([("range", 0, 2, 0, 0)], [("index", 0, 3)], [("index", "0", 0)], [("system", 0, 0)],
                 [("range", 0, 2, 1, 1), ("range", 0, 2, 1, 0)], [("index", 0, 1)], "range"):
        with pytest.raises(errors.InvalidArgumentError, match="attr 'spec'"):
            g.create_op("StridedSlice", [x, *idx], dict(spec_attrs, spec=spec, T=tf.float32, Index=tf.int32),
                        [(tf.float32, TensorShape(None))], "s")


def test_dtypes_must_agree_with_the_inputs_and_type_attributes():
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float32, (2,), name="x")
    k = tf.placeholder(tf.int32, (2,), name="k")
    cases = [("Sqrt", [k], {}, tf.int32, "input k:0 has dtype int32, not one of float32, float64"),
             ("Add", [x, k], {}, tf.float32, "different dtypes"),
             ("Add", [x, x], {}, tf.int32, "output dtype int32 should be float32"),
             ("Less", [x, x], {}, tf.float32, "output dtype float32 should be bool"),
             ("Cast", [x], {"SrcT": tf.int32, "DstT": tf.int64}, tf.int64, "attr 'SrcT' is int32"),
             ("Cast", [x], {"SrcT": tf.float32, "DstT": tf.int64}, tf.int32, "differs from attr 'DstT' = int64")]
    for op_type, inputs, attrs, out, pattern in cases:
        with pytest.raises(errors.InvalidArgumentError, match=pattern):
            g.create_op(op_type, inputs, attrs, [(out, TensorShape([2]))], "bad")


def test_names_cannot_end_in_a_newline():
    x = tf.placeholder(tf.float32, (2,), name="x")
    for bad in ("a\n", "b\nc", "d e"):
        with pytest.raises(ValueError, match="is not a valid (root scope|node) name"):
            tf.identity(x, name=bad)
        with pytest.raises(ValueError, match="is not a valid node name"):  # an exact name, as an importer gives
            tf.get_default_graph().create_op("Identity", [x], {}, [(tf.float32, x.shape)], bad + "/")


# -- code generation renders typed values only
def test_a_name_cannot_escape_its_comment(monkeypatch):
    """TF names may contain a backslash; at the end of a // comment it would continue the comment onto the
    next line of code (that line silently disappears, or the module fails to compile)."""
    seen = _spy_requests(monkeypatch)
    x = tf.placeholder(tf.float32, (3,), name="x")
    r = tf.nn.relu(x, name="trail\\")
    y = tf.multiply(r, 2.0, name="double\\")
    with tf.Session() as sess:
        out = sess.run(y, {x: np.array([-1.0, 0.5, 2.0], np.float32)})
    np.testing.assert_array_equal(out, [0.0, 1.0, 4.0])
    source = lower.compile_request(seen[-1]).source
    assert "trail" in source and "trail\\" not in source and "double\\" not in source
    assert not any(line.rstrip().endswith("\\") for line in source.splitlines() if "//" in line)


def test_a_string_attribute_never_reaches_cxx(monkeypatch, tmp_path):
    """Below the graph's checks: a request whose attribute is text (a node made by a future importer that
    skipped create_op) is refused by the render gate; nothing is compiled or run."""
    seen = _spy_requests(monkeypatch)
    i = tf.placeholder(tf.int32, (None,), name="i")
    oh = tf.one_hot(i, 3, name="oh")
    with tf.Session() as sess:
        sess.run(oh, {i: np.array([1], np.int32)})
    req = seen[-1]
    target = tmp_path / "pwned"
    payload = f'(fclose(fopen("{target}", "w")), 3)'
    nodes = [dataclasses.replace(n, attrs=dict(n.attrs, depth=payload)) if n.op == "OneHot" else n
             for n in req.nodes]
    with pytest.raises(cxx.RenderError, match="int"):
        lower.compile_request(dataclasses.replace(req, nodes=nodes))
    assert not target.exists()
    hostile = [dataclasses.replace(n, name='oh */ "\n#include <stdlib.h>\\') if n.op == "OneHot" else n
               for n in req.nodes]
    source = lower.compile_request(dataclasses.replace(req, nodes=hostile, label="x\n#error")).source
    assert "#include <stdlib.h>" not in source and "#error" not in source and "*/" not in source


def test_render_helpers_accept_typed_values_only():
    assert cxx.int_lit(3) == "3" and cxx.int_lit(-(2**40)) == f"INT64_C({-(2**40)})"
    assert cxx.float_lit(0.1, single=True) == "0.1f" and cxx.float_lit(2, single=False) == "2.0"
    assert cxx.float_lit(float("nan"), single=True) == "PG_NAN_F"
    assert cxx.float_lit(float("-inf"), single=False) == "-PG_INF_D"
    assert cxx.bool_lit(False) == "false"
    assert cxx.ident("a/b:0") == "a_b_0" and cxx.ident("9x") == "n_9x"
    assert cxx.comment('a\\\n*/"b') == "a___/_b"  # '/' stays (names have it), '*' goes
    for fn, value in ((cxx.int_lit, "3"), (cxx.int_lit, True), (cxx.int_lit, 3.0), (cxx.int_lit, 2**64),
                      (cxx.int_lit, np.int64(3)), (cxx.float_lit, "1e3"), (cxx.bool_lit, 1)):
        with pytest.raises(cxx.RenderError):
            fn(value, single=True) if fn is cxx.float_lit else fn(value)
    with pytest.raises(cxx.RenderError):
        f"{cxx.Opaque('text')}"
