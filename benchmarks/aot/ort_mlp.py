"""ONNX Runtime on the benchmark's MLP, run with the peers' Python (onnx and onnxruntime installed there):

    .venv-peers/bin/python benchmarks/aot/ort_mlp.py WEIGHTS.npz REPS THREADS

The model is built with the onnx package's helpers (MatMul, Add, Relu), from the same weights pygraph's
artifact embeds; prints `batch median_us` lines for batch 1 and 256 (lowest of three medians).
"""

import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(weights):
    nodes, inits, prev = [], [], "X"
    for i, layer in enumerate(("hidden1", "hidden2", "outputs")):
        w, b = weights[f"{layer}/kernel"], weights[f"{layer}/bias"]
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"B{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"W{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"B{i}"], [f"z{i}"])]
        prev = f"z{i}"
        if layer != "outputs":
            nodes.append(helper.make_node("Relu", [prev], [f"h{i}"]))
            prev = f"h{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 784])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [None, 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m, prev


def main():
    weights = dict(np.load(sys.argv[1]))  # the variables, and x_check/y_check: an input and pygraph's logits
    reps, threads = int(sys.argv[2]), int(sys.argv[3])
    m, out = model(weights)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    got = sess.run([out], {"X": weights["x_check"]})[0]
    print("check", float(np.max(np.abs(got - weights["y_check"]))))  # same model as pygraph's?
    rng = np.random.default_rng(1)
    for batch in (1, 256):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        medians = []
        for _ in range(20):
            sess.run([out], {"X": x})
        for _ in range(3):
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                sess.run([out], {"X": x})
                times.append(time.perf_counter() - t0)
            medians.append(statistics.median(times))
        print(batch, min(medians) * 1e6)


if __name__ == "__main__":
    main()
