"""Plain expression text into SymPy, through an AST whitelist, without ever running it: expressions,
equations, `where` conditions and definition heads. (LaTeX is translated to this text first, in
parse/__init__.py.)"""

from __future__ import annotations

import ast
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Callable
from fractions import Fraction

import sympy

from derivcheck.parse import matrices
from derivcheck.parse.matrices import MatrixValue, ShapeError
from derivcheck.parse.scope import MAX_INT_DIGITS, TOO_LARGE_TO_EVALUATE, ParseError, Scope, Value, check_length
from derivcheck.vocabulary import FUNCTIONS, SPECIAL_FUNCTIONS, Diff

__all__ = ["parse_condition", "parse_equation", "parse_expression", "parse_head"]

# Limits. The text comes from strangers' pull requests, so every way of making SymPy or
# Python do a lot of work from a little text is bounded here, before the work starts.
MAX_DEPTH = 60  # AST nesting, and bracket nesting (the tokenizer gives up at 200 with a vaguer message)
MAX_FLOAT_EXPONENT = 1_000  # the e-part of a literal like 1e-3
MAX_EXPONENT = 1_000  # |n| in base**n when n is a number
MAX_POWER_DIGITS = (
    10_000  # |n| * log10(size of the numbers in base), checked before building base**n
)
# Any number anywhere in a result: Python refuses to print integers longer than 4300 digits,
# and every report prints expressions, so a longer number would only fail later and worse.
MAX_NUMBER_DIGITS = 4_000
# Numbers under a root (or any non-integer power) and inside function arguments: SymPy factors
# the base of a root when it builds it, which takes seconds for a few hundred digits.
MAX_RADICAND_DIGITS = 50

_NUMBER_LIMIT = 10**MAX_NUMBER_DIGITS
_RADICAND_LIMIT = 10**MAX_RADICAND_DIGITS
_INT_LITERAL_LIMIT = 10**MAX_INT_DIGITS

# Functions that take one argument and map straight onto SymPy: the vocabulary's (sigmoid too).
_UNARY_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {name: f.sympy_form for name, f in FUNCTIONS.items()}
_SPECIAL_FUNCTIONS = SPECIAL_FUNCTIONS
# Functions of matrix notation (see parse/matrices.py).
_MATRIX_FUNCTIONS = frozenset(
    {"softmax", "transpose", "sum", "ones", "eye", "diag", "broadcast", "hadamard", "jacobian"}
)
_CALLABLE = frozenset(_UNARY_FUNCTIONS) | _SPECIAL_FUNCTIONS | _MATRIX_FUNCTIONS
_CALLABLE_LIST = ", ".join(sorted(_CALLABLE, key=str.lower))

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
_ALLOWED_UNARYOPS = (ast.UAdd, ast.USub)

# Why each kind of node is refused; anything not named here and not handled is refused generically.
_REFUSED: dict[type, str] = {
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

_NAME_RE = re.compile(r"[^\W\d]\w*")


# ---------------------------------------------------------------------------------------------
# Public entry points


def parse_expression(text: str, scope: Scope) -> Value:
    """Parse one expression into SymPy (or a MatrixValue), using only the names in scope."""
    check_length(text)
    return _parse_side(text, 0, scope)


def parse_equation(text: str, scope: Scope) -> tuple[Value, Value]:
    """Parse "lhs = rhs" into its two sides; error offsets are into the whole text."""
    check_length(text)
    splits = _top_level_equals(text)
    if len(splits) != 1:
        offset = splits[1] if len(splits) > 1 else 0
        raise ParseError("expected one '=' between two sides", offset, "syntax")
    at = splits[0]
    lhs = _parse_side(text[:at], 0, scope)
    rhs = _parse_side(text[at + 1 :], at + 1, scope)
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
    tree, src = _parse_tree(text, 0, allow_compare=True)
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
# Text-level checks and parsing


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


class _Source:
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


def _prescan(text: str, base: int) -> None:
    """Refuse comments, deep bracket nesting and names Python would silently respell,
    before the tokenizer sees them."""
    for match in _NAME_RE.finditer(text):
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


def _parse_tree(
    text: str, base: int, *, allow_compare: bool = False
) -> tuple[ast.Expression, _Source]:
    """ast.parse one side of the text (which starts at offset base in the caller's text), then vet every node."""
    _prescan(text, base)
    # Newlines become spaces (same length, so offsets hold): a YAML block scalar may break a long
    # expression over lines, which Python would only accept inside brackets.
    flat = text.replace("\r", " ").replace("\n", " ")
    # Leading spaces would be an "unexpected indent" to Python; skip them and remember how many.
    stripped = flat.lstrip(" \t\f")
    src = _Source(stripped, base + len(flat) - len(stripped))
    if not stripped.strip():
        raise ParseError("expected an expression", src.base, "syntax")
    try:
        with warnings.catch_warnings():
            # Python warns about things like invalid escapes in strings while parsing; those are the
            # input's business (and refused below), not something to surface or turn into errors.
            warnings.simplefilter("ignore")
            tree = ast.parse(stripped, mode="eval")
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
    _vet(tree, src, allow_compare=allow_compare)
    return tree, src


def _vet(tree: ast.Expression, src: _Source, *, allow_compare: bool) -> None:
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


def _vet_node(node: ast.expr, src: _Source, allow_compare: bool) -> None:
    at = src.node(node)
    if isinstance(node, ast.Constant):
        # bool is a subclass of int, so compare types exactly.
        if type(node.value) not in (int, float):
            kind = {
                str: "strings are",
                bytes: "bytes are",
                complex: "complex numbers are",
                bool: "True and False are",
            }.get(type(node.value), f"{node.value!r} is")
            raise ParseError(
                f"{kind} not allowed in an expression", at, "unsafe-expression"
            )
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _ALLOWED_BINOPS):
            op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
            raise ParseError(f"operator '{op}' is not allowed", at, "unsafe-expression")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, _ALLOWED_UNARYOPS):
            op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
            raise ParseError(f"operator '{op}' is not allowed", at, "unsafe-expression")
    elif isinstance(node, ast.Attribute):
        # Only the transpose, `A.T`: the builder reads the name and never looks anything up.
        if node.attr != "T":
            raise ParseError(_REFUSED[ast.Attribute] + " (except .T, the transpose)", at, "unsafe-expression")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLABLE:
            what = f"'{node.func.id}'" if isinstance(node.func, ast.Name) else "this"
            raise ParseError(
                f"{what} cannot be called; the functions are {_CALLABLE_LIST}",
                at,
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
    elif isinstance(node, ast.Compare):
        if not allow_compare:
            raise ParseError(_REFUSED[ast.Compare], at, "unsafe-expression")
    elif isinstance(node, (ast.Name, ast.Subscript, ast.Tuple)):
        pass  # their meaning is checked while building
    else:
        message = _REFUSED.get(
            type(node), f"'{type(node).__name__}' is not allowed in an expression"
        )
        raise ParseError(message, at, "unsafe-expression")


def _parse_side(text: str, base: int, scope: Scope) -> sympy.Expr:
    tree, src = _parse_tree(text, base)
    return _Builder(scope, src).build(tree.body)


def _condition_index(node: ast.expr, scope: Scope, src: _Source) -> sympy.Symbol:
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
    raise ParseError(f"undeclared name '{name}'", at, "undeclared-symbol")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _read_head_name(text: str, pos: int) -> tuple[str, int]:
    match = _NAME_RE.match(text, pos)
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


# ---------------------------------------------------------------------------------------------
# Number size bounds


def _max_log10(expr: sympy.Basic) -> float:
    """log10 of the largest numerator or denominator among the rational numbers in expr."""
    biggest = 1
    for number in expr.atoms(sympy.Rational):
        biggest = max(biggest, abs(int(number.p)), int(number.q))
    return math.log10(biggest)


def _all_numbers_below(expr: sympy.Basic, limit: int) -> bool:
    return all(
        abs(int(n.p)) < limit and int(n.q) < limit for n in expr.atoms(sympy.Rational)
    )


# ---------------------------------------------------------------------------------------------
# Building SymPy from a vetted tree


class _Builder:
    """Builds SymPy objects from a vetted AST, checking names, arities and sizes as it goes."""

    def __init__(self, scope: Scope, src: _Source) -> None:
        self.scope = scope
        self.src = src
        # Subexpressions already checked for oversized numbers, so each is looked at once.
        self._checked: set[sympy.Basic] = set()
        # Plain symbols that may be differentiated by: not indices, not integer-valued sizes.
        self._scalars = frozenset(
            symbol
            for name, symbol in scope.names.items()
            if name not in scope.indices and symbol.is_integer is not True
        )

    def error(self, message: str, node: ast.AST, code: str) -> ParseError:
        return ParseError(message, self.src.node(node), code)

    def build(self, node: ast.expr) -> sympy.Expr:
        try:
            result = self._dispatch(node)
        except ParseError:
            raise
        except (RecursionError, MemoryError):
            raise self.error(
                "the expression is too large to build", node, "too-large"
            ) from None
        except Exception as exc:  # noqa: BLE001 - see below
            # SymPy may refuse a combination we did not foresee; that is the input's fault, so it
            # becomes a ParseError rather than a crash. The message avoids str(exc), which can hold
            # numbers too long to print.
            raise self.error(
                f"cannot build this expression ({type(exc).__name__})", node, "syntax"
            ) from None
        if not isinstance(result, MatrixValue):
            self._check_numbers(result, node)
        return result

    def scalar(self, node: ast.expr, what: str) -> sympy.Expr:
        """Build a node that must be a scalar (a 1 x 1 matrix counts as one)."""
        value = self.build(node)
        if isinstance(value, MatrixValue):
            if value.is_scalar():
                return value.at(sympy.Integer(1), sympy.Integer(1))
            raise self.error(f"{what} must be a scalar, not a {value.shape} matrix", node, "shape-mismatch")
        return value

    def matrix(self, node: ast.expr, what: str) -> MatrixValue:
        value = self.build(node)
        if not isinstance(value, MatrixValue):
            raise self.error(f"{what} must be a vector or a matrix, not a scalar", node, "shape-mismatch")
        return value

    def text_of(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.src.text, node) or "this expression"

    def _dispatch(self, node: ast.expr) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(operand, MatrixValue):
                return matrices.scale(operand, lambda e: -e)
            return -operand
        if isinstance(node, ast.Attribute):
            return matrices.transpose(self.matrix(node.value, "the operand of .T"))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Tuple):
            raise self.error(
                "a tuple is only allowed as a Sum limit like (k, 1, N)",
                node,
                "unsafe-expression",
            )
        # _vet refuses everything else; this is a second line of defence.
        raise self.error(
            f"'{type(node).__name__}' is not allowed", node, "unsafe-expression"
        )

    # -- leaves ---------------------------------------------------------------------------------

    def _constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if type(value) is int:
            if abs(value) >= _INT_LITERAL_LIMIT:
                raise self.error(
                    f"integer literal too long (at most {MAX_INT_DIGITS} digits)",
                    node,
                    "too-large",
                )
            return sympy.Integer(value)
        if type(value) is float:
            return self._decimal(node)
        raise self.error(
            "only numbers are allowed as literals", node, "unsafe-expression"
        )

    def _decimal(self, node: ast.Constant) -> sympy.Expr:
        """An exact Rational from the literal's source text (never from the binary float)."""
        source = ast.get_source_segment(self.src.text, node)
        if source is None:
            raise self.error("cannot read this number", node, "syntax")
        literal = source.replace("_", "")
        mantissa, _, exponent = literal.lower().partition("e")
        digits = mantissa.replace(".", "").lstrip("0")
        if len(digits) > MAX_INT_DIGITS:
            raise self.error(
                f"number literal too long (at most {MAX_INT_DIGITS} digits)",
                node,
                "too-large",
            )
        if exponent:
            # Check the length first: int() of a huge digit string is itself refused by Python.
            magnitude = exponent.lstrip("+-").lstrip("0") or "0"
            if len(magnitude) > 6 or int(magnitude) > MAX_FLOAT_EXPONENT:
                raise self.error(
                    f"number literal exponent too large (at most e{MAX_FLOAT_EXPONENT})",
                    node,
                    "too-large",
                )
        fraction = Fraction(literal)
        return sympy.Rational(fraction.numerator, fraction.denominator)

    def _name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name in self.scope.names:
            return self.scope.names[name]
        if name in self.scope.families and name in self.scope.shapes:
            base, _ = self.scope.families[name]
            try:
                return matrices.family(name, base, tuple(self.scope.shapes[name]))
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if name in self.scope.families:
            _, arity = self.scope.families[name]
            raise self.error(
                f"{name} is indexed: write {name}[{_placeholder(arity)}]", node, "arity"
            )
        # The constants only when the scope does not define the names itself (scope wins).
        if name == "pi":
            return sympy.pi
        if name == "E":
            return sympy.E
        if name in _CALLABLE:
            raise self.error(f"{name} is a function: write {name}(...)", node, "syntax")
        raise self.error(f"undeclared name '{name}'", node, "undeclared-symbol")

    def _subscript(self, node: ast.Subscript) -> sympy.Expr:
        target = node.value
        if not isinstance(target, ast.Name):
            # An entry of a matrix expression, like ((A - Y) @ X.T)[l, m].
            value = self.build(target)
            if not isinstance(value, MatrixValue):
                raise self.error(
                    "only a declared family or a matrix expression can be indexed, like z[k]",
                    node,
                    "unsafe-expression",
                )
            slice_node = node.slice
            parts = list(slice_node.elts) if isinstance(slice_node, ast.Tuple) else [slice_node]
            if len(parts) == 1 and value.is_column():
                return value.at(self.index(parts[0]), sympy.Integer(1))
            if len(parts) != 2:
                raise self.error(f"a {value.shape} matrix takes 2 indices, got {len(parts)}", node, "arity")
            return value.at(self.index(parts[0]), self.index(parts[1]))
        name = target.id
        if name not in self.scope.families:
            if name in self.scope.names or name in ("pi", "E") or name in _CALLABLE:
                raise self.error(
                    f"'{name}' is not indexed; only families can be indexed",
                    node,
                    "unsafe-expression",
                )
            raise self.error(f"undeclared name '{name}'", target, "undeclared-symbol")
        base, arity = self.scope.families[name]
        slice_node = node.slice
        index_nodes = (
            list(slice_node.elts) if isinstance(slice_node, ast.Tuple) else [slice_node]
        )
        if len(index_nodes) != arity:
            raise self.error(
                f"{name} takes {arity} ind{'ex' if arity == 1 else 'ices'}, got {len(index_nodes)}: "
                f"write {name}[{_placeholder(arity)}]",
                node,
                "arity",
            )
        indices = [self.index(index_node) for index_node in index_nodes]
        return base[tuple(indices)] if len(indices) > 1 else base[indices[0]]

    # -- index expressions ----------------------------------------------------------------------

    def index(self, node: ast.expr) -> sympy.Expr:
        """An integer-valued expression of index symbols, sizes and integers with +, - and * by an integer."""
        result = self._index_part(node)
        if result.is_integer is not True:
            raise self.error(
                "an index must be an integer expression of indices, sizes and integers",
                node,
                "syntax",
            )
        self._check_numbers(result, node)
        return result

    def _index_part(self, node: ast.expr) -> sympy.Expr:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return self._constant(node)
        if isinstance(node, ast.Name):
            value = self._name(node)
            if value.is_integer is not True:
                raise self.error(
                    f"'{node.id}' is not integer-valued, so it cannot be used in an index",
                    node,
                    "syntax",
                )
            return value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, _ALLOWED_UNARYOPS):
            operand = self._index_part(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, (ast.Add, ast.Sub, ast.Mult)
        ):
            left = self._index_part(node.left)
            right = self._index_part(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if not (left.is_Integer or right.is_Integer):
                raise self.error(
                    "in an index, '*' must have an integer on one side", node, "syntax"
                )
            return left * right
        # Build it anyway so that undeclared names and refused constructs get their own codes,
        # then refuse the shape.
        self.build(node)
        raise self.error(
            "an index may only use index symbols, sizes and integers with +, - and * by an integer",
            node,
            "syntax",
        )

    # -- operators ------------------------------------------------------------------------------

    def _binop(self, node: ast.BinOp) -> Value:
        left = self.build(node.left)
        right = self.build(node.right)
        op = node.op
        if isinstance(left, MatrixValue) or isinstance(right, MatrixValue) or isinstance(op, ast.MatMult):
            try:
                return self._matrix_binop(node, left, right)
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            # A true quotient built explicitly: Python's / on ints never gets a say.
            return sympy.Mul(left, sympy.Pow(right, -1))
        if isinstance(op, ast.Pow):
            return self.power(left, right, node)
        raise self.error("operator not allowed", node, "unsafe-expression")

    def _matrix_binop(self, node: ast.BinOp, left: Value, right: Value) -> Value:
        op = node.op
        text = self.text_of(node)
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}[type(op)]
        if isinstance(op, ast.MatMult):
            if not (isinstance(left, MatrixValue) and isinstance(right, MatrixValue)):
                raise ShapeError(f"'@' multiplies two matrices or vectors; for a scalar factor write * in {text}")
            product = matrices.matmul(left, right, text)
            return product.at(sympy.Integer(1), sympy.Integer(1)) if product.is_scalar() else product
        if isinstance(left, MatrixValue) and isinstance(right, MatrixValue):
            operations: dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
                ast.Add: lambda a, b: a + b,
                ast.Sub: lambda a, b: a - b,
                ast.Mult: lambda a, b: a * b,
                ast.Div: lambda a, b: a / b,
            }
            if type(op) not in operations:
                raise ShapeError(f"'{symbol}' between two matrices is not defined in {text}")
            return matrices.elementwise(left, right, operations[type(op)], symbol, text)
        if isinstance(op, (ast.Add, ast.Sub)):
            # Entry-wise, as in NumPy: 1 - a is the matrix of 1 - a[i, j].
            sign = 1 if isinstance(op, ast.Add) else -1
            if isinstance(left, MatrixValue):
                scalar_right = right
                return matrices.scale(left, lambda e: e + sign * scalar_right)
            scalar_left = left
            assert isinstance(right, MatrixValue)
            return matrices.scale(right, lambda e: scalar_left + sign * e)
        if isinstance(left, MatrixValue):
            factor = right
            if isinstance(op, ast.Mult):
                return matrices.scale(left, lambda e: e * factor)
            if isinstance(op, ast.Div):
                return matrices.scale(left, lambda e: e / factor)
            if isinstance(op, ast.Pow):
                return matrices.scale(left, lambda e: self.power(e, factor, node))
        assert isinstance(right, MatrixValue)
        if isinstance(op, ast.Mult):
            factor = left
            return matrices.scale(right, lambda e: factor * e)
        raise ShapeError(f"'{symbol}' with a matrix on the right is not defined in {text}")

    def power(
        self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST
    ) -> sympy.Expr:
        """base**exponent, refused before SymPy builds it when the result could be huge or slow."""
        if exponent.is_Rational:
            if abs(exponent) > MAX_EXPONENT:
                raise self.error(
                    f"exponent too large (|exponent| at most {MAX_EXPONENT})",
                    node,
                    TOO_LARGE_TO_EVALUATE,
                )
            # For numbers this is |n| * log10|base| (the digits of the result); for symbolic
            # bases SymPy may still expand e.g. (10**50*x)**n into 10**(50n)*x**n.
            if float(abs(exponent)) * _max_log10(base) > MAX_POWER_DIGITS:
                raise self.error(
                    "the power would be too large a number", node, TOO_LARGE_TO_EVALUATE
                )
        if not exponent.is_Integer and not _all_numbers_below(base, _RADICAND_LIMIT):
            raise self.error(
                f"a root or non-integer power of a number longer than {MAX_RADICAND_DIGITS} digits",
                node,
                TOO_LARGE_TO_EVALUATE,
            )
        return sympy.Pow(base, exponent)

    def _check_numbers(self, expr: sympy.Basic, node: ast.AST) -> None:
        """Refuse results holding an over-long number or a root of a long number.

        SymPy combines numbers on its own (10**1000 * 10**1000, sqrt(a)*sqrt(b) -> sqrt(a*b)), so
        the inputs being small is not enough. Each subexpression is looked at once.
        """
        stack = [expr]
        while stack:
            item = stack.pop()
            if item in self._checked:
                continue
            self._checked.add(item)
            if isinstance(item, sympy.Rational):
                if abs(int(item.p)) >= _NUMBER_LIMIT or int(item.q) >= _NUMBER_LIMIT:
                    raise self.error(
                        f"a number in this expression is too large (more than {MAX_NUMBER_DIGITS} digits)",
                        node,
                        TOO_LARGE_TO_EVALUATE,
                    )
                continue
            if (
                isinstance(item, sympy.Pow)
                and not item.exp.is_Integer
                and not _all_numbers_below(item.base, _RADICAND_LIMIT)
            ):
                raise self.error(
                    f"a root or non-integer power of a number longer than {MAX_RADICAND_DIGITS} digits",
                    node,
                    TOO_LARGE_TO_EVALUATE,
                )
            stack.extend(item.args)

    # -- calls ----------------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> sympy.Expr:
        # _vet has already made sure func is a whitelisted Name and there are no keywords.
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = node.args
        for arg in args:
            if isinstance(arg, ast.Starred):
                raise self.error(_REFUSED[ast.Starred], arg, "unsafe-expression")
        if name in _MATRIX_FUNCTIONS:
            try:
                return self._matrix_call(node, name)
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if name in _UNARY_FUNCTIONS or name == "sqrt":
            if len(args) != 1:
                extra = " (log(x, b) is not supported)" if name == "log" else ""
                raise self.error(
                    f"{name} takes 1 argument, got {len(args)}{extra}", node, "arity"
                )
            built = self.build(args[0])
            if isinstance(built, MatrixValue):
                # Entry-wise, as in NumPy: exp of a matrix is never the matrix exponential.
                return matrices.scale(built, lambda e: self._apply(name, e, node))
            return self._apply(name, built, node)
        if name == "KroneckerDelta":
            if len(args) != 2:
                raise self.error(
                    f"KroneckerDelta takes 2 arguments, got {len(args)}", node, "arity"
                )
            return sympy.KroneckerDelta(self.index(args[0]), self.index(args[1]))
        if name == "Sum":
            return self._sum(node)
        if name == "Derivative":
            return self._derivative(node)
        raise self.error(f"'{name}' cannot be called", node, "unsafe-expression")

    def _apply(self, name: str, value: sympy.Expr, node: ast.Call) -> sympy.Expr:
        # SymPy evaluates functions of numbers eagerly (exp(c*log(n)) becomes n**c, which
        # factors n), so the numbers a function sees are kept short.
        if not _all_numbers_below(value, _RADICAND_LIMIT):
            raise self.error(
                f"numbers inside {name}(...) are limited to {MAX_RADICAND_DIGITS} digits",
                node.args[0],
                "too-large",
            )
        if name == "sqrt":
            return self.power(value, sympy.Rational(1, 2), node)
        return _UNARY_FUNCTIONS[name](value)

    def _matrix_call(self, node: ast.Call, name: str) -> Value:
        args = node.args
        counts = {"softmax": (1,), "transpose": (1,), "sum": (1,), "ones": (1, 2), "eye": (1,), "diag": (1,),
                  "broadcast": (2,), "hadamard": (2,), "jacobian": (2,)}
        if len(args) not in counts[name]:
            expected = " or ".join(str(n) for n in counts[name])
            raise self.error(f"{name} takes {expected} argument(s), got {len(args)}", node, "arity")
        if name == "softmax":
            return matrices.softmax(self.matrix(args[0], "the argument of softmax"))
        if name == "transpose":
            return matrices.transpose(self.matrix(args[0], "the argument of transpose"))
        if name == "sum":
            axis: int | None = None
            for keyword_node in node.keywords:
                value = keyword_node.value
                if not (isinstance(value, ast.Constant) and type(value.value) is int and value.value in (0, 1)):
                    raise self.error("axis is 0 (down each column) or 1 (along each row)", value, "syntax")
                axis = value.value
            result = matrices.total(self.matrix(args[0], "the argument of sum"), axis)
            if isinstance(result, MatrixValue) and result.is_scalar():
                return result.at(sympy.Integer(1), sympy.Integer(1))
            return result
        if name == "ones":
            rows = self.index(args[0])
            cols = self.index(args[1]) if len(args) == 2 else sympy.Integer(1)
            return matrices.ones(rows, cols)
        if name == "eye":
            return matrices.identity(self.index(args[0]))
        if name == "diag":
            return matrices.diag(self.matrix(args[0], "the argument of diag"))
        if name == "broadcast":
            return matrices.broadcast(self.matrix(args[0], "the first argument of broadcast"), self.index(args[1]))
        if name == "hadamard":
            left = self.matrix(args[0], "the first argument of hadamard")
            right = self.matrix(args[1], "the second argument of hadamard")
            return matrices.elementwise(left, right, lambda a, b: a * b, "⊙", self.text_of(node))
        # jacobian(f, v): J[i, j] = d f_i / d v_j.
        function = self.matrix(args[0], "the first argument of jacobian")
        variable = self._variable_matrix(args[1])
        return matrices.jacobian(function, variable, Diff)

    def _variable_matrix(self, node: ast.expr) -> MatrixValue:
        value = self.build(node)
        if not isinstance(value, MatrixValue) or value.family is None:
            raise self.error(
                "differentiate with respect to a variable: an entry like z[k], a scalar, or a vector or matrix named bare",
                node,
                "syntax",
            )
        return value

    def _sum(self, node: ast.Call) -> sympy.Expr:
        args = node.args
        if len(args) not in (2, 3):
            raise self.error(
                f"Sum takes a summand and one or two limits like (k, 1, N), got {len(args)} arguments",
                node,
                "arity",
            )
        summand = self.scalar(args[0], "the summand of Sum (for matrices use sum(A))")
        limits = [self._limit(limit) for limit in args[1:]]
        # A limit's bounds are outside its own binding, so in Sum(f, (k, k, N)) the lower k
        # would be another k than the one summed over. Such a Sum is refused rather than
        # guessed at; so is an outer range that names a variable summed inside it.
        for position, (var, low, high) in enumerate(limits):
            inner = [limit[0] for limit in limits[: position + 1]]
            named = [v for v in inner if v in low.free_symbols | high.free_symbols]
            if named:
                raise self.error(
                    f"the range of {var} uses {named[0]}, which this Sum sums over: "
                    "write the range with another index, e.g. (m, k, N) for a sum from k",
                    args[1 + position],
                    "bound-index-in-limits",
                )
        return sympy.Sum(summand, *limits)

    def _limit(self, node: ast.expr) -> tuple[sympy.Symbol, sympy.Expr, sympy.Expr]:
        if not isinstance(node, ast.Tuple):
            raise self.error(
                "a Sum limit must be a tuple like (k, 1, N)", node, "syntax"
            )
        if len(node.elts) != 3:
            raise self.error(
                f"a Sum limit has 3 parts like (k, 1, N), got {len(node.elts)}",
                node,
                "arity",
            )
        var_node, low_node, high_node = node.elts
        message = "the bound variable of a Sum must be a declared index"
        if not isinstance(var_node, ast.Name):
            raise self.error(message, var_node, "syntax")
        name = var_node.id
        if name not in self.scope.indices or name not in self.scope.names:
            known = name in self.scope.names or name in self.scope.families
            raise self.error(
                f"{message} ('{name}' is not)",
                var_node,
                "syntax" if known else "undeclared-symbol",
            )
        return self.scope.names[name], self.index(low_node), self.index(high_node)

    def _derivative(self, node: ast.Call) -> sympy.Expr:
        args = node.args
        if len(args) != 2:
            raise self.error(
                f"Derivative takes 2 arguments, got {len(args)}", node, "arity"
            )
        function = self.build(args[0])
        variable = self.build(args[1])
        if isinstance(variable, MatrixValue):
            variable = self._variable_matrix(args[1])
            try:
                if isinstance(function, MatrixValue):
                    if self.scope.layout == "numerator":
                        return matrices.jacobian(function, variable, Diff)
                    return matrices.transpose(matrices.jacobian(function, variable, Diff))
                return matrices.gradient(function, variable, Diff, self.scope.layout)
            except ShapeError as exc:
                raise self.error(str(exc), node, "shape-mismatch") from None
        if isinstance(function, MatrixValue):
            if isinstance(variable, sympy.Indexed) or isinstance(variable, sympy.Symbol) and variable in self._scalars:
                return matrices.scale(function, lambda e: Diff(e, variable))
        if isinstance(variable, sympy.Indexed) or (
            isinstance(variable, sympy.Symbol) and variable in self._scalars
        ):
            return Diff(function, variable)
        raise self.error(
            "Derivative takes a variable like z[k] as its second argument",
            args[1],
            "syntax",
        )


def _placeholder(arity: int) -> str:
    """Example index names for a message like "write W[i, j]"."""
    if arity == 1:
        return "k"
    if arity <= 3:
        return ", ".join("ijk"[:arity])
    return ", ".join(f"i{n}" for n in range(1, arity + 1))
