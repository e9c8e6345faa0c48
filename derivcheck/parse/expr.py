"""Plain expression text into SymPy, without ever running it: expressions, equations, `where`
conditions and definition heads. The text is vetted first (parse/whitelist.py: the AST whitelist),
then built (parse/builder/). LaTeX is translated to this text first, in parse/__init__.py."""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.builder import Builder
from derivcheck.parse.matrices import MatrixValue
from derivcheck.parse.scope import ParseError, Scope, Value, check_length
from derivcheck.parse.whitelist import NAME_RE, Source, parse_tree

__all__ = ["parse_condition", "parse_equation", "parse_expression", "parse_head"]


# ---------------------------------------------------------------------------------------------
# Public entry points


def parse_expression(text: str, scope: Scope, *, latex: bool = False) -> Value:
    """Parse one expression into SymPy (or a MatrixValue), using only the names in scope.

    `latex`: the text is parse/latex.py's translation, whose operators between matrices are read
    as LaTeX means them (see BuilderCore.latex)."""
    check_length(text)
    return _parse_side(text, 0, scope, latex=latex)


def parse_equation(text: str, scope: Scope, *, latex: bool = False) -> tuple[Value, Value]:
    """Parse "lhs = rhs" into its two sides; error offsets are into the whole text."""
    check_length(text)
    splits = _top_level_equals(text)
    unclosed = _unclosed(text)
    if not splits and unclosed is not None and "=" in text[unclosed:]:
        # `Sum(x[k], (k, 1, N) = 1`: the '=' is inside a bracket that is never closed.
        raise ParseError(f"'{text[unclosed]}' was never closed, so the '=' after it is inside it", unclosed, "syntax")
    if len(splits) != 1:
        offset = splits[1] if len(splits) > 1 else 0
        raise ParseError("expected one '=' between two sides" + _equals_hint(text, splits), offset, "syntax")
    at = splits[0]
    lhs = _parse_side(text[:at], 0, scope, latex=latex)
    rhs = _parse_side(text[at + 1 :], at + 1, scope, latex=latex)
    left_shape = lhs.shape if isinstance(lhs, MatrixValue) else "a scalar"
    right_shape = rhs.shape if isinstance(rhs, MatrixValue) else "a scalar"
    if isinstance(lhs, MatrixValue) != isinstance(rhs, MatrixValue) or (
        isinstance(lhs, MatrixValue)
        and isinstance(rhs, MatrixValue)
        and not (matrices.same_size(lhs.rows, rhs.rows) and matrices.same_size(lhs.cols, rhs.cols))
    ):
        raise ParseError(
            f"the two sides have different shapes: {left_shape} = {right_shape}", at, "shape-mismatch"
        )
    return lhs, rhs


def parse_condition(text: str, scope: Scope) -> tuple[sympy.Symbol, sympy.Symbol]:
    """Parse a condition "k != j" between two index symbols into (k, j)."""
    check_length(text)
    tree, src = parse_tree(text, 0, allow_compare=True)
    body = tree.body
    if not (
        isinstance(body, ast.Compare)
        and len(body.ops) == 1
        and isinstance(body.ops[0], ast.NotEq)
    ):
        raise ParseError("expected a condition like k != j", src.node(body), "syntax")
    left, right = body.left, body.comparators[0]
    return _condition_index(left, scope, src), _condition_index(right, scope, src)


def parse_head(text: str) -> tuple[str, tuple[str, ...]]:
    """Parse the left side of a definition: "L", "a[k]" or "W[i, d]" into (name, index names)."""
    check_length(text)
    pos = _skip_space(text, 0)
    name, pos = _read_head_name(text, pos)
    pos = _skip_space(text, pos)
    indices: list[str] = []
    if pos < len(text) and text[pos] == "[":
        pos = _skip_space(text, pos + 1)
        while True:
            start = pos
            index, pos = _read_head_name(text, pos)
            if index in indices:
                raise ParseError(f"index '{index}' is repeated", start, "syntax")
            if index == name:
                # a[a] would make the index shadow the thing being defined.
                raise ParseError(
                    f"index '{index}' has the same name as '{name}'", start, "syntax"
                )
            indices.append(index)
            pos = _skip_space(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_space(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos = _skip_space(text, pos + 1)
                break
            raise ParseError("expected ',' or ']' in the index list", pos, "syntax")
    if pos != len(text):
        raise ParseError(
            "expected a name, optionally with indices like a[k] or W[i, d]",
            pos,
            "syntax",
        )
    return name, tuple(indices)


# ---------------------------------------------------------------------------------------------
# Text-level splitting, and the pieces of heads and conditions


def _equals_hint(text: str, splits: list[int]) -> str:
    """What to write instead, for a claim without exactly one top-level '='."""
    if len(splits) > 1:
        return "; for equalities one after another, write a `chain:` of expressions"
    if not text.strip():
        return "; the claim is empty"
    comparison = re.search(r"==|!=|<=|>=", text)
    if comparison:
        return f"; '{comparison.group()}' compares, a claim states an equality: lhs = rhs"
    return ""


def _top_level_equals(text: str) -> list[int]:
    """Offsets of every '=' at bracket depth 0 that is not part of ==, !=, <=, >= or :=."""
    found: list[int] = []
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == "=" and depth == 0:
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before in ("=", "!", "<", ">", ":") or after == "=":
                continue
            found.append(i)
    return found


def _unclosed(text: str) -> int | None:
    """The offset of the first bracket never closed (an '=' after it is inside it), if any."""
    openers: list[int] = []
    for i, ch in enumerate(text):
        if ch in "([{":
            openers.append(i)
        elif ch in ")]}" and openers:
            openers.pop()
    return openers[0] if openers else None


def _parse_side(text: str, base: int, scope: Scope, *, latex: bool = False) -> Value:
    tree, src = parse_tree(text, base)
    return Builder(scope, src, latex=latex).build(tree.body)


def _condition_index(node: ast.expr, scope: Scope, src: Source) -> sympy.Symbol:
    at = src.node(node)
    if not isinstance(node, ast.Name):
        raise ParseError(
            "a condition compares two index symbols, like k != j", at, "syntax"
        )
    name = node.id
    if name in scope.indices and name in scope.names:
        return scope.names[name]
    if name in scope.names or name in scope.families:
        raise ParseError(
            f"'{name}' is not an index; a condition compares indices, like k != j",
            at,
            "syntax",
        )
    raise ParseError(scope.undeclared(name, indices_only=True), at, "undeclared-symbol")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _read_head_name(text: str, pos: int) -> tuple[str, int]:
    match = NAME_RE.match(text, pos)
    if match is None:
        raise ParseError("expected a name", pos, "syntax")
    word = match.group()
    if word.startswith("_"):
        raise ParseError(f"names may not start with '_' ('{word}')", pos, "syntax")
    if not word.isidentifier() or keyword.iskeyword(word):
        raise ParseError(f"'{word}' cannot be used as a name", pos, "syntax")
    if unicodedata.normalize("NFKC", word) != word:
        # Python folds such names (e.g. fullwidth letters) to another spelling when it parses
        # expressions, so the definition and its uses would not match.
        raise ParseError(f"write '{word}' in its plain (NFKC) form", pos, "syntax")
    return word, match.end()
