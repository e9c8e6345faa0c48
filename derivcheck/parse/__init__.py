"""Text into math: the front door to the parsers. A text between dollars is LaTeX, translated into
expression text first (parse/latex.py); plain text goes through the AST whitelist (parse/expr.py).
Errors point into the text as written, dollars included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sympy

from derivcheck.parse import expr, latex
from derivcheck.parse.matrices import MatrixValue, ShapeError
from derivcheck.parse.scope import MAX_TEXT_LENGTH, TOO_LARGE_TO_EVALUATE, ParseError, Scope, Value, check_length

__all__ = [
    "MAX_TEXT_LENGTH",
    "TOO_LARGE_TO_EVALUATE",
    "MatrixValue",
    "ParseError",
    "Scope",
    "ShapeError",
    "Value",
    "names_in",
    "parse_condition",
    "parse_equation",
    "parse_expression",
    "parse_head",
]

T = TypeVar("T")


def parse_expression(text: str, scope: Scope) -> Value:
    """One expression into SymPy (or a MatrixValue), using only the names in scope."""
    return _parsed(text, scope, expr.parse_expression, equation=False)


def parse_equation(text: str, scope: Scope) -> tuple[Value, Value]:
    """`lhs = rhs` into its two sides."""
    return _parsed(text, scope, expr.parse_equation, equation=True)


def parse_condition(text: str, scope: Scope) -> tuple[sympy.Symbol, sympy.Symbol]:
    """A condition `k != j` between two index symbols into (k, j)."""
    return expr.parse_condition(text, scope)


def parse_head(text: str) -> tuple[str, tuple[str, ...]]:
    """The left side of a definition, `L` or `a[k]`, into (name, index names)."""
    return expr.parse_head(text)


def names_in(text: str) -> list[str]:
    """The names a text may use, before a scope is known (for ordering definitions)."""
    return latex.names_in(text)


def _parsed(text: str, scope: Scope, parse: Callable[..., T], *, equation: bool) -> T:
    check_length(text)
    if not latex.is_latex(text):
        return parse(text, scope)
    translation = latex.translate(text, scope, equation=equation)
    with _pointing_into(translation):
        # The translation's '@' is LaTeX's juxtaposition, and its '*' is \cdot: read as LaTeX means them.
        return parse(translation.text, scope, latex=True)


@contextmanager
def _pointing_into(translation: latex.Translation) -> Iterator[None]:
    """The parser's errors point into the translation: point at the LaTeX they came from instead."""
    try:
        yield
    except ParseError as exc:
        raise ParseError(exc.message, translation.source_offset(exc.offset), exc.code) from None
