"""Sums and derivatives: Sum(f, (k, low, high)) with its limits, and Derivative(F, v) by an entry, a
scalar, or (in matrix notation) a family named bare."""

from __future__ import annotations

import ast

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder.indexing import Indexing
from derivcheck.parse.matrices import MatrixValue, ShapeError
from derivcheck.model import suggestion
from derivcheck.parse.scope import Value
from derivcheck.vocabulary import Diff


class Calculus(Indexing):
    """Sum, its limits (the only place a tuple may stand), and Derivative."""

    def sum_call(self, node: ast.Call) -> sympy.Expr:
        args = node.args
        if len(args) not in (2, 3):
            raise self.error(
                f"Sum takes a summand and one or two limits like (k, 1, N), got {len(args)} argument{'' if len(args) == 1 else 's'}",
                node,
                "arity",
            )
        limits = [self._limit(limit) for limit in args[1:]]
        # The summand is built knowing the ranges summed over, so an entry of a matrix expression
        # taken at a bound index is checked against them (Indexing.check_entry).
        outer = dict(self.bound)
        self.bound.update({var: (low, high) for var, low, high in limits})
        try:
            summand = self.scalar(args[0], "the summand of Sum (for matrices use sum(A))")
        finally:
            self.bound = outer
        # A limit's bounds are outside its own binding, so in Sum(f, (k, k, N)) the lower k
        # would be another k than the one summed over. Such a Sum is refused rather than
        # guessed at; so is an outer range that names a variable summed inside it.
        for position, (var, low, high) in enumerate(limits):
            inner = [limit[0] for limit in limits[: position + 1]]
            named = [v for v in inner if v in low.free_symbols | high.free_symbols]
            if named:
                raise self.error(
                    f"the range of {var} uses {named[0]}, which this Sum sums over: "
                    "write the range with another index, e.g. (m, k, N) for a sum from k",
                    args[1 + position],
                    "bound-index-in-limits",
                )
        return sympy.Sum(summand, *limits)

    def _limit(self, node: ast.expr) -> tuple[sympy.Symbol, sympy.Expr, sympy.Expr]:
        if not isinstance(node, ast.Tuple):
            raise self.error(
                "a Sum limit must be a tuple like (k, 1, N)", node, "syntax"
            )
        if len(node.elts) != 3:
            raise self.error(
                f"a Sum limit has 3 parts like (k, 1, N), got {len(node.elts)}",
                node,
                "arity",
            )
        var_node, low_node, high_node = node.elts
        message = "the bound variable of a Sum must be a declared index"
        if not isinstance(var_node, ast.Name):
            raise self.error(message, var_node, "syntax")
        name = var_node.id
        if name not in self.scope.indices or name not in self.scope.names:
            known = name in self.scope.names or name in self.scope.families
            raise self.error(
                f"{message} ('{name}' is not{'' if known else suggestion(name, self.scope.indices)})",
                var_node,
                "syntax" if known else "undeclared-symbol",
            )
        return self.scope.names[name], self.index(low_node), self.index(high_node)

    def bare_tuple(self, node: ast.Tuple) -> Value:
        """A tuple anywhere but as a Sum limit (which _limit reads without building it)."""
        raise self.error(
            "a tuple is only allowed as a Sum limit like (k, 1, N)",
            node,
            "unsafe-expression",
        )

    def derivative(self, node: ast.Call) -> Value:
        args = node.args
        if len(args) != 2:
            raise self.error(
                f"Derivative takes 2 arguments, got {len(args)}", node, "arity"
            )
        function = self.build(args[0])
        variable = self.build(args[1])
        if isinstance(variable, MatrixValue):
            return self._by_matrix(node, function)
        if isinstance(function, MatrixValue):
            if isinstance(variable, sympy.Indexed) or isinstance(variable, sympy.Symbol) and variable in self._scalars:
                return matrices.scale(function, lambda e: Diff(e, variable))
        if isinstance(variable, sympy.Indexed) or (
            isinstance(variable, sympy.Symbol) and variable in self._scalars
        ):
            return Diff(function, variable)
        raise self.error(
            "Derivative takes a variable like z[k] as its second argument",
            args[1],
            "syntax",
        )

    def _by_matrix(self, node: ast.Call, function: Value) -> MatrixValue:
        """Derivative(F, V) by a vector or matrix V named bare: a Jacobian, or a gradient in the layout."""
        variable = self.variable_matrix(node.args[1])
        try:
            if isinstance(function, MatrixValue):
                if self.scope.layout == "numerator":
                    return matrices.jacobian(function, variable, Diff)
                return matrices.transpose(matrices.jacobian(function, variable, Diff))
            return matrices.gradient(function, variable, Diff, self.scope.layout)
        except ShapeError as exc:
            raise self.error(str(exc), node, "shape-mismatch") from None

    def variable_matrix(self, node: ast.expr) -> MatrixValue:
        """What a matrix is differentiated by: a vector or matrix named bare (a family)."""
        value = self.build(node)
        if not isinstance(value, MatrixValue) or value.family is None:
            raise self.error(
                "differentiate with respect to a variable: an entry like z[k], a scalar, or a vector or matrix named bare",
                node,
                "syntax",
            )
        return value
