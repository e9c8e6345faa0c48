"""The leaves of an expression: number literals (read exactly from their text, and bounded) and names
(declared symbols, families used bare in matrix notation, and the constants pi and E)."""

from __future__ import annotations

import ast
from fractions import Fraction

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder.core import BuilderCore
from derivcheck.parse.builder.limits import MAX_FLOAT_EXPONENT
from derivcheck.parse.matrices import ShapeError
from derivcheck.parse.scope import MAX_INT_DIGITS, Value
from derivcheck.parse.whitelist import CALLABLE

_INT_LITERAL_LIMIT = 10**MAX_INT_DIGITS


class Leaves(BuilderCore):
    """Numbers and names."""

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if type(value) is int:
            if abs(value) >= _INT_LITERAL_LIMIT:
                raise self.error(
                    f"integer literal too long (at most {MAX_INT_DIGITS} digits)",
                    node,
                    "too-large",
                )
            return sympy.Integer(value)
        if type(value) is float:
            return self._decimal(node)
        raise self.error(
            "only numbers are allowed as literals", node, "unsafe-expression"
        )

    def _decimal(self, node: ast.Constant) -> sympy.Expr:
        """An exact Rational from the literal's source text (never from the binary float)."""
        source = ast.get_source_segment(self.src.text, node)
        if source is None:
            raise self.error("cannot read this number", node, "syntax")
        literal = source.replace("_", "")
        mantissa, _, exponent = literal.lower().partition("e")
        digits = mantissa.replace(".", "").lstrip("0")
        if len(digits) > MAX_INT_DIGITS:
            raise self.error(
                f"number literal too long (at most {MAX_INT_DIGITS} digits)",
                node,
                "too-large",
            )
        if exponent:
            # Check the length first: int() of a huge digit string is itself refused by Python.
            magnitude = exponent.lstrip("+-").lstrip("0") or "0"
            if len(magnitude) > 6 or int(magnitude) > MAX_FLOAT_EXPONENT:
                raise self.error(
                    f"number literal exponent too large (at most e{MAX_FLOAT_EXPONENT})",
                    node,
                    "too-large",
                )
        fraction = Fraction(literal)
        return sympy.Rational(fraction.numerator, fraction.denominator)

    def name(self, node: ast.Name) -> Value:
        name = node.id
        if name in self.scope.names:
            return self.scope.names[name]
        if name in self.scope.families and name in self.scope.shapes:
            base, _ = self.scope.families[name]
            try:
                return matrices.family(name, base, tuple(self.scope.shapes[name]))
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if name in self.scope.families:
            _, arity = self.scope.families[name]
            raise self.error(
                f"{name} is indexed: write {name}[{placeholder(arity)}]", node, "arity"
            )
        # The constants only when the scope does not define the names itself (scope wins).
        if name == "pi":
            return sympy.pi
        if name == "E":
            return sympy.E
        if name in CALLABLE:
            raise self.error(f"{name} is a function: write {name}(...)", node, "syntax")
        raise self.error(self.scope.undeclared(name), node, "undeclared-symbol")


def placeholder(arity: int) -> str:
    """Example index names for a message like "write W[i, j]"."""
    if arity == 1:
        return "k"
    if arity <= 3:
        return ", ".join("ijk"[:arity])
    return ", ".join(f"i{n}" for n in range(1, arity + 1))
