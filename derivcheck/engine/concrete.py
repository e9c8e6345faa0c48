"""Concrete sizes: a claim made explicit (every sum unrolled, every derivative taken on
explicit entries), then checked exactly, for the `checked` verdict.

This path shares nothing with the symbolic proof (no Kronecker collapse, no sum rules): it is
plain calculus on finite expressions. Numbers at points are the witness's (engine/witness.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

import sympy
from sympy import Indexed, Sum, Symbol

from derivcheck.engine.context import Context, Fact
from derivcheck.engine.symbolic import EngineError, variable_name
from derivcheck.engine.witness import subscript_name  # words only: the witness imports none of this
from derivcheck.vocabulary import Diff, sigmoid

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
        """`node` made explicit, by its kind: indices and sizes take their values, definitions
        (but those in `keep`) their bodies, sums are unrolled and derivatives taken."""
        if isinstance(node, Symbol):
            return self._symbol(node, env, keep)
        if isinstance(node, Indexed):
            return self._indexed(node, env, keep)
        if isinstance(node, Sum):
            return self._unroll(node.function, node.limits, env, keep)
        if isinstance(node, Diff):
            return self._derivative(node, env, keep)
        if not node.args:
            return node  # numbers and constants
        return node.func(*(self._walk(arg, env, keep) for arg in node.args))

    def _symbol(self, node: sympy.Symbol, env: Env, keep: frozenset[str]) -> sympy.Expr:
        """An index or size (its value), an entry's stand-in, or a scalar (its definition)."""
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

    def _indexed(self, node: sympy.Indexed, env: Env, keep: frozenset[str]) -> sympy.Expr:
        """An entry at explicit indices, within its family's shape: a definition's value there,
        or the entry's stand-in symbol."""
        name = str(node.base.label)
        indices = tuple(self._integer(self._walk(i, env, keep), env) for i in node.indices)
        if name in self.ctx.families:
            self._check_range(node, indices)
        if name in self.ctx.definitions and name not in keep:
            return self._definition(name, indices, keep)
        return self.entry(name, indices)

    def _check_range(self, node: sympy.Indexed, indices: tuple[int, ...]) -> None:
        for position, (value, dim) in enumerate(zip(indices, self.shape(str(node.base.label)))):
            if not 1 <= value <= dim:
                at = ", ".join(f"{size}={number}" for size, number in self.sizes.items())
                raise EngineError(
                    f"{subscript_name(position)} of {node} is {value}, outside 1..{dim}" + (f" (at {at})" if at else "")
                )

    def _derivative(self, node: Diff, env: Env, keep: frozenset[str]) -> sympy.Expr:
        """Derivative(F, v) taken by SymPy, with v held independent while F is made explicit."""
        independent = frozenset({variable_name(node.args[1])})
        var = self._walk(node.args[1], env, independent)
        function = self._walk(node.args[0], env, independent)
        derivative = sympy.diff(function, var)
        if variable_name(node.args[1]) in self.ctx.definitions:
            # The derivative still holds entries of the independent variable, kept as
            # symbols to differentiate; now they take their definitions like the rest.
            return self._walk(derivative, env, keep)
        return derivative

    def _unroll(self, function: sympy.Basic, limits: tuple[tuple[sympy.Symbol, sympy.Expr, sympy.Expr], ...], env: Env, keep: frozenset[str]) -> sympy.Expr:
        """A Sum as the Add of its terms; the last limit is the outermost."""
        if not limits:
            return self._walk(function, env, keep)
        var, low, high = limits[-1]
        first = self._integer(self._walk(low, env, keep), env)
        last = self._integer(self._walk(high, env, keep), env)
        # A range whose upper limit is below its lower one is empty: its sum is 0.
        if last - first + 1 > MAX_UNROLLED_TERMS:
            raise EngineError(f"a sum of {last - first + 1} terms is too long to unroll")
        terms = [self._unroll(function, limits[:-1], {**env, var: value}, keep) for value in range(first, last + 1)]
        return sympy.Add(*terms)

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
    all of them. Another gives every size the value 1 (or its declared minimum).
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
    found: list[dict[sympy.Symbol, int]] = []
    for values in orders:
        assignment = {size: max(value, ctx.minima.get(size, 1)) for size, value in zip(ctx.sizes, values)}
        if assignment not in found:
            found.append(assignment)
    return found if count else [{}]


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
    choices = _fact_choices(facts, explicit)
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


def _fact_choices(facts: tuple[Fact, ...], explicit: Explicit) -> list[list[dict[sympy.Basic, sympy.Expr]]]:
    """For each line a fact constrains, the substitutions it allows: one per hot entry of a
    one-hot line, one (its last entry) for a line with a known sum."""
    choices: list[list[dict[sympy.Basic, sympy.Expr]]] = []
    for fact in facts:
        for line in _lines(explicit, fact):
            if fact.kind == "one_hot":
                choices.append([{entry: sympy.Integer(1 if entry == hot else 0) for entry in line} for hot in line])
            elif fact.kind == "sum":
                value = explicit.make(fact.value, {})
                if line:
                    choices.append([{line[-1]: value - sympy.Add(*line[:-1])}])
    return choices


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
