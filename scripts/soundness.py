"""Soundness harness: mutate the derivations, judge each mutant with an independent oracle, and
count how derivcheck does on them. A false pass (a wrong claim reported proved or checked)
must never happen.

    python scripts/soundness.py --per-file 12 --seed 1 --jobs 2 --timeout 60     # CI's run
    python scripts/soundness.py --files derivations/*.yaml --max-mutants 60 --seed 1 --jobs 2

Mutants: each is the file's header and one step, with one change: a sign flipped, '+' and '-'
exchanged, a term or factor dropped, the sides of a difference swapped, a constant changed,
exp/log (sin/cos, tanh/sigmoid) exchanged, a minus dropped, an index or size renamed at one
place, a transpose dropped, a `where:` dropped, an assumption dropped, or one of these in a
definition the step uses. `--per-file N` gives every file N mutants, drawn round-robin across
these kinds with a generator seeded by --seed and the file's name; a drawn mutant the oracle
cannot read (it does not load, or no claim has the same free indices on both sides) is set
aside and another drawn, so that the budget goes to mutants that can be judged.
`--max-mutants N` instead samples N from the pool of all files together.

Steps marked `expect:` (seeds kept as written: `refuted`, `shape-mismatch`, ...) are mutated
too. A mutant is written without `expect:`, so derivcheck's verdict on it is the plain one,
and the oracle judges the mutant itself, not the mutation: a wrong mutant reported proved or
checked is a false pass wherever its error came from. Such a mutant is usually wrong before
the mutation, so its refutation says little about the mutation: the report counts these
apart. When a mutation happens to repair the step, the oracle finds it equivalent and it is
no false-pass question (if derivcheck refuted it, the report says so).

The report has one row per file and a total: mutants made, judged by the oracle, non-equivalent
(wrong) by the oracle, and how derivcheck did on those: refuted, error, undecided (time-outs
counted), FALSE PASS. The exit status is 1 when there is a false pass, or when a file given
has no judged mutant (a file no mutant of which was judged was not tested); otherwise 0.

The oracle shares no code with derivcheck/engine/: it reads a file with derivcheck.source,
parses expressions with derivcheck.exprparse (and the matrix notation it compiles), and then
evaluates both sides of every claim itself, with mpmath at 50 digits: sums unrolled,
definitions expanded, `Derivative(F, v)` taken numerically (mpmath.diff) with v's family
held as independent variables, exactly as docs/format.md defines it. Points are admissible:
sizes distinct in 2..4 (in random order), then once in 5..7, beyond the sizes derivcheck's
concrete checks try (1..4), so that a claim true only at small sizes is found different;
one-hot families one-hot (each column of a
matrix), sum facts honoured, signs of declared variables respected. A claim is
non-equivalent when the sides differ somewhere by more than 1e-20 relative.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import multiprocessing
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import mpmath
import sympy

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from derivcheck import parse as exprparse  # noqa: E402
from derivcheck import source  # noqa: E402
from derivcheck.parse import MatrixValue, ParseError, Scope  # noqa: E402
from derivcheck.vocabulary import Diff, sigmoid  # noqa: E402

DIGITS = 50
TOLERANCE = mpmath.mpf("1e-20")
SIZE_ASSIGNMENTS = 3
LARGE_SIZE_ASSIGNMENTS = 1  # at sizes from 5 up: past every size derivcheck tries
POINTS_PER_PATTERN = 2
MAX_PATTERNS = 24


class OracleError(Exception):
    """The oracle cannot judge this claim (an unsupported form, an index out of range)."""


# ---------------------------------------------------------------------------------------------
# The oracle: a derivation read into SymPy by exprparse, evaluated here with mpmath


@dataclass
class Fam:
    name: str
    shape: tuple[sympy.Expr, ...]
    sign: str = "real"  # real, positive, nonnegative, negative


@dataclass
class Model:
    """What the oracle knows of a derivation: names, ranges, families, definitions, facts."""

    scope: Scope
    sizes: list[sympy.Symbol]
    ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]
    variables: dict[str, Fam]  # variable families, and scalars with shape ()
    definitions: dict[str, tuple[tuple[sympy.Symbol, ...], sympy.Expr]]  # name -> (params, body)
    def_shapes: dict[str, tuple[sympy.Expr, ...]]
    one_hot: list[str] = field(default_factory=list)
    sums: list[tuple[str, int, sympy.Expr, sympy.Expr, sympy.Expr]] = field(default_factory=list)  # family, position, low, high, value


def build_model(derivation: source.Derivation) -> Model:
    """The oracle's own reading of the declarations (never prepare.build)."""
    names: dict[str, sympy.Symbol] = {}
    families: dict[str, tuple[sympy.IndexedBase, int]] = {}
    shapes: dict[str, tuple[sympy.Expr, ...]] = {}
    sizes = []
    for text in derivation.sizes:
        symbol = sympy.Symbol(text.value, integer=True, positive=True)
        names[text.value] = symbol
        sizes.append(symbol)
    size_scope = Scope(names=dict(names), families={})
    ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]] = {}
    index_names: set[str] = set()
    for decl in derivation.indices:
        symbol = sympy.Symbol(decl.name.value, integer=True)
        low = exprparse.parse_expression(decl.low.value, size_scope)
        high = exprparse.parse_expression(decl.high.value, size_scope)
        names[decl.name.value] = symbol
        ranges[symbol] = (low, high)
        index_names.add(decl.name.value)
    variables: dict[str, Fam] = {}
    for var in derivation.variables:
        assume = {word: True for word in var.assume if word != "real"}
        sign = next((w for w in var.assume if w != "real"), "real")
        if var.shape:
            shape = tuple(exprparse.parse_expression(dim.value, size_scope) for dim in var.shape)
            families[var.name.value] = (sympy.IndexedBase(var.name.value, real=True, **assume), len(shape))
            shapes[var.name.value] = shape
            variables[var.name.value] = Fam(var.name.value, shape, sign)
        else:
            names[var.name.value] = sympy.Symbol(var.name.value, real=True, **assume)
            variables[var.name.value] = Fam(var.name.value, (), sign)
    layout = getattr(derivation, "layout", "denominator")
    heads = {}
    for definition in derivation.definitions:
        name, params = exprparse.parse_head(definition.head.value)
        heads[name] = (params, definition.body.value)
        if params:
            families[name] = (sympy.IndexedBase(name, real=True), len(params))
            shapes[name] = tuple(ranges[names[p]][1] for p in params)
    definitions: dict[str, tuple[tuple[sympy.Symbol, ...], sympy.Expr]] = {}
    pending = dict(heads)
    # Bare matrix definitions get their shape from their body: parse until nothing changes.
    while pending:
        progress = False
        for name, (params, body_text) in list(pending.items()):
            if not params:
                names.setdefault(name, sympy.Symbol(name, real=True))
            scope = Scope(names=names, families=families, indices=frozenset(index_names), shapes=shapes, **_layout(layout))
            try:
                body = exprparse.parse_expression(body_text, scope)
            except ParseError:
                continue
            if isinstance(body, MatrixValue):
                row, col = sympy.Dummy("r", integer=True), sympy.Dummy("c", integer=True)
                names.pop(name, None)
                column = body.is_column()
                shape = (body.rows,) if column else (body.rows, body.cols)
                families[name] = (sympy.IndexedBase(name, real=True), len(shape))
                shapes[name] = shape
                definitions[name] = ((row,) if column else (row, col), body.at(row, col))
            else:
                definitions[name] = (tuple(names[p] for p in params), body)
            del pending[name]
            progress = True
        if not progress:
            raise OracleError(f"cannot read the definitions of {', '.join(sorted(pending))}")
    scope = Scope(names=names, families=families, indices=frozenset(index_names), shapes=shapes, **_layout(layout))
    def_shapes = {name: shapes[name] for name in definitions if name in shapes}
    model = Model(scope, sizes, ranges, variables, definitions, def_shapes)
    for assumption in derivation.assumptions:
        _read_fact(model, assumption.statement.value)
    return model


def _layout(layout: str) -> dict[str, str]:
    return {"layout": layout} if "layout" in Scope.__dataclass_fields__ else {}


def _read_fact(model: Model, text: str) -> None:
    match = re.fullmatch(r"\s*one_hot\(\s*([A-Za-z]\w*)\s*\)\s*", text)
    if match:
        name = match.group(1)
        if name not in model.variables or len(model.variables[name].shape) not in (1, 2):
            raise OracleError(f"one_hot({name}) is not about a vector or matrix variable")
        model.one_hot.append(name)
        return
    lhs, rhs = exprparse.parse_equation(text, model.scope)
    if isinstance(lhs, sympy.Sum) and len(lhs.limits) == 1 and isinstance(lhs.function, sympy.Indexed):
        var, low, high = lhs.limits[0]
        entry = lhs.function
        name = str(entry.base.label)
        if name in model.variables and var in entry.indices:
            model.sums.append((name, entry.indices.index(var), low, high, rhs))
            return
    raise OracleError(f"the oracle does not understand the assumption {text!r}")


class Point:
    """One admissible point: sizes, and values for variable entries (drawn on first use)."""

    def __init__(self, model: Model, sizes: dict[sympy.Symbol, int], rng: random.Random) -> None:
        self.model = model
        self.sizes = sizes
        self.rng = rng
        self.values: dict[tuple[str, tuple[int, ...]], mpmath.mpf] = {}
        for name in model.one_hot:
            shape = self.shape(name)
            columns = range(1, shape[1] + 1) if len(shape) == 2 else [None]
            for column in columns:
                hot = rng.randint(1, shape[0])
                for row in range(1, shape[0] + 1):
                    key = (row,) if column is None else (row, column)
                    self.values[(name, key)] = mpmath.mpf(1 if row == hot else 0)
        for name, position, low, high, value in model.sums:
            shape = self.shape(name)
            lo, hi = int(self.integer(low)), int(self.integer(high))
            others = [range(1, shape[1 - position] + 1)] if len(shape) == 2 else [[None]]
            total = self.number(value)
            for other in others[0]:
                weights = [mpmath.mpf(rng.randint(1, 9)) for _ in range(lo, hi + 1)]
                for k, weight in zip(range(lo, hi + 1), weights):
                    key = (k,) if other is None else ((k, other) if position == 0 else (other, k))
                    self.values[(name, key)] = weight * total / sum(weights)

    def integer(self, expr: sympy.Expr) -> int:
        value = sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in self.sizes.items()})
        if not value.is_Integer:
            raise OracleError(f"{expr} is not an integer at these sizes")
        return int(value)

    def number(self, expr: sympy.Expr) -> mpmath.mpf:
        return Evaluator(self).ev(expr, {})

    def shape(self, name: str) -> tuple[int, ...]:
        fam_shape = self.model.variables[name].shape if name in self.model.variables else self.model.def_shapes[name]
        return tuple(self.integer(dim) for dim in fam_shape)

    def variable(self, name: str, index: tuple[int, ...]) -> mpmath.mpf:
        key = (name, index)
        if key not in self.values:
            sign = self.model.variables[name].sign
            value = mpmath.mpf(self.rng.uniform(0.2, 2.0))
            if sign == "negative" or (sign == "real" and self.rng.random() < 0.5):
                value = -value
            if sign == "nonnegative" and self.rng.random() < 0.1:
                value = mpmath.mpf(0)
            self.values[key] = value
        return self.values[key]


class Evaluator:
    """Values of expressions at a point; `held` replaces a family's entries (for derivatives)."""

    def __init__(self, point: Point, held: dict[str, Callable[[tuple[int, ...]], mpmath.mpf]] | None = None) -> None:
        self.point = point
        self.held = held or {}
        self.memo: dict[tuple[str, tuple[int, ...]], mpmath.mpf] = {}

    def entry(self, name: str, index: tuple[int, ...]) -> mpmath.mpf:
        model = self.point.model
        if name in self.held:
            return self.held[name](index)
        key = (name, index)
        if key in self.memo:
            return self.memo[key]
        if name in model.variables:
            shape = self.point.shape(name)
            if len(index) != len(shape) or not all(1 <= i <= n for i, n in zip(index, shape)):
                raise OracleError(f"{name}{list(index)} is outside its shape {shape}")
            value = self.point.variable(name, index)
        elif name in model.definitions:
            params, body = model.definitions[name]
            if name in model.def_shapes:
                shape = self.point.shape(name)
                if not all(1 <= i <= n for i, n in zip(index, shape)):
                    raise OracleError(f"{name}{list(index)} is outside its shape {shape}")
            value = self.ev(body, dict(zip(params, index)))
        else:
            raise OracleError(f"unknown name {name}")
        self.memo[key] = value
        return value

    def index(self, expr: sympy.Expr, env: dict) -> int:
        value = self.ev(expr, env)
        if value != int(value):
            raise OracleError(f"index {expr} is not an integer")
        return int(value)

    def ev(self, e: sympy.Basic, env: dict):  # noqa: C901 - one case per kind of node
        if e.is_Integer:
            return mpmath.mpf(int(e))
        if e.is_Rational:
            return mpmath.mpf(int(e.p)) / int(e.q)
        if e.is_Float:
            return mpmath.mpf(str(e))
        if e is sympy.pi:
            return +mpmath.pi
        if e is sympy.E:
            return mpmath.e
        if isinstance(e, sympy.Symbol):
            if e in env:
                return mpmath.mpf(env[e])
            if e in self.point.sizes:
                return mpmath.mpf(self.point.sizes[e])
            return self.entry(e.name, ())
        if isinstance(e, sympy.Indexed):
            return self.entry(str(e.base.label), tuple(self.index(i, env) for i in e.indices))
        if isinstance(e, sympy.Add):
            return mpmath.fsum(self.ev(a, env) for a in e.args)
        if isinstance(e, sympy.Mul):
            result = mpmath.mpf(1)
            for a in e.args:
                result *= self.ev(a, env)
            return result
        if isinstance(e, sympy.Pow):
            base, exp = self.ev(e.base, env), self.ev(e.exp, env)
            if base == 0 and exp < 0:
                raise ZeroDivisionError
            if exp == int(exp):
                return base ** int(exp)
            return mpmath.power(base, exp)
        if isinstance(e, sympy.exp):
            return mpmath.exp(self.ev(e.args[0], env))
        if isinstance(e, sympy.log):
            value = self.ev(e.args[0], env)
            if value == 0:
                raise ZeroDivisionError
            return mpmath.log(value)
        if isinstance(e, sigmoid):  # the parser keeps the logistic function as one function
            return 1 / (1 + mpmath.exp(-self.ev(e.args[0], env)))
        for func, mp in ((sympy.sin, mpmath.sin), (sympy.cos, mpmath.cos), (sympy.tanh, mpmath.tanh), (sympy.Abs, abs)):
            if isinstance(e, func):
                return mp(self.ev(e.args[0], env))
        if isinstance(e, sympy.KroneckerDelta):
            return mpmath.mpf(1 if self.index(e.args[0], env) == self.index(e.args[1], env) else 0)
        if isinstance(e, sympy.Sum):
            return self._sum(e.function, list(e.limits), env)
        if isinstance(e, Diff):
            return self._derivative(e.args[0], e.args[1], env)
        raise OracleError(f"the oracle cannot evaluate {type(e).__name__}")

    def _sum(self, function: sympy.Expr, limits: list, env: dict):
        if not limits:
            return self.ev(function, env)
        var, low, high = limits[-1]  # the first limit is innermost
        first, last = self.index(low, env), self.index(high, env)
        sign = 1
        if last < first:  # the Karr convention, as SymPy's Sum
            first, last, sign = last + 1, first - 1, -1
        total = mpmath.fsum(self._sum(function, limits[:-1], {**env, var: k}) for k in range(first, last + 1))
        return sign * total

    def _derivative(self, function: sympy.Expr, variable: sympy.Expr, env: dict):
        """d function / d variable, the variable's family held as independent: the family's
        entries take their values at this point, the one entry moves by h."""
        if isinstance(variable, sympy.Indexed):
            name = str(variable.base.label)
            at = tuple(self.index(i, env) for i in variable.indices)
        elif isinstance(variable, sympy.Symbol):
            name, at = variable.name, ()
        else:
            raise OracleError(f"cannot differentiate by {variable}")
        base_value = self.entry(name, at)  # also checks the entry is in range

        def g(h):
            def held(index: tuple[int, ...]) -> mpmath.mpf:
                value = self.entry(name, index)
                return value + h if index == at else value

            inner = Evaluator(self.point, {**self.held, name: held})
            return inner.ev(function, env)

        del base_value
        return mpmath.diff(g, mpmath.mpf(0))


@dataclass(frozen=True)
class Judgement:
    """The oracle on one claim: 'equivalent', 'different' (with where), or 'ill-formed'."""

    status: str
    detail: str = ""


def claims_of(derivation: source.Derivation, model: Model) -> list[tuple[str, object, object, list]]:
    """(number, lhs, rhs, where pairs) for every claim, as in derivcheck's numbering."""
    found = []
    for step in derivation.steps:
        unequal = [exprparse.parse_condition(c.value, model.scope) for c in step.where]
        if step.claim is not None:
            lhs, rhs = exprparse.parse_equation(step.claim.value, model.scope)
            found.append((str(step.number), lhs, rhs, unequal))
        else:
            parsed = [exprparse.parse_expression(link.expr.value, model.scope) for link in step.chain]
            for position in range(1, len(parsed)):
                found.append((f"{step.number}.{position}", parsed[position - 1], parsed[position], unequal))
    return found


def _free(expr: object, model: Model) -> set[sympy.Symbol]:
    if isinstance(expr, MatrixValue):
        return set()
    return {s for s in expr.free_symbols if s in model.ranges}  # type: ignore[union-attr]


def judge(model: Model, lhs: object, rhs: object, unequal: list, rng: random.Random) -> Judgement:
    """Whether lhs = rhs holds at every admissible point tried."""
    with mpmath.workdps(DIGITS):
        if isinstance(lhs, MatrixValue) != isinstance(rhs, MatrixValue):
            return Judgement("ill-formed", "a matrix and a scalar")
        free = sorted(_free(lhs, model) | _free(rhs, model), key=lambda s: s.name)
        if _free(lhs, model) != _free(rhs, model):
            return Judgement("ill-formed", "different free indices")
        small = list(range(2, max(5, 2 + len(model.sizes))))
        large = list(range(5, max(8, 5 + len(model.sizes))))
        evaluated = 0
        for size_values in [small] * SIZE_ASSIGNMENTS + [large] * LARGE_SIZE_ASSIGNMENTS:
            chosen = rng.sample(size_values, len(model.sizes))
            sizes = dict(zip(model.sizes, chosen))
            probe = Point(model, sizes, rng)
            patterns = list(_patterns(free, unequal, model, probe))
            if len(patterns) > MAX_PATTERNS:
                patterns = rng.sample(patterns, MAX_PATTERNS)
            for pattern in patterns:
                for _attempt in range(POINTS_PER_PATTERN):
                    point = Point(model, sizes, rng)
                    try:
                        differs, left, right, where = _compare(point, lhs, rhs, pattern)
                    except (ZeroDivisionError, ValueError, OverflowError):
                        continue  # undefined here: not evidence either way
                    except OracleError as exc:
                        return Judgement("ill-formed", str(exc))
                    evaluated += 1
                    if differs:
                        detail = (
                            f"sizes {_show(sizes)}, indices {_show(pattern)}{where}: "
                            f"lhs {mpmath.nstr(left, 15)}, rhs {mpmath.nstr(right, 15)}"
                        )
                        return Judgement("different", detail)
        if not evaluated:
            return Judgement("ill-formed", "undefined at every point tried")
        return Judgement("equivalent", f"{evaluated} points agree")


def _show(mapping: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in mapping.items()) or "none"


def _patterns(free: list, unequal: list, model: Model, point: Point) -> Iterator[dict]:
    spans = []
    for symbol in free:
        low, high = model.ranges[symbol]
        spans.append(range(point.integer(low), point.integer(high) + 1))
    for values in itertools.product(*spans):
        pattern = dict(zip(free, values))
        if all(pattern.get(a) != pattern.get(b) for a, b in unequal):
            yield pattern


def _compare(point: Point, lhs: object, rhs: object, pattern: dict) -> tuple[bool, object, object, str]:
    evaluator = Evaluator(point)
    if isinstance(lhs, MatrixValue) and isinstance(rhs, MatrixValue):
        rows, cols = point.integer(lhs.rows), point.integer(lhs.cols)
        if (rows, cols) != (point.integer(rhs.rows), point.integer(rhs.cols)):
            raise OracleError("shapes differ")
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                left = evaluator.ev(lhs.at(sympy.Integer(r), sympy.Integer(c)), dict(pattern))
                right = evaluator.ev(rhs.at(sympy.Integer(r), sympy.Integer(c)), dict(pattern))
                if _differs(left, right):
                    return True, left, right, f", entry ({r}, {c})"
        return False, None, None, ""
    left = evaluator.ev(lhs, dict(pattern))  # type: ignore[arg-type]
    right = evaluator.ev(rhs, dict(pattern))  # type: ignore[arg-type]
    return _differs(left, right), left, right, ""


def _differs(left, right) -> bool:
    for value in (left, right):
        if not mpmath.isfinite(value):
            raise ValueError("not finite")
    scale = max(mpmath.mpf(1), abs(left), abs(right))
    return abs(left - right) > TOLERANCE * scale


def judge_file(path: Path, seed: int) -> dict[str, Judgement]:
    """The oracle on every claim of a derivation file, by claim number."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        raise OracleError("the file does not load: " + "; ".join(p.message for p in problems))
    model = build_model(derivation)
    rng = random.Random(seed)
    return {number: judge(model, lhs, rhs, unequal, rng) for number, lhs, rhs, unequal in claims_of(derivation, model)}


# ---------------------------------------------------------------------------------------------
# Mutations: on the text of one expression (or the header) of a derivation file


@dataclass(frozen=True)
class Mutant:
    file: str
    description: str
    text: str  # the mutated derivation file: the header and one step
    kind: str = ""  # the kind of mutation (KINDS), for drawing mutants spread across kinds
    expect: str | None = None  # the original step's `expect:` (refuted, a problem code): wrong before


KINDS = (
    "sign", "operator", "dropped-term", "swapped-sides", "dropped-factor", "constant", "function",
    "dropped-minus", "index", "size", "transpose", "dropped-where", "dropped-assumption", "definition",
)


def _split_equation(text: str) -> int | None:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0 and text[i - 1 : i] not in ("=", "!", "<", ">") and text[i + 1 : i + 2] != "=":
            return i
    return None


_SWAP_FUNCTIONS = {"exp": "log", "log": "exp", "sin": "cos", "cos": "sin", "tanh": "sigmoid", "sigmoid": "tanh"}


def expression_mutations(text: str, index_groups: list[list[str]], size_names: list[str]) -> Iterator[tuple[str, str, str]]:
    """(kind, description, mutated text) for one expression or one `lhs = rhs`."""
    at = _split_equation(text)
    sides = [text] if at is None else [text[:at], text[at + 1 :]]
    for side_number, side in enumerate(sides):
        try:
            tree = ast.parse(side.strip(), mode="eval")
        except SyntaxError:
            continue
        where = "" if at is None else (" on the left" if side_number == 0 else " on the right")
        for kind, description, mutated in _tree_mutations(tree, index_groups, size_names):
            new_side = " " + ast.unparse(mutated) + (" " if side_number == 0 and at is not None else "")
            if at is None:
                yield kind, description, new_side.strip()
            else:
                parts = [sides[0], sides[1]]
                parts[side_number] = new_side
                yield kind, description + where, (parts[0].rstrip() + " = " + parts[1].strip())
        if at is not None:
            yield "sign", f"sign flipped{where}", _replace_side(text, at, side_number, f"-({side.strip()})")


def _replace_side(text: str, at: int, number: int, new: str) -> str:
    left, right = text[:at].strip(), text[at + 1 :].strip()
    return f"{new} = {right}" if number == 0 else f"{left} = {new}"


def _tree_mutations(tree: ast.Expression, index_groups: list[list[str]], size_names: list[str]) -> Iterator[tuple[str, str, ast.AST]]:
    nodes = list(ast.walk(tree))
    for position, node in enumerate(nodes):
        def mutate(change: Callable[[ast.AST], None]) -> ast.AST:
            copy = ast.parse(ast.unparse(tree), mode="eval")
            change(list(ast.walk(copy))[position])
            return copy

        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            yield "operator", f"'{_op(node.op)}' became '{_op(flipped)}' in {ast.unparse(node)}", mutate(lambda n, f=flipped: setattr(n, "op", f))
            yield "dropped-term", f"dropped the term {ast.unparse(node.right)} of {ast.unparse(node)}", mutate(_keep_left)
            if isinstance(node.op, ast.Sub):
                yield "swapped-sides", f"swapped the sides of {ast.unparse(node)}", mutate(_swap_operands)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            yield "dropped-factor", f"dropped the factor /{ast.unparse(node.right)}", mutate(_keep_left)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            yield "dropped-factor", f"dropped the factor {ast.unparse(node.right)} of {ast.unparse(node)}", mutate(_keep_left)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            if not _is_limit_part(nodes, node):
                yield "constant", f"the constant {node.value} became {node.value + 1}", mutate(lambda n: setattr(n, "value", n.value + 1))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SWAP_FUNCTIONS:
            other = _SWAP_FUNCTIONS[node.func.id]
            yield "function", f"{node.func.id} became {other} in {ast.unparse(node)}", mutate(lambda n, o=other: setattr(n.func, "id", o))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield "dropped-minus", f"dropped the minus of {ast.unparse(node)}", mutate(lambda n: setattr(n, "op", ast.UAdd()))
        if isinstance(node, ast.Attribute) and node.attr == "T":
            yield "transpose", f"dropped the transpose of {ast.unparse(node)}", mutate(_drop_attribute)
        if isinstance(node, ast.Name):
            for kind, group in [("index", g) for g in index_groups] + [("size", size_names)]:
                if node.id in group:
                    for other in group:
                        if other != node.id:
                            yield kind, f"{node.id} became {other} at one place", mutate(lambda n, o=other: setattr(n, "id", o))


def _is_limit_part(nodes: list[ast.AST], node: ast.AST) -> bool:
    return any(isinstance(parent, ast.Tuple) and node in parent.elts for parent in nodes)


def _op(op: ast.operator) -> str:
    return "+" if isinstance(op, ast.Add) else "-"


def _keep_left(node: ast.AST) -> None:
    # Replace the node's content by its left operand's, in place.
    left = node.left  # type: ignore[attr-defined]
    node.__class__ = left.__class__
    node.__dict__.clear()
    node.__dict__.update(left.__dict__)


def _drop_attribute(node: ast.AST) -> None:
    # `X.T` becomes `X`, in place.
    value = node.value  # type: ignore[attr-defined]
    node.__class__ = value.__class__
    node.__dict__.clear()
    node.__dict__.update(value.__dict__)


def _swap_operands(node: ast.AST) -> None:
    node.left, node.right = node.right, node.left  # type: ignore[attr-defined]


def _header_and_steps(text: str) -> tuple[str, list[str]]:
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^steps\s*:", line):
            return "\n".join(lines[:number]) + "\n", lines[number + 1 :]
    raise OracleError("no steps: line")


def _step_yaml(step: source.StepSpec, claim: str | None = None, chain: list[str] | None = None, keep_where: bool = True) -> str:
    out = ["steps:"]
    first = "  - "
    if step.id is not None:
        out.append(f"{first}id: {step.id.value}")
        first = "    "
    if claim is not None:
        out.append(f"{first}claim: {json.dumps(claim)}")
    else:
        out.append(f"{first}chain: [{', '.join(json.dumps(item) for item in chain or [])}]")
    if keep_where and step.where:
        out.append(f"    where: [{', '.join(json.dumps(w.value) for w in step.where)}]")
    return "\n".join(out) + "\n"


def _original_step(step: source.StepSpec) -> str:
    if step.claim is not None:
        return _step_yaml(step, claim=step.claim.value)
    return _step_yaml(step, chain=[link.expr.value for link in step.chain])


def _names(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _step_text(step: source.StepSpec) -> str:
    return step.claim.value if step.claim is not None else " ".join(link.expr.value for link in step.chain)


def _users(name: str, heads: dict[str, source.Definition]) -> set[str]:
    """`name` and every definition that uses it, directly or not."""
    found = {name}
    changed = True
    while changed:
        changed = False
        for other, definition in heads.items():
            if other not in found and _names(definition.body.value) & found:
                found.add(other)
                changed = True
    return found


def mutants_of(path: Path) -> list[Mutant]:
    """Every mutant of a derivation file: one step (mutated, or with a mutated header)."""
    text = path.read_text(encoding="utf-8")
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        return []
    header, _ = _header_and_steps(text)
    ranges: dict[str, list[str]] = {}
    for decl in derivation.indices:
        ranges.setdefault(f"{decl.low.value}..{decl.high.value}", []).append(decl.name.value)
    groups = [names for names in ranges.values() if len(names) > 1]
    size_names = [s.value for s in derivation.sizes]
    found: list[Mutant] = []
    for step in derivation.steps:
        label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
        expect = _expect(step)
        if step.claim is not None:
            for kind, description, new in expression_mutations(step.claim.value, groups, size_names):
                found.append(Mutant(str(path), f"{label}: {description}", header + _step_yaml(step, claim=new), kind, expect))
        else:
            items = [link.expr.value for link in step.chain]
            for position, item in enumerate(items):
                for kind, description, new in expression_mutations(item, groups, size_names):
                    changed = items[:position] + [new] + items[position + 1 :]
                    found.append(Mutant(str(path), f"{label}, chain item {position + 1}: {description}", header + _step_yaml(step, chain=changed), kind, expect))
        if step.where:
            found.append(Mutant(str(path), f"{label}: dropped where: {', '.join(w.value for w in step.where)}", header + _step_yaml(step, claim=step.claim.value if step.claim else None, chain=None if step.claim else [l.expr.value for l in step.chain], keep_where=False), "dropped-where", expect))
    # Header mutations, each paired with every step (the pairs are sampled later).
    header_lines = header.splitlines()
    heads = {exprparse.parse_head(d.head.value)[0]: d for d in derivation.definitions}
    for name, definition in heads.items():
        body = definition.body
        if not body.exact:
            continue
        line = header_lines[body.span.line - 1]
        start = body.span.col - 1
        assert line[start : start + len(body.value)] == body.value
        users = _users(name, heads)
        affected = [step for step in derivation.steps if _names(_step_text(step)) & users]
        # An index renamed in a definition body almost always leaves it a stray free index.
        for _kind, description, new in expression_mutations(body.value, [], size_names):
            changed = list(header_lines)
            changed[body.span.line - 1] = line[:start] + new + line[start + len(body.value) :]
            for step in affected:
                label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
                found.append(Mutant(str(path), f"{label} under the definition of {definition.head.value}: {description}", "\n".join(changed) + "\n" + _original_step(step), "definition", _expect(step)))
    for assumption in derivation.assumptions:
        changed = [line for number, line in enumerate(header_lines, start=1) if number != assumption.name.span.line]
        if not any(a is not assumption for a in derivation.assumptions):
            changed = [line for line in changed if not re.match(r"^assumptions\s*:", line)]
        for step in derivation.steps:
            label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
            found.append(Mutant(str(path), f"{label}: dropped the assumption {assumption.name.value}", "\n".join(changed) + "\n" + _original_step(step), "dropped-assumption", _expect(step)))
    return found


def _expect(step: source.StepSpec) -> str | None:
    """The step's `expect:` in the original file. A mutant never carries it (its step is written
    without `expect:`), so derivcheck's verdict on the mutant is the plain one."""
    return "refuted" if step.expect_refuted else step.expect_error


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    mutant: Mutant
    judgements: dict[str, Judgement]
    verdicts: dict[str, str]
    note: str = ""
    methods: dict[str, str] = field(default_factory=dict)  # derivcheck's method line, by claim

    @property
    def different(self) -> list[str]:
        return [n for n, j in self.judgements.items() if j.status == "different"]

    @property
    def false_passes(self) -> list[str]:
        return [n for n in self.different if self.verdicts.get(n) in ("proved", "checked")]

    @property
    def false_refutations(self) -> list[str]:
        """Claims the oracle finds equal at every point and derivcheck refuted. A refutation
        comes with a verified counterexample, so one of the two is wrong: reported, not failed."""
        return [n for n, j in self.judgements.items() if j.status == "equivalent" and self.verdicts.get(n) == "refuted"]

    @property
    def timeouts(self) -> list[str]:
        return [n for n in self.different if self.verdicts.get(n) == "undecided" and self.methods.get(n, "").startswith("time-out")]

    @property
    def kind(self) -> str:
        if self.note:
            return "skipped"
        if self.false_passes:
            return "false-pass"
        if self.different:
            verdicts = [self.verdicts.get(n) for n in self.different]
            if all(v == "refuted" for v in verdicts):
                return "killed"
            if "error" in verdicts:
                return "error"
            return "undecided"
        if self.judgements and all(j.status == "equivalent" for j in self.judgements.values()):
            return "equivalent"
        return "ill-formed"


NON_EQUIVALENT = ("killed", "error", "undecided", "false-pass")
JUDGED = NON_EQUIVALENT + ("equivalent",)


def run_mutant(mutant: Mutant, seed: int, timeout: float) -> Outcome:
    from derivcheck.run.claims import check_file

    with tempfile.TemporaryDirectory(prefix="soundness-") as work:
        path = Path(work) / Path(mutant.file).name
        path.write_text(mutant.text, encoding="utf-8")
        try:
            judgements = judge_file(path, seed)
        except (OracleError, ParseError, Exception) as exc:  # noqa: BLE001 - a mutant the oracle cannot read
            return Outcome(mutant, {}, {}, note=f"oracle: {type(exc).__name__}: {exc}")
        result = check_file(path, timeout=timeout)
        verdicts = {step.number: step.verdict.value for step in result.steps}
        methods = {step.number: step.method for step in result.steps}
        if result.problems:
            verdicts = {n: "error" for n in judgements}
        return Outcome(mutant, judgements, verdicts, methods=methods)


def _run_one(args: tuple[Mutant, int, float]) -> Outcome:
    return run_mutant(*args)


def oracle_reads(mutant: Mutant) -> bool:
    """Whether the oracle can read the mutant, with at least one claim well-formed on its face
    (both sides scalar or both matrices, the same free indices). A mutant that fails this could
    only come out skipped or ill-formed: it can never be judged, so a budget is not spent on it."""
    with tempfile.TemporaryDirectory(prefix="soundness-") as work:
        path = Path(work) / Path(mutant.file).name
        path.write_text(mutant.text, encoding="utf-8")
        try:
            derivation, problems = source.load_derivation(path)
            if derivation is None or problems:
                return False
            model = build_model(derivation)
            claims = claims_of(derivation, model)
            return any(
                isinstance(lhs, MatrixValue) == isinstance(rhs, MatrixValue) and _free(lhs, model) == _free(rhs, model)
                for _, lhs, rhs, _ in claims
            )
        except Exception:  # noqa: BLE001 - whatever the oracle cannot read
            return False


def spread(mutants: list[Mutant], count: int, rng: random.Random, accept: Callable[[Mutant], bool] = lambda m: True) -> tuple[list[Mutant], int]:
    """`count` mutants drawn round-robin across mutation kinds (in a random order, each kind's
    mutants shuffled), skipping those `accept` refuses; and how many were refused."""
    groups: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        groups.setdefault(mutant.kind, []).append(mutant)
    kinds = sorted(groups)
    for kind in kinds:
        rng.shuffle(groups[kind])
    rng.shuffle(kinds)
    chosen: list[Mutant] = []
    refused = 0
    while len(chosen) < count and any(groups.values()):
        for kind in kinds:
            if len(chosen) >= count:
                break
            if groups[kind]:
                mutant = groups[kind].pop()
                if accept(mutant):
                    chosen.append(mutant)
                else:
                    refused += 1
    return chosen, refused


def select(files: list[Path], *, max_mutants: int = 60, per_file: int | None = None, seed: int = 1) -> tuple[list[Mutant], dict[str, int]]:
    """The mutants to run, and for each file how many drawn mutants were set aside because the
    oracle cannot read them (per-file mode only). With `per_file`, each file gets that many,
    spread across kinds, from a generator seeded by `seed` and the file's name; otherwise
    `max_mutants` are sampled from the pool of all files together."""
    if per_file is None:
        pool: list[Mutant] = []
        for path in files:
            pool.extend(mutants_of(path))
        rng = random.Random(seed)
        return (pool if len(pool) <= max_mutants else rng.sample(pool, max_mutants)), {}
    chosen: list[Mutant] = []
    set_aside: dict[str, int] = {}
    for path in files:
        picked, refused = spread(mutants_of(path), per_file, random.Random(f"{seed}:{path.name}"), accept=oracle_reads)
        chosen.extend(picked)
        set_aside[str(path)] = refused
    return chosen, set_aside


def execute(chosen: list[Mutant], *, seed: int, jobs: int, timeout: float) -> list[Outcome]:
    tasks = [(mutant, seed + number, timeout) for number, mutant in enumerate(chosen)]
    if jobs > 1:
        # Not multiprocessing.Pool: its workers are daemons, which may not fork derivcheck's own.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as workers:
            return list(workers.map(_run_one, tasks))
    return [_run_one(task) for task in tasks]


def run(files: list[Path], *, max_mutants: int = 60, per_file: int | None = None, seed: int, jobs: int, timeout: float) -> list[Outcome]:
    chosen, _ = select(files, max_mutants=max_mutants, per_file=per_file, seed=seed)
    return execute(chosen, seed=seed, jobs=jobs, timeout=timeout)


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    kinds = [o.kind for o in outcomes]
    claims_different = sum(len(o.different) for o in outcomes)
    return {
        "mutants": len(outcomes),
        "judged": sum(1 for k in kinds if k in JUDGED),
        "non_equivalent": sum(1 for k in kinds if k in NON_EQUIVALENT),
        "killed": kinds.count("killed"),
        "error": kinds.count("error"),
        "undecided": kinds.count("undecided"),
        "undecided_or_error": kinds.count("error") + kinds.count("undecided"),
        "timeouts": sum(1 for o in outcomes if o.timeouts),
        "false_passes": kinds.count("false-pass"),
        "equivalent": kinds.count("equivalent"),
        "ill_formed": kinds.count("ill-formed"),
        "skipped": kinds.count("skipped"),
        "non_equivalent_of_expect_steps": sum(1 for o in outcomes if o.kind in NON_EQUIVALENT and o.mutant.expect),
        "false_refutations": sum(1 for o in outcomes if o.false_refutations),
        "claims_different": claims_different,
        "claims_refuted": sum(1 for o in outcomes for n in o.different if o.verdicts.get(n) == "refuted"),
        "claims_false_passes": sum(len(o.false_passes) for o in outcomes),
    }


def per_file(files: list[Path], outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """summary() for each file, in the order given (a file with no mutant has a row of zeros)."""
    return {str(path): summary([o for o in outcomes if o.mutant.file == str(path)]) for path in files}


def vacuous(files: list[Path], outcomes: list[Outcome]) -> list[str]:
    """The files no mutant of which the oracle judged: a run over them proves nothing."""
    return [name for name, figures in per_file(files, outcomes).items() if figures["judged"] == 0]


def _label(name: str) -> str:
    path = Path(name)
    try:
        return str(path.resolve().relative_to(ROOT / "derivations"))
    except ValueError:
        return str(path)


_TABLE = (
    ("made", "mutants"), ("judged", "judged"), ("non-eq", "non_equivalent"), ("refuted", "killed"),
    ("error", "error"), ("undecided", "undecided"), ("FALSE PASS", "false_passes"),
    ("equiv", "equivalent"), ("not judged", None), ("set aside", None),
)


def report(outcomes: list[Outcome], elapsed: float, out=None, *, files: list[Path] | None = None, set_aside: dict[str, int] | None = None) -> None:
    figures = summary(outcomes)
    set_aside = set_aside or {}
    w = (out or sys.stdout).write
    w(f"soundness: {figures['mutants']} mutants in {elapsed:.0f} s\n")
    rows = per_file(files, outcomes) if files else {}
    rows["total"] = figures
    width = max(len(_label(name)) for name in rows)
    w("\n" + "file".ljust(width) + "".join(f"  {title:>{len(title)}}" for title, _ in _TABLE) + "\n")
    for name, row in rows.items():
        aside = sum(set_aside.values()) if name == "total" else set_aside.get(name, 0)
        values = [row[key] if key else (row["ill_formed"] + row["skipped"] if title == "not judged" else aside) for title, key in _TABLE]
        label = name if name == "total" else _label(name)
        w(label.ljust(width) + "".join(f"  {value:>{len(title)}}" for (title, _), value in zip(_TABLE, values)) + "\n")
    w("\n")
    w("  made: mutants run; judged: the oracle decided equal or not (not judged: ill-formed or unreadable);\n")
    w("  non-eq: wrong by the oracle, each refuted, error or undecided by derivcheck, or a FALSE PASS;\n")
    w("  set aside: drawn, but the oracle cannot read them (per-file mode), so not counted as made.\n")
    w(f"  non-equivalent mutants of steps marked `expect:` (wrong before the mutation): {figures['non_equivalent_of_expect_steps']}\n")
    w(f"  time-outs among the undecided: {figures['timeouts']}\n")
    w(f"  refuted by derivcheck though the oracle finds them equal: {figures['false_refutations']}\n")
    w(f"  claims: {figures['claims_different']} non-equivalent, {figures['claims_refuted']} refuted, "
      f"{figures['claims_false_passes']} false passes\n")
    for title, test in (
        ("FALSE PASS", lambda o: o.kind == "false-pass"),
        ("not killed (error)", lambda o: o.kind == "error"),
        ("not killed (undecided)", lambda o: o.kind == "undecided"),
        ("refuted, oracle equal", lambda o: bool(o.false_refutations)),
        ("equivalent", lambda o: o.kind == "equivalent"),
        ("skipped", lambda o: o.kind == "skipped"),
    ):
        for outcome in outcomes:
            if not test(outcome):
                continue
            w(f"\n{title}: {_label(outcome.mutant.file)}: {outcome.mutant.description}\n")
            if outcome.mutant.expect:
                w(f"  (the original step is marked expect: {outcome.mutant.expect})\n")
            if outcome.note:
                w(f"  {outcome.note}\n")
            for number, judgement in outcome.judgements.items():
                method = outcome.methods.get(number, "")
                w(f"  claim {number}: derivcheck {outcome.verdicts.get(number, '?')}{f' ({method})' if method else ''}; "
                  f"oracle {judgement.status} ({judgement.detail})\n")
            if title == "FALSE PASS":
                w("  the mutated file:\n" + "".join(f"    {line}\n" for line in outcome.mutant.text.splitlines()))


def derivation_files(paths: list[Path]) -> list[Path]:
    """The files given, with each folder replaced by the .yaml files under it (sorted)."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.yaml")) if path.is_dir() else [path])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--files", nargs="+", type=Path, default=[ROOT / "derivations"],
                        help="derivation files or folders (searched recursively); default: derivations/")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--max-mutants", type=int, default=60, help="mutants sampled from all files together")
    budget.add_argument("--per-file", type=int, help="mutants for each file, spread across mutation kinds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0, help="derivcheck's limit per claim, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures and every outcome as JSON")
    args = parser.parse_args(argv)
    files = derivation_files(args.files)
    start = time.monotonic()
    chosen, set_aside = select(files, max_mutants=args.max_mutants, per_file=args.per_file, seed=args.seed)
    outcomes = execute(chosen, seed=args.seed, jobs=args.jobs, timeout=args.timeout)
    elapsed = time.monotonic() - start
    report(outcomes, elapsed, files=files, set_aside=set_aside)
    figures = summary(outcomes)
    empty = vacuous(files, outcomes)
    if args.json:
        args.json.write_text(json.dumps({
            "figures": figures,
            "files": per_file(files, outcomes),
            "set_aside": set_aside,
            "seconds": round(elapsed, 1),
            "outcomes": [
                {"file": o.mutant.file, "mutation": o.mutant.description, "mutation_kind": o.mutant.kind,
                 "original_expect": o.mutant.expect, "kind": o.kind, "note": o.note,
                 "claims": {n: {"derivcheck": o.verdicts.get(n), "method": o.methods.get(n), "oracle": j.status, "detail": j.detail}
                            for n, j in o.judgements.items()}}
                for o in outcomes
            ],
        }, indent=2))
    failed = False
    if figures["false_passes"]:
        print(f"\nFAILED: {figures['false_passes']} false pass(es): derivcheck passed a claim the oracle finds wrong")
        failed = True
    for name in empty:
        print(f"FAILED: no mutant of {_label(name)} was judged by the oracle")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
