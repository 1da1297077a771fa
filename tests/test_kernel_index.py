"""codegen/ir.kernel_index: the node -> kernel map the buffer planner reads after all GEMM rewrites (SGD fold,
MatMul chains, bias epilogue) still places the nodes an earlier rewrite absorbed into its fused kernel.

Before 8fa3de0 each rewrite rebuilt the map knowing only its own kernel kind, so the bias epilogue dropped the
product an SGD fold had absorbed. The variable-read aliasing (lower._alias_variable_reads) counts a reader it
cannot place as running last, so the drop never changed a number (it keeps a copy that is always correct);
what it changed is the program: `V/read` was copied on every step. The tests below observe exactly that, and
the map itself; the numbers are checked against numpy all the same."""

import numpy as np
from pygraph.codegen import lower

import pygraph as tf

LR, STEPS = 0.5, 3


def _model():
    """logits = U @ V + b with only U trained: the forward product gets the bias epilogue ("gemm_bias") and
    dU = dlogits @ V^T is folded into U's SGD update ("gemm_update"); both read V/read."""
    rng = np.random.default_rng(4)
    u0, v0, b0 = (rng.standard_normal(s).astype(np.float32) for s in ((6, 5), (5, 4), (4,)))
    y = tf.placeholder(tf.int32, (6,))
    U = tf.Variable(u0, name="U")
    V = tf.Variable(v0, name="V", trainable=False)
    b = tf.Variable(b0, name="b", trainable=False)
    logits = tf.matmul(U, V) + b
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    step = tf.train.GradientDescentOptimizer(LR).minimize(loss)
    return y, U, loss, step, (u0, v0, b0)


def _numpy_steps(u, v, b, labels):
    """Float64 softmax cross-entropy SGD on U: (losses before each step, U after the last)."""
    u, v, b = (x.astype(np.float64) for x in (u, v, b))
    onehot = np.eye(v.shape[1])[labels]
    losses = []
    for _ in range(STEPS):
        z = u @ v + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        losses.append(-np.log((p * onehot).sum(1)).mean())
        u = u - LR * ((p - onehot) / len(labels)) @ v.T
    return losses, u


def test_absorbed_products_keep_their_kernel_and_no_variable_read_is_copied(monkeypatch, capfd):
    seen = []
    plan = lower.plan_buffers

    def spy(lw, kernels, kernel_of):
        seen.append(([(k.kind, list(k.nodes), dict(k.data)) for k in kernels], dict(kernel_of), lw.nodes))
        return plan(lw, kernels, kernel_of)

    monkeypatch.setattr(lower, "plan_buffers", spy)
    monkeypatch.setenv("PYGRAPH_DEBUG", "1")  # always lowers (no request index) and prints the kernels
    labels = np.array([0, 3, 1, 2, 2, 1], np.int32)
    y, U, loss, step, (u0, v0, b0) = _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        capfd.readouterr()
        seen.clear()
        losses = [sess.run([loss, step], {y: labels})[0] for _ in range(STEPS)]
        got = sess.run(U)
    want_losses, want_u = _numpy_steps(u0, v0, b0, labels)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    np.testing.assert_allclose(got, want_u, rtol=1e-5, atol=1e-6)

    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("[pygraph]   k")]
    step_kinds = {line.split()[2] for line in lines}
    assert {"gemm_bias:", "gemm_update:"} <= step_kinds, lines  # both rewrites ran on the training step
    assert not [line for line in lines if "(V/read)" in line or "(U/read)" in line], lines

    (kernels, kernel_of, nodes), = [s for s in seen if any(k[0] == "gemm_update" for k in s[0])]
    for idx, (kind, members, data) in enumerate(kernels):
        absorbed = list(members) + data.get("prologue", [])
        if kind == "gemm_update":
            absorbed.append(data["matmul"])
        elif kind == "gemm_chain":
            absorbed.append(data["inner"])
        elif kind == "gemm_bias":
            absorbed += [data["matmul"], data["add"], *data["between"]]
        for i in absorbed:
            assert kernel_of.get(i) == idx, f"{nodes[i].op}({nodes[i].name}) of {kind} kernel k{idx}"
