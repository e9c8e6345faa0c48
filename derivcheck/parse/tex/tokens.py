"""The tokens of derivcheck's LaTeX subset: what each character and command is, the tokenizer that
refuses the rest (TeX machinery by name), and the tables of the commands the constructs share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from derivcheck.parse.scope import MAX_INT_DIGITS, ParseError

__all__ = ["CLOSERS", "OPENERS", "ROMAN", "Piece", "Token", "greek", "tokenize"]

MAX_NUMBER_DIGITS = MAX_INT_DIGITS

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
# Commands whose braces hold a name: \mathrm{Loss}, \mathrm{d}, \operatorname{sigmoid}.
ROMAN = frozenset({"\\mathrm", "\\operatorname", "\\text", "\\textrm", "\\mathit"})
_GREEK = frozenset(
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"]
)
_VARIANTS = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varsigma": "sigma", "varrho": "rho", "varpi": "pi"}
OPENERS = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}
CLOSERS = frozenset(OPENERS.values())
_SYMBOLS = "+-*/=()[]{}^_,"
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class Token:
    kind: str  # "command", "letter", "number", "symbol" or "end"
    text: str
    start: int  # offset into the whole text

    @property
    def shown(self) -> str:
        return "the end of the LaTeX" if self.kind == "end" else f"'{self.text}'"


Piece = tuple[str, int]  # output text, and the offset in the LaTeX it stands for


def greek(command: str) -> str:
    """The name a Greek letter's command stands for (\\varepsilon is epsilon); '' for other commands."""
    word = command[1:]
    word = _VARIANTS.get(word, word)
    return word if word in _GREEK else ""


def tokenize(text: str, start: int, end: int) -> list[Token]:
    """The tokens of text[start:end], ending with an "end" token at `end`."""
    tokens: list[Token] = []
    pos = start
    while pos < end:
        ch = text[pos]
        if ch in " \t\r\n~":
            pos += 1
        elif ch == "\\":
            command, pos = _command(text, pos, end)
            if command is not None:
                tokens.append(command)
        elif ch.isascii() and ch.isalpha():
            tokens.append(Token("letter", ch, pos))
            pos += 1
        elif ch.isascii() and ch.isdigit():
            number = _number(text, pos, end)
            tokens.append(number)
            pos += len(number.text)
        elif ch in _SYMBOLS:
            tokens.append(Token("symbol", ch, pos))
            pos += 1
        else:
            raise ParseError(_refused_character(ch), pos, "syntax")
    tokens.append(Token("end", "", end))
    return tokens


def _command(text: str, pos: int, end: int) -> tuple[Token | None, int]:
    """The command at the backslash at `pos` (None for one that only spaces), and where it ends."""
    match = _COMMAND.match(text, pos, end)
    if match is None:
        raise ParseError("a backslash at the end of the LaTeX", pos, "syntax")
    command = match.group()
    word = match.group(1)
    if command in _SKIPPED:
        return None, match.end()
    if word in _MACHINERY:
        raise ParseError(
            f"{command} is TeX machinery, not math: derivcheck reads a small subset of LaTeX math and never runs TeX",
            pos,
            "unsafe-expression",
        )
    if command in ("\\{", "\\}"):
        return Token("symbol", command, pos), match.end()
    if word.isalpha():
        return Token("command", command, pos), match.end()
    raise ParseError(f"'{command}' is not in derivcheck's LaTeX subset", pos, "syntax")


def _number(text: str, pos: int, end: int) -> Token:
    match = _NUMBER.match(text, pos, end)
    assert match is not None  # tokenize() calls this at a digit
    digits = match.group().replace(".", "").lstrip("0")
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ParseError(f"a number is too long (at most {MAX_NUMBER_DIGITS} digits)", pos, "too-large")
    return Token("number", match.group(), pos)


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
