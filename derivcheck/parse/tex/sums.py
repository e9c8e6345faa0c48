"""Sums: \\sum_{k=low}^{high} f, the sum of the product f that follows, as Sum(f, (k, low, high))."""

from __future__ import annotations

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.grammar import Grammar
from derivcheck.parse.tex.tokens import Piece, Token


class Sums(Grammar):
    """\\sum with its limits, and the term it sums."""

    def total(self, token: Token) -> list[Piece]:
        """\\sum_{k=low}^{high} f: the sum of the product f that follows."""
        lower: tuple[Token, list[Piece]] | None = None
        upper: list[Piece] | None = None
        hint = "write the range of the sum, like \\sum_{k=1}^{N}"
        for _ in range(2):
            mark = self.peek()
            if mark.kind == "symbol" and mark.text == "_" and lower is None:
                self.next()
                lower = self.lower_limit(hint)
            elif mark.kind == "symbol" and mark.text == "^" and upper is None:
                self.next()
                upper = self.script(mark)
        if lower is None or upper is None:
            raise ParseError(hint, token.start, "syntax")
        variable, low = lower
        body_token = self.peek()
        if not (self.starts_factor(body_token) or body_token.text in ("+", "-")):
            raise ParseError(f"expected what to sum after the limits of \\sum, found {body_token.shown}", body_token.start, "syntax")
        body = self.term()
        return (
            [("Sum((", token.start)]
            + body
            + [("), (", token.start), (variable.text, variable.start), (", (", token.start)]
            + low
            + [("), (", token.start)]
            + upper
            + [(")))", token.start)]
        )

    def lower_limit(self, hint: str) -> tuple[Token, list[Piece]]:
        open_token = self.peek()
        if open_token.text != "{":
            raise ParseError(hint, open_token.start, "syntax")
        self.next()
        variable = self.peek()
        if variable.kind != "letter":
            raise ParseError(f"the bound index of a sum is one letter: {hint}", variable.start, "syntax")
        self.next()
        self.expect("=", f"after the bound index: {hint}")
        low = self.expr()
        self.expect("}", "to close the lower limit of the sum")
        return variable, low

