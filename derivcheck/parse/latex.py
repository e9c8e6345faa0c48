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

This module is the translator's front: it finds the LaTeX, translates it, and lists the names
it may use. The parser is in parts, one module per construct, in parse/tex/: tokens.py,
cursor.py, grammar.py (expressions, terms, factors, superscripts), subscripts.py, names.py,
sums.py, fractions.py (and derivatives), and parser.py, which composes them and holds the
table of commands.

Errors are ParseError (parse/scope.py), with offsets into the whole text (dollars included), so
a Problem points at the column of the offending LaTeX. A text with two readings that depend on
the declarations (\\frac{d^2 L}{d z^2} with a declared d) is an error with the code
"ambiguous-latex" (AMBIGUOUS, in parse/tex/grammar.py): derivcheck never picks one of them
silently. docs/latex.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from derivcheck.parse.scope import MAX_TEXT_LENGTH, ParseError, Scope
from derivcheck.parse.tex.parser import Parser
from derivcheck.parse.tex.tokens import ROMAN, Token, greek, tokenize

__all__ = ["Translation", "is_latex", "names_in", "translate"]


@dataclass(frozen=True)
class Translation:
    """derivcheck expression text, and for each of its characters the offset in the LaTeX it came from."""

    text: str
    offsets: tuple[int, ...]

    def source_offset(self, offset: int) -> int:
        if not self.offsets:
            return 0
        return self.offsets[min(max(offset, 0), len(self.offsets) - 1)]


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
        tokens = tokenize(text, start, end)
    except ParseError:
        return []
    names: list[str] = []
    inside = 0  # tokens of a \\mathrm{...} name still to skip: its letters are not names
    for position, token in enumerate(tokens):
        if inside:
            inside -= 1
            continue
        if token.kind == "letter":
            names += _letter_names(tokens, position)
        elif token.kind == "command" and greek(token.text):
            names.append(greek(token.text))
        elif token.text in ROMAN:
            word, inside = _roman_name(tokens, position)
            names.append(word)
    return names


def _letter_names(tokens: list[Token], position: int) -> list[str]:
    """The letter at `position`, and with a subscript letter or digit the names it may be part of."""
    token = tokens[position]
    names = [token.text]
    following = tokens[position + 1 : position + 2]
    if following and following[0].text == "_":
        script = tokens[position + 2 : position + 3]
        if script and script[0].kind in ("letter", "number"):
            names += [f"{token.text}_{script[0].text}", f"{token.text}{script[0].text}"]
    return names


def _roman_name(tokens: list[Token], position: int) -> tuple[str, int]:
    """The name inside the \\mathrm{...} at `position`, and how many tokens after it to skip."""
    inside = 1  # the brace
    word = ""
    for inner in tokens[position + 2 :]:
        if inner.kind not in ("letter", "number") and inner.text != "_":
            break
        word += inner.text
        inside += 1
    return word, inside


def translate(text: str, scope: Scope, *, equation: bool) -> Translation:
    """The derivcheck expression text for LaTeX wrapped in dollars; ParseError with a position otherwise."""
    start, end = _inner(text)
    tokens = tokenize(text, start, end)
    pieces = Parser(tokens, scope).top(equation=equation)
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
