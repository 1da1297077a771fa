"""From (fetches, feeds) to a compiled, callable plan: prune, build the codegen request, bind buffers."""

from __future__ import annotations

# The interpreter, safe_files and pathlib load here, with `import pygraph`, although only a first Session.run
# uses them (the first tier; codegen's disk cache): every program runs one, and W8 times `import` and the first
# result apart, so deferring them would only move their cost (tf.summary, tf.train.Saver and the custom ops,
# now deferred, used to bring pathlib and safe_files' hashlib, secrets, socket and shutil).
import pathlib  # noqa: F401

import numpy as np

from . import _runtime, config, errors, safe_files  # noqa: F401
from .dtypes import DType
from .feeds import feed_converter
from .folding import fold_constants, tall_constant_transposed
from .graph import Operation, Tensor
from .interpreter import Fallback, Interpreter, interpretable
from .ops import registry, var_init
from .ops.core import as_bytes_array, fmt_shape
from .plan_loops import LOOP_OPS, array_node_attrs, check_loop_fetches, loop_node_attrs, loop_of_node

_C_NAMES = {"float32": "float", "float64": "double", "int32": "int32", "int64": "int64", "bool": "bool",
            "string": "string"}
_threads_set = False
_ASSIGNS = ("Assign", "AssignAdd", "AssignSub")




def prune(fetch_tensors, targets, fed):
    """Operations needed for the fetches, in creation (= topological) order; stops at fed tensors."""
    needed = set()
    stack = [t.op for t in fetch_tensors if t not in fed] + list(targets)
    while stack:
        op = stack.pop()
        if op in needed:
            continue
        needed.add(op)
        stack.extend(t.op for t in op.inputs if t not in fed)
        stack.extend(op.control_inputs)
    return sorted(needed, key=lambda o: o._id)


def _codegen_attrs(op):
    out = {}
    for k, v in op.attrs.items():
        if k in ("value", "use_locking"):  # use_locking is the runtime's (Kernel.set_locks), not the code's
            continue
        out[k] = v.name if isinstance(v, DType) else v
    return out


class Plan:
    """One compiled program and everything needed to call it."""

    def __init__(self, session, kernel, converters, static_args, element_outputs, node_ops, reads, writes,
                 host_steps, host_values, compiled, host_feeds):
        self.session = session
        self.fast = None  # _runtime.FastPlan: the C path of Session.run and make_callable (build_plan)
        self.kernel = kernel
        self.converters = converters
        self.static_args = static_args
        self.element_outputs = element_outputs  # per fetched element: output index, -1 for ops, or a Tensor
        self.node_ops = node_ops
        self.reads = reads
        self.writes = writes
        self.ready = not reads and not writes
        self.host_steps = host_steps  # None: nothing runs on the host
        self.host_values = host_values
        self.compiled = compiled  # Tensor -> kernel output index
        self.host_feeds = host_feeds  # string feeds: Tensor -> position among the feeds
        self.upgrade = None  # codegen.tiers.Upgrade while `kernel` is the quick build
        # compiled feed k is argument k and node k: a program rejecting it gets TF's feed error from here
        self.feed_checks = [c.check for c in converters]
        if host_feeds:
            slots = [i for i in range(len(converters) + len(host_feeds)) if i not in host_feeds.values()]
            self.converters = [(lambda values, c=c, i=i: c(values[i])) for c, i in zip(converters, slots)]
            self._indexed = True
        else:
            self._indexed = False

    @property
    def kernel(self):
        return self._kernel

    @kernel.setter
    def kernel(self, kernel):  # a new callee (a tier swap): the C path waits until _call arms it again
        self._kernel = kernel
        if self.fast is not None:
            self.fast.disarm()

    def _check_variables(self):
        init = self.session._initialized
        for var_op, reader in self.reads:
            if var_op not in init:
                errors.raise_for_op(errors.FAILED_PRECONDITION, reader,
                                    f"Attempting to use uninitialized value {var_op.name}",
                                    "Run its initializer first, e.g. sess.run(tf.global_variables_initializer())"
                                    f" or sess.run({var_op.name}.initializer).")

    def _call(self, args):
        if self.upgrade is not None:
            self._tier_up()
        if not self.ready:
            self._check_variables()
        try:
            outs = self.kernel(args)  # the one callee: a compiled module, or the interpreter until the swap
        except Fallback:  # the interpreter cannot run this call (it undid its writes): compiled code runs it
            self._swap(self.tiering.now(self.session))
            return self._call(args)
        except _runtime.KernelError as e:
            self._kernel_failed(e, args)
        if not self.ready:
            self.session._initialized.update(self.writes)
            self.ready = all(v in self.session._initialized for v, _ in self.reads)
        if self.fast is not None and self.upgrade is None and self.ready and not self.fast.armed:
            self.fast.arm(self.kernel)  # later calls may skip all of the above: nothing left to check
        return outs

    def _kernel_failed(self, e, args):
        """Raise TF's error for the program's KernelError `e`; args: the call's arguments, feeds first."""
        code, node, message = e.args
        if 0 <= node < len(self.feed_checks):
            self.feed_checks[node](args[node])  # raises ValueError (or Replan) naming both shapes
        op = self.node_ops[node] if 0 <= node < len(self.node_ops) else None
        errors.raise_for_op(code, op, message)

    def _tier_up(self):
        """At a call boundary: swap in the optimized module once it is ready (codegen/tiers.py). Both
        modules read and write the same session buffers, so nothing is lost or repeated."""
        upgrade = self.upgrade
        try:
            path = upgrade.poll(self.session)
            if path is None or self.upgrade is not upgrade:
                return
        except BaseException:
            self.upgrade = None  # reported once, here; the first tier keeps serving later calls
            raise
        self._swap(path)

    def _swap(self, path):
        kernel = _runtime.Kernel(path, self.kernel_outputs)
        if self.locked:
            kernel.set_locks(self.locked)
        self.kernel = kernel
        self.upgrade = None

    def run_single(self):
        """The no-feed, one-tensor path (sess.run(t), t.eval(), make_callable)."""
        return self._value_of_one(self._call(self.static_args), ())

    def _args(self, values):
        if self._indexed:
            return [conv(values) for conv in self.converters] + self.static_args
        convs = self.converters
        if len(convs) == 1:
            return [convs[0](values[0]), *self.static_args]
        return [conv(v) for conv, v in zip(convs, values)] + self.static_args

    def run_one(self, values):
        """The value of the single fetched element."""
        return self._value_of_one(self._call(self._args(values) if values else self.static_args), values)

    def _value_of_one(self, outs, values):
        if self.host_steps is not None:
            return self._finish(outs, values)[0]
        i = self.element_outputs[0]
        if i < 0:
            return None
        v = outs[i]
        return v[()] if v.ndim == 0 else v

    def run(self, values):
        """Values of all fetched elements, in order."""
        outs = self._call(self._args(values) if values else self.static_args)
        if self.host_steps is not None:
            return self._finish(outs, values)
        return [None if i < 0 else (outs[i][()] if outs[i].ndim == 0 else outs[i]) for i in self.element_outputs]

    def _finish(self, outs, values=()):
        """Run host-side ops (summaries, strings) on the compiled results."""
        env = dict(self.host_values)
        for t, i in self.compiled.items():
            env[t] = outs[i]
        for t, i in self.host_feeds.items():
            env[t] = as_bytes_array(values[i])
        for op in self.host_steps:
            if op.type in var_init.SESSION_QUERIES:  # answered from the session, not from values
                env[op.outputs[0]] = var_init.answer(op, self.session._initialized)
                continue
            fn = registry.lookup(op.type).numpy
            results = fn(op, *[env[t] for t in op.inputs])
            if len(op.outputs) == 1:
                results = (results,)
            for t, r in zip(op.outputs, results):
                env[t] = r
        out = []
        for e in self.element_outputs:
            if isinstance(e, Tensor):
                v = env[e]
            elif e < 0:
                v = None
            else:
                v = outs[e]
            out.append(v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v)
        return out


def build_plan(session, elements, feeds, feed_ranks, fold=True, tiered=True):
    """tiered: first calls may run a quick build while the optimized one compiles in the background
    (off with PYGRAPH_OPTIMIZED_ONLY=1, and for the ahead-of-time compiler)."""
    from . import codegen as _codegen  # imported on first use: jinja2 and the templates cost ~70 ms

    global _threads_set
    if not _threads_set:
        if config.sanitizers():
            from .sanitize import check_process

            check_process()
        _runtime.set_num_threads(config.num_threads())
        _threads_set = True
    fed = {t: i for i, t in enumerate(feeds)}
    fetch_tensors = list(dict.fromkeys(e for e in elements if isinstance(e, Tensor)))
    targets = [e for e in elements if isinstance(e, Operation)]
    needed = prune(fetch_tensors, targets, fed)

    for op in needed:
        if op.type == "Placeholder":
            t = op.outputs[0]
            errors.raise_for_op(
                errors.INVALID_ARGUMENT, op,
                f"You must feed a value for placeholder tensor '{op.name}' with dtype "
                f"{_C_NAMES[t.dtype.name]} and shape {fmt_shape(t.shape)}",
                f"Pass it in feed_dict, e.g. sess.run(..., feed_dict={{{op.name}: value}}).")

    check_loop_fetches(fetch_tensors, fed)
    folded_ops = fold_constants(session, needed, fed, fetch_tensors) if fold else set()
    if folded_ops:  # drop what only fed the folded values, or the kernel recomputes it on every run
        boundary = {**fed, **{t: None for op in folded_ops for t in op.outputs}}
        kept = set(prune(fetch_tensors, targets, boundary)) | folded_ops
        needed = [op for op in needed if op in kept]
    host_ops = [op for op in needed if registry.REGISTRY.get(op.type) and registry.lookup(op.type).kind == "host"]
    host_set = set(host_ops)

    nodes, args, static_args, node_ops, converters = [], [], [], [], []
    ref_of, node_of = {}, {}
    host_values, host_feeds = {}, {}

    def add_node(op, kind, inputs, attrs, dtypes, shapes, after=(), guard=(), loop=()):
        nid = len(nodes)
        nodes.append(_codegen.Node(nid, kind, op.name if op is not None else "", tuple(inputs), attrs,
                                   tuple(dtypes), tuple(shapes), op.creation_site if op is not None else "",
                                   tuple(after), tuple(guard), tuple(loop)))
        node_ops.append(op)
        return nid

    def add_arg(op, t, kind, static, array=None):
        index = len(args)
        nid = add_node(op, "Arg", [], {"index": index, "kind": kind}, [t.dtype.name], [static])
        args.append(_codegen.Arg(index, nid, kind))
        if array is not None:
            static_args.append(array)
        ref_of[t] = _codegen.Ref(nid, 0)
        return nid

    feed_specs = []  # (dtype, static shape) per compiled feed: what the C path checks
    for i, t in enumerate(feeds):
        if not t.dtype.is_compiled:
            host_feeds[t] = i
            continue
        static = t.shape.as_tuple()
        rank = len(static) if static is not None else (feed_ranks[i] if feed_ranks else None)
        if static is None:
            if rank is None:
                raise ValueError(f"Feed {t.name} has unknown rank: give the placeholder a shape to use it here.")
            static = (None,) * rank
        add_arg(t.op, t, "feed", static)
        feed_specs.append((t.dtype.np, static))
        converters.append(feed_converter(t, rank))

    folded = session._folded
    frames = {}  # WhileFrame -> its number in the request
    loop_merges = {}  # Merge op of a while loop -> its node (its back edge is set once NextIteration is)
    for op in needed:
        if op in host_set:
            continue
        if all(t in ref_of for t in op.outputs) and op.outputs:
            continue
        after = [node_of[c] for c in op.control_inputs if c in node_of]
        if op.type == "Const":
            t = op.outputs[0]
            arr = op.attrs["value"]
            if not t.dtype.is_compiled:
                host_values[t] = arr
            elif arr.ndim == 0:
                node_of[op] = add_node(op, "Const", [], {"value": arr.item()}, [t.dtype.name], [()])
                ref_of[t] = _codegen.Ref(node_of[op], 0)
            else:
                node_of[op] = add_arg(op, t, "const", arr.shape, np.ascontiguousarray(arr))
            continue
        if op.type == "VariableV2":
            t = op.outputs[0]
            node_of[op] = add_arg(op, t, "var", t.shape.as_tuple(), session._variable_buffer(op))
            continue
        if op in folded_ops:
            for t in op.outputs:
                node_of[op] = add_arg(op, t, "const", folded[t].shape, folded[t])
            continue
        inputs = []
        loop_merge = op.type == "Merge" and hasattr(op, "_while_frame")
        for t in op.inputs[:1] if loop_merge else op.inputs:  # a loop's Merge: its back edge comes later
            if t not in ref_of:
                raise errors.UnimplementedError(
                    None, op, errors.describe(op, f"Op {op.type} '{op.name}' reads {t.name} of type "
                                              f"{t.dtype.name}, which compiled code cannot hold."))
            inputs.append(ref_of[t])
        row = registry.REGISTRY.get(op.type)
        if row is not None and row.session_state is not None:  # its per-session state: a last, mutable input
            state = session._op_state(op, row.session_state)
            sid = add_node(op, "Arg", [], {"index": len(args), "kind": "var"}, [state.dtype.name], [state.shape])
            args.append(_codegen.Arg(len(args), sid, "var"))
            static_args.append(state)
            inputs.append(_codegen.Ref(sid, 0))
        guard = _guard(op, ref_of)
        if guard:  # a cond branch: its predicate is computed first
            after = after + [g[0].node for g in guard if g[0].node not in after]
        loop = loop_of_node(op, frames)
        attrs = _codegen_attrs(op)
        if op.type in LOOP_OPS or loop_merge:
            after = loop_node_attrs(op, after, attrs, frames, node_of, loop_merges, nodes)
        elif op.type in ("PgArrayRead", "PgArrayStack"):
            array_node_attrs(op, attrs, node_of)
        elif op.type == "Merge":  # the predicate picks the taken branch's value
            pred = getattr(op, "_cond_pred", None)
            if pred is None or pred not in ref_of:
                raise errors.UnimplementedError(None, op, errors.describe(
                    op, f"Merge '{op.name}' was not built by tf.cond in this process (an imported graph?): "
                        "pygraph compiles Merge only as the end of a tf.cond."))
            inputs.append(ref_of[pred])
        if op.type == "MatMul":
            tall = tall_constant_transposed(session, op, folded_ops)
            if tall is not None:  # read the constant through its transposed copy: the fast gemv layout
                tid = add_node(op.inputs[0].op, "Arg", [], {"index": len(args), "kind": "const"},
                               [op.inputs[0].dtype.name], [tall.shape])
                args.append(_codegen.Arg(len(args), tid, "const"))
                static_args.append(tall)
                inputs[0] = _codegen.Ref(tid, 0)
                attrs["transpose_a"] = not attrs.get("transpose_a", False)
        nid = add_node(op, op.type, inputs, attrs, [t.dtype.name for t in op.outputs],
                       [t.shape.as_tuple() for t in op.outputs], after, guard, loop)
        node_of[op] = nid
        if loop_merge:
            loop_merges[op] = nid
        if op.type == "NextIteration":  # the back edge: the loop's Merge reads this node's value
            nodes[loop_merges[op._while_merge]].attrs["next"] = nid
        for k, t in enumerate(op.outputs):
            ref_of[t] = _codegen.Ref(nid, k)

    # outputs: fetched tensors computed by the compiled program, and inputs of host ops
    out_index, outputs = {}, []
    wanted = [t for t in fetch_tensors if t not in host_values and t.op not in host_set
              and t not in host_feeds] + [t for op in host_ops if op.type not in var_init.SESSION_QUERIES
                                          for t in op.inputs
                                          if t.op not in host_set and t not in host_values and t not in host_feeds]
    for t in wanted:
        if t not in out_index:
            out_index[t] = len(outputs)
            outputs.append(ref_of[t])
    # per fetched element: a kernel output index, -1 for an operation, or a Tensor resolved on the host
    element_outputs = [-1 if isinstance(e, Operation) else out_index.get(e, e) for e in elements]

    reads, writes = [], set()
    for op in needed:
        if op.type in ("Assign",) and op.inputs[0].op.type == "VariableV2":
            writes.add(op.inputs[0].op)
    for op in needed:
        if op.type in var_init.SESSION_QUERIES:  # asks whether the variable holds a value: not a read
            continue
        for t in op.inputs:
            if t.op.type == "VariableV2" and not (op.type == "Assign" and t is op.inputs[0]):
                reads.append((t.op, op))
    for t in fetch_tensors:
        if t.op.type == "VariableV2" and t not in fed:
            reads.append((t.op, t.op))
    reads = [(v, r) for v, r in dict.fromkeys(reads) if v not in writes]

    request = _codegen.Request(nodes, args, outputs, label=_label(fetch_tensors, targets))
    compiled = _codegen.compile_request(request, debug=config.debug_level(),
                                        tiered=tiered and not config.optimized_only(),
                                        interpretable=interpretable(nodes))
    kernel = (_runtime.Kernel(compiled.path, compiled.num_outputs) if compiled.path is not None
              else Interpreter(request, node_ops))  # the first tier: nothing compiled yet (codegen/tiers.py)
    locked = [op.inputs[0].op for op in needed if op.type in _ASSIGNS and op.attrs.get("use_locking")
              and op.inputs[0].op.type == "VariableV2"]
    locks = [session._variable_lock(v) for v in dict.fromkeys(locked)]
    if locks:  # TF's use_locking: the run holds these variables' mutexes while the program runs
        kernel.set_locks(locks)
    host_steps = [op for op in needed if op in host_set]
    on_host = bool(host_steps) or any(isinstance(e, Tensor) for e in element_outputs)
    plan = Plan(session, kernel, converters, static_args, element_outputs, node_ops, reads, writes,
                host_steps if on_host else None, host_values, out_index, host_feeds)
    plan.request = request  # the ahead-of-time compiler (pygraph.aot) exports this same program
    plan.kernel_outputs, plan.locked, plan.upgrade = compiled.num_outputs, locks, compiled.upgrade
    plan.fast = _fast_plan(plan, feed_specs)
    plan.tiering = compiled.upgrade  # kept after the swap: a call the interpreter refuses waits for -O3
    return plan


def _fast_plan(plan, feed_specs):
    """The plan as the C path of run/make_callable sees it (runtime/src/fast_run.cc), or None when its calls
    need Python: host steps, string feeds, arguments the runtime would copy."""
    if plan.host_steps is not None or plan.host_feeds or not plan.element_outputs:
        return None
    try:
        return _runtime.FastPlan(feed_specs, plan.static_args, plan.element_outputs, plan._kernel_failed)
    except ValueError:
        return None


def _guard(op, ref_of):
    """The (predicate Ref, branch value) pairs under which a cond branch's op runs, outermost first."""
    ctx = getattr(op, "_cond_context", None)
    if ctx is None:
        return ()
    guard = []
    for c in ctx.chain():
        if getattr(c, "is_loop", False):  # a while loop's region: Node.loop says so
            continue
        if c.pred not in ref_of:
            raise errors.InternalError(None, op, f"the predicate of the cond around {op.name} was not planned")
        guard.append((ref_of[c.pred], bool(c.branch)))
    return tuple(guard)


def _label(fetch_tensors, targets):
    names = [t.name for t in fetch_tensors] + [op.name for op in targets]
    text = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return f"fetch {text}"
