"""Gradients of MatMul (all transpose flags), Transpose and MatrixInverse (TF1's math_grad/linalg_grad)."""

from __future__ import annotations

import numpy as np

from . import linalg  # noqa: F401  (the op rows must exist before gradients attach to them)
from .linalg import matmul, transpose
from .math import negative
from .registry import RegisterGradient


@RegisterGradient("MatMul")
def _matmul_grad(op, grad):
    t_a, t_b = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    a, b = op.inputs
    if not t_a and not t_b:
        return matmul(grad, b, transpose_b=True), matmul(a, grad, transpose_a=True)
    if not t_a and t_b:
        return matmul(grad, b), matmul(grad, a, transpose_a=True)
    if t_a and not t_b:
        return matmul(b, grad, transpose_b=True), matmul(a, grad)
    return (matmul(b, grad, transpose_a=True, transpose_b=True),
            matmul(grad, a, transpose_a=True, transpose_b=True))


@RegisterGradient("BatchMatMul")
def _batch_matmul_grad(op, grad):
    adj_x, adj_y = op.get_attr("adj_x"), op.get_attr("adj_y")
    x, y = op.inputs
    if not adj_x:
        if not adj_y:
            return matmul(grad, y, adjoint_b=True), matmul(x, grad, adjoint_a=True)
        return matmul(grad, y), matmul(grad, x, adjoint_a=True)
    if not adj_y:
        return matmul(y, grad, adjoint_b=True), matmul(x, grad)
    return matmul(y, grad, adjoint_a=True, adjoint_b=True), matmul(grad, x, adjoint_a=True, adjoint_b=True)


@RegisterGradient("Transpose")
def _transpose_grad(op, grad):
    perm = op.get_attr("perm")
    return transpose(grad, list(np.argsort(perm))), None


@RegisterGradient("MatrixInverse")
def _matrix_inverse_grad(op, grad):
    """d(A^-1) = -A^-T grad A^-T (for the adjoint flag, the transposes swap)."""
    ainv = op.outputs[0]
    adjoint = op.get_attr("adjoint")
    inner = matmul(grad, ainv, transpose_a=adjoint, transpose_b=not adjoint)
    return [negative(matmul(ainv, inner, transpose_a=not adjoint))]
