"""Soundness harness: mutate the derivations, judge each mutant with an independent oracle, and
count how derivcheck does on them. A false pass (a wrong claim reported proved or checked)
must never happen.

    python scripts/soundness.py --per-file 12 --seed 1 --jobs 2 --timeout 60     # CI's run
    python scripts/soundness.py --files derivations/*.yaml --max-mutants 60 --seed 1 --jobs 2

Mutants: each is the file's header and one step, with one change: a sign flipped, '+' and '-'
exchanged, a term or factor dropped, the sides of a difference swapped, a constant changed,
exp/log (sin/cos, tanh/sigmoid) exchanged, a minus dropped, an index or size renamed at one
place, a transpose dropped, a `where:` dropped, an assumption dropped, or one of these in a
definition the step uses. And the classes of issue 11: a Sum's limit moved, its range
reversed, emptied, started at an index or at its own variable (limit); log(u) or sqrt(u) of -u
(negated-argument); exp(u) as exp(2*u)**(1/2) or exp(u/2)**2, u**n as (u**(2*n))**(1/2)
(power); a side times ((exp(100) + 1)*(exp(100) - 1) - exp(200) + 2), which is 1, or + 3
(cancellation); a `where:` that restricts nothing (vacuous-where); an assumption no point meets
with the others, a fact about a defined quantity, a variable both positive and negative
(contradictory-fact). `--per-file N` gives every file N mutants, drawn round-robin across
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
no false-pass question; if derivcheck refuted it, the oracle evaluates the sides at exactly
derivcheck's counterexample, and a counterexample that is not admissible, or where the sides
agree, is a FALSE REFUTATION.

The report has one row per file, one per kind of mutation, and a total: mutants made, judged by
the oracle, non-equivalent (wrong) by the oracle, and how derivcheck did on those: refuted,
error, undecided (time-outs counted), FALSE PASS; the steps the format makes errors (must-err),
and those derivcheck did not report with the code the format gives (MISSED). The exit status is
1 on a false pass, a false refutation, a missed error, or a file given with no judged mutant (a
file no mutant of which was judged was not tested); otherwise 0.

The oracle shares no code with derivcheck/engine/: it reads a file with derivcheck.source,
parses expressions with derivcheck.exprparse (and the matrix notation, and LaTeX, it compiles),
and then evaluates both sides of every claim itself, with mpmath: sums unrolled (an upper limit
below the lower one is an empty sum, 0), definitions expanded, `Derivative(F, v)` taken
numerically (mpmath.diff) with v's family held as independent variables, exactly as
docs/format.md defines it. Values are real or complex (mpc), on SymPy's principal branches; a
complex value a rounding away from the branch cut of log or of a fractional power is not
evaluated (its branch cannot be told). The sides are computed at 50 digits, and again with
twice the digits while the rounding error (the largest term a sum added, times 10**-digits) is
too large to tell them apart, up to 1600: e**200 that cancels to -1 is seen to, and a point
still unresolved is not evaluated. Points are admissible: sizes distinct in 2..4 (in random
order), then once in 5..7, beyond the sizes derivcheck's concrete checks try, each at least its
declared least value (N: {min: 3}); the facts on a family sampled together (one-hot with sums,
several sums solved exactly), signs of declared variables respected. A claim is non-equivalent
when the sides differ somewhere by more than 1e-20 relative to the larger and more than the
rounding error. The oracle also reads, by itself, what the format makes an error: a `where:`
no values meet or about no free index, facts no point meets at any size tried, a variable both
positive and negative, facts about defined quantities or with indices in their limits, a Sum
whose range names its own variable (read from the text's syntax tree).
"""

from __future__ import annotations

import argparse
import ast
import functools
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
from fractions import Fraction
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

DIGITS = 50  # the first precision; the oracle raises it where cancellation leaves too few digits
MAX_DIGITS = 1600  # a point not resolved by this precision is not evaluated (not a judgement)
TOLERANCE = mpmath.mpf("1e-20")  # sides differ by more than this, relative to the larger (see _differs)
STABLE = mpmath.mpf("1e-25")  # a side is resolved when its rounding error is below this
NEAR_CUT = 0.6  # an argument within 10**(-0.6*digits) of the negative reals: its branch is unknown
SIZE_ASSIGNMENTS = 3
LARGE_SIZE_ASSIGNMENTS = 1  # at sizes from 5 up: past every size derivcheck tries
POINTS_PER_PATTERN = 2
MAX_PATTERNS = 24


class OracleError(Exception):
    """The oracle cannot judge this claim (an unsupported form, an index out of range)."""


class MustError(OracleError):
    """The format makes this file or step an error (docs/format.md): derivcheck must say so."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Unresolved(ArithmeticError):
    """The oracle cannot evaluate this point: a branch it cannot tell, or a value that does not
    settle as the precision grows. Not a judgement either way."""


class NoPoint(Exception):
    """No admissible point at these sizes: the facts, with the signs, are not met together."""


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
    minima: dict[sympy.Symbol, int] = field(default_factory=dict)  # a size's declared least value


_CLASHES = (("positive", "negative"), ("nonnegative", "negative"))


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
    minima = {names[name]: int(least.value) for name, least in getattr(derivation, "minima", ()) if name in names}
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
        for first, second in _CLASHES:
            if first in var.assume and second in var.assume:
                raise MustError("contradictory-assumptions", f"{var.name.value} is declared {first} and {second}")
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
    for text in [d.body.value for d in derivation.definitions] + [a.statement.value for a in derivation.assumptions]:
        why = _own_index_in_limits(text)
        if why:
            raise MustError("bound-index-in-limits", why)
    layout = getattr(derivation, "layout", "denominator")
    definitions, def_shapes = _read_definitions(derivation, names, families, shapes, ranges, index_names, layout)
    scope = Scope(names=names, families=families, indices=frozenset(index_names), shapes=shapes, **_layout(layout))
    model = Model(scope, sizes, ranges, variables, definitions, def_shapes, minima=minima)
    for assumption in derivation.assumptions:
        _read_fact(model, assumption.statement.value)
    return model


def _read_definitions(derivation: source.Derivation, names: dict, families: dict, shapes: dict, ranges: dict, index_names: set[str], layout: str) -> tuple[dict, dict]:
    """Each definition's parameters and body; bare matrix definitions get their shape from
    their body, so the bodies are parsed until nothing changes."""
    heads = {}
    for definition in derivation.definitions:
        name, params = exprparse.parse_head(definition.head.value)
        heads[name] = (params, definition.body.value)
        if params:
            families[name] = (sympy.IndexedBase(name, real=True), len(params))
            shapes[name] = tuple(ranges[names[p]][1] for p in params)
    definitions: dict[str, tuple[tuple[sympy.Symbol, ...], sympy.Expr]] = {}
    pending = dict(heads)
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
    return definitions, {name: shapes[name] for name in definitions if name in shapes}


def _layout(layout: str) -> dict[str, str]:
    return {"layout": layout} if "layout" in Scope.__dataclass_fields__ else {}


def _read_fact(model: Model, text: str) -> None:
    """A fact the oracle samples by (one-hot, or a Sum of a family's entries); a fact the format
    refuses (about a defined quantity, limits or a value that are not numbers and sizes) is
    MustError; anything else, OracleError."""
    match = re.fullmatch(r"\s*one_hot\(\s*([A-Za-z]\w*)\s*\)\s*", text)
    if match:
        name = match.group(1)
        if name in model.definitions:
            raise MustError("unsupported-assumption", f"one_hot({name}) is about a defined quantity")
        if name not in model.variables or len(model.variables[name].shape) not in (1, 2):
            raise OracleError(f"one_hot({name}) is not about a vector or matrix variable")
        model.one_hot.append(name)
        return
    lhs, rhs = exprparse.parse_equation(text, model.scope)
    if isinstance(lhs, sympy.Sum) and len(lhs.limits) == 1 and isinstance(lhs.function, sympy.Indexed):
        var, low, high = lhs.limits[0]
        entry = lhs.function
        name = str(entry.base.label)
        if name in model.definitions:
            raise MustError("unsupported-assumption", f"{text!r} is about a defined quantity")
        loose = (sympy.sympify(low).free_symbols | sympy.sympify(high).free_symbols | sympy.sympify(rhs).free_symbols) - set(model.sizes)
        if loose:
            raise MustError("unsupported-assumption", f"{text!r} has {sorted(map(str, loose))} in its limits or value")
        if name in model.variables and var in entry.indices:
            model.sums.append((name, entry.indices.index(var), low, high, rhs))
            return
    raise OracleError(f"the oracle does not understand the assumption {text!r}")


def _mpf(value: object) -> object:
    """A stored value at the precision in force (exact fractions stay exact at every precision)."""
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return value


def draw_value(sign: str, rng: random.Random) -> Fraction:
    """A random value of a variable's entry with its sign: |v| in [0.2, 2], exactly a float."""
    value = Fraction(rng.uniform(0.2, 2.0))
    if sign == "negative" or (sign == "real" and rng.random() < 0.5):
        value = -value
    if sign == "nonnegative" and rng.random() < 0.1:
        value = Fraction(0)
    return value


def _sign_holds(value: Fraction, sign: str) -> bool:
    return {"positive": value > 0, "nonnegative": value >= 0, "negative": value < 0}.get(sign, True)


class Point:
    """One admissible point: sizes, and values for variable entries (drawn on first use). The
    entries a fact constrains are drawn first, meeting every fact on their family at once."""

    def __init__(self, model: Model, sizes: dict[sympy.Symbol, int], rng: random.Random) -> None:
        self.model = model
        self.sizes = sizes
        self.rng = rng
        self.values: dict[tuple[str, tuple[int, ...]], object] = {}
        for name in sorted(set(model.one_hot) | {fact[0] for fact in model.sums}):
            self.values.update(((name, index), value) for index, value in self._facts(name).items())

    def _facts(self, name: str) -> dict[tuple[int, ...], Fraction]:
        shape = self.shape(name)
        lines: list[tuple[list[tuple[int, ...]], Fraction]] = []
        for family, position, low, high, value in self.model.sums:
            if family != name:
                continue
            lo, hi = self.integer(low), self.integer(high)
            if lo <= hi and (lo < 1 or hi > shape[position]):
                raise NoPoint(f"a fact names entries of {name} outside its shape {shape}")
            total = self.exact(value)
            others = range(1, shape[1 - position] + 1) if len(shape) == 2 else [None]
            for other in others:
                line = [(k,) if other is None else ((k, other) if position == 0 else (other, k)) for k in range(lo, hi + 1)]
                lines.append((line, total))
        sign = self.model.variables[name].sign
        if name in self.model.one_hot:
            return _one_hot_sample(name, shape, lines, sign, self.rng)
        return _linear_sample(name, lines, sign, self.rng)

    def integer(self, expr: sympy.Expr) -> int:
        value = sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in self.sizes.items()})
        if not value.is_Integer:
            raise OracleError(f"{expr} is not an integer at these sizes")
        return int(value)

    def exact(self, expr: sympy.Expr) -> Fraction:
        value = sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in self.sizes.items()})
        if not value.is_Rational:
            raise OracleError(f"the value {expr} of a fact is not a rational number")
        return Fraction(int(value.p), int(value.q))

    def number(self, expr: sympy.Expr) -> mpmath.mpf:
        return Evaluator(self).ev(expr, {})

    def shape(self, name: str) -> tuple[int, ...]:
        fam_shape = self.model.variables[name].shape if name in self.model.variables else self.model.def_shapes[name]
        return tuple(self.integer(dim) for dim in fam_shape)

    def variable(self, name: str, index: tuple[int, ...]) -> object:
        key = (name, index)
        if key not in self.values:
            self.values[key] = draw_value(self.model.variables[name].sign, self.rng)
        return _mpf(self.values[key])


def _one_hot_sample(name: str, shape: tuple[int, ...], lines: list, sign: str, rng: random.Random) -> dict[tuple[int, ...], Fraction]:
    """A one-hot vector (a matrix: one-hot down each column) that meets the sum facts too."""
    if sign == "negative" or (sign == "positive" and shape[0] > 1):
        raise NoPoint(f"a one-hot {name} has entries 0 and 1, and {name} is {sign}")
    columns: list[tuple[int, ...]] = [()] if len(shape) == 1 else [(c,) for c in range(1, shape[1] + 1)]
    rows = list(range(1, shape[0] + 1))
    choices = [[hot] for hot in rng.sample(rows, len(rows))] if len(shape) == 1 else [[rng.choice(rows) for _ in columns] for _ in range(200)]
    for hots in choices:
        values = {(row, *column): Fraction(int(row == hot)) for hot, column in zip(hots, columns) for row in rows}
        if all(sum(values[index] for index in line) == total for line, total in lines):
            return values
    raise NoPoint(f"no one-hot {name} meets its sum facts")


def _linear_sample(name: str, lines: list, sign: str, rng: random.Random) -> dict[tuple[int, ...], Fraction]:
    """Exact values meeting linear sum facts (reduced by Gauss-Jordan elimination): the free
    entries drawn at random, smaller on each try, 0 on the last, until the signs hold."""
    if any(not line and total != 0 for line, total in lines):
        raise NoPoint(f"an empty sum of {name} is 0, not what a fact says")
    entries, rows, pivots = _reduced(tuple((tuple(line), total) for line, total in lines if line))
    if any(all(v == 0 for v in row[:-1]) and row[-1] != 0 for row in rows):
        raise NoPoint(f"the sum facts of {name} contradict each other")
    free = [c for c in range(len(entries)) if c not in pivots]
    for attempt in range(41):
        scale = Fraction(0) if attempt == 40 else Fraction(1, 2**attempt)
        values = {entries[c]: scale * draw_value(sign, rng) for c in free}
        for row, column in zip(rows, pivots):
            values[entries[column]] = row[-1] - sum(row[c] * values[entries[c]] for c in free)
        if all(_sign_holds(value, sign) for value in values.values()):
            return values
    raise NoPoint(f"no values of {name} with its sign meet its sum facts")


@functools.lru_cache(maxsize=256)
def _reduced(lines: tuple) -> tuple[list, list[list[Fraction]], list[int]]:
    """The entries the lines constrain, and the lines' equations reduced (the same at every
    point of a size assignment: computed once)."""
    entries = sorted({index for line, _ in lines for index in line})
    rows = [[Fraction(int(entry in line)) for entry in entries] + [total] for line, total in lines]
    return entries, rows, _reduce(rows)


def _reduce(rows: list[list[Fraction]]) -> list[int]:
    """Gauss-Jordan elimination in place: the pivot column of each leading row."""
    pivots: list[int] = []
    for column in range(len(rows[0]) - 1 if rows else 0):
        lead = next((r for r in range(len(pivots), len(rows)) if rows[r][column] != 0), None)
        if lead is None:
            continue
        top = len(pivots)
        rows[top], rows[lead] = rows[lead], rows[top]
        rows[top] = [v / rows[top][column] for v in rows[top]]
        for other in range(len(rows)):
            if other != top and rows[other][column] != 0:
                factor = rows[other][column]
                rows[other] = [a - factor * b for a, b in zip(rows[other], rows[top])]
        pivots.append(column)
    return pivots


def _near_cut(value: object) -> None:
    """Raise Unresolved for a complex value a hair off the negative reals: rounding may have put
    it on either side of the branch cut of log and of non-integer powers, so the principal value
    cannot be told. A real value (or an exactly real complex one) is on the cut, and its
    principal value is taken, as SymPy's."""
    if isinstance(value, mpmath.mpc) and value.imag != 0 and value.real < 0:
        if abs(value.imag) <= abs(value) * mpmath.mpf(10) ** (-NEAR_CUT * mpmath.mp.dps):
            raise Unresolved("a value on the branch cut, up to rounding")


def _magnitude(value: object) -> int | None:
    """About log2 |value| (None for 0): for measuring cancellation, cheaply."""
    if isinstance(value, mpmath.mpf):
        _sign, mantissa, exponent, bits = value._mpf_
        return exponent + bits if mantissa else None
    return None if value == 0 else int(mpmath.mag(value))


class Evaluator:
    """Values of expressions at a point, real or complex (mpmath mpf or mpc, principal
    branches as SymPy's); `held` replaces a family's entries (for derivatives). `scale` keeps
    about log2 of the largest term any sum added (at least 1), shared with the evaluators of
    derivatives: what a cancellation is measured against."""

    def __init__(self, point: Point, held: dict[str, Callable[[tuple[int, ...]], object]] | None = None, scale: list[int] | None = None) -> None:
        self.point = point
        self.held = held or {}
        self.memo: dict[tuple[str, tuple[int, ...]], object] = {}
        self.scale = scale if scale is not None else [0]
        self.derivatives = [False]  # whether a derivative was taken numerically (by mpmath.diff)

    def entry(self, name: str, index: tuple[int, ...]) -> object:
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
        if expr.is_Integer:
            return int(expr)
        if expr in env:
            return int(env[expr])
        value = self.ev(expr, env)
        if not isinstance(value, mpmath.mpf) or value != int(value):
            raise OracleError(f"index {expr} is not an integer")
        return int(value)

    def total(self, terms: list) -> object:
        """The sum of terms, noting the largest term (about log2 of it): the rounding error of a
        side is about that times 10**-digits, whatever cancelled after."""
        result = mpmath.fsum(terms)
        largest = max((m for m in map(_magnitude, terms) if m is not None), default=None)
        if largest is not None and largest > self.scale[0]:
            self.scale[0] = largest
        return result

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
        if e is sympy.I:
            return mpmath.mpc(0, 1)
        if isinstance(e, sympy.Symbol):
            if e in env:
                return mpmath.mpf(env[e])
            if e in self.point.sizes:
                return mpmath.mpf(self.point.sizes[e])
            return self.entry(e.name, ())
        if isinstance(e, sympy.Indexed):
            return self.entry(e.base.label.name, tuple(self.index(i, env) for i in e.indices))
        if isinstance(e, sympy.Add):
            return self.total([self.ev(a, env) for a in e.args])
        if isinstance(e, sympy.Mul):
            result = mpmath.mpf(1)
            for a in e.args:
                result *= self.ev(a, env)
            return result
        if isinstance(e, sympy.Pow):
            return self._power(self.ev(e.base, env), self.ev(e.exp, env))
        if isinstance(e, sympy.exp):
            return mpmath.exp(self.ev(e.args[0], env))
        if isinstance(e, sympy.log):
            value = self.ev(e.args[0], env)
            if value == 0:
                raise ZeroDivisionError("log of 0")
            _near_cut(value)
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

    @staticmethod
    def _power(base: object, exponent: object) -> object:
        """base**exponent: an integer power exactly, any other the principal branch
        exp(exponent*log(base)) (complex for a negative base), as SymPy's Pow."""
        if isinstance(exponent, mpmath.mpf) and exponent == int(exponent):
            if base == 0 and exponent < 0:
                raise ZeroDivisionError("0 to a negative power")
            return base ** int(exponent)
        if base == 0:
            if mpmath.re(exponent) > 0:
                return mpmath.mpf(0)
            raise ZeroDivisionError("0 to this power")
        _near_cut(base)
        return mpmath.power(base, exponent)

    def _sum(self, function: sympy.Expr, limits: list, env: dict):
        if not limits:
            return self.ev(function, env)
        var, low, high = limits[-1]  # the first limit is innermost; limits may use outer indices
        first, last = self.index(low, env), self.index(high, env)
        # An upper limit below the lower one: no terms, so 0 (docs/format.md; not SymPy's Karr
        # convention, where Sum(f, (k, a, b)) = -Sum(f, (k, b + 1, a - 1)) for b < a - 1).
        return self.total([self._sum(function, limits[:-1], {**env, var: k}) for k in range(first, last + 1)])

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
        self.entry(name, at)  # checks the entry is in range
        self.derivatives[0] = True

        def g(h):
            def held(index: tuple[int, ...]) -> object:
                value = self.entry(name, index)
                return value + h if index == at else value

            inner = Evaluator(self.point, {**self.held, name: held}, self.scale)
            return inner.ev(function, env)

        return mpmath.diff(g, mpmath.mpf(0))


@dataclass(frozen=True)
class Judgement:
    """The oracle on one claim: 'equivalent', 'different' (with where), 'ill-formed' (not
    judged), or 'must-error' (the format makes it an error; `code` is the problem's code)."""

    status: str
    detail: str = ""
    code: str = ""


def _step_claims(step: source.StepSpec, model: Model, skip: set[str] | None = None) -> list[tuple[str, object, object]]:
    """(number, lhs, rhs) for each claim of a step, numbered as derivcheck numbers them, but
    for the claims in `skip` (a chain item those need is not parsed)."""
    skip = skip or set()
    if step.claim is not None:
        if str(step.number) in skip:
            return []
        lhs, rhs = exprparse.parse_equation(step.claim.value, model.scope)
        return [(str(step.number), lhs, rhs)]
    needed = {p for position in range(1, len(step.chain)) if f"{step.number}.{position}" not in skip for p in (position - 1, position)}
    parsed = {p: exprparse.parse_expression(step.chain[p].expr.value, model.scope) for p in sorted(needed)}
    numbers = [(f"{step.number}.{p}", p) for p in range(1, len(step.chain))]
    return [(number, parsed[p - 1], parsed[p]) for number, p in numbers if number not in skip]


def _claim_numbers(step: source.StepSpec) -> list[str]:
    return [str(step.number)] if step.claim is not None else [f"{step.number}.{p}" for p in range(1, len(step.chain))]


def claims_of(derivation: source.Derivation, model: Model) -> list[tuple[str, object, object, list]]:
    """(number, lhs, rhs, where pairs) for every claim, as in derivcheck's numbering."""
    found = []
    for step in derivation.steps:
        unequal = [exprparse.parse_condition(c.value, model.scope) for c in step.where]
        found.extend((number, lhs, rhs, unequal) for number, lhs, rhs in _step_claims(step, model))
    return found


def _free(expr: object, model: Model) -> set[sympy.Symbol]:
    if isinstance(expr, MatrixValue):
        return set()
    return {s for s in expr.free_symbols if s in model.ranges}  # type: ignore[union-attr]


def _size_assignment(model: Model, rng: random.Random, large: bool) -> dict[sympy.Symbol, int]:
    """Distinct sizes in a random order: from 2 up (from 5 up when `large`, past every size
    derivcheck's concrete checks try), each shifted to respect its declared least value."""
    count = len(model.sizes)
    base = 5 if large else 2
    chosen = rng.sample(range(base, base + max(3, count)), count)
    return {size: max(base, model.minima.get(size, 1) + (3 if large else 0)) + value - base for size, value in zip(model.sizes, chosen)}


def judge(model: Model, lhs: object, rhs: object, unequal: list, rng: random.Random) -> Judgement:
    """Whether lhs = rhs holds at every admissible point tried. Points that cannot be
    evaluated (undefined, unresolved) are skipped; sizes where no point meets the facts too."""
    with mpmath.workdps(DIGITS):
        if isinstance(lhs, MatrixValue) != isinstance(rhs, MatrixValue):
            return Judgement("ill-formed", "a matrix and a scalar")
        free = sorted(_free(lhs, model) | _free(rhs, model), key=lambda s: s.name)
        if _free(lhs, model) != _free(rhs, model):
            return Judgement("ill-formed", "different free indices")
        evaluated = unmet = unresolved = met = 0
        assignments = [False] * SIZE_ASSIGNMENTS + [True] * LARGE_SIZE_ASSIGNMENTS
        for large in assignments:
            sizes = _size_assignment(model, rng, large)
            try:
                probe = Point(model, sizes, rng)
            except NoPoint:
                unmet += 1
                continue
            patterns = list(_patterns(free, unequal, model, probe))
            met += bool(patterns)
            if len(patterns) > MAX_PATTERNS:
                patterns = rng.sample(patterns, MAX_PATTERNS)
            for pattern in patterns:
                for _attempt in range(POINTS_PER_PATTERN):
                    try:
                        differs, left, right, where = _compare(Point(model, sizes, rng), lhs, rhs, pattern)
                    except Unresolved:
                        unresolved += 1
                        continue
                    except (ArithmeticError, ValueError, NoPoint):
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
        if unmet == len(assignments):
            return Judgement("must-error", "no values meet the assumptions at any size tried", "inconsistent-assumptions")
        if unequal and not met:
            return Judgement("must-error", "no index values meet the `where:` at any size tried", "vacuous-condition")
        if not evaluated:
            return Judgement("ill-formed", f"undefined or unresolved at every point tried ({unresolved} unresolved)")
        return Judgement("equivalent", f"{evaluated} points agree" + (f", {unresolved} unresolved" if unresolved else ""))


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
    if isinstance(lhs, MatrixValue) and isinstance(rhs, MatrixValue):
        rows, cols = point.integer(lhs.rows), point.integer(lhs.cols)
        if (rows, cols) != (point.integer(rhs.rows), point.integer(rhs.cols)):
            raise OracleError("shapes differ")
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                at = (sympy.Integer(r), sympy.Integer(c))
                differs, left, right = decide(point, lhs.at(*at), rhs.at(*at), pattern)
                if differs:
                    return True, left, right, f", entry ({r}, {c})"
        return False, None, None, ""
    differs, left, right = decide(point, lhs, rhs, pattern)  # type: ignore[arg-type]
    return differs, left, right, ""


def decide(point: Point, lhs: sympy.Expr, rhs: sympy.Expr, pattern: dict) -> tuple[bool, object, object]:
    """Whether the sides differ at this point, and their values.

    The sides are resolved at a precision when the rounding error, about the largest term any
    sum added times 10**-digits, is below STABLE (relative to max(1, |side|)): a large
    exponential that cancels exactly is computed again with more digits until it is seen to
    cancel. An agreement is taken at the first precision that resolves it; a difference only
    when the next precision, twice the digits, gives the same values (a difference made of
    rounding is not reported). Sides too small to tell apart from the rounding error (7e-53
    and -7e-53 at 50 digits) are computed again too: a gap that shrinks with the precision is
    rounding, one that stays is a difference. Not resolved by MAX_DIGITS: Unresolved, and the
    point is not evaluated."""
    digits, previous, gap_before = DIGITS, None, None
    while digits <= MAX_DIGITS:
        with mpmath.workdps(digits):
            evaluator = Evaluator(point)
            left, right = evaluator.ev(lhs, dict(pattern)), evaluator.ev(rhs, dict(pattern))
            noise = evaluator.scale[0] * 0.30103 + 3 - digits  # about log10 of the rounding error
            # Below this the sides are not told apart: the rounding error, or for a derivative
            # taken by finite differences, 10**(-0.4*digits) (1e-20 at the first precision).
            floor = mpmath.mpf(10) ** (-0.4 * digits if evaluator.derivatives[0] else noise + 3)
            differs = _differs(left, right, floor)
            size = max(0, _magnitude(left) or 0, _magnitude(right) or 0)
            resolved = noise - size * 0.30103 <= -25
            if resolved and not evaluator.derivatives[0] and left != right and max(abs(left), abs(right)) <= floor * 10**10:
                gap = abs(left - right)
                if gap_before is not None and gap <= gap_before * mpmath.mpf(10) ** (-digits / 4):
                    return False, left, right  # the gap shrinks as the digits grow: rounding
                gap_before, previous, digits = gap, None, digits * 2
                continue
            if resolved and not differs:
                return False, left, right
            if resolved and previous is not None and _stable(previous, (left, right)):
                return True, left, right
        previous = (left, right) if resolved else None
        digits *= 2
    raise Unresolved(f"the sides are not resolved by {MAX_DIGITS} digits")


def _stable(before: tuple, after: tuple) -> bool:
    return all(abs(old - new) <= STABLE * max(mpmath.mpf(1), abs(new)) for old, new in zip(before, after))


def _differs(left, right, floor: object = TOLERANCE) -> bool:
    """Whether the sides differ by more than TOLERANCE relative to the larger, and by more than
    `floor`, what the precision cannot tell from 0 (1e-20 unless the caller knows better)."""
    for value in (left, right):
        if not mpmath.isfinite(value):
            raise ValueError("not finite")
    return abs(left - right) > max(floor, TOLERANCE * max(abs(left), abs(right)))  # type: ignore[call-overload]


def _own_index_in_limits(text: str) -> str | None:
    """A Sum whose range names a variable it sums over (`Sum(f, (k, k, N))`), read from the
    text by the oracle itself: the format makes it an error (bound-index-in-limits)."""
    for side in text.split("="):
        try:
            tree = ast.parse(side.strip(), mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Sum"):
                continue
            limits = [arg for arg in node.args[1:] if isinstance(arg, ast.Tuple) and len(arg.elts) == 3]
            bound = [limit.elts[0].id for limit in limits if isinstance(limit.elts[0], ast.Name)]
            for position, limit in enumerate(limits):
                named = {n.id for part in limit.elts[1:] for n in ast.walk(part) if isinstance(n, ast.Name)} & set(bound[: position + 1])
                if named:
                    return f"the range {ast.unparse(limit)} names {sorted(named)[0]}, which the Sum sums over"
    return None


def _own_index_claims(step: source.StepSpec) -> dict[str, str]:
    """The claims of a step (a chain's links next to a bad item) with a Sum whose range names
    its own variable, and why."""
    if step.claim is not None:
        why = _own_index_in_limits(step.claim.value)
        return {str(step.number): why} if why else {}
    bad = [_own_index_in_limits(link.expr.value) for link in step.chain]
    return {f"{step.number}.{p}": bad[p - 1] or bad[p] for p in range(1, len(bad)) if bad[p - 1] or bad[p]}  # type: ignore[misc]


def _vacuous_where(unequal: list, claims: list, model: Model) -> str | None:
    """A `where:` that restricts nothing: `k != k`, or an index free in no claim of the step."""
    free = set().union(*(_free(lhs, model) | _free(rhs, model) for _, lhs, rhs in claims)) if claims else set()
    for a, b in unequal:
        if a == b:
            return f"{a} != {b} never holds"
        missing = [index for index in (a, b) if index not in free]
        if missing:
            return f"{missing[0]} is not a free index of the step"
    return None


def judge_file(path: Path, seed: int) -> dict[str, Judgement]:
    """The oracle on every claim of a derivation file, by claim number."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        raise OracleError("the file does not load: " + "; ".join(p.message for p in problems))
    try:
        model = build_model(derivation)
    except MustError as exc:
        return {n: Judgement("must-error", str(exc), exc.code) for step in derivation.steps for n in _claim_numbers(step)}
    rng = random.Random(seed)
    found: dict[str, Judgement] = {}
    for step in derivation.steps:
        own = _own_index_claims(step)
        found.update({n: Judgement("must-error", why, "bound-index-in-limits") for n, why in own.items()})
        try:
            unequal = [exprparse.parse_condition(c.value, model.scope) for c in step.where]
            claims = _step_claims(step, model, skip=set(own))
        except ParseError as exc:  # a step the oracle cannot read: its claims are not judged
            found.update({n: Judgement("ill-formed", f"the oracle cannot read the step: {exc}") for n in _claim_numbers(step) if n not in own})
            continue
        vacuous = _vacuous_where(unequal, claims, model)
        if vacuous:
            found.update({n: Judgement("must-error", vacuous, "vacuous-condition") for n, _, _ in claims})
            continue
        for number, lhs, rhs in claims:
            free = _free(lhs, model) | _free(rhs, model)
            found[number] = judge(model, lhs, rhs, [(a, b) for a, b in unequal if a in free and b in free], rng)
    return found


# ---------------------------------------------------------------------------------------------
# A counterexample of derivcheck's, checked by the oracle at exactly its values


class Inadmissible(Exception):
    """A counterexample that is not admissible: a value against a sign or a fact, an index out
    of its range, an entry outside its family's shape."""


_LABEL = re.compile(r"^([A-Za-z]\w*)(?:\[([0-9, ]+)\])?$")


def at_counterexample(model: Model, lhs: object, rhs: object, example: object, seed: int = 0) -> tuple[bool, object, object]:
    """Whether the sides differ, and their values, computed by the oracle (as `decide` does) at
    exactly the counterexample's sizes, indices and values (a derivcheck.model.Counterexample).
    Raises Inadmissible first when it is not admissible (signs, one-hot, sum facts, ranges).

    The counterexample lists the variable entries of derivcheck's explicit sides. An entry
    missing there was cancelled exactly by SymPy's automatic simplification, so neither side
    depends on it: the oracle draws it (signs and facts honoured)."""
    with mpmath.workdps(DIGITS):
        by_name = {str(s): s for s in model.sizes}
        sizes = {by_name[name]: int(value) for name, value in example.sizes if name in by_name}  # type: ignore[attr-defined]
        if set(sizes) != set(model.sizes):
            raise Inadmissible(f"the sizes {example.sizes} are not {model.sizes}")  # type: ignore[attr-defined]
        for size, value in sizes.items():
            if value < model.minima.get(size, 1):
                raise Inadmissible(f"{size} = {value} is below its least value")
        try:
            point = Point(model, sizes, random.Random(seed))
        except NoPoint as exc:
            raise Inadmissible(f"no admissible point at these sizes: {exc}") from None
        given = _given(model, point, example)
        _check_admissible(model, point, given)
        point.values.update(given)
        pattern = {}
        for name, value in example.indices:  # type: ignore[attr-defined]
            symbol = next(s for s in model.ranges if s.name == name)
            low, high = model.ranges[symbol]
            if not point.integer(low) <= int(value) <= point.integer(high):
                raise Inadmissible(f"{name} = {value} is outside its range")
            pattern[symbol] = int(value)
        return decide(point, lhs, rhs, pattern)  # type: ignore[arg-type]


def _given(model: Model, point: Point, example: object) -> dict[tuple[str, tuple[int, ...]], Fraction]:
    given: dict[tuple[str, tuple[int, ...]], Fraction] = {}
    for label, value in example.values:  # type: ignore[attr-defined]
        match = _LABEL.match(label)
        if not match or match.group(1) not in model.variables:
            raise Inadmissible(f"{label} is not an entry of a variable")
        name = match.group(1)
        at = tuple(int(i) for i in (match.group(2) or "").replace(" ", "").split(",") if i)
        shape = point.shape(name)
        if len(at) != len(shape) or not all(1 <= i <= n for i, n in zip(at, shape)):
            raise Inadmissible(f"{label} is outside the shape {shape} of {name}")
        given[(name, at)] = Fraction(value)  # the inputs are exact: "3/7", "-2", "0.25"
    return given


def _check_admissible(model: Model, point: Point, given: dict[tuple[str, tuple[int, ...]], Fraction]) -> None:
    for (name, at), value in given.items():
        if not _sign_holds(value, model.variables[name].sign):
            raise Inadmissible(f"{name}{list(at)} = {value}, but {name} is {model.variables[name].sign}")
    for name in model.one_hot:
        shape = point.shape(name)
        columns = [()] if len(shape) == 1 else [(c,) for c in range(1, shape[1] + 1)]
        for column in columns:
            mine = [v for (n, at), v in given.items() if n == name and at[1:] == column]
            if not all(v in (0, 1) for v in mine) or sum(mine) > 1 or (len(mine) == shape[0] and sum(mine) != 1):
                raise Inadmissible(f"{name} is one-hot, not {mine}")
    for name, position, low, high, value in model.sums:
        shape = point.shape(name)
        lo, hi = point.integer(low), point.integer(high)
        others = [None] if len(shape) == 1 else list(range(1, shape[1 - position] + 1))
        for other in others:
            keys = [(k,) if other is None else ((k, other) if position == 0 else (other, k)) for k in range(lo, hi + 1)]
            if all((name, key) in given for key in keys) and sum(given[(name, key)] for key in keys) != point.exact(value):
                raise Inadmissible(f"the entries of {name} do not meet Sum = {value}")


def confirm_refutation(model: Model, lhs: object, rhs: object, example: object, seed: int) -> Judgement:
    """A refutation the oracle's own points did not see: 'different' when the oracle finds the
    sides different at exactly the counterexample's values (its sampling missed them),
    'equivalent' with why when the counterexample is not admissible or the sides agree there."""
    try:
        differs, left, right = at_counterexample(model, lhs, rhs, example, seed)
    except Inadmissible as exc:
        return Judgement("equivalent", f"derivcheck's counterexample is not admissible: {exc}")
    except (ArithmeticError, ValueError) as exc:
        return Judgement("ill-formed", f"the oracle cannot evaluate derivcheck's counterexample: {exc}")
    if differs:
        return Judgement("different", f"at derivcheck's counterexample: lhs {mpmath.nstr(left, 15)}, rhs {mpmath.nstr(right, 15)}")
    return Judgement("equivalent", f"the sides agree at derivcheck's counterexample: {mpmath.nstr(left, 15)}")


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
    # Issue 11's classes: Sum limits (with indices, reversed, empty, naming their own index),
    # complex intermediates and fractional powers, cancelling exponentials, and the steps the
    # format makes errors (a vacuous where:, facts no point meets together).
    "limit", "negated-argument", "power", "cancellation", "vacuous-where", "contradictory-fact",
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
        for constant, effect in ((2, "a 1 that cancels"), (3, "a 2 that cancels")):
            # (exp(100) + 1)*(exp(100) - 1) - exp(200) is -1 exactly, from terms of 7e86.
            factor = f"((exp(100) + 1)*(exp(100) - 1) - exp(200) + {constant})"
            changed = f"({side.strip()})*{factor}"
            yield "cancellation", f"times {effect} ({factor}){where}", changed if at is None else _replace_side(text, at, side_number, changed)


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
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Sum":
            for number, limit in enumerate(node.args[1:], start=1):
                if isinstance(limit, ast.Tuple) and len(limit.elts) == 3 and isinstance(limit.elts[0], ast.Name):
                    for description, change in _limit_changes(limit, index_groups):
                        yield "limit", f"{description} in {ast.unparse(node)}", mutate(lambda n, i=number, c=change: c(n.args[i]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("log", "sqrt") and len(node.args) == 1:
            yield "negated-argument", f"{ast.unparse(node)} became {node.func.id}(-({ast.unparse(node.args[0])}))", mutate(_negate_argument)
        for description, written in _power_forms(node):
            yield "power", description, mutate(lambda n, w=written: _become(n, w))
        if isinstance(node, ast.Name):
            for kind, group in [("index", g) for g in index_groups] + [("size", size_names)]:
                if node.id in group:
                    for other in group:
                        if other != node.id:
                            yield kind, f"{node.id} became {other} at one place", mutate(lambda n, o=other: setattr(n, "id", o))


def _limit_changes(limit: ast.Tuple, index_groups: list[list[str]]) -> Iterator[tuple[str, Callable[[ast.AST], None]]]:
    """Changes of one range (var, low, high) of a Sum: each limit moved by one, the range
    reversed or emptied (an empty sum is 0), the lower limit an index of the var's range, or
    the var itself (an error: bound-index-in-limits)."""
    var, low, high = (ast.unparse(part) for part in limit.elts)

    def setting(position: int, written: str) -> Callable[[ast.AST], None]:
        return lambda t: t.elts.__setitem__(position, ast.parse(written, mode="eval").body)  # type: ignore[attr-defined]

    def reversing(t: ast.AST) -> None:
        t.elts[1], t.elts[2] = t.elts[2], t.elts[1]  # type: ignore[attr-defined]

    yield f"the lower limit {low} became {low} + 1", setting(1, f"({low}) + 1")
    yield f"the upper limit {high} became {high} - 1", setting(2, f"({high}) - 1")
    yield f"the range ({var}, {low}, {high}) was reversed", reversing
    yield f"the range ({var}, {low}, {high}) was emptied (from {high} + 1)", setting(1, f"({high}) + 1")
    yield f"the range of {var} starts at {var} itself", setting(1, var)
    for group in index_groups:
        if var in group:
            for other in group:
                if other != var:
                    yield f"the range of {var} starts at the index {other}", setting(1, other)
                    break


def _negate_argument(node: ast.AST) -> None:
    node.args[0] = ast.UnaryOp(ast.USub(), node.args[0])  # type: ignore[attr-defined]


def _power_forms(node: ast.AST) -> Iterator[tuple[str, str]]:
    """Fractional powers that equal the node for real arguments (exp(u) as exp(2*u)**(1/2) and
    exp(u/2)**2), and u**n as (u**(2*n))**(1/2), which is |u|**n: a slip for odd n."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "exp" and len(node.args) == 1:
        inner = ast.unparse(node.args[0])
        yield f"{ast.unparse(node)} became exp(2*({inner}))**(1/2)", f"exp(2*({inner}))**(1/2)"
        yield f"{ast.unparse(node)} became exp(({inner})/2)**2", f"exp(({inner})/2)**2"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and type(node.right.value) is int:
        base, n = ast.unparse(node.left), node.right.value
        yield f"{ast.unparse(node)} became (({base})**{2 * n})**(1/2)", f"(({base})**{2 * n})**(1/2)"


def _become(node: ast.AST, written: str) -> None:
    # Replace the node's content by the parsed text's, in place.
    new = ast.parse(written, mode="eval").body
    node.__class__ = new.__class__
    node.__dict__.clear()
    node.__dict__.update(new.__dict__)


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


def _step_yaml(step: source.StepSpec, claim: str | None = None, chain: list[str] | None = None, keep_where: bool = True, more_where: tuple[str, ...] = ()) -> str:
    out = ["steps:"]
    first = "  - "
    if step.id is not None:
        out.append(f"{first}id: {step.id.value}")
        first = "    "
    if claim is not None:
        out.append(f"{first}claim: {json.dumps(claim)}")
    else:
        out.append(f"{first}chain: [{', '.join(json.dumps(item) for item in chain or [])}]")
    conditions = [w.value for w in step.where] if keep_where else []
    conditions += more_where
    if conditions:
        out.append(f"    where: [{', '.join(json.dumps(c) for c in conditions)}]")
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
            found.append(Mutant(str(path), f"{label}: dropped where: {', '.join(w.value for w in step.where)}", header + _step_yaml(step, claim=step.claim.value if step.claim else None, chain=None if step.claim else [link.expr.value for link in step.chain], keep_where=False), "dropped-where", expect))
        for condition in _vacuous_conditions(step, derivation):
            found.append(Mutant(str(path), f"{label}: added where: {condition}", header + _step_yaml(step, claim=step.claim.value if step.claim else None, chain=None if step.claim else [link.expr.value for link in step.chain], more_where=(condition,)), "vacuous-where", expect))
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
        for inner_kind, description, new in expression_mutations(body.value, [], size_names):
            changed = list(header_lines)
            changed[body.span.line - 1] = line[:start] + new + line[start + len(body.value) :]
            # The classes of issue 11 keep their kind under a definition (log(-a[k]) in L's body).
            kind = inner_kind if inner_kind in ("limit", "negated-argument", "power") else "definition"
            for step in affected:
                label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
                found.append(Mutant(str(path), f"{label} under the definition of {definition.head.value}: {description}", "\n".join(changed) + "\n" + _original_step(step), kind, _expect(step)))
    for description, changed_header in _contradictions(derivation, header_lines):
        for step in derivation.steps:
            label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
            found.append(Mutant(str(path), f"{label}: {description}", changed_header + _original_step(step), "contradictory-fact", _expect(step)))
    for assumption in derivation.assumptions:
        changed = [line for number, line in enumerate(header_lines, start=1) if number != assumption.name.span.line]
        if not any(a is not assumption for a in derivation.assumptions):
            changed = [line for line in changed if not re.match(r"^assumptions\s*:", line)]
        for step in derivation.steps:
            label = f"step {step.number}" + (f" ({step.id.value})" if step.id else "")
            found.append(Mutant(str(path), f"{label}: dropped the assumption {assumption.name.value}", "\n".join(changed) + "\n" + _original_step(step), "dropped-assumption", _expect(step)))
    return found


def _vacuous_conditions(step: source.StepSpec, derivation: source.Derivation) -> list[str]:
    """`where:` conditions that restrict nothing, for a step: an index unequal to itself, and an
    index the step does not write unequal to one it does (the format makes both errors)."""
    written = _names(_step_text(step))
    indices = [decl.name.value for decl in derivation.indices]
    present = [name for name in indices if name in written]
    absent = [name for name in indices if name not in written]
    found = [f"{present[0]} != {present[0]}"] if present else []
    if present and absent:
        found.append(f"{absent[0]} != {present[0]}")
    return found


def _contradictions(derivation: source.Derivation, header_lines: list[str]) -> Iterator[tuple[str, str]]:
    """(description, header) with one more declaration the format refuses: a fact no point meets
    with the others (a one-hot vector summing to 2, one sum with two values), a fact about a
    defined quantity, or a variable both positive and negative."""
    ranges = {(decl.low.value, decl.high.value): decl.name.value for decl in derivation.indices}
    shapes = {var.name.value: [dim.value for dim in var.shape] for var in derivation.variables}
    for assumption in derivation.assumptions:
        text = assumption.statement.value
        match = re.fullmatch(r"\s*one_hot\(\s*(\w+)\s*\)\s*", text)
        if match and shapes.get(match.group(1)) and ("1", shapes[match.group(1)][0]) in ranges:
            name, size = match.group(1), shapes[match.group(1)][0]
            k = ranges[("1", size)]
            fact = f"Sum({name}[{k}], ({k}, 1, {size})) = 2" if len(shapes[name]) == 1 else None
            if fact:
                yield f"added the assumption {fact} to {text}", _with_assumption(header_lines, fact)
        elif "=" in text and not match:
            left, value = text.rsplit("=", 1)
            fact = f"{left.strip()} = ({value.strip()}) + 1"
            yield f"added the assumption {fact} to {text}", _with_assumption(header_lines, fact)
    for definition in derivation.definitions:
        name, params = exprparse.parse_head(definition.head.value)
        index = next((decl for decl in derivation.indices if decl.name.value in params), None)
        if len(params) == 1 and index is not None:
            k = index.name.value
            fact = f"Sum({name}[{k}], ({k}, {index.low.value}, {index.high.value})) = 1"
            yield f"added the assumption {fact} about the defined {name}", _with_assumption(header_lines, fact)
            break
    for var in derivation.variables[:1]:
        line = header_lines[var.name.span.line - 1]
        indent = line[: len(line) - len(line.lstrip())]
        shape = f"shape: [{', '.join(dim.value for dim in var.shape)}], " if var.shape else ""
        changed = list(header_lines)
        changed[var.name.span.line - 1] = f"{indent}{var.name.value}: {{{shape}assume: [positive, negative]}}"
        yield f"declared {var.name.value} positive and negative", "\n".join(changed) + "\n"


def _with_assumption(header_lines: list[str], fact: str) -> str:
    """The header with one more assumption, `contradiction: fact`."""
    lines = list(header_lines)
    at = next((i for i, line in enumerate(lines) if re.match(r"^assumptions\s*:", line)), None)
    if at is None:
        return "\n".join(lines + ["assumptions:", f"  contradiction: {json.dumps(fact)}"]) + "\n"
    following = lines[at + 1] if at + 1 < len(lines) else "  "
    indent = following[: len(following) - len(following.lstrip())] or "  "
    lines.insert(at + 1, f"{indent}contradiction: {json.dumps(fact)}")
    return "\n".join(lines) + "\n"


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
    codes: dict[str, frozenset[str]] = field(default_factory=dict)  # derivcheck's problem codes, by claim

    def verdict(self, number: str) -> str | None:
        """derivcheck's verdict on a claim. A step refused as a whole (a vacuous `where:`) has
        one result for all the links of its chain, and a chain item that cannot be read one
        error for both links next to it: a link with no result of its own has that error."""
        if number in self.verdicts:
            return self.verdicts[number]
        step = number.split(".")[0]
        if step in self.verdicts:
            return self.verdicts[step]
        mine = [v for n, v in self.verdicts.items() if n.split(".")[0] == step]
        return "error" if "error" in mine else None

    def problem_codes(self, number: str) -> frozenset[str]:
        step = number.split(".")[0]
        if number in self.codes:
            return self.codes[number]
        return frozenset().union(*(c for n, c in self.codes.items() if n.split(".")[0] == step))

    @property
    def different(self) -> list[str]:
        return [n for n, j in self.judgements.items() if j.status == "different"]

    @property
    def false_passes(self) -> list[str]:
        return [n for n in self.different if self.verdict(n) in ("proved", "checked")]

    @property
    def required_errors(self) -> list[str]:
        """Claims the format makes errors (a vacuous `where:`, facts no point meets, a Sum whose
        range names its own index ...): derivcheck must report them as such, never judge them."""
        return [n for n, j in self.judgements.items() if j.status == "must-error"]

    @property
    def errors_missed(self) -> list[str]:
        """Required errors derivcheck did not report with the code the format gives them."""
        return [
            n for n in self.required_errors
            if self.verdict(n) != "error" or self.judgements[n].code not in self.problem_codes(n)
        ]

    @property
    def false_refutations(self) -> list[str]:
        """Claims the oracle finds equal at every point and derivcheck refuted. A refutation
        comes with a verified counterexample, so one of the two is wrong: reported, not failed."""
        return [n for n, j in self.judgements.items() if j.status == "equivalent" and self.verdict(n) == "refuted"]

    @property
    def timeouts(self) -> list[str]:
        return [n for n in self.different if self.verdict(n) == "undecided" and self.methods.get(n, "").startswith("time-out")]

    @property
    def kind(self) -> str:
        if self.note:
            return "skipped"
        if self.errors_missed:
            return "error-missed"
        if self.required_errors:
            return "required-error"
        if self.false_passes:
            return "false-pass"
        if self.different:
            verdicts = [self.verdict(n) for n in self.different]
            if all(v == "refuted" for v in verdicts):
                return "killed"
            if "error" in verdicts:
                return "error"
            return "undecided"
        if self.judgements and all(j.status == "equivalent" for j in self.judgements.values()):
            return "equivalent"
        return "ill-formed"


NON_EQUIVALENT = ("killed", "error", "undecided", "false-pass")
JUDGED = NON_EQUIVALENT + ("equivalent", "required-error", "error-missed")


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
        codes = {step.number: frozenset(p.code for p in step.problems) for step in result.steps}
        if result.problems:
            verdicts = {n: "error" for n in judgements}
            codes = {n: frozenset(p.code for p in result.problems) for n in judgements}
        examples = {step.number: step.counterexample for step in result.steps if step.counterexample is not None}
        for number, judgement in list(judgements.items()):
            if judgement.status == "equivalent" and number in examples:
                judgements[number] = _confirm(path, number, examples[number], seed)
        return Outcome(mutant, judgements, verdicts, methods=methods, codes=codes)


def _confirm(path: Path, number: str, example: object, seed: int) -> Judgement:
    """The oracle again on a claim it found equal and derivcheck refuted, at the counterexample."""
    derivation, _ = source.load_derivation(path)
    assert derivation is not None
    model = build_model(derivation)
    ((lhs, rhs),) = [(lhs, rhs) for n, lhs, rhs, _ in claims_of(derivation, model) if n == number]
    return confirm_refutation(model, lhs, rhs, example, seed)


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
            try:
                model = build_model(derivation)
            except MustError:
                return True  # judged: the format makes it an error
            if any(_own_index_claims(step) for step in derivation.steps):
                return True
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
        "required_errors": kinds.count("required-error"),
        "errors_missed": kinds.count("error-missed"),
        "equivalent": kinds.count("equivalent"),
        "ill_formed": kinds.count("ill-formed"),
        "skipped": kinds.count("skipped"),
        "non_equivalent_of_expect_steps": sum(1 for o in outcomes if o.kind in NON_EQUIVALENT and o.mutant.expect),
        "false_refutations": sum(1 for o in outcomes if o.false_refutations),
        "claims_different": claims_different,
        "claims_refuted": sum(1 for o in outcomes for n in o.different if o.verdict(n) == "refuted"),
        "claims_false_passes": sum(len(o.false_passes) for o in outcomes),
    }


def per_file(files: list[Path], outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """summary() for each file, in the order given (a file with no mutant has a row of zeros)."""
    return {str(path): summary([o for o in outcomes if o.mutant.file == str(path)]) for path in files}


def per_kind(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """summary() for each kind of mutation (KINDS), in that order, for the kinds that were run."""
    return {kind: summary([o for o in outcomes if o.mutant.kind == kind]) for kind in KINDS if any(o.mutant.kind == kind for o in outcomes)}


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
    ("must-err", "required_errors"), ("MISSED", "errors_missed"), ("equiv", "equivalent"),
    ("FALSE REF", "false_refutations"), ("not judged", None), ("set aside", None),
)


def _table(rows: dict[str, dict[str, int]], first: str, w: Callable[[str], object], set_aside: dict[str, int]) -> None:
    width = max(len(_label(name)) for name in [first, *rows])
    w("\n" + first.ljust(width) + "".join(f"  {title:>{len(title)}}" for title, _ in _TABLE) + "\n")
    for name, row in rows.items():
        aside = sum(set_aside.values()) if name == "total" else set_aside.get(name, 0)
        values = [row[key] if key else (row["ill_formed"] + row["skipped"] if title == "not judged" else aside) for title, key in _TABLE]
        label = name if name in ("total", *KINDS) else _label(name)
        w(label.ljust(width) + "".join(f"  {value:>{len(title)}}" for (title, _), value in zip(_TABLE, values)) + "\n")


def report(outcomes: list[Outcome], elapsed: float, out=None, *, files: list[Path] | None = None, set_aside: dict[str, int] | None = None) -> None:
    figures = summary(outcomes)
    set_aside = set_aside or {}
    w = (out or sys.stdout).write
    w(f"soundness: {figures['mutants']} mutants in {elapsed:.0f} s\n")
    rows = per_file(files, outcomes) if files else {}
    rows["total"] = figures
    _table(rows, "file", w, set_aside)
    _table(per_kind(outcomes), "mutation", w, {})
    w("\n")
    w("  made: mutants run; judged: the oracle decided equal or not, or that the format makes the step an\n")
    w("  error (not judged: ill-formed or unreadable); non-eq: wrong by the oracle, each refuted, error or\n")
    w("  undecided by derivcheck, or a FALSE PASS; must-err: a step the format makes an error (a vacuous\n")
    w("  where:, facts no point meets, a Sum whose range names its own index), reported with its code;\n")
    w("  MISSED: such a step not reported so; FALSE REF: refuted though the oracle finds the sides equal\n")
    w("  at derivcheck's counterexample, or the counterexample inadmissible;\n")
    w("  set aside: drawn, but the oracle cannot read them (per-file mode), so not counted as made.\n")
    w(f"  non-equivalent mutants of steps marked `expect:` (wrong before the mutation): {figures['non_equivalent_of_expect_steps']}\n")
    w(f"  time-outs among the undecided: {figures['timeouts']}\n")
    w(f"  claims: {figures['claims_different']} non-equivalent, {figures['claims_refuted']} refuted, "
      f"{figures['claims_false_passes']} false passes\n")
    _details(outcomes, w)


def _details(outcomes: list[Outcome], w: Callable[[str], object]) -> None:
    for title, test in (
        ("FALSE PASS", lambda o: o.kind == "false-pass"),
        ("ERROR MISSED", lambda o: o.kind == "error-missed"),
        ("FALSE REFUTATION", lambda o: bool(o.false_refutations)),
        ("not killed (error)", lambda o: o.kind == "error"),
        ("not killed (undecided)", lambda o: o.kind == "undecided"),
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
                codes = ", ".join(sorted(outcome.problem_codes(number)))
                w(f"  claim {number}: derivcheck {outcome.verdict(number) or '?'}{f' ({method})' if method else ''}"
                  f"{f' [{codes}]' if codes else ''}; oracle {judgement.status}{f' [{judgement.code}]' if judgement.code else ''} ({judgement.detail})\n")
            if title in ("FALSE PASS", "ERROR MISSED", "FALSE REFUTATION"):
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
            "kinds": per_kind(outcomes),
            "set_aside": set_aside,
            "seconds": round(elapsed, 1),
            "outcomes": [
                {"file": o.mutant.file, "mutation": o.mutant.description, "mutation_kind": o.mutant.kind,
                 "original_expect": o.mutant.expect, "kind": o.kind, "note": o.note,
                 "claims": {n: {"derivcheck": o.verdict(n), "method": o.methods.get(n), "oracle": j.status, "code": j.code, "detail": j.detail}
                            for n, j in o.judgements.items()}}
                for o in outcomes
            ],
        }, indent=2))
    failed = False
    if figures["false_passes"]:
        print(f"\nFAILED: {figures['false_passes']} false pass(es): derivcheck passed a claim the oracle finds wrong")
        failed = True
    if figures["errors_missed"]:
        print(f"FAILED: {figures['errors_missed']} step(s) the format makes errors were not reported so")
        failed = True
    if figures["false_refutations"]:
        print(f"FAILED: {figures['false_refutations']} false refutation(s): the oracle finds the sides equal at derivcheck's counterexample, or it is not admissible")
        failed = True
    for name in empty:
        print(f"FAILED: no mutant of {_label(name)} was judged by the oracle")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
