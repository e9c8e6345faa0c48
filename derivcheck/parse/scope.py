"""What parsing shares: the names an expression may use (Scope), the error it raises, and the
limits on text from strangers' files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

import sympy

from derivcheck.model import suggestion
from derivcheck.parse.matrices import MatrixValue

# The longest text parsed, and the longest integer literal (LaTeX is held to both too).
MAX_TEXT_LENGTH = 10_000
MAX_INT_DIGITS = 50  # a single integer literal, or the digits of a decimal literal
# The code of a ParseError for numbers too large to compute (a power tower, a number grown
# past the limits): the expression is fine, checking it is beyond the limits.
TOO_LARGE_TO_EVALUATE = "too-large-to-evaluate"


class ParseError(ValueError):
    """A problem in parsed text: message, 0-based character offset into the text, and a code.

    Codes: "syntax", "unsafe-expression", "undeclared-symbol", "too-large", "arity",
    "confusable-name" (a name Python would respell), "bound-index-in-limits" (a Sum whose
    range names its own variable), "ambiguous-latex" (from latex.py), and
    TOO_LARGE_TO_EVALUATE for well-formed mathematics whose numbers are too large to compute
    (2**2**2**30): a claim holding it is undecided, not an error in the file.
    """

    def __init__(self, message: str, offset: int = 0, code: str = "syntax") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, int, str]]:
        # The default pickling would call ParseError(message) and lose offset and code,
        # which matters if the engine ever checks steps in worker processes.
        return (type(self), (self.message, self.offset, self.code))


@dataclass(frozen=True)
class Scope:
    """The names an expression may use: plain symbols, indexed families, and which symbols are indices."""

    names: Mapping[str, sympy.Symbol]
    families: Mapping[str, tuple[sympy.IndexedBase, int]]
    indices: frozenset[str] = frozenset()
    # The size of each index of a family, for families usable bare in matrix notation.
    shapes: Mapping[str, tuple[sympy.Expr, ...]] = field(default_factory=dict)
    layout: str = "denominator"  # of Derivative(scalar, matrix): the matrix's shape, or its transpose
    # The declared range (low, high) of each index symbol, for the entries of matrix expressions.
    ranges: Mapping[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]] = field(default_factory=dict)

    def undeclared(self, name: str, *, indices_only: bool = False) -> str:
        """The message for a name this scope does not declare, with the closest one it does
        (of its indices alone, where only an index may stand)."""
        known = self.indices if indices_only else {*self.names, *self.families}
        return f"undeclared name '{name}'{suggestion(name, known)}"




Value = Union[sympy.Expr, MatrixValue]


def check_length(text: str) -> None:
    if len(text) > MAX_TEXT_LENGTH:
        raise ParseError(
            f"the text is too long ({len(text)} characters; at most {MAX_TEXT_LENGTH})",
            MAX_TEXT_LENGTH,
            "too-large",
        )
