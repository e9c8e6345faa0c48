"""The functions of matrix notation (softmax, transpose, sum, ones, eye, diag, broadcast, hadamard,
jacobian): how many arguments each takes, and what each builds (see parse/matrices.py)."""

from __future__ import annotations

import ast
from collections.abc import Callable

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder.calculus import Calculus
from derivcheck.parse.matrices import MatrixValue, ShapeError
from derivcheck.parse.scope import Value
from derivcheck.vocabulary import Diff


class MatrixCalls(Calculus):
    """Calls of the matrix functions, looked up in _MATRIX_CALLS by name."""

    def matrix_call(self, node: ast.Call) -> Value:
        assert isinstance(node.func, ast.Name)  # the whitelist allows calls of names only
        name = node.func.id
        arities, handler = _MATRIX_CALLS[name]
        try:
            if len(node.args) not in arities:
                expected = " or ".join(str(n) for n in arities)
                raise self.error(f"{name} takes {expected} argument(s), got {len(node.args)}", node, "arity")
            return handler(self, node)
        except ShapeError as exc:
            raise self.error(str(exc), node, "shape-mismatch") from None

    def _softmax(self, node: ast.Call) -> Value:
        return matrices.softmax(self.matrix(node.args[0], "the argument of softmax"))

    def _transpose(self, node: ast.Call) -> Value:
        return matrices.transpose(self.matrix(node.args[0], "the argument of transpose"))

    def _total(self, node: ast.Call) -> Value:
        """sum(A), sum(A, axis=0) (down each column) or sum(A, axis=1) (along each row)."""
        axis: int | None = None
        for keyword_node in node.keywords:  # the whitelist allows only axis=
            value = keyword_node.value
            if not (isinstance(value, ast.Constant) and type(value.value) is int and value.value in (0, 1)):
                raise self.error("axis is 0 (down each column) or 1 (along each row)", value, "syntax")
            axis = value.value
        result = matrices.total(self.matrix(node.args[0], "the argument of sum"), axis)
        if isinstance(result, MatrixValue) and result.is_scalar():
            return result.at(sympy.Integer(1), sympy.Integer(1))
        return result

    def _ones(self, node: ast.Call) -> Value:
        args = node.args
        rows = self.index(args[0])
        cols = self.index(args[1]) if len(args) == 2 else sympy.Integer(1)
        return matrices.ones(rows, cols)

    def _eye(self, node: ast.Call) -> Value:
        return matrices.identity(self.index(node.args[0]))

    def _diag(self, node: ast.Call) -> Value:
        return matrices.diag(self.matrix(node.args[0], "the argument of diag"))

    def _broadcast(self, node: ast.Call) -> Value:
        args = node.args
        return matrices.broadcast(self.matrix(args[0], "the first argument of broadcast"), self.index(args[1]))

    def _hadamard(self, node: ast.Call) -> Value:
        left = self.matrix(node.args[0], "the first argument of hadamard")
        right = self.matrix(node.args[1], "the second argument of hadamard")
        return matrices.elementwise(left, right, lambda a, b: a * b, "⊙", self.text_of(node))

    def _jacobian(self, node: ast.Call) -> Value:
        # jacobian(f, v): J[i, j] = d f_i / d v_j.
        function = self.matrix(node.args[0], "the first argument of jacobian")
        variable = self.variable_matrix(node.args[1])
        return matrices.jacobian(function, variable, Diff)


# Each matrix function: the numbers of arguments it takes, and its handler.
_MATRIX_CALLS: dict[str, tuple[tuple[int, ...], Callable[[MatrixCalls, ast.Call], Value]]] = {
    "softmax": ((1,), MatrixCalls._softmax),
    "transpose": ((1,), MatrixCalls._transpose),
    "sum": ((1,), MatrixCalls._total),
    "ones": ((1, 2), MatrixCalls._ones),
    "eye": ((1,), MatrixCalls._eye),
    "diag": ((1,), MatrixCalls._diag),
    "broadcast": ((2,), MatrixCalls._broadcast),
    "hadamard": ((2,), MatrixCalls._hadamard),
    "jacobian": ((2,), MatrixCalls._jacobian),
}
MATRIX_CALL_NAMES = frozenset(_MATRIX_CALLS)
