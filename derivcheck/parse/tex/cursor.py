"""The parser's hold on its tokens, shared by every construct: look ahead, take, expect, find a
closing brace, and bound the nesting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from derivcheck.parse.scope import ParseError, Scope
from derivcheck.parse.tex.tokens import OPENERS, Token

MAX_DEPTH = 80  # nesting of expressions, factors and signs (a braced group is two levels)


class Cursor:
    """A position in the tokens, the scope the names are read in, and the nesting depth."""

    def __init__(self, tokens: list[Token], scope: Scope) -> None:
        self.tokens = tokens
        self.pos = 0
        self.scope = scope
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        if token.kind != "end":
            self.pos += 1
        return token

    def expect(self, text: str, what: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind == "end":
            raise ParseError(f"expected '{text}' {what}, found {token.shown}", token.start, "syntax")
        return self.next()

    def declared(self, name: str) -> bool:
        return name in self.scope.names or name in self.scope.families

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"the LaTeX is nested too deeply (more than {MAX_DEPTH} levels)", token.start, "too-large")
        try:
            yield
        finally:
            self.depth -= 1

    def starts_factor(self, token: Token) -> bool:
        if token.kind in ("letter", "number"):
            return True
        if token.kind == "symbol":
            return token.text in OPENERS
        if token.kind == "command":
            return token.text not in ("\\cdot", "\\times", "\\div", "\\odot")
        return False

    def closing(self, opening: int) -> int | None:
        """The index of the '}' that closes the '{' at token index `opening`; None if it is not closed."""
        depth = 0
        for at in range(opening, len(self.tokens)):
            token = self.tokens[at]
            if token.kind == "symbol" and token.text == "{":
                depth += 1
            elif token.kind == "symbol" and token.text == "}":
                depth -= 1
                if depth == 0:
                    return at
        return None

