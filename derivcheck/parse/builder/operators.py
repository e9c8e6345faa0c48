"""Operators: + - * / ** and unary signs on scalars; the same entry-wise on matrices, @ between
matrices, and .T; with the limits on powers checked before SymPy builds them."""

from __future__ import annotations

import ast
from collections.abc import Callable

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder.core import BuilderCore
from derivcheck.parse.builder.limits import MAX_EXPONENT, MAX_POWER_DIGITS, MAX_RADICAND_DIGITS, RADICAND_LIMIT, all_numbers_below, max_log10
from derivcheck.parse.matrices import MatrixValue, ShapeError
from derivcheck.parse.scope import TOO_LARGE_TO_EVALUATE, Value

_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
# Between two matrices of one shape, entry by entry (as in NumPy).
_ELEMENTWISE: dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


class Operators(BuilderCore):
    """Binary and unary operators, the transpose, and powers."""

    def binop(self, node: ast.BinOp) -> Value:
        left = self.build(node.left)
        right = self.build(node.right)
        op = node.op
        if self.latex:
            value = self._latex_binop(node, left, right)
            if value is not None:
                return value
        if isinstance(left, MatrixValue) or isinstance(right, MatrixValue) or isinstance(op, ast.MatMult):
            try:
                return self._matrix_binop(node, left, right)
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            # A true quotient built explicitly: Python's / on ints never gets a say.
            return sympy.Mul(left, sympy.Pow(right, -1))
        if isinstance(op, ast.Pow):
            return self.power(left, right, node)
        raise self.error("operator not allowed", node, "unsafe-expression")

    def _latex_binop(self, node: ast.BinOp, left: Value, right: Value) -> Value | None:
        """LaTeX's products, quotients and powers (BuilderCore.latex); None for what reads as in the plain format.

        Side by side ('@' in the translation): the matrix product of two matrices (their shapes must
        fit), else a product with a scalar. Between two matrices, \\cdot and a quotient are refused,
        and so is a power of a matrix: each has two readings."""
        op = node.op
        left, right = _unboxed(left), _unboxed(right)
        both = isinstance(left, MatrixValue) and isinstance(right, MatrixValue)
        if isinstance(op, ast.MatMult):
            if not (isinstance(left, MatrixValue) and isinstance(right, MatrixValue)):
                return _times(left, right)
            if not matrices.same_size(left.cols, right.rows):
                raise self.error(
                    f"two matrices written side by side are a matrix product, and {left.shape} {right.shape} do not fit: "
                    "for a transpose write x^\\top",
                    node,
                    "shape-mismatch",
                )
            product = matrices.matmul(left, right, self.text_of(node))
            return product.at(sympy.Integer(1), sympy.Integer(1)) if product.is_scalar() else product
        if both and isinstance(op, (ast.Mult, ast.Div)):
            what = "\\cdot (or \\times, *) between two matrices could be the matrix product or the entry-wise one: write them side by side, W x, for the matrix product, or \\odot for entry-wise"
            if isinstance(op, ast.Div):
                what = "a quotient of two matrices could be entry-wise or a product with an inverse: write its entries"
            raise self.error(f"ambiguous: {what}", node, "ambiguous-latex")
        if isinstance(op, ast.Pow) and isinstance(left, MatrixValue):
            raise self.error(self._matrix_power(node, left), node.right, "ambiguous-latex")
        return None

    def _matrix_power(self, node: ast.BinOp, base: MatrixValue) -> str:
        if isinstance(node.right, ast.Name) and node.right.id == "T" and "T" in self.scope.names:
            return (
                f"ambiguous: 'T' is a declared name, so the ^T of a {base.shape} matrix could be the transpose or a power "
                "by T: write A^\\top (or A^\\intercal) for the transpose; a power of a matrix, A^{(T)} included, is not read"
            )
        return (
            f"ambiguous: a power of a {base.shape} matrix could be a matrix power (A^2 = A A) or entry-wise: "
            "write the product side by side, A A, or the entries, A_{ij}^2; A^\\top is the transpose"
        )

    def unary(self, node: ast.UnaryOp) -> Value:
        # The whitelist lets + and - through, nothing else.
        operand = self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, MatrixValue):
            return matrices.scale(operand, lambda e: -e)
        return -operand

    def transpose(self, node: ast.Attribute) -> MatrixValue:
        # The whitelist lets only `.T` through.
        return matrices.transpose(self.matrix(node.value, "the operand of .T"))

    def _matrix_binop(self, node: ast.BinOp, left: Value, right: Value) -> Value:
        op = node.op
        text = self.text_of(node)
        symbol = _SYMBOL[type(op)]
        if isinstance(op, ast.MatMult):
            if not (isinstance(left, MatrixValue) and isinstance(right, MatrixValue)):
                raise ShapeError(f"'@' multiplies two matrices or vectors; for a scalar factor write * in {text}")
            product = matrices.matmul(left, right, text)
            return product.at(sympy.Integer(1), sympy.Integer(1)) if product.is_scalar() else product
        if isinstance(left, MatrixValue) and isinstance(right, MatrixValue):
            if type(op) not in _ELEMENTWISE:
                raise ShapeError(f"'{symbol}' between two matrices is not defined in {text}")
            return matrices.elementwise(left, right, _ELEMENTWISE[type(op)], symbol, text)
        if isinstance(op, (ast.Add, ast.Sub)):
            # Entry-wise, as in NumPy: 1 - a is the matrix of 1 - a[i, j].
            return _shifted(left, right, 1 if isinstance(op, ast.Add) else -1)
        if isinstance(left, MatrixValue):
            return self._scaled(node, left, right)
        assert isinstance(right, MatrixValue)
        if isinstance(op, ast.Mult):
            factor = left
            return matrices.scale(right, lambda e: factor * e)
        raise ShapeError(f"'{symbol}' with a matrix on the right is not defined in {text}")

    def _scaled(self, node: ast.BinOp, matrix: MatrixValue, factor: Value) -> MatrixValue:
        """matrix * factor, matrix / factor or matrix ** factor, entry by entry (factor a scalar)."""
        op = node.op
        if isinstance(op, ast.Mult):
            return matrices.scale(matrix, lambda e: e * factor)
        if isinstance(op, ast.Div):
            return matrices.scale(matrix, lambda e: e / factor)
        # The only operator left once +, -, @, * and / are handled (the whitelist allows no other).
        assert isinstance(op, ast.Pow)
        return matrices.scale(matrix, lambda e: self.power(e, factor, node))

    def power(
        self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST
    ) -> sympy.Expr:
        """base**exponent, refused before SymPy builds it when the result could be huge or slow."""
        if exponent.is_Rational:
            if abs(exponent) > MAX_EXPONENT:
                raise self.error(
                    f"exponent too large (|exponent| at most {MAX_EXPONENT})",
                    node,
                    TOO_LARGE_TO_EVALUATE,
                )
            # For numbers this is |n| * log10|base| (the digits of the result); for symbolic
            # bases SymPy may still expand e.g. (10**50*x)**n into 10**(50n)*x**n.
            if float(abs(exponent)) * max_log10(base) > MAX_POWER_DIGITS:
                raise self.error(
                    "the power would be too large a number", node, TOO_LARGE_TO_EVALUATE
                )
        if not exponent.is_Integer and not all_numbers_below(base, RADICAND_LIMIT):
            raise self.error(
                f"a root or non-integer power of a number longer than {MAX_RADICAND_DIGITS} digits",
                node,
                TOO_LARGE_TO_EVALUATE,
            )
        return sympy.Pow(base, exponent)


def _shifted(left: Value, right: Value, sign: int) -> MatrixValue:
    """A matrix plus or minus a scalar (on either side), entry by entry."""
    if isinstance(left, MatrixValue):
        scalar_right = right
        assert not isinstance(scalar_right, MatrixValue)  # two matrices are added entry by entry, elsewhere
        return matrices.scale(left, lambda e: e + sign * scalar_right)
    scalar_left = left
    assert isinstance(right, MatrixValue)
    return matrices.scale(right, lambda e: scalar_left + sign * e)


def _unboxed(value: Value) -> Value:
    """A 1 x 1 matrix as the scalar it is (x^\\top y side by side with W scales W)."""
    if isinstance(value, MatrixValue) and value.is_scalar():
        return value.at(sympy.Integer(1), sympy.Integer(1))
    return value


def _times(left: Value, right: Value) -> Value:
    """A product in which one side at least is a scalar: entry by entry for a matrix."""
    if isinstance(left, MatrixValue):
        factor = right
        return matrices.scale(left, lambda e: e * factor)
    if isinstance(right, MatrixValue):
        scalar = left
        return matrices.scale(right, lambda e: scalar * e)
    return left * right
