"""Op type -> C++: expressions for elementwise ops, and the table of structured emitters.

An elementwise entry is a function (args, cxx_type, node) -> C++ expression over the operands'
per-element values. Helpers such as pg_max live in templates/prelude.h.j2.
"""

from __future__ import annotations

from . import cxx

CXX = {"float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t", "bool": "bool"}
CODE = {"float32": "PG_FLOAT32", "float64": "PG_FLOAT64", "int32": "PG_INT32", "int64": "PG_INT64",
        "bool": "PG_BOOL"}
FLOATS = ("float", "double")


def _is_float(t):
    return t in FLOATS


def _fn(name):
    return lambda a, t, n: f"{name}({', '.join(a)})"


def _op(sym):
    return lambda a, t, n: f"({a[0]} {sym} {a[1]})"


def _floordiv(a, t, n):
    return f"pg_floor({a[0]} / {a[1]})" if _is_float(t) else f"pg_ifloordiv({a[0]}, {a[1]}, e)"


def _floormod(a, t, n):
    return f"pg_fmod_floor({a[0]}, {a[1]})" if _is_float(t) else f"pg_imod({a[0]}, {a[1]}, e)"


def _pow(a, t, n):
    return f"pg_pow({a[0]}, {a[1]})" if _is_float(t) else f"pg_ipow({a[0]}, {a[1]}, e)"


def _cast(a, t, n):
    if t == "bool":
        return f"({a[0]} != 0)"
    return f"static_cast<{t}>({a[0]})"


def _literal(value, t):
    """A constant of C++ type `t`, rendered by cxx (typed values only: a string here raises)."""
    if t == "bool":
        return cxx.bool_lit(bool(value) if type(value) in (int, float) else value)
    if t == "float":
        return cxx.float_lit(value, single=True)
    if t == "double":
        return cxx.float_lit(value, single=False)
    if t == "int64_t":
        return cxx.int64_lit(value)
    return f"(int32_t){cxx.int_lit(value, -(2**31), 2**31 - 1)}"


ELEMENTWISE = {
    "Add": _op("+"),
    "Sub": _op("-"),
    "Mul": _op("*"),
    "RealDiv": _op("/"),
    "FloorDiv": _floordiv,
    "FloorMod": _floormod,
    "Pow": _pow,
    "Maximum": _fn("pg_max"),
    "Minimum": _fn("pg_min"),
    "SquaredDifference": lambda a, t, n: f"pg_square({a[0]} - {a[1]})",
    "Equal": _op("=="),
    "NotEqual": _op("!="),
    "Less": _op("<"),
    "LessEqual": _op("<="),
    "Greater": _op(">"),
    "GreaterEqual": _op(">="),
    "LogicalAnd": _op("&&"),
    "LogicalOr": _op("||"),
    "Neg": lambda a, t, n: f"(-{a[0]})" if t != "bool" else f"(!{a[0]})",
    "Abs": _fn("pg_abs"),
    "Square": _fn("pg_square"),
    "Sqrt": _fn("pg_sqrt"),
    "Rsqrt": lambda a, t, n: f"({t})(1 / pg_sqrt({a[0]}))",
    "Exp": _fn("pg_exp"),
    "Log": _fn("pg_log"),
    "Log1p": _fn("pg_log1p"),
    "Expm1": _fn("pg_expm1"),
    "Reciprocal": lambda a, t, n: f"({t})(1 / {a[0]})",
    "Floor": _fn("pg_floor"),
    "Ceil": _fn("pg_ceil"),
    "Round": _fn("pg_nearbyint"),
    "Sign": _fn("pg_sign"),
    "Relu": lambda a, t, n: f"pg_max({a[0]}, ({t})0)",
    "Sigmoid": _fn("pg_sigmoid"),
    "Tanh": _fn("pg_tanh"),
    "Softplus": _fn("pg_softplus"),
    # activations and math of tf.nn (pygraph/ops/nn_ops.py); attrs go into C++ through literal()
    # Elu and Selu as TF's kernels write them (exp(x) - 1, not expm1), so the values match TF's
    "Elu": lambda a, t, n: f"({a[0]} < 0 ? pg_exp({a[0]}) - ({t})1 : {a[0]})",
    "Selu": lambda a, t, n: (f"({a[0]} < 0 ? {literal(SELU_SCALE_ALPHA, n.dtypes[0])} * (pg_exp({a[0]}) - ({t})1) : "
                             f"{literal(SELU_SCALE, n.dtypes[0])} * {a[0]})"),
    "LeakyRelu": lambda a, t, n: f"({a[0]} > 0 ? {a[0]} : {literal(n.attrs['alpha'], n.dtypes[0])} * {a[0]})",
    "Softsign": lambda a, t, n: f"({a[0]} / (({t})1 + pg_abs({a[0]})))",
    "Relu6": lambda a, t, n: f"pg_min(pg_max({a[0]}, ({t})0), ({t})6)",
    "Sin": _fn("pg_sin"),
    "Cos": _fn("pg_cos"),
    "Tan": _fn("pg_tan"),
    "Asin": _fn("pg_asin"),
    "Acos": _fn("pg_acos"),
    "Atan": _fn("pg_atan"),
    "Atan2": _fn("pg_atan2"),
    "Erf": _fn("pg_erf"),
    "TruncateDiv": lambda a, t, n: f"pg_itruncdiv({a[0]}, {a[1]}, e)",
    "TruncateMod": lambda a, t, n: f"pg_fmod({a[0]}, {a[1]})" if _is_float(t) else f"pg_itruncmod({a[0]}, {a[1]}, e)",
    "IsNan": lambda a, t, n: f"({a[0]} != {a[0]})",
    "IsInf": lambda a, t, n: f"({a[0]} == {a[0]} && {a[0]} - {a[0]} != {a[0]} - {a[0]})",
    "IsFinite": lambda a, t, n: f"({a[0]} - {a[0]} == 0)",
    "BiasAdd": _op("+"),
    "Identity": lambda a, t, n: a[0],
    "PlaceholderWithDefault": lambda a, t, n: a[0],
    "StopGradient": lambda a, t, n: a[0],
    "LogicalNot": lambda a, t, n: f"(!{a[0]})",
    "ZerosLike": lambda a, t, n: f"({t})0",
    "OnesLike": lambda a, t, n: f"({t})1",
    "Cast": _cast,
    "Select": lambda a, t, n: f"({a[0]} ? {a[1]} : {a[2]})",
    "AddN": lambda a, t, n: "(" + " + ".join(a) + ")",
    # state writes: the value stored into the variable (the variable's old value is a[0])
    "Assign": lambda a, t, n: a[1],
    "AssignAdd": lambda a, t, n: f"({a[0]} + {a[1]})",
    "AssignSub": lambda a, t, n: f"({a[0]} - {a[1]})",
}

SELU_SCALE = 1.0507009873554804934193349852946  # TF's constants (Klambauer et al., 2017)
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # scale * alpha, as TF's kernel spells it
# Ops whose integer form may set the loop's error flag `e` (see ERROR_FLAGS).
INT_ERROR_OPS = ("FloorDiv", "FloorMod", "Pow", "TruncateDiv", "TruncateMod")

# Ops that write their result into input 0's buffer (a variable) instead of a buffer of their own.
WRITES_INPUT0 = {"Assign", "AssignAdd", "AssignSub"}
# Element expressions that may set the loop's error flag `e`, and what each flag value means.
ERROR_FLAGS = {1: "Integer division by zero", 2: "Integers to negative integer powers are not allowed"}

# Structured emitters: op type -> object with .dims(table, node, input_dims) -> list of output dims and
# .kernel(node, ...) -> ir.Kernel. Registered by the op-family modules in codegen/structured/.
STRUCTURED = {}


# Inline custom ops (pygraph/custom_ops/inline.py): op type -> {dtype name: (C++ type, expression)}. The
# expression is the declaring program's own C++, called as a capture-less lambda of the inputs.
INLINE = {}


def register_inline(op_type, params, exprs):
    INLINE[op_type] = (tuple(params), dict(exprs))

    def expression(a, t, n):
        ctype, body = exprs[n.dtypes[0]]
        ps = ", ".join(f"{ctype} {p}" for p in params)
        return f"([]({ps}) -> {ctype} {{ return ({body}); }}({', '.join(a)}))"

    ELEMENTWISE[op_type] = expression


def register_structured(op_type, emitter):
    STRUCTURED[op_type] = emitter
    return emitter


def literal(value, dtype_name):
    return _literal(value, CXX[dtype_name])
