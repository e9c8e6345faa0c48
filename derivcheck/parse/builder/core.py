"""What every part of the builder shares: the scope and positions, errors, building a child node
(with its failures and number sizes checked), and the shapes a child must have."""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod

import sympy

from derivcheck.parse.builder.limits import MAX_NUMBER_DIGITS, MAX_RADICAND_DIGITS, NUMBER_LIMIT, RADICAND_LIMIT, all_numbers_below
from derivcheck.parse.matrices import MatrixValue
from derivcheck.parse.scope import TOO_LARGE_TO_EVALUATE, ParseError, Scope, Value
from derivcheck.parse.whitelist import Source


class BuilderCore(ABC):
    """Builds SymPy objects from a vetted AST, checking names, arities and sizes as it goes.

    The parts for each kind of node (parse/builder/) build on this; the Builder that composes
    them (parse/builder/__init__.py) says which part handles which node type.
    """

    def __init__(self, scope: Scope, src: Source, *, latex: bool = False) -> None:
        self.scope = scope
        self.src = src
        # The text is parse/latex.py's translation of LaTeX, where '@' stands for two factors written
        # side by side (a matrix product, or a product with a scalar), '*' for \cdot or \times
        # (refused between two matrices: a matrix product or entry-wise?), and '**' for a power
        # (refused for a matrix: A^2 is a matrix power to some, entry-wise to others).
        self.latex = latex
        # The ranges of the indices a Sum being built sums over, innermost last (see Indexing.bounds).
        self.bound: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]] = {}
        # Subexpressions already checked for oversized numbers, so each is looked at once.
        self._checked: set[sympy.Basic] = set()
        # Plain symbols that may be differentiated by: not indices, not integer-valued sizes.
        self._scalars = frozenset(
            symbol
            for name, symbol in scope.names.items()
            if name not in scope.indices and symbol.is_integer is not True
        )

    @abstractmethod
    def dispatch(self, node: ast.expr) -> Value:
        """Build one node, by the handler of its type."""

    def error(self, message: str, node: ast.AST, code: str) -> ParseError:
        return ParseError(message, self.src.node(node), code)

    def build(self, node: ast.expr) -> Value:
        try:
            result = self.dispatch(node)
        except ParseError:
            raise
        except (RecursionError, MemoryError):
            raise self.error(
                "the expression is too large to build", node, "too-large"
            ) from None
        except Exception as exc:  # noqa: BLE001 - see below
            # SymPy may refuse a combination we did not foresee; that is the input's fault, so it
            # becomes a ParseError rather than a crash. The message avoids str(exc), which can hold
            # numbers too long to print.
            raise self.error(
                f"cannot build this expression ({type(exc).__name__})", node, "syntax"
            ) from None
        if not isinstance(result, MatrixValue):
            self.check_numbers(result, node)
        return result

    def scalar(self, node: ast.expr, what: str) -> sympy.Expr:
        """Build a node that must be a scalar (a 1 x 1 matrix counts as one)."""
        value = self.build(node)
        if isinstance(value, MatrixValue):
            if value.is_scalar():
                return value.at(sympy.Integer(1), sympy.Integer(1))
            raise self.error(f"{what} must be a scalar, not a {value.shape} matrix", node, "shape-mismatch")
        return value

    def matrix(self, node: ast.expr, what: str) -> MatrixValue:
        value = self.build(node)
        if not isinstance(value, MatrixValue):
            raise self.error(f"{what} must be a vector or a matrix, not a scalar", node, "shape-mismatch")
        return value

    def text_of(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.src.text, node) or "this expression"

    def check_numbers(self, expr: sympy.Basic, node: ast.AST) -> None:
        """Refuse results holding an over-long number or a root of a long number.

        SymPy combines numbers on its own (10**1000 * 10**1000, sqrt(a)*sqrt(b) -> sqrt(a*b)), so
        the inputs being small is not enough. Each subexpression is looked at once.
        """
        stack = [expr]
        while stack:
            item = stack.pop()
            if item in self._checked:
                continue
            self._checked.add(item)
            if isinstance(item, sympy.Rational):
                if abs(int(item.p)) >= NUMBER_LIMIT or int(item.q) >= NUMBER_LIMIT:
                    raise self.error(
                        f"a number in this expression is too large (more than {MAX_NUMBER_DIGITS} digits)",
                        node,
                        TOO_LARGE_TO_EVALUATE,
                    )
                continue
            if (
                isinstance(item, sympy.Pow)
                and not item.exp.is_Integer
                and not all_numbers_below(item.base, RADICAND_LIMIT)
            ):
                raise self.error(
                    f"a root or non-integer power of a number longer than {MAX_RADICAND_DIGITS} digits",
                    node,
                    TOO_LARGE_TO_EVALUATE,
                )
            stack.extend(item.args)
