"""Subscripts: the index list of a family's entry (a_k, a_{k+1}, W_{ij}, W_{i,j}), and the raw
subscript of a scalar name (x_1, x_{in})."""

from __future__ import annotations

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.grammar import Grammar
from derivcheck.parse.tex.tokens import OPENERS, Piece, Token, greek


class Subscripts(Grammar):
    """What follows a name's '_'."""

    def indices(self, under: Token, arity: int, name: str) -> list[list[Piece]]:
        """The index expressions of a subscript on a family of `arity` indices."""
        both = ", ".join("ijk"[:arity]) if arity <= 3 else ""
        hint = f"write {name}_{{{both.replace(', ', '')}}} or {name}_{{{both.replace(' ', '')}}}" if both else ""
        token = self.peek()
        if token.kind != "symbol" or token.text != "{":
            if arity != 1:
                raise ParseError(f"{name} takes {arity} indices: {hint}", token.start, "arity")
            return [self.single_index(token)]
        open_token = self.next()
        if arity > 1 and not self.comma_ahead():
            # W_{ij}: one letter or digit per index.
            singles: list[list[Piece]] = []
            while self.peek().kind in ("letter", "number") or greek(self.peek().text):
                singles.append(self.single_index(self.peek()))
            close = self.peek()
            if close.text != "}" or len(singles) != arity:
                raise ParseError(f"{name} takes {arity} indices, one letter each or separated by commas: {hint}", open_token.start, "arity")
            self.next()
            return singles
        parts = [self.expr()]
        while self.peek().kind == "symbol" and self.peek().text == ",":
            self.next()
            parts.append(self.expr())
        self.expect("}", "to close the subscript")
        if len(parts) != arity:
            noun = "index" if arity == 1 else "indices"
            raise ParseError(f"{name} takes {arity} {noun}, got {len(parts)}", open_token.start, "arity")
        return parts

    def comma_ahead(self) -> bool:
        """Whether the braced group just opened holds a ',' at its own level."""
        depth = 0
        for token in self.tokens[self.pos :]:
            if token.kind == "symbol" and token.text in OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in OPENERS.values():
                if depth == 0:
                    return False
                depth -= 1
            elif token.kind == "symbol" and token.text == "," and depth == 0:
                return True
        return False

    def single_index(self, token: Token) -> list[Piece]:
        if token.kind == "letter":
            self.next()
            return [(token.text, token.start)]
        if token.kind == "number":
            if len(token.text) != 1:
                raise ParseError(f"write a subscript of several digits in braces, like a_{{{token.text}}}", token.start, "syntax")
            self.next()
            return [(token.text, token.start)]
        if token.kind == "command" and greek(token.text):
            self.next()
            return [(greek(token.text), token.start)]
        raise ParseError(f"expected an index after '_', found {token.shown}", token.start, "syntax")

    def raw_ahead(self) -> str:
        """The letters and digits of the subscript after the '_' at peek(), as raw_subscript reads them; '' if it is more."""
        token = self.peek(1)
        if token.kind in ("letter", "number"):
            return token.text
        if token.kind != "symbol" or token.text != "{":
            return ""
        parts: list[str] = []
        ahead = 2
        while self.peek(ahead).kind in ("letter", "number"):
            parts.append(self.peek(ahead).text)
            ahead += 1
        return "".join(parts) if self.peek(ahead).text == "}" else ""

    def raw_subscript(self, under: Token) -> str:
        """The letters and digits of a subscript on a scalar name (x_1, x_{in}); '' if it is more."""
        token = self.peek()
        if token.kind in ("letter", "number"):
            self.next()
            return token.text
        if token.kind == "symbol" and token.text == "{":
            self.next()
            parts: list[str] = []
            while self.peek().kind in ("letter", "number"):
                parts.append(self.next().text)
            if self.peek().text == "}":
                self.next()
                return "".join(parts)
        raise ParseError("expected a subscript after '_'", token.start, "syntax")

