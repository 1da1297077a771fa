"""`import pygraph` loads only what most programs need; tf.losses, tf.layers, tf.summary, tf.train's Saver and
the custom-op machinery load on first use (PEP 562), with every name reachable as before.

Each check runs in a fresh interpreter: this test process has long since imported everything."""

import json
import subprocess
import sys
import textwrap

# modules the eager `import pygraph` used to load, which a program that does not use them no longer pays for
DEFERRED_PYGRAPH = ("pygraph.layers", "pygraph.losses", "pygraph.summary", "pygraph.summary.writer",
                    "pygraph.train.saver", "pygraph.checkpoint", "pygraph.checkpoint.meta_graph",
                    "pygraph.custom_ops", "pygraph.custom_ops.library")
DEFERRED_STDLIB = ("zipfile", "json", "logging")


def _run(code):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_leaves_the_heavy_modules_unloaded():
    loaded = _run("""
        import sys
        import pygraph
        loaded = sorted(sys.modules)
        import json
        print(json.dumps(loaded))
    """)
    assert "pygraph.ops.math" in loaded  # every op type is registered at import
    assert [m for m in DEFERRED_PYGRAPH + DEFERRED_STDLIB if m in loaded] == []


def test_touching_each_public_name_loads_what_it_needs():
    touched = _run("""
        import json, sys
        import pygraph as tf

        def loads(expr, *modules):
            value = eval(expr)
            return [expr, callable(value) or isinstance(value, type(sys)), {m: m in sys.modules for m in modules}]

        print(json.dumps([
            loads("tf.layers.dense", "pygraph.layers"),
            loads("tf.losses.mean_squared_error", "pygraph.losses"),
            loads("tf.summary.scalar", "pygraph.summary", "logging"),
            loads("tf.summary.FileWriter", "pygraph.summary.writer"),
            loads("tf.train.Saver", "pygraph.train.saver", "pygraph.checkpoint"),
            loads("tf.train.import_meta_graph", "pygraph.checkpoint.meta_graph", "zipfile"),
            loads("tf.load_op_library", "pygraph.custom_ops.library"),
            loads("tf.build_op_library", "pygraph.custom_ops.build"),
            loads("tf.inline_op", "pygraph.custom_ops.inline"),
            loads("tf.checkpoint", "pygraph.checkpoint"),
        ]))
    """)
    for expr, ok, after in touched:
        assert ok, expr
        assert all(after.values()), (expr, after)


def test_every_name_of_the_eager_import_is_still_there():
    """The names `import pygraph` offered when it loaded everything: compute them by loading every deferred
    module (what the old import did), then check a fresh `import pygraph` lists and reaches each one."""
    full = _run(f"""
        import importlib, json
        import pygraph as tf
        for m in {DEFERRED_PYGRAPH!r}:
            importlib.import_module(m)
        print(json.dumps({{n: type(getattr(tf, n)).__name__ for n in dir(tf)}}))
    """)
    assert {"layers", "summary", "train", "nn", "losses", "load_op_library", "checkpoint", "shape"} <= set(full)
    fresh = _run(f"""
        import json, sys
        import pygraph as tf
        listed = dir(tf)
        got = {{n: type(getattr(tf, n)).__name__ for n in {sorted(full)!r}}}
        train = dir(tf.train)
        print(json.dumps([listed, got, train, [m for m in {DEFERRED_PYGRAPH!r} if m in sys.modules]]))
    """)
    listed, got, train_names, _ = fresh
    assert sorted(set(full) - set(listed)) == []
    assert got == full  # the same kind of object: tf.shape and tf.gradients stay functions, tf.nn a module
    assert {"Saver", "import_meta_graph", "latest_checkpoint", "GradientDescentOptimizer"} <= set(train_names)


def test_star_import_brings_the_lazy_names():
    names = _run("""
        import json
        from pygraph import *  # noqa: F403
        print(json.dumps([n for n in ("layers", "summary", "train", "load_op_library", "matmul") if n in globals()]))
    """)
    assert names == ["layers", "summary", "train", "load_op_library", "matmul"]


def test_first_touch_from_many_threads_at_once():
    result = _run("""
        import json, threading
        import pygraph as tf

        barrier = threading.Barrier(8)
        seen, failures = [], []

        def touch():
            barrier.wait()
            try:
                seen.append((tf.layers.dense, tf.train.Saver, tf.summary.FileWriter, tf.load_op_library,
                             tf.train.import_meta_graph, tf.nn.relu))
            except Exception as e:
                failures.append(repr(e))

        threads = [threading.Thread(target=touch) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps([failures, len(seen), len({tuple(map(id, s)) for s in seen})]))
    """)
    assert result == [[], 8, 1]


def test_unknown_names_still_raise_attribute_error():
    result = _run("""
        import json
        import pygraph as tf
        out = []
        for name in ("no_such_thing", "__wrapped__", "_private"):
            try:
                getattr(tf, name)
                out.append(name)
            except AttributeError as e:
                out.append(str(e))
        print(json.dumps([out, hasattr(tf.train, "NoSuchOptimizer")]))
    """)
    assert result == [["module 'pygraph' has no attribute 'no_such_thing'",
                       "module 'pygraph' has no attribute '__wrapped__'",
                       "module 'pygraph' has no attribute '_private'"], False]


def test_a_saved_graph_with_summaries_loads_them_on_import(tmp_path):
    """tf.summary's op rows register on first use; a meta graph holding summary nodes brings them in."""
    _run(f"""
        import pygraph as tf
        x = tf.constant(2.0)
        tf.summary.scalar("x", x)
        tf.train.export_meta_graph({str(tmp_path / "g.meta")!r})
        print("null")
    """)
    result = _run(f"""
        import json, sys
        import pygraph as tf
        tf.train.import_meta_graph({str(tmp_path / "g.meta")!r})
        types = [op.type for op in tf.get_default_graph().get_operations()]
        print(json.dumps([types, "pygraph.summary.ops" in sys.modules]))
    """)
    assert result == [["Const", "Const", "ScalarSummary"], True]
