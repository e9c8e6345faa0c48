"""Indexing: subscripts (a family's entry z[k], W[i, d], or an entry of a matrix expression) and the
index expressions inside them (integers, index symbols and sizes with +, - and * by an integer)."""

from __future__ import annotations

import ast

import sympy

from derivcheck.parse.builder.leaves import Leaves, placeholder
from derivcheck.parse.matrices import MatrixValue
from derivcheck.parse.whitelist import ALLOWED_UNARYOPS, CALLABLE


class Indexing(Leaves):
    """Subscripts and index expressions."""

    def subscript(self, node: ast.Subscript) -> sympy.Expr:
        target = node.value
        if not isinstance(target, ast.Name):
            return self._entry(node)
        name = target.id
        if name not in self.scope.families:
            if name in self.scope.names or name in ("pi", "E") or name in CALLABLE:
                raise self.error(
                    f"'{name}' is not indexed; only families can be indexed",
                    node,
                    "unsafe-expression",
                )
            raise self.error(self.scope.undeclared(name), target, "undeclared-symbol")
        base, arity = self.scope.families[name]
        index_nodes = _parts(node.slice)
        if len(index_nodes) != arity:
            raise self.error(
                f"{name} takes {arity} ind{'ex' if arity == 1 else 'ices'}, got {len(index_nodes)}: "
                f"write {name}[{placeholder(arity)}]",
                node,
                "arity",
            )
        indices = [self.index(index_node) for index_node in index_nodes]
        return base[tuple(indices)] if len(indices) > 1 else base[indices[0]]

    def _entry(self, node: ast.Subscript) -> sympy.Expr:
        """An entry of a matrix expression, like ((A - Y) @ X.T)[l, m]."""
        value = self.build(node.value)
        if not isinstance(value, MatrixValue):
            raise self.error(
                "only a declared family or a matrix expression can be indexed, like z[k]",
                node,
                "unsafe-expression",
            )
        parts = _parts(node.slice)
        if len(parts) == 1 and value.is_column():
            row = self.index(parts[0])
            self.check_entry(value, row, value.rows, parts[0])
            return value.at(row, sympy.Integer(1))
        if len(parts) != 2:
            raise self.error(f"a {value.shape} matrix takes 2 indices, got {len(parts)}", node, "arity")
        row, col = self.index(parts[0]), self.index(parts[1])
        self.check_entry(value, row, value.rows, parts[0])
        self.check_entry(value, col, value.cols, parts[1])
        return value.at(row, col)

    def check_entry(self, value: MatrixValue, index: sympy.Expr, size: sympy.Expr, node: ast.expr) -> None:
        """An index of an entry of a matrix expression must stay in 1..size over its whole range.

        A family's entries are checked by the engine, at concrete sizes; an entry of ones(2, 2)
        or eye(N) is a number, with nothing left to check, so ones(2, 2)[3, 1] would silently be 1.
        An index whose range cannot be told to stay inside (1..D in a dimension N) is refused too."""
        bounds = self.bounds(index)
        if bounds is None:
            return  # an index of no known range: only in scopes built without ranges (tests)
        low, high = bounds
        if (low - 1).is_nonnegative is True and (size - high).is_nonnegative is True:
            return
        shown = f"{index}" if low == high else f"{index}, which runs over {low}..{high},"
        raise self.error(
            f"this entry of a {value.shape} matrix is out of its range: the index {shown} is not always within 1..{size}",
            node,
            "index-out-of-range",
        )

    def bounds(self, index: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
        """The least and greatest values of an index expression (linear in its indices) over their ranges."""
        low, high = index, index
        for symbol in sorted(index.free_symbols, key=str):
            known = self.bound.get(symbol) or self.scope.ranges.get(symbol)
            if known is None:
                if symbol.name in self.scope.indices:
                    return None
                continue  # a size
            slope = sympy.expand(index).coeff(symbol)
            if not slope.is_Integer:
                return None
            first, last = known if slope > 0 else known[::-1]
            low, high = low.subs(symbol, first), high.subs(symbol, last)
        return sympy.expand(low), sympy.expand(high)

    def index(self, node: ast.expr) -> sympy.Expr:
        """An integer-valued expression of index symbols, sizes and integers with +, - and * by an integer."""
        result = self._index_part(node)
        if result.is_integer is not True:
            raise self.error(
                "an index must be an integer expression of indices, sizes and integers",
                node,
                "syntax",
            )
        self.check_numbers(result, node)
        return result

    def _index_part(self, node: ast.expr) -> sympy.Expr:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return self.constant(node)
        if isinstance(node, ast.Name):
            value = self.name(node)
            if isinstance(value, MatrixValue):
                # A family used bare is a matrix (matrix notation): say so, where it stands.
                raise self.error(
                    f"'{node.id}' is a {value.shape} matrix, so it cannot be used in an index",
                    node,
                    "shape-mismatch",
                )
            if value.is_integer is not True:
                raise self.error(
                    f"'{node.id}' is not integer-valued, so it cannot be used in an index",
                    node,
                    "syntax",
                )
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ALLOWED_UNARYOPS):
            operand = self._index_part(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and (
            isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)) or (self.latex and isinstance(node.op, ast.MatMult))
        ):
            left = self._index_part(node.left)
            right = self._index_part(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if not (left.is_Integer or right.is_Integer):
                raise self.error(
                    "in an index, '*' must have an integer on one side", node, "syntax"
                )
            return left * right
        # Build it anyway so that undeclared names and refused constructs get their own codes,
        # then refuse the shape.
        self.build(node)
        raise self.error(
            "an index may only use index symbols, sizes and integers with +, - and * by an integer",
            node,
            "syntax",
        )


def _parts(slice_node: ast.expr) -> list[ast.expr]:
    """The index nodes of a subscript: a[i, j] holds a tuple, a[k] one node."""
    return list(slice_node.elts) if isinstance(slice_node, ast.Tuple) else [slice_node]
