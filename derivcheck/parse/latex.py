"""LaTeX input: a step written in a small subset of LaTeX math, translated into derivcheck's expression syntax.

A claim or chain item wrapped in dollars, `$\\frac{\\partial L}{\\partial z_j} = a_j - y_j$`, is
read here: a tokenizer and a recursive-descent parser turn it into the text
`Derivative((L), z[j]) = (a[j] - y[j])`, which parse/expr.py then parses as it parses
everything else (through its AST whitelist). Nothing is ever evaluated, and no TeX runs: a
command outside the subset (\\input, \\def, \\csname ...) is an error at its position.

The subset, and what each piece becomes:

    \\frac{a}{b}                   (a)/(b)          (also \\dfrac, \\tfrac)
    x^{2}, x^2                    (x)**(2)
    a_k, a_{k+1}                  a[k], a[k+1]     when a is a declared family of one index
    W_{ij}, W_{i,j}               W[i, j]          when W has two indices
    x_1                           x_1 or x1        a declared scalar written with a subscript
    \\sum_{k=1}^{N} f              Sum(f, (k, 1, N))  f is the product that follows
    \\exp, \\log, \\ln, \\tanh, \\sin, \\cos, \\sqrt{}
    e^{x}                         exp(x)           (e is Euler's number unless declared)
    \\sigma(x)                     sigmoid(x)       (unless sigma is declared)
    \\delta_{kj}                   KroneckerDelta(k, j)  (unless delta is declared)
    \\frac{\\partial L}{\\partial z_j}   Derivative(L, z[j])  (also \\mathrm{d}, and
    \\frac{\\partial}{\\partial z_j} F  applied to the factor that follows)
    \\frac{dL}{dz_j}               Derivative(L, z[j])  found by its shape (see leibniz()),
                                  whatever names are declared
    \\cdot, \\times, *, juxtaposition   multiplication
    \\left( \\right), [ ], \\{ \\}, { }  grouping
    \\alpha ... \\omega, \\mathrm{name}   declared names

Errors are ParseError (parse/scope.py), with offsets into the whole text (dollars included), so
a Problem points at the column of the offending LaTeX. A text with two readings that depend on
the declarations (\\frac{d^2 L}{d z^2} with a declared d) is an error with the code AMBIGUOUS:
derivcheck never picks one of them silently. docs/latex.md lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from derivcheck.parse.scope import MAX_INT_DIGITS, MAX_TEXT_LENGTH, ParseError, Scope

__all__ = ["Translation", "is_latex", "names_in", "translate"]

MAX_DEPTH = 80  # nesting of expressions, factors and signs (a braced group is two levels)
MAX_NUMBER_DIGITS = MAX_INT_DIGITS
# The code of a LaTeX text with two readings, which derivcheck reports instead of choosing one.
AMBIGUOUS = "ambiguous-latex"
# Euler's number. Not the text "E": parse/expr.py would read that as a declared name E if there is one.
_EULER = "exp(1)"
# What leibniz() finds in a fraction whose numerator and denominator start with a bare d.
_PLAIN, _NEAR = "plain", "near"

# Commands that only space or size things: nothing to translate.
_SKIPPED = frozenset(
    {
        "\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "\\displaystyle", "\\textstyle",
        "\\limits", "\\nolimits", "\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg",
        "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr",
    }
)
# TeX machinery (macros, files, catcodes): named in the error, so a hostile file reads clearly.
_MACHINERY = frozenset(
    {
        "def", "edef", "gdef", "xdef", "let", "futurelet", "newcommand", "renewcommand",
        "providecommand", "DeclareMathOperator", "input", "include", "includeonly", "InputIfFileExists",
        "openin", "openout", "read", "readline", "write", "immediate", "csname", "endcsname",
        "expandafter", "noexpand", "catcode", "usepackage", "RequirePackage", "documentclass",
        "begin", "end", "special", "string", "jobname", "afterassignment", "uppercase", "lowercase",
        "errmessage", "message", "typeout", "loop", "directlua", "latelua", "write18", "shipout",
        "href", "url", "includegraphics",
    }
)
_FUNCTIONS = {"\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh", "\\sin": "sin", "\\cos": "cos"}
# Names inside \mathrm{...} or \operatorname{...} that are functions (unless declared).
_ROMAN_FUNCTIONS = {"exp": "exp", "log": "log", "ln": "log", "tanh": "tanh", "sin": "sin", "cos": "cos", "sigmoid": "sigmoid"}
_ROMAN = frozenset({"\\mathrm", "\\operatorname", "\\text", "\\textrm", "\\mathit"})
_FRACTIONS = frozenset({"\\frac", "\\dfrac", "\\tfrac"})
_GREEK = frozenset(
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"]
)
_VARIANTS = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varsigma": "sigma", "varrho": "rho", "varpi": "pi"}
_UNSUPPORTED = {
    "\\prod": "products (\\prod) are not supported",
    "\\int": "integrals are not supported",
    "\\lim": "limits are not supported",
    "\\infty": "infinity is not supported",
    "\\max": "max is not supported",
    "\\min": "min is not supported",
    "\\nabla": "\\nabla is not supported: write each partial derivative",
    "\\mathbf": "bold (matrix) names are not supported: write entries, like W_{ij}",
    "\\boldsymbol": "bold (matrix) names are not supported: write entries, like W_{ij}",
}
_OPENERS = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
_SYMBOLS = "+-*/=()[]{}^_,"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class _Token:
    kind: str  # "command", "letter", "number", "symbol" or "end"
    text: str
    start: int  # offset into the whole text

    @property
    def shown(self) -> str:
        return "the end of the LaTeX" if self.kind == "end" else f"'{self.text}'"


@dataclass(frozen=True)
class Translation:
    """derivcheck expression text, and for each of its characters the offset in the LaTeX it came from."""

    text: str
    offsets: tuple[int, ...]

    def source_offset(self, offset: int) -> int:
        if not self.offsets:
            return 0
        return self.offsets[min(max(offset, 0), len(self.offsets) - 1)]


Piece = tuple[str, int]  # output text, and the offset in the LaTeX it stands for


def is_latex(text: str) -> bool:
    """Whether a claim or expression is written in LaTeX: wrapped in $...$ (or $$...$$)."""
    return text.lstrip().startswith("$")


def names_in(text: str) -> list[str]:
    """The names a LaTeX text may use ([] for other text, or LaTeX that does not tokenize).

    For ordering definitions before the scope is known: the letters, Greek letters and
    \\mathrm{...} names, and a letter with its subscript (x_1 may be the name x_1 or x1).
    """
    if not is_latex(text):
        return []
    try:
        start, end = _inner(text)
        tokens = _tokenize(text, start, end)
    except ParseError:
        return []
    names: list[str] = []
    inside = 0  # tokens of a \\mathrm{...} name still to skip: its letters are not names
    for position, token in enumerate(tokens):
        if inside:
            inside -= 1
            continue
        if token.kind == "letter":
            names.append(token.text)
            following = tokens[position + 1 : position + 2]
            if following and following[0].text == "_":
                script = tokens[position + 2 : position + 3]
                if script and script[0].kind in ("letter", "number"):
                    names += [f"{token.text}_{script[0].text}", f"{token.text}{script[0].text}"]
        elif token.kind == "command" and _Parser.greek(token.text):
            names.append(_Parser.greek(token.text))
        elif token.text in _ROMAN:
            inside = 1  # the brace
            word = ""
            for inner in tokens[position + 2 :]:
                if inner.kind not in ("letter", "number") and inner.text != "_":
                    break
                word += inner.text
                inside += 1
            names.append(word)
    return names


def translate(text: str, scope: Scope, *, equation: bool) -> Translation:
    """The derivcheck expression text for LaTeX wrapped in dollars; ParseError with a position otherwise."""
    start, end = _inner(text)
    tokens = _tokenize(text, start, end)
    pieces = _Parser(tokens, scope).top(equation=equation)
    out = "".join(piece for piece, _ in pieces)
    offsets: list[int] = []
    for piece, at in pieces:
        offsets.extend([at] * len(piece))
    offsets.append(end)  # errors "at the end" of the translation
    if len(out) > MAX_TEXT_LENGTH:
        raise ParseError(
            f"the LaTeX is too long (it translates to {len(out)} characters; at most {MAX_TEXT_LENGTH})",
            start,
            "too-large",
        )
    return Translation(out, tuple(offsets))


def _inner(text: str) -> tuple[int, int]:
    """The offsets between the opening and closing dollars."""
    left = len(text) - len(text.lstrip())
    right = len(text.rstrip())
    if not text.startswith("$", left):
        raise ParseError("LaTeX is written between dollars, like $a_j - y_j$", left, "syntax")
    fence = "$$" if text.startswith("$$", left) and right - left >= 4 and text[right - 2 : right] == "$$" else "$"
    if right - left < 2 * len(fence) or text[right - len(fence) : right] != fence:
        raise ParseError(f"the LaTeX starts with {fence} but does not end with {fence}", right, "syntax")
    return left + len(fence), right - len(fence)


def _tokenize(text: str, start: int, end: int) -> list[_Token]:
    tokens: list[_Token] = []
    pos = start
    while pos < end:
        ch = text[pos]
        if ch in " \t\r\n~":
            pos += 1
            continue
        if ch == "\\":
            match = _COMMAND.match(text, pos, end)
            if match is None:
                raise ParseError("a backslash at the end of the LaTeX", pos, "syntax")
            command = match.group()
            word = match.group(1)
            if command in _SKIPPED:
                pos = match.end()
                continue
            if word in _MACHINERY:
                raise ParseError(
                    f"{command} is TeX machinery, not math: derivcheck reads a small subset of LaTeX math and never runs TeX",
                    pos,
                    "unsafe-expression",
                )
            if command in ("\\{", "\\}"):
                tokens.append(_Token("symbol", command, pos))
            elif word.isalpha():
                tokens.append(_Token("command", command, pos))
            else:
                raise ParseError(f"'{command}' is not in derivcheck's LaTeX subset", pos, "syntax")
            pos = match.end()
            continue
        if ch.isascii() and ch.isalpha():
            tokens.append(_Token("letter", ch, pos))
            pos += 1
            continue
        if ch.isascii() and ch.isdigit():
            match = _NUMBER.match(text, pos, end)
            assert match is not None
            digits = match.group().replace(".", "").lstrip("0")
            if len(digits) > MAX_NUMBER_DIGITS:
                raise ParseError(f"a number is too long (at most {MAX_NUMBER_DIGITS} digits)", pos, "too-large")
            tokens.append(_Token("number", match.group(), pos))
            pos = match.end()
            continue
        if ch in _SYMBOLS:
            tokens.append(_Token("symbol", ch, pos))
            pos += 1
            continue
        raise ParseError(_refused_character(ch), pos, "syntax")
    tokens.append(_Token("end", "", end))
    return tokens


def _refused_character(ch: str) -> str:
    reasons = {
        "%": "'%' starts a TeX comment, which would hide the rest of the line: it is not allowed",
        "$": "'$' inside the LaTeX: wrap the whole claim in one pair of dollars",
        "&": "'&' (alignment) is not allowed: write one equality per claim or chain item",
        "#": "'#' (a macro parameter) is not allowed",
        "|": "'|' is not supported (absolute values and conditions cannot be written in LaTeX here)",
        "'": "primes are not supported: write the derivative as \\frac{\\partial F}{\\partial v}",
        ".": "'.' outside a number (write 0.5, not .5)",
    }
    if ch in reasons:
        return reasons[ch]
    if not ch.isascii():
        return f"the character '{ch}' is not read: write LaTeX commands in ASCII (\\cdot, \\alpha, ...)"
    return f"unexpected character '{ch}' in LaTeX"


class _Parser:
    """Recursive descent over the tokens, returning output pieces; depth-limited."""

    def __init__(self, tokens: list[_Token], scope: Scope) -> None:
        self.tokens = tokens
        self.pos = 0
        self.scope = scope
        self.depth = 0

    # -- tokens ---------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.peek()
        if token.kind != "end":
            self.pos += 1
        return token

    def expect(self, text: str, what: str) -> _Token:
        token = self.peek()
        if token.text != text or token.kind == "end":
            raise ParseError(f"expected '{text}' {what}, found {token.shown}", token.start, "syntax")
        return self.next()

    def declared(self, name: str) -> bool:
        return name in self.scope.names or name in self.scope.families

    @contextmanager
    def nested(self, token: _Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"the LaTeX is nested too deeply (more than {MAX_DEPTH} levels)", token.start, "too-large")
        try:
            yield
        finally:
            self.depth -= 1

    def starts_factor(self, token: _Token) -> bool:
        if token.kind in ("letter", "number"):
            return True
        if token.kind == "symbol":
            return token.text in _OPENERS
        if token.kind == "command":
            return token.text not in ("\\cdot", "\\times", "\\div")
        return False

    # -- grammar --------------------------------------------------------------------------------

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
                out = out + [("*", token.start)] + self.signed_factor()
            elif token.text in ("/", "\\div"):
                self.next()
                self.no_inline_derivative()
                out = out + [("/", token.start)] + self.signed_factor()
            elif self.starts_factor(token):
                if token.kind == "number":
                    raise ParseError(
                        "a number right after another factor: write \\cdot to multiply (and 1000 for a thousand, not 1\\,000)",
                        token.start,
                        "syntax",
                    )
                out = out + [("*", token.start)] + self.factor()
            else:
                return out

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
            if caret.text == "^" and caret.kind == "symbol":
                self.next()
                exponent = self.script(caret)
                out = [("(", token.start)] + out + [(")**(", caret.start)] + exponent + [(")", caret.start)]
                self.no_more_scripts()
            elif caret.text == "_" and caret.kind == "symbol":
                raise ParseError("only a name can take a subscript, like a_k", caret.start, "syntax")
            return out

    def no_more_scripts(self) -> None:
        token = self.peek()
        if token.kind == "symbol" and token.text == "^":
            raise ParseError("a double superscript: use braces, like x^{a^{b}}", token.start, "syntax")
        if token.kind == "symbol" and token.text == "_":
            raise ParseError("a subscript after a superscript: write the subscript first, like a_k^2", token.start, "syntax")

    def script(self, mark: _Token) -> list[Piece]:
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
        if token.kind == "command" and self.greek(token.text):
            self.next()
            return [(self.greek(token.text), token.start)]
        raise ParseError(
            f"after '{mark.text}' write a single letter or digit, or braces: like x^{{23}}, found {token.shown}",
            token.start,
            "syntax",
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

    def primary(self) -> list[Piece]:
        token = self.peek()
        if token.kind == "number":
            self.next()
            return [(token.text, token.start)]
        if token.kind == "letter":
            self.next()
            return self.named(token.text, token)
        if token.kind == "symbol" and token.text in _OPENERS:
            return self.group(token.text, _OPENERS[token.text])
        if token.kind == "command":
            return self.command(token)
        if token.kind == "end":
            raise ParseError("expected an expression, found the end of the LaTeX", token.start, "syntax")
        raise ParseError(f"unexpected {token.shown}", token.start, "syntax")

    def command(self, token: _Token) -> list[Piece]:
        text = token.text
        if text in _FRACTIONS:
            self.next()
            return self.fraction(token)
        if text == "\\sum":
            self.next()
            return self.total(token)
        if text in _FUNCTIONS:
            self.next()
            return self.function(token, _FUNCTIONS[text])
        if text == "\\sqrt":
            self.next()
            if self.peek().text == "[":
                raise ParseError("n-th roots (\\sqrt[n]{x}) are not supported: write x^{1/n}", self.peek().start, "syntax")
            return [("sqrt(", token.start)] + self.argument(token) + [(")", token.start)]
        if text == "\\sigma" and not self.declared("sigma"):
            self.next()
            return self.function(token, "sigmoid")
        if text == "\\sigma" and self.starts_factor(self.peek(1)):
            # Undeclared, \sigma x is sigmoid(x) (a function takes the next factor): two readings.
            raise ParseError(
                "ambiguous: 'sigma' is a declared name, so \\sigma(x) or \\sigma x could be sigmoid(x) or sigma times x: "
                "write \\operatorname{sigmoid}(x) for the function, or \\sigma \\cdot x for the product",
                token.start,
                AMBIGUOUS,
            )
        if text == "\\delta" and self.declared("delta") and self.kronecker_ahead():
            raise ParseError(
                "ambiguous: 'delta' is a declared name, so \\delta_{kj} could be the Kronecker delta or the "
                "declared delta: write \\mathrm{delta}_{...} for the declared one, or rename it to write the "
                "Kronecker delta \\delta_{kj}",
                token.start,
                AMBIGUOUS,
            )
        if text == "\\delta" and not self.declared("delta"):
            self.next()
            under = self.peek()
            if under.text != "_":
                raise ParseError("\\delta is the Kronecker delta: write \\delta_{kj}", token.start, "syntax")
            self.next()
            first, second = self.indices(under, 2, "\\delta")
            return [("KroneckerDelta(", token.start)] + first + [(", ", under.start)] + second + [(")", under.start)]
        if self.greek(text):
            self.next()
            return self.named(self.greek(text), token)
        if text in _ROMAN:
            self.next()
            return self.roman(token)
        if text == "\\partial":
            raise ParseError("\\partial belongs in a derivative, \\frac{\\partial F}{\\partial v}", token.start, "syntax")
        if text in _UNSUPPORTED:
            raise ParseError(_UNSUPPORTED[text], token.start, "syntax")
        if text in ("\\cdot", "\\times", "\\div"):
            raise ParseError(f"{text} needs a factor on each side", token.start, "syntax")
        raise ParseError(f"{text} is not in derivcheck's LaTeX subset", token.start, "syntax")

    def kronecker_ahead(self) -> bool:
        """Whether the \\delta at peek() has a subscript of two indices, {kj} or {k, j}, as the Kronecker delta does."""
        if self.peek(1).text != "_" or self.peek(2).text != "{":
            return False
        opening = self.pos + 2
        close = self.closing(opening)
        if close is None:
            return False
        inner = self.tokens[opening + 1 : close]
        singles = [t for t in inner if t.kind == "letter" or (t.kind == "number" and len(t.text) == 1) or self.greek(t.text)]
        if len(inner) == 2 and len(singles) == 2:
            return True
        depth = 0
        for inner_token in inner:
            if inner_token.kind == "symbol" and inner_token.text in _OPENERS:
                depth += 1
            elif inner_token.kind == "symbol" and inner_token.text in _CLOSERS:
                depth -= 1
            elif depth == 0 and inner_token.text == ",":
                return True
        return False

    @staticmethod
    def greek(command: str) -> str:
        word = command[1:]
        word = _VARIANTS.get(word, word)
        return word if word in _GREEK else ""

    def argument(self, command: _Token) -> list[Piece]:
        """What a function applies to: a bracketed group, or else the factor that follows."""
        token = self.peek()
        if token.kind == "symbol" and token.text in _OPENERS:
            return self.group(token.text, _OPENERS[token.text])
        if self.starts_factor(token):
            return self.factor()
        raise ParseError(f"expected the argument of {command.text}, found {token.shown}", token.start, "syntax")

    def function(self, token: _Token, name: str) -> list[Piece]:
        after = self.peek()
        if after.kind == "symbol" and after.text == "^":
            raise ParseError(f"write a power of {token.text} as ({token.text} x)^2", after.start, "syntax")
        if after.kind == "symbol" and after.text == "_":
            raise ParseError(f"{token.text} with a subscript (a base) is not supported", after.start, "syntax")
        return [(f"{name}(", token.start)] + self.argument(token) + [(")", token.start)]

    def roman(self, token: _Token) -> list[Piece]:
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

    def named(self, name: str, token: _Token) -> list[Piece]:
        """A name, with its subscript: a family's entry, or a declared scalar like x_1."""
        under = self.peek()
        if under.kind != "symbol" or under.text != "_":
            return self.bare_name(name, token)
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
        raise ParseError(f"undeclared name '{name}'", token.start, "undeclared-symbol")

    def bare_name(self, name: str, token: _Token, *, scripts: bool = True) -> list[Piece]:
        """A name without a subscript; e (Euler's number unless declared) and, when `scripts`, its powers."""
        caret = self.peek() if scripts else _Token("end", "", token.start)
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

    def raw_subscript(self, under: _Token) -> str:
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

    def indices(self, under: _Token, arity: int, name: str) -> list[list[Piece]]:
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
            while self.peek().kind in ("letter", "number") or self.greek(self.peek().text):
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
            if token.kind == "symbol" and token.text in _OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in _OPENERS.values():
                if depth == 0:
                    return False
                depth -= 1
            elif token.kind == "symbol" and token.text == "," and depth == 0:
                return True
        return False

    def single_index(self, token: _Token) -> list[Piece]:
        if token.kind == "letter":
            self.next()
            return [(token.text, token.start)]
        if token.kind == "number":
            if len(token.text) != 1:
                raise ParseError(f"write a subscript of several digits in braces, like a_{{{token.text}}}", token.start, "syntax")
            self.next()
            return [(token.text, token.start)]
        if token.kind == "command" and self.greek(token.text):
            self.next()
            return [(self.greek(token.text), token.start)]
        raise ParseError(f"expected an index after '_', found {token.shown}", token.start, "syntax")

    def total(self, token: _Token) -> list[Piece]:
        """\\sum_{k=low}^{high} f: the sum of the product f that follows."""
        lower: tuple[_Token, list[Piece]] | None = None
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

    def lower_limit(self, hint: str) -> tuple[_Token, list[Piece]]:
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
            self.peek(ahead).text in _ROMAN
            and self.peek(ahead + 1).text == "{"
            and self.peek(ahead + 2).text == "d"
            and self.peek(ahead + 3).text == "}"
        )

    def fraction(self, token: _Token) -> list[Piece]:
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
            if token.kind == "symbol" and token.text in _OPENERS:
                depth += 1
            elif token.kind == "symbol" and token.text in _CLOSERS:
                depth -= 1
            elif depth == 0 and token.kind == "symbol" and token.text in ("+", "-"):
                return False
        return True

    def variable_end(self, start: int, stop: int) -> int:
        """Where one variable starting at tokens[start] ends (a letter, Greek letter or \\mathrm{name},
        with a subscript), within tokens[:stop]; `start` if there is none."""
        tokens = self.tokens
        at = start
        if at < stop and (tokens[at].kind == "letter" or (tokens[at].kind == "command" and self.greek(tokens[at].text))):
            at += 1
        elif at + 1 < stop and tokens[at].text in _ROMAN and tokens[at + 1].text == "{":
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
            if at < stop and (tokens[at].kind in ("letter", "number") or self.greek(tokens[at].text)):
                return at + 1
            return start
        return at

    def derivative(self, token: _Token, *, bare: bool = False) -> list[Piece]:
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
            function = self.signed_factor()
        return [("Derivative((", token.start)] + function + [("), ", close.start)] + variable + [(")", close.start)]

    def variable(self) -> list[Piece]:
        """The variable of a derivative, after its differential: a name with its subscript."""
        token = self.peek()
        if token.kind == "letter":
            self.next()
            return self.named(token.text, token)
        if token.kind == "command" and self.greek(token.text):
            self.next()
            return self.named(self.greek(token.text), token)
        if token.text in _ROMAN:
            self.next()
            return self.roman(token)
        raise ParseError(f"expected the variable after the differential, found {token.shown}", token.start, "syntax")

    def first_order(self) -> None:
        token = self.peek()
        if token.kind == "symbol" and token.text == "^":
            raise ParseError(
                "only first derivatives: write a second derivative as a derivative of a derivative", token.start, "syntax"
            )
