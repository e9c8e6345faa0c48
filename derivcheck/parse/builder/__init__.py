"""Building SymPy from a vetted AST: the Builder composes one part per kind of node and dispatches
on a table from node type to handler.

The parts, each in its own module: leaves.py (numbers and names), indexing.py (subscripts and
index expressions), operators.py (operators, matrix operators, powers and their limits),
calculus.py (Sum and Derivative), matrix_calls.py and calls.py (calls, by a table of names);
core.py holds what they share, limits.py the bounds on numbers. The text is vetted before any
of this runs (parse/whitelist.py), so a node type the table lacks is refused twice.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from derivcheck.parse.builder.calls import CALL_NAMES, Calls
from derivcheck.parse.scope import Value

__all__ = ["CALL_NAMES", "Builder", "NODE_TYPES"]


class Builder(Calls):
    """Builds SymPy objects (or MatrixValues) from a vetted AST, using only the names in its scope."""

    def dispatch(self, node: ast.expr) -> Value:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            # The whitelist refuses everything else; this is a second line of defence.
            raise self.error(
                f"'{type(node).__name__}' is not allowed", node, "unsafe-expression"
            )
        return handler(self, node)


# The handler of each node type an expression may hold. Looked up by exact type: ast.parse makes
# these classes themselves, never subclasses of them.
_HANDLERS: dict[type, Callable[[Builder, Any], Value]] = {
    ast.Constant: Builder.constant,
    ast.Name: Builder.name,
    ast.Subscript: Builder.subscript,
    ast.BinOp: Builder.binop,
    ast.UnaryOp: Builder.unary,
    ast.Attribute: Builder.transpose,
    ast.Call: Builder.call,
    ast.Tuple: Builder.bare_tuple,
}
NODE_TYPES = frozenset(_HANDLERS)
