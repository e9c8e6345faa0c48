"""Fractions and derivatives: \\frac{a}{b} as a quotient, or as Derivative(F, v) when it is written
with \\partial, \\mathrm{d}, or (found by its shape, never by the declarations) Leibniz's d."""

from __future__ import annotations

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.grammar import AMBIGUOUS
from derivcheck.parse.tex.names import Names
from derivcheck.parse.tex.tokens import CLOSERS, OPENERS, ROMAN, Piece, Token, greek

__all__ = ["FRACTIONS", "Fractions"]

FRACTIONS = frozenset({"\\frac", "\\dfrac", "\\tfrac"})
# What leibniz() finds in a fraction whose numerator and denominator start with a bare d.
_PLAIN, _NEAR = "plain", "near"


class Fractions(Names):
    """Fractions, derivatives, and the Leibniz shape of a fraction written with a bare d."""

    def fraction(self, token: Token) -> list[Piece]:
        if self.peek().text != "{":
            raise ParseError(f"write {token.text}{{...}}{{...}} with braces", self.peek().start, "syntax")
        if self.differential(1):
            return self.derivative(token)
        shape = self.leibniz()
        if shape == _NEAR and self.declared("d"):
            # A quotient of products with d, or a derivative not in the plain form: not guessed.
            raise ParseError(
                "ambiguous: 'd' is a declared name, and this fraction is not the plain derivative "
                "\\frac{d F}{d v} (one variable v after the d below), so it could be a quotient or a "
                "derivative: write \\partial or \\mathrm{d} for a derivative, or d \\cdot L or (d L) for a product",
                self.peek(1).start,
                AMBIGUOUS,
            )
        if shape:
            return self.derivative(token, bare=True)
        numerator = self.group("{", "}")
        if self.peek().text != "{":
            raise ParseError(f"write {token.text}{{...}}{{...}} with braces", self.peek().start, "syntax")
        denominator = self.group("{", "}")
        return [("(", token.start)] + numerator + [("/", token.start)] + denominator + [(")", token.start)]

    def differential(self, ahead: int, *, bare: bool = False) -> int:
        """How many tokens the differential sign at `ahead` takes: \\partial or \\mathrm{d} (or, when
        `bare`, the letter d of a fraction leibniz() has found); 0 if none."""
        token = self.peek(ahead)
        if token.text == "\\partial":
            return 1
        if bare and token.kind == "letter" and token.text == "d":
            return 1
        if self.roman_d(ahead):
            return 4
        return 0

    def roman_d(self, ahead: int) -> bool:
        """Whether \\mathrm{d} (or \\operatorname{d}, \\text{d} ...) starts at `ahead`."""
        return (
            self.peek(ahead).text in ROMAN
            and self.peek(ahead + 1).text == "{"
            and self.peek(ahead + 2).text == "d"
            and self.peek(ahead + 3).text == "}"
        )

    # -- Leibniz's d: found from the shape of the fraction, never from the declarations ----------

    def leibniz(self) -> str:
        """The Leibniz shape of the fraction whose numerator's '{' is at peek().

        _PLAIN for \\frac{d F}{d v} and \\frac{d}{d v}: F one term (no + or - outside brackets)
        and v one variable (a letter, Greek letter or \\mathrm{name}, with a subscript). _NEAR
        for another fraction whose numerator and denominator both start with a bare d written
        side by side with what follows (\\frac{d^2 L}{d z^2}, \\frac{d L}{d z_j d z_k}). '' for
        any other fraction: \\frac{d L}{d} has no variable, \\frac{d \\cdot L}{d z} and
        \\frac{(d L)}{d z} say that d is a factor.
        """
        num_close = self.closing(self.pos)
        if num_close is None or self.tokens[num_close + 1].text != "{":
            return ""
        den_close = self.closing(num_close + 1)
        if den_close is None:
            return ""
        num_start, den_start = self.pos + 1, num_close + 2
        if not (self.opens_with_d(num_start, num_close, numerator=True) and self.opens_with_d(den_start, den_close, numerator=False)):
            return ""
        if self.one_term(num_start + 1, num_close) and self.variable_end(den_start + 1, den_close) == den_close:
            return _PLAIN
        return _NEAR

    def opens_with_d(self, start: int, stop: int, *, numerator: bool) -> bool:
        """Whether tokens[start:stop] start with a bare d that may be Leibniz's differential.

        The d must be side by side with what follows: with a factor, or, in a numerator, with
        nothing (\\frac{d}{d v} F) or a power (d^2 L, a second derivative). d_k is a name."""
        if start >= stop or self.tokens[start].kind != "letter" or self.tokens[start].text != "d":
            return False
        if start + 1 == stop:
            return numerator
        follower = self.tokens[start + 1]
        if follower.kind == "symbol" and follower.text == "^":
            return numerator
        return self.starts_factor(follower)

    def one_term(self, start: int, stop: int) -> bool:
        """Whether tokens[start:stop] are empty or one term: no + or - outside brackets."""
        if start == stop:
            return True
        if not self.starts_factor(self.tokens[start]):
            return False
        depth = 0
        for token in self.tokens[start:stop]:
            if token.kind == "symbol" and token.text in OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in CLOSERS:
                depth -= 1
            elif depth == 0 and token.kind == "symbol" and token.text in ("+", "-"):
                return False
        return True

    def variable_end(self, start: int, stop: int) -> int:
        """Where one variable starting at tokens[start] ends (a letter, Greek letter or \\mathrm{name},
        with a subscript), within tokens[:stop]; `start` if there is none."""
        tokens = self.tokens
        at = start
        if at < stop and (tokens[at].kind == "letter" or (tokens[at].kind == "command" and greek(tokens[at].text))):
            at += 1
        elif at + 1 < stop and tokens[at].text in ROMAN and tokens[at + 1].text == "{":
            at += 2
            while at < stop and (tokens[at].kind in ("letter", "number") or tokens[at].text == "_"):
                at += 1
            if at >= stop or tokens[at].text != "}":
                return start
            at += 1
        else:
            return start
        if at < stop and tokens[at].kind == "symbol" and tokens[at].text == "_":
            at += 1
            if at < stop and tokens[at].kind == "symbol" and tokens[at].text == "{":
                close = self.closing(at)
                return close + 1 if close is not None and close < stop else start
            if at < stop and (tokens[at].kind in ("letter", "number") or greek(tokens[at].text)):
                return at + 1
            return start
        return at

    def derivative(self, token: Token, *, bare: bool = False) -> list[Piece]:
        """\\frac{\\partial F}{\\partial v}, or \\frac{\\partial}{\\partial v} F (with \\mathrm{d}, or with a
        bare d when `bare`: leibniz() has found the shape)."""
        self.next()  # {
        self.pos += self.differential(0, bare=bare)
        self.first_order()
        function: list[Piece] | None = None
        if self.peek().text == "}":
            self.next()
        else:
            function = self.expr()
            self.expect("}", "to close the numerator of the derivative")
        self.expect("{", "to open the denominator of the derivative")
        skip = self.differential(0, bare=bare)
        if not skip:
            raise ParseError(
                "the denominator of a derivative is the differential and one variable, like \\partial z_j",
                self.peek().start,
                "syntax",
            )
        self.pos += skip
        variable = self.variable()
        self.first_order()
        close = self.expect("}", "to close the denominator of the derivative (one variable)")
        if function is None:
            after = self.peek()
            if not (self.starts_factor(after) or after.text in ("+", "-")):
                raise ParseError(
                    "\\frac{\\partial}{\\partial v} needs what to differentiate after it", after.start, "syntax"
                )
            function = self.operand(token)
        return [("Derivative((", token.start)] + function + [("), ", close.start)] + variable + [(")", close.start)]

    def variable(self) -> list[Piece]:
        """The variable of a derivative, after its differential: a name with its subscript."""
        token = self.peek()
        if token.kind == "letter":
            self.next()
            return self.named(token.text, token)
        if token.kind == "command" and greek(token.text):
            self.next()
            return self.named(greek(token.text), token)
        if token.text in ROMAN:
            self.next()
            return self.roman(token)
        raise ParseError(f"expected the variable after the differential, found {token.shown}", token.start, "syntax")

    def first_order(self) -> None:
        token = self.peek()
        if token.kind == "symbol" and token.text == "^":
            raise ParseError(
                "only first derivatives: write a second derivative as a derivative of a derivative", token.start, "syntax"
            )

    def operand(self, fraction: Token) -> list[Piece]:
        """What \\frac{\\partial}{\\partial v} applies to: the factor that follows, when nothing that
        could also be differentiated follows it.

        \\frac{d}{dx} f + g could be d(f + g)/dx or df/dx + g, and \\frac{d}{dx} f g could be
        d(f g)/dx or (df/dx) g: both are ambiguous-latex errors at the fraction. The factor is
        clear when the claim, a bracket or a subscript ends after it, and a bracketed factor
        (\\left( f + g \\right), no power) is clear before + or - too."""
        start = self.pos
        function = self.signed_factor()
        after = self.peek()
        if after.kind == "end" or after.text in ("=", ",") or (after.kind == "symbol" and after.text in CLOSERS):
            return function
        if after.kind == "symbol" and after.text in ("+", "-") and self.bracketed(start, self.pos):
            return function
        raise ParseError(
            "ambiguous: a derivative operator applies to the factor after it, but more follows, so it could "
            f"also apply to '{after.text}' and what comes after: write brackets around all it differentiates, "
            "\\frac{\\partial}{\\partial v}\\left( f + g \\right), or write the derivative as a fraction, "
            "\\frac{\\partial f}{\\partial v}",
            fraction.start,
            AMBIGUOUS,
        )

    def bracketed(self, start: int, stop: int) -> bool:
        """Whether tokens[start:stop] are one bracketed group: an opener and its closer. Not braces,
        which print nothing: \\frac{d}{dx}{x^2} + x prints as \\frac{d}{dx} x^2 + x."""
        opener = self.tokens[start]
        if stop - start < 2 or opener.kind != "symbol" or opener.text not in OPENERS or opener.text == "{":
            return False
        depth = 0
        for at in range(start, stop):
            token = self.tokens[at]
            if token.kind == "symbol" and token.text in OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in CLOSERS:
                depth -= 1
                if depth == 0:
                    return at == stop - 1
        return False
