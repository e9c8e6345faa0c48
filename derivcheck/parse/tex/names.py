"""Names: a letter, Greek letter or \\mathrm{name} with its subscript (a family's entry, or a declared
scalar like x_1), and the functions a name can stand for (\\exp, \\log, \\mathrm{sigmoid} ...)."""

from __future__ import annotations

import re

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.grammar import AMBIGUOUS
from derivcheck.parse.tex.subscripts import Subscripts
from derivcheck.parse.tex.tokens import CLOSERS, OPENERS, Piece, Token

__all__ = ["FUNCTIONS", "Names"]

FUNCTIONS = {"\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh", "\\sin": "sin", "\\cos": "cos"}
# Names inside \mathrm{...} or \operatorname{...} that are functions (unless declared).
_ROMAN_FUNCTIONS = {"exp": "exp", "log": "log", "ln": "log", "tanh": "tanh", "sin": "sin", "cos": "cos", "sigmoid": "sigmoid"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Names(Subscripts):
    """Names, and functions applied to what follows them."""

    def named(self, name: str, token: Token) -> list[Piece]:
        """A name, with its subscript: a family's entry, or a declared scalar like x_1."""
        under = self.peek()
        if under.kind != "symbol" or under.text != "_":
            return self.bare_name(name, token)
        script = self.peek(1)
        if script.kind == "number" and len(script.text) > 1:
            # TeX subscripts one character: x_12 prints x₁2 (a family's a_12 is refused the same way).
            raise ParseError(f"write a subscript of several digits in braces, like {name}_{{{script.text}}}", script.start, "syntax")
        families = self.scope.families
        raw = self.raw_ahead()
        scalars = [candidate for candidate in (f"{name}_{raw}", f"{name}{raw}") if raw and candidate in self.scope.names]
        if len(scalars) + (name in families) > 1:
            readings = ([f"{name}[{raw}]"] if name in families else []) + scalars
            raise ParseError(
                f"ambiguous: {name}_{raw} could be {' or '.join(readings)}, and each is declared: "
                "rename one of them",
                token.start,
                AMBIGUOUS,
            )
        self.next()
        if name in families:
            arity = families[name][1]
            indices = self.indices(under, arity, name)
            out: list[Piece] = [(name, token.start), ("[", under.start)]
            for number, index in enumerate(indices):
                if number:
                    out.append((", ", under.start))
                out.extend(index)
            return out + [("]", under.start)]
        self.raw_subscript(under)
        if scalars:
            return [(scalars[0], token.start)]
        if name in self.scope.names:
            raise ParseError(f"'{name}' is not indexed, so it takes no subscript", under.start, "arity")
        raise ParseError(self.scope.undeclared(name), token.start, "undeclared-symbol")

    def roman(self, token: Token) -> list[Piece]:
        """\\mathrm{name} and the like: a declared name of several letters, e, or a function."""
        open_token = self.expect("{", f"after {token.text}")
        parts: list[str] = []
        while self.peek().kind in ("letter", "number") or self.peek().text == "_":
            parts.append(self.next().text)
        self.expect("}", f"to close {token.text}{{...}} (it holds a name: letters, digits and _)")
        name = "".join(parts)
        if not _NAME.fullmatch(name):
            raise ParseError(f"{token.text}{{...}} holds a name: letters, digits and _", open_token.start, "syntax")
        if name == "d":
            # Always the differential, so that \\mathrm{d} L / \\mathrm{d} t is never a product with a declared d.
            raise ParseError(
                f"{token.text}{{d}} is the differential: it belongs in a derivative, "
                f"\\frac{{{token.text}{{d}} F}}{{{token.text}{{d}} v}} (for a name d, write d)",
                token.start,
                "syntax",
            )
        if not self.declared(name) and name in _ROMAN_FUNCTIONS:
            return self.function(token, _ROMAN_FUNCTIONS[name])
        if name in _ROMAN_FUNCTIONS and self.starts_factor(self.peek()):
            # Undeclared, it would be the function applied to that factor: two readings.
            raise ParseError(
                f"ambiguous: '{name}' is a declared name, so {token.text}{{{name}}}(x) could be the function "
                f"{_ROMAN_FUNCTIONS[name]}(x) or {name} times x: write {token.text}{{{name}}} \\cdot x for the product, "
                "or rename the declared name",
                token.start,
                AMBIGUOUS,
            )
        return self.named(name, token)

    def function(self, token: Token, name: str) -> list[Piece]:
        after = self.peek()
        if after.kind == "symbol" and after.text == "^":
            raise ParseError(f"write a power of {token.text} as ({token.text} x)^2", after.start, "syntax")
        if after.kind == "symbol" and after.text == "_":
            raise ParseError(f"{token.text} with a subscript (a base) is not supported", after.start, "syntax")
        return [(f"{name}(", token.start)] + self.argument(token) + [(")", token.start)]

    def argument(self, command: Token) -> list[Piece]:
        """What a function applies to: a bracketed group, or else the factors written side by side after it.

        \\sin 2x is sin(2x): an argument that starts with a number takes the factors side by side
        after it. Another argument is one factor (\\log a_k), and a factor side by side after it
        is an error, because \\cos x y could be cos(x y) or cos(x) y; a function after it starts
        a new factor (\\sin x \\cos y is sin(x) cos(y)). \\cdot, +, - and = end the argument."""
        token = self.peek()
        if token.kind == "symbol" and token.text in OPENERS and token.text != "{":
            # Braces print nothing: \\cos{x} y prints cos x y, so they are a factor like any other.
            return self.group(token.text, OPENERS[token.text])
        if not self.starts_factor(token):
            raise ParseError(f"expected the argument of {command.text}, found {token.shown}", token.start, "syntax")
        start = self.pos
        out = self.factor()
        self.no_operator_inside(command, start)
        while self.starts_factor(self.peek()) and not self.starts_function(self.peek()) and self.peek().kind != "number":
            if token.kind != "number":
                raise ParseError(
                    f"ambiguous: {command.text} without brackets is followed by two factors side by side, so it could "
                    f"apply to both or to the first only: write brackets, {command.text}(x y) or {command.text}(x)\\, y",
                    command.start,
                    AMBIGUOUS,
                )
            out = out + [("@", self.peek().start)] + self.factor()
        return out

    def no_operator_inside(self, command: Token, start: int) -> None:
        """\\exp \\sum_k a_k \\cdot t: \\cdot ends a function's argument, but it is inside the sum's body, so
        it could be exp(sum(a_k t)) or exp(sum(a_k)) t. An operator at the top of the argument is not guessed."""
        depth = 0
        for token in self.tokens[start : self.pos]:
            if token.kind == "symbol" and token.text in OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in CLOSERS:
                depth -= 1
            elif depth == 0 and token.text in ("\\cdot", "\\times", "*", "/", "\\div", "\\odot"):
                raise ParseError(
                    f"ambiguous: {token.text} ends the argument of {command.text} without brackets, but here it is inside "
                    f"what the argument holds: write brackets, {command.text}(...)",
                    command.start,
                    AMBIGUOUS,
                )

    def starts_function(self, token: Token) -> bool:
        """Whether `token` starts a function (\\log, \\sin, \\sqrt, \\exp, a sigmoid \\sigma), which starts a new factor."""
        return token.text in FUNCTIONS or token.text == "\\sqrt" or (token.text == "\\sigma" and not self.declared("sigma"))

