"""The text-level vetting of expression text, before anything is built: the prescan, ast.parse and
its errors, the AST whitelist, and AST positions as offsets into the caller's text."""

from __future__ import annotations

import ast
import re
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any

from derivcheck.model import suggestion
from derivcheck.parse.scope import MAX_INT_DIGITS, ParseError
from derivcheck.vocabulary import FUNCTIONS, SPECIAL_FUNCTIONS

__all__ = ["ALLOWED_UNARYOPS", "CALLABLE", "MATRIX_FUNCTIONS", "MAX_DEPTH", "NAME_RE", "REFUSED", "Source", "parse_tree"]

# Limits. The text comes from strangers' pull requests, so every way of making SymPy or
# Python do a lot of work from a little text is bounded, before the work starts (the limits on
# what the builder makes of the numbers are in parse/builder/limits.py).
MAX_DEPTH = 60  # AST nesting, and bracket nesting (the tokenizer gives up at 200 with a vaguer message)

# The names that may be called: the vocabulary's functions (sigmoid too), the calls the
# builder makes itself, and the functions of matrix notation (see parse/matrices.py). The
# builder's table of calls (parse/builder/calls.py) has a row for each, and for nothing else.
MATRIX_FUNCTIONS = frozenset(
    {"softmax", "transpose", "sum", "ones", "eye", "diag", "broadcast", "hadamard", "jacobian"}
)
CALLABLE = frozenset(FUNCTIONS) | SPECIAL_FUNCTIONS | MATRIX_FUNCTIONS
# Case-insensitive, and then by case: sum and Sum tie otherwise, and the message would follow
# the set's order, which changes with Python's hash seed from one run to the next.
_CALLABLE_LIST = ", ".join(sorted(CALLABLE, key=lambda name: (name.lower(), name)))

_OPERATOR_TEXT: dict[type, str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Invert: "~",
    ast.Not: "not",
}
_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult)
ALLOWED_UNARYOPS = (ast.UAdd, ast.USub)

# Why each kind of node is refused; anything not named here and not handled is refused generically.
REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.Compare: "comparisons are not allowed in an expression",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Slice: "slices are not allowed",
    ast.List: "lists are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}

NAME_RE = re.compile(r"[^\W\d]\w*")


class Source:
    """The text handed to ast.parse, and how to turn AST positions into offsets into the caller's text."""

    def __init__(self, text: str, base: int) -> None:
        self.text = text
        self.base = base
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def _line_start(self, lineno: int) -> int:
        index = min(max(lineno, 1), len(self.line_starts)) - 1
        return self.line_starts[index]

    def position(self, lineno: int | None, col_bytes: int | None) -> int:
        """Offset of an AST (lineno, col_offset); col_offset counts UTF-8 bytes, not characters."""
        if lineno is None:
            return self.base
        start = self._line_start(lineno)
        line = self.text[start:].split("\n", 1)[0]
        encoded = line.encode("utf-8", errors="surrogatepass")
        chars = len(encoded[: max(col_bytes or 0, 0)].decode("utf-8", errors="ignore"))
        return self.base + start + chars

    def node(self, node: ast.AST) -> int:
        return self.position(
            getattr(node, "lineno", None), getattr(node, "col_offset", 0)
        )

    def syntax_error(self, lineno: int | None, offset: int | None) -> int:
        """Offset of a SyntaxError position: 1-based characters within the line."""
        if not lineno:
            return self.base
        start = self._line_start(lineno)
        return self.base + min(start + max((offset or 1) - 1, 0), len(self.text))


def parse_tree(
    text: str, base: int, *, allow_compare: bool = False
) -> tuple[ast.Expression, Source]:
    """ast.parse one side of the text (which starts at offset base in the caller's text), then vet every node."""
    _prescan(text, base)
    # Newlines become spaces (same length, so offsets hold): a YAML block scalar may break a long
    # expression over lines, which Python would only accept inside brackets.
    flat = text.replace("\r", " ").replace("\n", " ")
    # Leading spaces would be an "unexpected indent" to Python; skip them and remember how many.
    stripped = flat.lstrip(" \t\f")
    src = Source(stripped, base + len(flat) - len(stripped))
    if not stripped.strip():
        raise ParseError("expected an expression", src.base, "syntax")
    tree = _ast_parse(stripped, src)
    _vet(tree, src, allow_compare=allow_compare)
    return tree, src


def _prescan(text: str, base: int) -> None:
    """Refuse comments, deep bracket nesting and names Python would silently respell,
    before the tokenizer sees them."""
    for match in NAME_RE.finditer(text):
        word = match.group()
        plain = unicodedata.normalize("NFKC", word)
        if plain != word:
            # Python folds identifiers to NFKC: '𝑥' would silently be the name 'x'.
            raise ParseError(
                f"'{word}' is not a plain name: Python reads it as '{plain}'; write '{plain}' if that is meant",
                base + match.start(),
                "confusable-name",
            )
    depth = 0
    for i, ch in enumerate(text):
        if ch == "#":
            # With newlines treated as spaces a comment would silently swallow the rest of the text.
            raise ParseError(
                "comments ('#') are not allowed in an expression", base + i, "syntax"
            )
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(
                    f"brackets are nested too deeply (more than {MAX_DEPTH} levels)",
                    base + i,
                    "too-large",
                )
        elif ch in ")]}":
            depth = max(depth - 1, 0)


def _ast_parse(stripped: str, src: Source) -> ast.Expression:
    """ast.parse, with each way it can fail turned into a ParseError at its position."""
    try:
        with warnings.catch_warnings():
            # Python warns about things like invalid escapes in strings while parsing; those are the
            # input's business (and refused by the whitelist), not something to surface or turn into errors.
            warnings.simplefilter("ignore")
            return ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        message = exc.msg or "invalid syntax"
        code = "syntax"
        if (
            "Exceeds the limit" in message
            or "too many nested" in message
            or "too complex" in message
        ):
            code = "too-large"
            if "Exceeds the limit" in message:
                message = f"a number is too long (at most {MAX_INT_DIGITS} digits)"
        raise ParseError(
            message, src.syntax_error(exc.lineno, exc.offset), code
        ) from None
    except (RecursionError, MemoryError):
        raise ParseError(
            "the expression is nested too deeply", src.base, "too-large"
        ) from None
    except UnicodeError:
        raise ParseError("the text is not valid Unicode", src.base, "syntax") from None
    except ValueError as exc:
        # Over-long integer literals, null bytes and the like.
        if "digits" in str(exc):
            raise ParseError(
                f"a number is too long (at most {MAX_INT_DIGITS} digits)",
                src.base,
                "too-large",
            ) from None
        raise ParseError("not a valid expression", src.base, "syntax") from None


def _vet(tree: ast.Expression, src: Source, *, allow_compare: bool) -> None:
    """Walk the whole tree once, iteratively, refusing every node type outside the whitelist.

    This runs before anything is built, so a refused construct never reaches SymPy, and the
    depth check bounds the recursion of the builder that follows.
    """
    stack: list[tuple[ast.expr, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(
                f"the expression is nested too deeply (more than {MAX_DEPTH} levels)",
                src.node(node),
                "too-large",
            )
        _vet_node(node, src, allow_compare)
        children = [
            child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)
        ]
        # Reversed so the leftmost problem is reported first.
        stack.extend((child, depth + 1) for child in reversed(children))


def _vet_node(node: ast.expr, src: Source, allow_compare: bool) -> None:
    """Look the node's type up in the whitelist: a check to pass, or a refusal."""
    if type(node) in _CHECKED_WHILE_BUILDING:
        return
    check = _CHECKS.get(type(node))
    if check is None:
        message = REFUSED.get(
            type(node), f"'{type(node).__name__}' is not allowed in an expression"
        )
        raise ParseError(message, src.node(node), "unsafe-expression")
    check(node, src, allow_compare)


def _check_constant(node: ast.Constant, src: Source, allow_compare: bool) -> None:
    # bool is a subclass of int, so compare types exactly.
    if type(node.value) not in (int, float):
        kind = {
            str: "strings are",
            bytes: "bytes are",
            complex: "complex numbers are",
            bool: "True and False are",
        }.get(type(node.value), f"{node.value!r} is")
        raise ParseError(
            f"{kind} not allowed in an expression", src.node(node), "unsafe-expression"
        )


def _check_binop(node: ast.BinOp, src: Source, allow_compare: bool) -> None:
    if not isinstance(node.op, _ALLOWED_BINOPS):
        op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
        raise ParseError(f"operator '{op}' is not allowed", src.node(node), "unsafe-expression")


def _check_unaryop(node: ast.UnaryOp, src: Source, allow_compare: bool) -> None:
    if not isinstance(node.op, ALLOWED_UNARYOPS):
        op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
        raise ParseError(f"operator '{op}' is not allowed", src.node(node), "unsafe-expression")


def _check_attribute(node: ast.Attribute, src: Source, allow_compare: bool) -> None:
    # Only the transpose, `A.T`: the builder reads the name and never looks anything up.
    if node.attr != "T":
        raise ParseError(REFUSED[ast.Attribute] + " (except .T, the transpose)", src.node(node), "unsafe-expression")


def _check_call(node: ast.Call, src: Source, allow_compare: bool) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in CALLABLE:
        what = f"'{node.func.id}'" if isinstance(node.func, ast.Name) else "this"
        guess = suggestion(node.func.id, CALLABLE) if isinstance(node.func, ast.Name) else ""
        raise ParseError(
            f"{what} cannot be called{guess}{' The' if guess else '; the'} functions are {_CALLABLE_LIST}",
            src.node(node),
            "unsafe-expression",
        )
    allowed_keywords = {"axis"} if node.func.id == "sum" else set()
    bad = [kw for kw in node.keywords if kw.arg not in allowed_keywords]
    if bad:
        raise ParseError(
            "keyword arguments are not allowed (but sum(A, axis=0 or 1))",
            src.node(bad[0]),
            "unsafe-expression",
        )
    names = [kw.arg for kw in node.keywords]
    twice = [kw for position, kw in enumerate(node.keywords) if kw.arg in names[:position]]
    if twice:
        raise ParseError(f"{twice[0].arg} is given twice; give it once", src.node(twice[0]), "syntax")


def _check_compare(node: ast.Compare, src: Source, allow_compare: bool) -> None:
    if not allow_compare:
        raise ParseError(REFUSED[ast.Compare], src.node(node), "unsafe-expression")


# The whitelist: each node type allowed in an expression, and what it must satisfy. Looked up
# by exact type: ast.parse makes these classes themselves, never subclasses of them.
_CHECKS: dict[type, Callable[[Any, Source, bool], None]] = {
    ast.Constant: _check_constant,
    ast.BinOp: _check_binop,
    ast.UnaryOp: _check_unaryop,
    ast.Attribute: _check_attribute,
    ast.Call: _check_call,
    ast.Compare: _check_compare,
}
# Allowed as they are: what a name, a subscript or a tuple means is checked while building.
_CHECKED_WHILE_BUILDING = frozenset({ast.Name, ast.Subscript, ast.Tuple})
