"""The LaTeX parser: every construct composed, and the table from a command's name to the construct
it starts; the commands no other construct owns (\\sqrt, \\sigma, \\delta) are read here."""

from __future__ import annotations

from collections.abc import Callable

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.fractions import FRACTIONS, Fractions
from derivcheck.parse.tex.grammar import AMBIGUOUS
from derivcheck.parse.tex.names import FUNCTIONS
from derivcheck.parse.tex.sums import Sums
from derivcheck.parse.tex.tokens import CLOSERS, OPENERS, ROMAN, Piece, Token, greek

__all__ = ["Parser"]

# Commands that are refused, with the reason.
_REFUSED = {
    "\\partial": "\\partial belongs in a derivative, \\frac{\\partial F}{\\partial v}",
    "\\prod": "products (\\prod) are not supported",
    "\\int": "integrals are not supported",
    "\\lim": "limits are not supported",
    "\\infty": "infinity is not supported",
    "\\max": "max is not supported",
    "\\min": "min is not supported",
    "\\nabla": "\\nabla is not supported: write each partial derivative",
    "\\mathbf": "bold (matrix) names are not supported: write entries, like W_{ij}",
    "\\boldsymbol": "bold (matrix) names are not supported: write entries, like W_{ij}",
    **{operator: f"{operator} needs a factor on each side" for operator in ("\\cdot", "\\times", "\\div", "\\odot")},
    **{mark: f"{mark} is the transpose: write A^\\top" for mark in ("\\top", "\\intercal")},
}


class Parser(Fractions, Sums):
    """Recursive descent over the whole LaTeX subset; a command is looked up in _COMMANDS."""

    def command(self, token: Token) -> list[Piece]:
        handler = _COMMANDS.get(token.text)
        if handler is not None:
            return handler(self, token)
        if greek(token.text):
            self.next()
            return self.named(greek(token.text), token)
        message = _REFUSED.get(token.text, f"{token.text} is not in derivcheck's LaTeX subset")
        raise ParseError(message, token.start, "syntax")

    def _fraction(self, token: Token) -> list[Piece]:
        self.next()
        return self.fraction(token)

    def _sum(self, token: Token) -> list[Piece]:
        self.next()
        return self.total(token)

    def _function(self, token: Token) -> list[Piece]:
        self.next()
        return self.function(token, FUNCTIONS[token.text])

    def _roman(self, token: Token) -> list[Piece]:
        self.next()
        return self.roman(token)

    def _sqrt(self, token: Token) -> list[Piece]:
        self.next()
        if self.peek().text == "[":
            raise ParseError("n-th roots (\\sqrt[n]{x}) are not supported: write x^{1/n}", self.peek().start, "syntax")
        return [("sqrt(", token.start)] + self.radicand(token) + [(")", token.start)]

    def radicand(self, token: Token) -> list[Piece]:
        """What \\sqrt covers: a group, or without braces one letter, digit or Greek letter, as TeX
        draws it (\\sqrt 2x is sqrt(2) x, \\sqrt x^2 is (sqrt x)^2); \\sqrt 16 is refused, TeX draws sqrt(1) 6."""
        after = self.peek()
        if after.kind == "symbol" and after.text in OPENERS:
            return self.group(after.text, OPENERS[after.text])
        if after.kind == "number" and len(after.text) == 1:
            self.next()
            return [(after.text, after.start)]
        if after.kind == "letter" or greek(after.text):
            self.next()
            return self.named(greek(after.text) or after.text, after)
        raise ParseError(
            f"without braces \\sqrt covers one letter or digit only: write \\sqrt{{{after.text}}}"
            if after.kind != "end"
            else "expected the argument of \\sqrt, found the end of the LaTeX",
            after.start,
            "syntax",
        )

    def _sigma(self, token: Token) -> list[Piece]:
        """\\sigma is the sigmoid function, unless sigma is declared: then it is that name."""
        if not self.declared("sigma"):
            self.next()
            return self.function(token, "sigmoid")
        if self.starts_factor(self.peek(1)):
            # Undeclared, \sigma x is sigmoid(x) (a function takes the next factor): two readings.
            raise ParseError(
                "ambiguous: 'sigma' is a declared name, so \\sigma(x) or \\sigma x could be sigmoid(x) or sigma times x: "
                "write \\operatorname{sigmoid}(x) for the function, or \\sigma \\cdot x for the product",
                token.start,
                AMBIGUOUS,
            )
        self.next()
        return self.named("sigma", token)

    def _delta(self, token: Token) -> list[Piece]:
        """\\delta_{kj} is the Kronecker delta, unless delta is declared: then \\delta is that name."""
        if self.declared("delta"):
            if self.kronecker_ahead():
                raise ParseError(
                    "ambiguous: 'delta' is a declared name, so \\delta_{kj} could be the Kronecker delta or the "
                    "declared delta: write \\mathrm{delta}_{...} for the declared one, or rename it to write the "
                    "Kronecker delta \\delta_{kj}",
                    token.start,
                    AMBIGUOUS,
                )
            self.next()
            return self.named("delta", token)
        self.next()
        under = self.peek()
        if under.text != "_":
            raise ParseError("\\delta is the Kronecker delta: write \\delta_{kj}", token.start, "syntax")
        self.next()
        first, second = self.indices(under, 2, "\\delta")
        return [("KroneckerDelta(", token.start)] + first + [(", ", under.start)] + second + [(")", under.start)]

    def kronecker_ahead(self) -> bool:
        """Whether the \\delta at peek() has a subscript of two indices, {kj} or {k, j}, as the Kronecker delta does."""
        if self.peek(1).text != "_" or self.peek(2).text != "{":
            return False
        opening = self.pos + 2
        close = self.closing(opening)
        if close is None:
            return False
        inner = self.tokens[opening + 1 : close]
        singles = [t for t in inner if t.kind == "letter" or (t.kind == "number" and len(t.text) == 1) or greek(t.text)]
        if len(inner) == 2 and len(singles) == 2:
            return True
        depth = 0
        for inner_token in inner:
            if inner_token.kind == "symbol" and inner_token.text in OPENERS:
                depth += 1
            elif inner_token.kind == "symbol" and inner_token.text in CLOSERS:
                depth -= 1
            elif depth == 0 and inner_token.text == ",":
                return True
        return False


# The construct each command starts. Greek letters not named here are names; other commands are
# refused (_REFUSED says why, for some).
_COMMANDS: dict[str, Callable[[Parser, Token], list[Piece]]] = {
    **{fraction: Parser._fraction for fraction in FRACTIONS},
    "\\sum": Parser._sum,
    **{function: Parser._function for function in FUNCTIONS},
    "\\sqrt": Parser._sqrt,
    "\\sigma": Parser._sigma,
    "\\delta": Parser._delta,
    **{roman: Parser._roman for roman in ROMAN},
}
