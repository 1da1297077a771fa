"""An op given a dtype it does not allow says so in TensorFlow's words: the messages TF 2.21 itself gave for
the same calls (tests/fixtures/make_tf_dtype_messages.py) are the oracle. pygraph allows fewer dtypes, so
its list is TF's with the unsupported ones left out, in TF's order; it may add " (op Sin)"."""

import json
import re
import sys
from pathlib import Path

import pytest

import pygraph as tf

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from dtype_message_cases import cases  # noqa: E402

TF = json.loads((FIXTURES / "tf_dtype_messages.json").read_text())["messages"]
# op_def_library._SatisfiesTypeConstraint's text
ALLOWED = re.compile(r"Value passed to parameter '(\w+)' has DataType (\w+) not in list of allowed values: "
                     r"(\w+(?:, \w+)*)")
SUFFIX = re.compile(r"( \(op \w+\))?")


def _subsequence(short, long):
    rest = iter(long)
    return all(any(x == y for y in rest) for x in short)


@pytest.mark.parametrize("case", sorted(cases(tf)))
def test_dtype_message_is_tensorflows(case):
    tf.reset_default_graph()
    with pytest.raises(TypeError) as info:
        cases(tf)[case]()
    ours, theirs = str(info.value), TF[case]
    expected = ALLOWED.fullmatch(theirs)
    if expected is None:  # a fixed-type input (InTopKV2's predictions): TF's other message, word for word
        assert ours == theirs
        return
    got = ALLOWED.match(ours)
    assert got is not None, ours
    assert SUFFIX.fullmatch(ours[got.end():]), ours
    assert got.group(1, 2) == expected.group(1, 2)
    ours_allowed, tf_allowed = got.group(3).split(", "), expected.group(3).split(", ")
    assert ours_allowed and _subsequence(ours_allowed, tf_allowed), (ours_allowed, tf_allowed)


def test_the_helper_writes_tfs_text():
    from pygraph.ops.core import check_dtype

    with pytest.raises(TypeError) as info:
        check_dtype("x", tf.int32, (tf.float32, tf.float64))
    assert str(info.value) == ("Value passed to parameter 'x' has DataType int32 not in list of allowed values: "
                               "float32, float64")
    with pytest.raises(TypeError, match=r"allowed values: float32 \(op Sin\)$"):
        check_dtype("x", tf.int32, (tf.float32,), "Sin")
    check_dtype("x", tf.float64, (tf.float32, tf.float64))  # allowed: no error
