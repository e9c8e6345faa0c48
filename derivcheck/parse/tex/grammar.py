"""The grammar of LaTeX expressions: terms joined by + and -, factors side by side or joined by
\\cdot, signs, groups, superscripts (x^2, and e^{x} as exp), and the primaries a factor starts with.
What a letter or a command means is owned by the constructs above it (names.py, parser.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from derivcheck.parse.scope import ParseError
from derivcheck.parse.tex.cursor import Cursor
from derivcheck.parse.tex.tokens import OPENERS, ROMAN, Piece, Token, greek

# The code of a LaTeX text with two readings, which derivcheck reports instead of choosing one.
AMBIGUOUS = "ambiguous-latex"
# Euler's number. Not the text "E": parse/expr.py would read that as a declared name E if there is one.
_EULER = "exp(1)"


class Grammar(Cursor, ABC):
    """Recursive descent over the tokens, returning output pieces; depth-limited."""

    # The grammar is recursive through the constructs: a primary may be a name or a command, and
    # those read expressions again. So the constructs build on the grammar, and the grammar reaches
    # them through these two methods, which the Parser that composes them provides.
    @abstractmethod
    def named(self, name: str, token: Token) -> list[Piece]:
        """A name, with its subscript if it has one (names.py)."""

    @abstractmethod
    def command(self, token: Token) -> list[Piece]:
        """The construct the command at peek() starts (parser.py's table of commands)."""

    def top(self, *, equation: bool) -> list[Piece]:
        out = self.expr()
        if equation:
            token = self.peek()
            if token.text != "=" or token.kind != "symbol":
                raise ParseError(f"expected '=' between the two sides of the claim, found {token.shown}", token.start, "syntax")
            self.next()
            out = out + [(" = ", token.start)] + self.expr()
        token = self.peek()
        if token.kind != "end":
            if token.text == "=":
                message = (
                    "a second '=': a claim has two sides (write a chain for more)"
                    if equation
                    else "'=' in an expression: a chain item is one expression"
                )
            elif token.text in (")", "]", "}", "\\}"):
                message = f"'{token.text}' without a matching opening bracket"
            else:
                message = f"unexpected {token.shown}"
            raise ParseError(message, token.start, "syntax")
        return out

    def expr(self) -> list[Piece]:
        """Terms joined by + and -."""
        token = self.peek()
        with self.nested(token):
            out = self.term()
            while self.peek().text in ("+", "-") and self.peek().kind == "symbol":
                op = self.next()
                out = out + [(f" {op.text} ", op.start)] + self.term()
            return out

    def term(self) -> list[Piece]:
        """Factors joined by \\cdot, \\times, *, / or side by side."""
        token = self.peek()
        if not (self.starts_factor(token) or token.text in ("+", "-")):
            raise ParseError(f"expected an expression, found {token.shown}", token.start, "syntax")
        out = self.signed_factor()
        while True:
            token = self.peek()
            if token.text in ("\\cdot", "\\times", "*"):
                self.next()
                out = out + [("*", token.start)] + self.explicit_operand()
            elif token.text == "\\odot":
                self.next()
                right = self.signed_factor()
                self.no_product_after(token, "\\odot", "(A \\odot B) C or A \\odot (B C)")
                out = [("hadamard(", token.start)] + out + [(", ", token.start)] + right + [(")", token.start)]
            elif token.text in ("/", "\\div"):
                self.next()
                self.no_inline_derivative()
                out = out + [("/", token.start)] + self.signed_factor()
                self.no_divisor_product(token)
            elif self.starts_factor(token):
                if token.kind == "number":
                    raise ParseError(
                        "a number right after another factor: write \\cdot to multiply (and 1000 for a thousand, not 1\\,000)",
                        token.start,
                        "syntax",
                    )
                # '@' is LaTeX's juxtaposition: a matrix product between two matrices, else a product.
                out = out + [("@", token.start)] + self.factor()
            else:
                return out

    def explicit_operand(self) -> list[Piece]:
        """The right side of \\cdot: a factor, with the factors written side by side after it, which
        bind tighter. A \\cdot c B is A \\cdot (c B), so between two matrices it stays a \\cdot (refused
        by parse/builder), never (A c) B, a matrix product nobody wrote; for scalars it is the same product."""
        out = self.signed_factor()
        if not (self.starts_factor(self.peek()) and self.peek().kind != "number"):
            return out
        start = out[0][1]
        while self.starts_factor(self.peek()) and self.peek().kind != "number":
            out = out + [("@", self.peek().start)] + self.factor()
        return [("(", start)] + out + [(")", start)]

    def no_product_after(self, operator: Token, shown: str, readings: str) -> None:
        """After the factor right of `operator`: a factor side by side is not guessed."""
        if self.starts_factor(self.peek()):
            raise ParseError(
                f"ambiguous: '{shown}' followed by two factors side by side could be {readings}: write brackets",
                operator.start,
                AMBIGUOUS,
            )

    def no_inline_derivative(self) -> None:
        """After '/': a declared d side by side with a factor, as in d L / d z_j, is not guessed.

        It would read as ((d L) / d) z_j, but it is written like the derivative dL/dz_j."""
        token, after = self.peek(), self.peek(1)
        if token.kind == "letter" and token.text == "d" and self.declared("d") and self.starts_factor(after):
            raise ParseError(
                f"ambiguous: 'd' is a declared name, so '/ d {after.text}' could be the derivative d.../d{after.text} "
                f"or a division by d times {after.text}: write \\frac{{d F}}{{d {after.text}}} for a derivative, "
                f"or braces, like /(d \\cdot {after.text}), for a quotient",
                token.start,
                AMBIGUOUS,
            )

    def no_divisor_product(self, slash: Token) -> None:
        """After the factor that follows '/': a factor side by side, as in t / 2 t, is not guessed.

        By the usual rules it reads (t/2) t, but many read it t/(2 t)."""
        after = self.peek()
        if self.starts_factor(after) and after.kind != "number":
            raise ParseError(
                f"ambiguous: '{slash.text}' followed by two factors side by side could divide by both or by the first "
                "only: write brackets, t / (2 t), or \\frac{t}{2} t",
                slash.start,
                AMBIGUOUS,
            )

    def signed_factor(self) -> list[Piece]:
        token = self.peek()
        if token.kind == "symbol" and token.text in ("+", "-"):
            self.next()
            with self.nested(token):
                rest = self.signed_factor()
            return ([("-", token.start)] if token.text == "-" else []) + rest
        return self.factor()

    def factor(self) -> list[Piece]:
        """A primary, with a superscript."""
        token = self.peek()
        with self.nested(token):
            out = self.primary()
            caret = self.peek()
            if caret.text == "^" and caret.kind == "symbol" and self.transpose_ahead():
                self.pos += 2 if self.peek(1).text != "{" else 4
                out = [("transpose(", token.start)] + out + [(")", caret.start)]
                self.no_more_scripts()
            elif caret.text == "^" and caret.kind == "symbol":
                self.next()
                self.no_label(caret)
                exponent = self.script(caret)
                out = [("(", token.start)] + out + [(")**(", caret.start)] + exponent + [(")", caret.start)]
                self.no_more_scripts()
            elif caret.text == "_" and caret.kind == "symbol":
                raise ParseError("only a name can take a subscript, like a_k", caret.start, "syntax")
            return out

    def transpose_ahead(self) -> bool:
        """Whether the '^' at peek() is a transpose: ^\\top, ^\\intercal, and ^T when no name T is declared
        (braced too, ^{T}). With a declared T, ^T is a power, which parse/builder refuses for a matrix."""
        script = self.peek(1)
        if script.kind == "symbol" and script.text == "{":
            if self.peek(3).text != "}":
                return False
            script = self.peek(2)
        if script.kind == "command":
            return script.text in ("\\top", "\\intercal")
        return script.kind == "letter" and script.text == "T" and not self.declared("T")

    def no_more_scripts(self) -> None:
        token = self.peek()
        if token.kind == "symbol" and token.text == "^":
            raise ParseError("a double superscript: use braces, like x^{a^{b}}", token.start, "syntax")
        if token.kind == "symbol" and token.text == "_":
            raise ParseError("a subscript after a superscript: write the subscript first, like a_k^2", token.start, "syntax")

    def script(self, mark: Token) -> list[Piece]:
        """The argument of ^: a braced expression, or a single letter, digit or name."""
        token = self.peek()
        if token.text == "{" and token.kind == "symbol":
            return self.group("{", "}")
        if token.kind == "letter":
            self.next()
            if token.text in ("e", "E"):
                # Euler's number, or the declared name, as anywhere else (but x^e^2 stays an error).
                return self.bare_name(token.text, token, scripts=False)
            return [(token.text, token.start)]
        if token.kind == "number" and len(token.text) == 1:
            self.next()
            return [(token.text, token.start)]
        if token.kind == "command" and greek(token.text):
            self.next()
            return [(greek(token.text), token.start)]
        raise ParseError(
            f"after '{mark.text}' write a single letter or digit, or braces: like x^{{23}}, found {token.shown}",
            token.start,
            "syntax",
        )

    def no_label(self, mark: Token) -> None:
        """A script of one name or number in brackets, x^{(2)} or a^{[l]}, is not guessed: in ML texts it
        labels a layer or an example, elsewhere it is a derivative's order, and only rarely a power."""
        brace, opener, atom, closer, end = (self.peek(ahead) for ahead in range(5))
        single = atom.kind in ("letter", "number") or (atom.kind == "command" and greek(atom.text))
        if brace.text == "{" and opener.text in ("(", "[") and single and closer.text == OPENERS[opener.text] and end.text == "}":
            raise ParseError(
                f"ambiguous: {mark.text}{{{opener.text}{atom.text}{closer.text}}} could be a label (a layer, an example, "
                f"a derivative's order) or a power: for the power write {mark.text}{{{atom.text}}}; for a label, "
                "declare a name for it (A^\\top is the transpose)",
                atom.start,
                AMBIGUOUS,
            )

    def group(self, opener: str, closer: str) -> list[Piece]:
        open_token = self.expect(opener, "to open a group")
        inner = self.expr()
        close = self.peek()
        if close.text != closer or close.kind == "end":
            raise ParseError(
                f"expected '{closer}' to close the '{opener}', found {close.shown}",
                close.start,
                "syntax",
            )
        self.next()
        return [("(", open_token.start)] + inner + [(")", close.start)]

    def braces(self) -> list[Piece]:
        """{...} as a factor: braces print nothing, so they may hold one name (a letter, a number, a Greek
        letter or \\mathrm{...}, with its scripts), as in {e}^{x} or {d} L, and nothing more.

        {x + 1} y prints x + 1y, -{x + 1} prints -x + 1 and \\log{x + 1} prints log x + 1: read as a
        group, each would mean what nobody reading the formula sees."""
        opening = self.peek()
        close = self.closing(self.pos)
        if close is None or self.atom_end(self.pos + 1) != close:
            raise ParseError(
                "ambiguous: braces print nothing, so {...} around more than one name groups only in the source "
                "({x + 1} y prints x + 1 y): write brackets, \\left( x + 1 \\right) y, or drop the braces",
                opening.start,
                AMBIGUOUS,
            )
        return self.group("{", "}")

    def atom_end(self, at: int) -> int:
        """Where one name that starts at tokens[at] ends, with its subscript and superscript; `at` if none starts there."""
        tokens = self.tokens
        inner = at
        while tokens[inner].kind == "symbol" and tokens[inner].text == "{":  # {{t}}: braces in braces
            inner += 1
        if inner > at:
            end = self.atom_end(inner)
            closers = tokens[end : end + inner - at]
            return end + inner - at if end > inner and all(t.text == "}" for t in closers) else at
        token = tokens[at]
        if token.kind in ("letter", "number") or (token.kind == "command" and greek(token.text)):
            end = at + 1
        elif token.text in ROMAN and tokens[at + 1].text == "{":
            end = (self.closing(at + 1) or at) + 1
        else:
            return at
        for mark in ("_", "^"):
            if tokens[end].kind == "symbol" and tokens[end].text == mark:
                script = tokens[end + 1]
                end = (self.closing(end + 1) or end) + 1 if script.text == "{" else end + 2
        return end

    def primary(self) -> list[Piece]:
        token = self.peek()
        if token.kind == "number":
            self.next()
            return [(token.text, token.start)]
        if token.kind == "letter":
            self.next()
            return self.named(token.text, token)
        if token.kind == "symbol" and token.text == "{":
            return self.braces()
        if token.kind == "symbol" and token.text in OPENERS:
            return self.group(token.text, OPENERS[token.text])
        if token.kind == "command":
            return self.command(token)
        if token.kind == "end":
            raise ParseError("expected an expression, found the end of the LaTeX", token.start, "syntax")
        raise ParseError(f"unexpected {token.shown}", token.start, "syntax")

    def bare_name(self, name: str, token: Token, *, scripts: bool = True) -> list[Piece]:
        """A name without a subscript; e (Euler's number unless declared) and, when `scripts`, its powers."""
        caret = self.peek() if scripts else Token("end", "", token.start)
        if name == "e" and not self.declared("e"):
            if caret.kind == "symbol" and caret.text == "^":
                self.next()
                exponent = self.script(caret)
                self.no_more_scripts()
                return [("exp(", token.start)] + exponent + [(")", caret.start)]
            return [(_EULER, token.start)]
        if name == "e" and caret.kind == "symbol" and caret.text == "^":
            raise ParseError(
                "ambiguous: 'e' is a declared name, so e^{x} could be exp(x) or a power of that e: "
                "write \\exp(x) for the exponential, or {e}^{x} for the power",
                token.start,
                AMBIGUOUS,
            )
        if name == "E" and not self.declared("E"):
            # parse/expr.py would read an undeclared E as Euler's number, which LaTeX writes e.
            raise ParseError("undeclared name 'E' (Euler's number is written e)", token.start, "undeclared-symbol")
        return [(name, token.start)]

