"""Concrete sizes: a claim made explicit (every sum unrolled, every derivative taken on
explicit entries), then checked exactly or evaluated at admissible points.

This path shares nothing with the symbolic proof (no Kronecker collapse, no sum rules):
it is plain calculus on finite expressions, so it can stand as an independent check.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import mpmath
import sympy
from sympy import Indexed, Sum, Symbol

from derivcheck.engine.context import Context, Fact
from derivcheck.engine.symbolic import EngineError, variable_name
from derivcheck.exprparse import Diff, sigmoid

# An explicit expression is refused beyond this many terms from one unrolled sum.
MAX_UNROLLED_TERMS = 400
# Beyond this many combinations of one-hot choices, the exact check is not attempted.
MAX_FACT_CASES = 256
Env = Mapping[sympy.Symbol, int]


class Explicit:
    """Makes expressions explicit at one assignment of the sizes."""

    def __init__(self, ctx: Context, sizes: Mapping[sympy.Symbol, int]) -> None:
        self.ctx = ctx
        self.sizes = dict(sizes)
        self._memo: dict[tuple[str, tuple[int, ...], frozenset[str]], sympy.Expr] = {}
        # Entries are plain symbols named like "W[1, 2]": SymPy differentiates those far
        # faster than Indexed objects (no delta or assumption queries per entry).
        self._entries: dict[tuple[str, tuple[int, ...]], sympy.Symbol] = {}
        self.family_of: dict[sympy.Symbol, tuple[str, tuple[int, ...]]] = {}

    def entry(self, name: str, indices: tuple[int, ...]) -> sympy.Symbol:
        """The symbol for one entry. It carries no assumptions: SymPy's assumption queries
        would dominate the time of taking derivatives (see `with_assumptions`)."""
        key = (name, indices)
        if key not in self._entries:
            symbol = sympy.Symbol(f"{name}[{', '.join(str(i) for i in indices)}]")
            self._entries[key] = symbol
            self.family_of[symbol] = key
        return self._entries[key]

    def with_assumptions(self, expr: sympy.Expr) -> sympy.Expr:
        """expr with each entry real (and positive, ... as declared), for exact simplification."""
        replacements = {}
        for symbol in expr.free_symbols:
            name = self.family_of[symbol][0] if symbol in self.family_of else symbol.name
            signs = {
                "positive": name in self.ctx.positive,
                "nonnegative": name in self.ctx.nonnegative,
                "negative": name in self.ctx.negative,
            }
            replacements[symbol] = sympy.Symbol(symbol.name, real=True, **{k: True for k, v in signs.items() if v})
        return expr.xreplace(replacements)

    def shape(self, name: str) -> tuple[int, ...]:
        family = self.ctx.families[name]
        return tuple(self._integer(dim, self.sizes) for dim in family.shape)

    def make(self, expr: sympy.Basic, env: Env, keep: frozenset[str] = frozenset()) -> sympy.Expr:
        return self._walk(expr, {**self.sizes, **env}, keep)

    def _integer(self, expr: sympy.Basic, env: Env) -> int:
        value = sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in env.items()})
        if not value.is_Integer:
            raise EngineError(f"{expr} does not have an integer value here")
        return int(value)

    def _walk(self, node: sympy.Basic, env: Env, keep: frozenset[str]) -> sympy.Expr:
        if isinstance(node, Symbol):
            if node in env:
                return sympy.Integer(env[node])
            if node in self.family_of:
                name, indices = self.family_of[node]
                if name in self.ctx.definitions and name not in keep:
                    return self._definition(name, indices, keep)
                return node
            definition = self.ctx.definitions.get(node.name)
            if definition is not None and not definition.params and node.name not in keep:
                return self._definition(node.name, (), keep)
            return node
        if isinstance(node, Indexed):
            name = str(node.base.label)
            indices = tuple(self._integer(self._walk(i, env, keep), env) for i in node.indices)
            family = self.ctx.families.get(name)
            if family is not None:
                for position, (value, dim) in enumerate(zip(indices, self.shape(name))):
                    if not 1 <= value <= dim:
                        at = ", ".join(f"{size}={number}" for size, number in self.sizes.items())
                        raise EngineError(
                            f"index {position + 1} of {name} is {value}, outside 1..{dim}" + (f" (at {at})" if at else "")
                        )
            if name in self.ctx.definitions and name not in keep:
                return self._definition(name, indices, keep)
            return self.entry(name, indices)
        if isinstance(node, Sum):
            return self._unroll(node.function, node.limits, env, keep)
        if isinstance(node, Diff):
            independent = frozenset({variable_name(node.args[1])})
            var = self._walk(node.args[1], env, independent)
            function = self._walk(node.args[0], env, independent)
            derivative = sympy.diff(function, var)
            if variable_name(node.args[1]) in self.ctx.definitions:
                # The derivative still holds entries of the independent variable, kept as
                # symbols to differentiate; now they take their definitions like the rest.
                return self._walk(derivative, env, keep)
            return derivative
        if not node.args:
            return node  # numbers and constants
        return node.func(*(self._walk(arg, env, keep) for arg in node.args))

    def _unroll(self, function: sympy.Basic, limits: tuple, env: Env, keep: frozenset[str]) -> sympy.Expr:
        """A Sum as the Add of its terms; the last limit is the outermost."""
        if not limits:
            return self._walk(function, env, keep)
        var, low, high = limits[-1]
        first = self._integer(self._walk(low, env, keep), env)
        last = self._integer(self._walk(high, env, keep), env)
        sign = 1
        if last < first:  # Karr's convention, as SymPy: sum_{a}^{b} = -sum_{b+1}^{a-1}
            first, last, sign = last + 1, first - 1, -1
        if last - first + 1 > MAX_UNROLLED_TERMS:
            raise EngineError(f"a sum of {last - first + 1} terms is too long to unroll")
        terms = [self._unroll(function, limits[:-1], {**env, var: value}, keep) for value in range(first, last + 1)]
        return sign * sympy.Add(*terms)

    def _definition(self, name: str, indices: tuple[int, ...], keep: frozenset[str]) -> sympy.Expr:
        key = (name, indices, keep)
        if key not in self._memo:
            definition = self.ctx.definitions[name]
            env = {**self.sizes, **dict(zip(definition.params, indices))}
            self._memo[key] = self._walk(definition.body, env, keep)
        return self._memo[key]


def index_constants(*exprs: sympy.Basic) -> set[int]:
    """Integers that a claim uses as index values (z[5], KroneckerDelta(k, 5), Sum limits)."""
    found: set[int] = set()
    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, Indexed):
                places = node.indices
            elif isinstance(node, sympy.KroneckerDelta):
                places = node.args
            elif isinstance(node, Sum):
                places = tuple(bound for limit in node.limits for bound in limit[1:])
            else:
                continue
            for place in places:
                found.update(abs(int(atom)) for atom in place.atoms(sympy.Integer))
    return found


def size_assignments(ctx: Context, minimum: int, beyond: int = 0) -> list[dict[sympy.Symbol, int]]:
    """Assignments of the sizes for concrete checks, the smallest first.

    Within each assignment the sizes all differ (a transpose or a swapped size cannot pass
    by accident), and their order changes from one assignment to the next (ascending,
    descending, interleaved), so that no relation between the sizes (D = N + 1) holds in
    all of them. The last assignment gives every size the value 1.
    """
    count = len(ctx.sizes)
    start = max(2, minimum)
    ascending = list(range(start, start + count))
    descending = list(reversed(range(start, start + count))) if count > 1 else [start + 1]
    shifted = list(range(start + 1, start + count + 1))
    interleaved = shifted[1::2] + shifted[0::2] if count > 1 else [start + 2]
    orders = [ascending, descending, interleaved]
    if count:
        orders.append([1] * count)
    if count and beyond >= start + count:
        # The claim names an index value as large as the sizes tried: try sizes past it.
        orders.append([beyond + 1 + i for i in range(count)])
    return [dict(zip(ctx.sizes, values)) for values in orders] if count else [{}]


def index_patterns(
    free: list[sympy.Symbol],
    ctx: Context,
    sizes: Mapping[sympy.Symbol, int],
    unequal: list[tuple[sympy.Symbol, sympy.Symbol]],
) -> Iterator[dict[sympy.Symbol, int]]:
    """Every assignment of the free indices within their ranges (and the `where` conditions)."""
    spans = []
    for symbol in free:
        low, high = ctx.ranges[symbol]
        env = {s: sympy.Integer(v) for s, v in sizes.items()}
        spans.append(range(int(low.xreplace(env)), int(high.xreplace(env)) + 1))
    for values in itertools.product(*spans):
        pattern = dict(zip(free, values))
        if all(pattern.get(a) != pattern.get(b) for a, b in unequal):
            yield pattern


def variables_in(expr: sympy.Basic) -> set[sympy.Basic]:
    """The entries of variables (z[2], W[1, 3]) and scalar variables an explicit expression
    holds: every free symbol, since sizes and indices have values by now."""
    return set(expr.free_symbols)


def fact_cases(ctx: Context, facts: tuple[Fact, ...], explicit: Explicit) -> Iterator[dict[sympy.Basic, sympy.Expr]]:
    """Exact substitutions that make the facts hold: each choice of the hot entry of a
    one-hot family, and the last entry of a family with a known sum."""
    choices: list[list[dict[sympy.Basic, sympy.Expr]]] = []
    for fact in facts:
        for line in _lines(explicit, fact):
            if fact.kind == "one_hot":
                choices.append([{entry: sympy.Integer(1 if entry == hot else 0) for entry in line} for hot in line])
            elif fact.kind == "sum":
                value = explicit.make(fact.value, {})
                if line:
                    choices.append([{line[-1]: value - sympy.Add(*line[:-1])}])
    count = 1
    for options in choices:
        count *= len(options)
    if count > MAX_FACT_CASES:
        raise EngineError(f"{count} one-hot cases are too many to check exactly")
    for combo in itertools.product(*choices):
        merged: dict[sympy.Basic, sympy.Expr] = {}
        for part in combo:
            for key, value in part.items():
                merged[key] = value.xreplace(merged) if merged else value
        yield merged


def _lines(explicit: Explicit, fact: Fact) -> list[list[sympy.Basic]]:
    """The entries a fact constrains, one list per line: a vector is one line; for a
    matrix, each value of the other index gives a line along index `position`."""
    shape = explicit.shape(fact.family)
    if fact.kind == "sum":
        low, high = int(explicit.make(fact.low, {})), int(explicit.make(fact.high, {}))
        along = range(low, high + 1)
    else:
        along = range(1, shape[fact.position] + 1)
    if len(shape) == 1:
        return [[explicit.entry(fact.family, (i,)) for i in along]]
    other = 1 - fact.position
    lines = []
    for fixed in range(1, shape[other] + 1):
        line = []
        for i in along:
            index = [0, 0]
            index[fact.position], index[other] = i, fixed
            line.append(explicit.entry(fact.family, tuple(index)))
        lines.append(line)
    return lines


def exactly_zero(expr: sympy.Expr) -> bool:
    """A conservative zero test for an explicit expression (False means 'not shown')."""
    flat = sympy.expand(sympy.expand_log(expr.rewrite(sigmoid, sympy.exp), force=False))
    if flat == 0:
        return True
    flat = sympy.cancel(sympy.together(flat))
    return bool(flat == 0)


@dataclass(frozen=True)
class Point:
    """An admissible point: exact values for every variable entry."""

    values: dict[sympy.Basic, sympy.Rational]


def sample_point(
    ctx: Context,
    facts: tuple[Fact, ...],
    explicit: Explicit,
    entries: set[sympy.Basic],
    rng: random.Random,
    *,
    simple: bool,
) -> Point:
    """Random exact values respecting each variable's sign and every fact."""
    values: dict[sympy.Basic, sympy.Rational] = {}

    def draw(name: str) -> sympy.Rational:
        if simple:
            pool = [1, 2, 3] if name in ctx.positive else [0, 1, 2] if name in ctx.nonnegative else [-2, -1, 1, 2]
            if name in ctx.negative:
                pool = [-1, -2, -3]
            return sympy.Rational(rng.choice(pool), rng.choice([1, 2]))
        numerator = rng.randint(1, 40)
        if name not in ctx.positive and name not in ctx.nonnegative and rng.random() < 0.5:
            numerator = -numerator
        if name in ctx.negative:
            numerator = -abs(numerator)
        return sympy.Rational(numerator, rng.randint(1, 16))

    for entry in sorted(entries, key=sympy.default_sort_key):
        name = explicit.family_of[entry][0] if entry in explicit.family_of else entry.name
        values[entry] = draw(name)
    for fact in facts:
        for line in _lines(explicit, fact):
            if fact.kind == "one_hot":
                hot = rng.randrange(len(line))
                for position, entry in enumerate(line):
                    values[entry] = sympy.Integer(1 if position == hot else 0)
            elif fact.kind == "sum" and line:
                target = explicit.make(fact.value, {})
                weights = [sympy.Rational(rng.randint(1, 9), 1) for _ in line]
                total = sympy.Add(*weights)
                for entry, weight in zip(line, weights):
                    values[entry] = weight * target / total
    return Point(values)


class Undefined(ArithmeticError):
    """The expression has no value at this point (a division by zero, a log of 0)."""


_FUNCTIONS = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.tanh: mpmath.tanh,
    sympy.Abs: abs,
    sigmoid: lambda x: 1 / (1 + mpmath.exp(-x)),
}


def evaluate(expr: sympy.Basic, point: Point, digits: int) -> mpmath.mpf | mpmath.mpc:
    """expr at the point, computed with `digits` significant digits.

    Each distinct subexpression is computed once: an explicit network holds the same
    large subexpressions many times over, which SymPy's evalf would walk again and again.
    """
    memo: dict[sympy.Basic, object] = {}

    def walk(node: sympy.Basic):  # type: ignore[no-untyped-def]
        if node in memo:
            return memo[node]
        if node.is_Rational:
            value = mpmath.mpf(int(node.p)) / int(node.q)
        elif node in point.values:
            rational = point.values[node]
            value = mpmath.mpf(int(rational.p)) / int(rational.q)
        elif node is sympy.pi:
            value = +mpmath.pi
        elif node is sympy.E:
            value = +mpmath.e
        elif isinstance(node, sympy.Add):
            value = mpmath.fsum(walk(arg) for arg in node.args)
        elif isinstance(node, sympy.Mul):
            value = mpmath.fprod(walk(arg) for arg in node.args)
        elif isinstance(node, sympy.Pow):
            base, exponent = walk(node.base), walk(node.exp)
            if base == 0 and node.exp.is_negative:
                raise Undefined("division by zero")
            value = mpmath.power(base, int(node.exp)) if node.exp.is_Integer else mpmath.power(base, exponent)
        elif node.func in _FUNCTIONS:
            argument = walk(node.args[0])
            if node.func is sympy.log and argument == 0:
                raise Undefined("log of 0")
            value = _FUNCTIONS[node.func](argument)
        else:
            raise EngineError(f"cannot evaluate {type(node).__name__} numerically")
        memo[node] = value
        return value

    with mpmath.workdps(digits + 10):
        result = walk(expr)
        return +result


class NotRational(ValueError):
    """The expression leaves the rationals (a function, a root)."""


def evaluate_exact(expr: sympy.Basic, point: Point) -> Fraction:
    """expr at the point as an exact fraction, when it is a rational function of the values."""
    memo: dict[sympy.Basic, Fraction] = {}

    def walk(node: sympy.Basic) -> Fraction:
        if node in memo:
            return memo[node]
        if node.is_Rational:
            value = Fraction(int(node.p), int(node.q))
        elif node in point.values:
            rational = point.values[node]
            value = Fraction(int(rational.p), int(rational.q))
        elif isinstance(node, sympy.Add):
            value = sum((walk(arg) for arg in node.args), Fraction(0))
        elif isinstance(node, sympy.Mul):
            value = Fraction(1)
            for arg in node.args:
                value *= walk(arg)
        elif isinstance(node, sympy.Pow) and node.exp.is_Integer and abs(int(node.exp)) <= 64:
            base = walk(node.base)
            if base == 0 and node.exp.is_negative:
                raise Undefined("division by zero")
            value = base ** int(node.exp)
        else:
            raise NotRational(type(node).__name__)
        memo[node] = value
        return value

    return walk(expr)


def differ(lhs: sympy.Expr, rhs: sympy.Expr, point: Point) -> tuple[bool, object, object]:
    """Whether the two sides differ at the point beyond doubt: exactly, when both are
    rational there; otherwise the gap is far above the precision both at 30 and at 60
    significant digits."""
    try:
        exact_left, exact_right = evaluate_exact(lhs, point), evaluate_exact(rhs, point)
    except NotRational:
        pass
    except (Undefined, ZeroDivisionError):
        return False, None, None
    else:
        return exact_left != exact_right, exact_left, exact_right
    left = right = None
    for digits in (30, 60):
        try:
            left = evaluate(lhs, point, digits)
            right = evaluate(rhs, point, digits)
        except (Undefined, ZeroDivisionError, ValueError):
            return False, left, right  # undefined here: not a counterexample
        with mpmath.workdps(digits):
            if not (mpmath.isfinite(left) and mpmath.isfinite(right)):
                return False, left, right
            gap = abs(left - right)
            scale = max(mpmath.mpf(1), abs(left), abs(right))
            if not gap > scale * mpmath.mpf(10) ** (-(digits // 2)):
                return False, left, right
    return True, left, right
