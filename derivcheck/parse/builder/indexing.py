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
            raise self.error(f"undeclared name '{name}'", target, "undeclared-symbol")
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
            return value.at(self.index(parts[0]), sympy.Integer(1))
        if len(parts) != 2:
            raise self.error(f"a {value.shape} matrix takes 2 indices, got {len(parts)}", node, "arity")
        return value.at(self.index(parts[0]), self.index(parts[1]))

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
