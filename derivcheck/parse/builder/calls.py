"""Calls: the table from a callable name to what builds it (the vocabulary's functions, sqrt,
KroneckerDelta, Sum, Derivative and the matrix functions), and the vocabulary's functions applied."""

from __future__ import annotations

import ast
from collections.abc import Callable

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder.limits import MAX_RADICAND_DIGITS, RADICAND_LIMIT, all_numbers_below
from derivcheck.parse.builder.matrix_calls import MATRIX_CALL_NAMES, MatrixCalls
from derivcheck.parse.builder.operators import Operators
from derivcheck.parse.matrices import MatrixValue
from derivcheck.parse.scope import Value
from derivcheck.parse.whitelist import REFUSED
from derivcheck.vocabulary import FUNCTIONS

# Functions that take one argument and map straight onto SymPy: the vocabulary's (sigmoid too).
_UNARY_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {name: f.sympy_form for name, f in FUNCTIONS.items()}


class Calls(MatrixCalls, Operators):
    """Calls, looked up in _CALLS by the called name."""

    def call(self, node: ast.Call) -> Value:
        # The whitelist has already made sure func is a callable Name and there are no keywords
        # (but sum's axis).
        assert isinstance(node.func, ast.Name)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(REFUSED[ast.Starred], arg, "unsafe-expression")
        handler = _CALLS.get(node.func.id)
        if handler is None:
            raise self.error(f"'{node.func.id}' cannot be called", node, "unsafe-expression")
        return handler(self, node)

    def _function(self, node: ast.Call) -> Value:
        """One of the vocabulary's functions, or sqrt: of a scalar, or entry-wise of a matrix."""
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = node.args
        if len(args) != 1:
            extra = " (log(x, b) is not supported)" if name == "log" else ""
            raise self.error(
                f"{name} takes 1 argument, got {len(args)}{extra}", node, "arity"
            )
        built = self.build(args[0])
        if isinstance(built, MatrixValue):
            # Entry-wise, as in NumPy: exp of a matrix is never the matrix exponential.
            return matrices.scale(built, lambda e: self._apply(name, e, node))
        return self._apply(name, built, node)

    def _apply(self, name: str, value: sympy.Expr, node: ast.Call) -> sympy.Expr:
        # SymPy evaluates functions of numbers eagerly (exp(c*log(n)) becomes n**c, which
        # factors n), so the numbers a function sees are kept short.
        if not all_numbers_below(value, RADICAND_LIMIT):
            raise self.error(
                f"numbers inside {name}(...) are limited to {MAX_RADICAND_DIGITS} digits",
                node.args[0],
                "too-large",
            )
        if name == "sqrt":
            return self.power(value, sympy.Rational(1, 2), node)
        return _UNARY_FUNCTIONS[name](value)

    def _kronecker(self, node: ast.Call) -> sympy.Expr:
        args = node.args
        if len(args) != 2:
            raise self.error(
                f"KroneckerDelta takes 2 arguments, got {len(args)}", node, "arity"
            )
        return sympy.KroneckerDelta(self.index(args[0]), self.index(args[1]))


# What builds a call of each callable name. The whitelist (parse/whitelist.py) lets through
# calls of exactly these names; a test holds the two to the same set.
_CALLS: dict[str, Callable[[Calls, ast.Call], Value]] = {
    **{name: Calls._function for name in [*_UNARY_FUNCTIONS, "sqrt"]},
    "KroneckerDelta": Calls._kronecker,
    "Sum": Calls.sum_call,
    "Derivative": Calls.derivative,
    **{name: Calls.matrix_call for name in MATRIX_CALL_NAMES},
}
CALL_NAMES = frozenset(_CALLS)
