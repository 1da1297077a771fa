"""Data-only records passed between the lowering steps. No behaviour beyond small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ref:
    """Output `index` of node `node` (an index into Request.nodes)."""

    node: int
    index: int = 0


@dataclass
class Node:
    id: int
    op: str  # op type, e.g. "Add"
    name: str  # graph name, shown in comments and errors
    inputs: tuple  # of Ref
    attrs: dict
    dtypes: tuple  # output dtype names ("float32", ...)
    shapes: tuple  # output static shapes: tuple of int-or-None per dim
    site: str = ""  # where the user created it
    after: tuple = ()  # node ids that must run first (control dependencies)
    guard: tuple = ()  # ((Ref of a bool scalar, value), ...): runs only when each holds (tf.cond branches)
    loop: tuple = ()  # ((frame, region, guard terms outside it), ...): inside tf.while_loops (structured/loop.py)


@dataclass
class Arg:
    """A buffer the host passes in: a feed, a bound constant, or a variable (mutable)."""

    index: int
    node: int
    kind: str  # "feed" | "const" | "var"


@dataclass
class Request:
    nodes: list  # topologically ordered; sources are "Arg" or "Const" (scalar literal) nodes
    args: list  # of Arg, in the order the host passes them
    outputs: list  # of Ref, in the order the host receives them
    label: str = "program"


@dataclass
class Buffer:
    """Where a value lives during a call."""

    name: str  # C++ identifier of its data pointer
    dtype: str
    dims: tuple  # symbolic dims: int or C++ expression
    storage: str  # "arg" | "output" | "scratch"
    index: int  # arg index, output index or scratch slot


@dataclass
class Kernel:
    """One loop nest or library call in the generated program."""

    kind: str  # template name: "elementwise", "copy", or a structured emitter's
    nodes: list  # node ids it computes (for the comment above it)
    data: dict = field(default_factory=dict)  # what its template needs


@dataclass
class Program:
    request: Request
    dims: dict  # Ref -> tuple of symbolic dims
    shape_code: list  # C++ statements computing and checking symbolic dims
    buffers: dict  # Ref -> Buffer
    kernels: list  # of Kernel
    scratch_slots: int = 0


@dataclass
class CompiledProgram:
    path: str  # the shared object to load
    num_outputs: int
    source: str  # empty when the module came from the request index (nothing was rendered)
    kernels: list  # one line per kernel, for debugging
    libs: tuple = ()  # libraries it links (e.g. "openblas"); empty when it came from the request index
    upgrade: object = None  # tiers.Upgrade when `path` is the quick build and -O3 is still to come


def readers_of(nodes):
    """{Ref: ids of the nodes that read it}; a cond guard's predicate counts as a reader with id -1, one that
    never moves (rewrites that drop or move a producer must see it)."""
    readers = {}
    for n in nodes:
        for r in n.inputs:
            readers.setdefault(r, []).append(n.id)
        for r, _ in n.guard:
            readers.setdefault(r, []).append(-1)
    return readers


def kernel_index(kernels):
    """{node id: index of the kernel that computes it or reads its operands}. Besides each kernel's own nodes and
    prologue, a fused GEMM kernel owns the nodes it absorbed: an SGD update's product ("gemm_update"), a chain's
    first product ("gemm_chain"), a bias epilogue's product, add and Identities ("gemm_bias"), a convolution's
    bias epilogue's Conv2D and add ("conv_bias"), a MaxPoolGrad's Relu mask and zeros ("max_pool_grad_relu").
    Every rewrite rebuilds the map with this one function, so a later rewrite keeps what an earlier one absorbed."""
    kernel_of = {}
    for idx, k in enumerate(kernels):
        for i in k.nodes + k.data.get("prologue", []):
            kernel_of[i] = idx
        if k.kind == "gemm_update":
            kernel_of[k.data["matmul"]] = idx  # where its operands are read (variable-read aliasing asks)
        elif k.kind == "gemm_chain":
            kernel_of[k.data["inner"]] = idx  # where the first product's operands are read
        elif k.kind == "gemm_bias":  # where the product's operands and the bias are read
            for i in [k.data["matmul"], k.data["add"], *k.data["between"]]:
                kernel_of[i] = idx
        elif k.kind == "conv_bias":  # where the convolution's operands and the bias are read
            for i in (k.data["conv"], k.data["add"]):
                kernel_of[i] = idx
        elif k.kind == "max_pool_grad_relu":  # where the pooling's operands are read
            for i in (k.data["pool"], k.data["greater"], k.data["zeros"]):
                kernel_of[i] = idx
    return kernel_of
