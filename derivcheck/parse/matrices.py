"""Matrix notation, compiled to index notation: a matrix value is a shape and an entry function.

`theta @ X + b @ ones(1, n)` becomes, entry by entry, `Sum(theta[r, t]*X[t, c], (t, 1, d)) + b[r]`,
so the engine proves matrix identities with the same machinery as index identities, for
symbolic sizes. Shapes are checked while the value is built; a clash raises ShapeError
naming both shapes. Functions apply entry-wise (exp of a matrix is never the matrix
exponential). A column vector (n x 1) is a family with one index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy

Entry = Callable[[sympy.Expr, sympy.Expr], sympy.Expr]


class ShapeError(ValueError):
    """Two shapes that do not fit; the message names them."""


def same_size(first: sympy.Expr, second: sympy.Expr) -> bool:
    return bool(sympy.expand(first - second) == 0)


def _dim(value: sympy.Expr) -> str:
    text = str(value)
    return f"({text})" if not (value.is_Symbol or value.is_Integer) else text


@dataclass(frozen=True)
class MatrixValue:
    """A rows x cols matrix whose entry (r, c) is entry(r, c), for 1 <= r <= rows, 1 <= c <= cols."""

    rows: sympy.Expr
    cols: sympy.Expr
    entry: Entry
    family: str | None = None  # set when the value is a declared or defined family, used bare

    @property
    def shape(self) -> str:
        return f"({_dim(self.rows)} x {_dim(self.cols)})"

    def is_column(self) -> bool:
        return bool(self.cols == 1)

    def is_scalar(self) -> bool:
        return bool(self.rows == 1 and self.cols == 1)

    def at(self, row: sympy.Expr, col: sympy.Expr) -> sympy.Expr:
        # A dimension of size 1 has only the index 1: fix it, so that a generic entry never
        # carries an index that can take one value only.
        return self.entry(sympy.Integer(1) if self.rows == 1 else row, sympy.Integer(1) if self.cols == 1 else col)


def fresh_index(name: str = "t") -> sympy.Dummy:
    return sympy.Dummy(name, integer=True)


def family(name: str, base: sympy.IndexedBase, shape: tuple[sympy.Expr, ...]) -> MatrixValue:
    """A declared vector (one index: a column) or matrix (two indices) used without brackets."""
    if len(shape) == 1:
        return MatrixValue(shape[0], sympy.Integer(1), lambda r, c: base[r], family=name)
    if len(shape) == 2:
        return MatrixValue(shape[0], shape[1], lambda r, c: base[r, c], family=name)
    raise ShapeError(f"{name} has {len(shape)} indices; only vectors and matrices can be used without brackets")


def matmul(left: MatrixValue, right: MatrixValue, text: str) -> MatrixValue:
    if not same_size(left.cols, right.rows):
        raise ShapeError(f"shapes do not fit in the product {text}: {left.shape} @ {right.shape}")
    inner = left.cols

    def entry(r: sympy.Expr, c: sympy.Expr) -> sympy.Expr:
        t = fresh_index()
        return sympy.Sum(left.at(r, t) * right.at(t, c), (t, 1, inner))

    if inner == 1:
        return MatrixValue(left.rows, right.cols, lambda r, c: left.at(r, 1) * right.at(1, c))
    return MatrixValue(left.rows, right.cols, entry)


def transpose(value: MatrixValue) -> MatrixValue:
    return MatrixValue(value.cols, value.rows, lambda r, c: value.at(c, r))


def elementwise(left: MatrixValue, right: MatrixValue, op: Callable[[sympy.Expr, sympy.Expr], sympy.Expr], symbol: str, text: str) -> MatrixValue:
    if not (same_size(left.rows, right.rows) and same_size(left.cols, right.cols)):
        hint = ""
        if symbol in "+-" and (left.cols == 1 or right.cols == 1):
            hint = "; to add a column to every column, say so: b @ ones(1, n) or broadcast(b, n)"
        if symbol == "*" and (left.cols == 1) != (right.cols == 1):
            hint = "; '*' between matrices is entry-wise (⊙): for a matrix product write @"
        raise ShapeError(f"shapes differ in {text}: {left.shape} {symbol} {right.shape}{hint}")
    return MatrixValue(left.rows, left.cols, lambda r, c: op(left.at(r, c), right.at(r, c)))


def scale(value: MatrixValue, op: Callable[[sympy.Expr], sympy.Expr]) -> MatrixValue:
    """An entry-wise map (a function, or multiplication by a scalar)."""
    return MatrixValue(value.rows, value.cols, lambda r, c: op(value.at(r, c)))


def softmax(value: MatrixValue) -> MatrixValue:
    """Column by column: entry (r, c) is exp(Z[r, c]) / sum over r' of exp(Z[r', c])."""

    def entry(r: sympy.Expr, c: sympy.Expr) -> sympy.Expr:
        t = fresh_index("s")
        return sympy.exp(value.at(r, c)) / sympy.Sum(sympy.exp(value.at(t, c)), (t, 1, value.rows))

    return MatrixValue(value.rows, value.cols, entry)


def total(value: MatrixValue, axis: int | None) -> MatrixValue | sympy.Expr:
    """sum(A): a scalar; sum(A, axis=0): a row (1 x cols); sum(A, axis=1): a column (rows x 1)."""
    if axis is None:
        r, c = fresh_index("r"), fresh_index("c")
        return sympy.Sum(value.at(r, c), (r, 1, value.rows), (c, 1, value.cols))
    if axis == 0:
        def down(_r: sympy.Expr, c: sympy.Expr) -> sympy.Expr:
            t = fresh_index("s")
            return sympy.Sum(value.at(t, c), (t, 1, value.rows))
        return MatrixValue(sympy.Integer(1), value.cols, down)
    def across(r: sympy.Expr, _c: sympy.Expr) -> sympy.Expr:
        t = fresh_index("s")
        return sympy.Sum(value.at(r, t), (t, 1, value.cols))
    return MatrixValue(value.rows, sympy.Integer(1), across)


def ones(rows: sympy.Expr, cols: sympy.Expr) -> MatrixValue:
    return MatrixValue(rows, cols, lambda r, c: sympy.Integer(1))


def identity(size: sympy.Expr) -> MatrixValue:
    return MatrixValue(size, size, lambda r, c: sympy.KroneckerDelta(r, c))


def diag(value: MatrixValue) -> MatrixValue:
    if not value.is_column():
        raise ShapeError(f"diag takes a column vector, not {value.shape}")
    return MatrixValue(value.rows, value.rows, lambda r, c: sympy.KroneckerDelta(r, c) * value.at(r, 1))


def broadcast(value: MatrixValue, count: sympy.Expr) -> MatrixValue:
    """A column repeated `count` times: (rows x 1) to (rows x count)."""
    if not value.is_column():
        raise ShapeError(f"broadcast takes a column vector, not {value.shape}")
    return MatrixValue(value.rows, count, lambda r, c: value.at(r, 1))


def gradient(function: sympy.Expr, variable: MatrixValue, diff: Callable[[sympy.Expr, sympy.Expr], sympy.Expr], layout: str) -> MatrixValue:
    """d(scalar)/d(matrix): the variable's shape in denominator layout, its transpose in numerator layout."""
    grad = MatrixValue(variable.rows, variable.cols, lambda r, c: diff(function, variable.at(r, c)))
    return grad if layout == "denominator" else transpose(grad)


def jacobian(function: MatrixValue, variable: MatrixValue, diff: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]) -> MatrixValue:
    """J[i, j] = d f_i / d v_j for column vectors f (m x 1) and v (n x 1): an m x n matrix."""
    if not (function.is_column() and variable.is_column()):
        raise ShapeError(
            f"a Jacobian needs two column vectors, not {function.shape} and {variable.shape}; "
            "write the derivative entry by entry"
        )
    return MatrixValue(function.rows, variable.rows, lambda r, c: diff(function.at(r, 1), variable.at(c, 1)))
