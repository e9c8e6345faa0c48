"""The prover's rewrite rules (derivcheck/engine/symbolic.py): each fires where its side
condition holds, is then an identity, and does not fire where the condition fails.

Each rule with a side condition has a case where the condition holds (the rule fires, and
the result is checked equal to the input: sums written out at sizes 1..8 with an empty sum
as 0, or values at points in complex arithmetic where branches matter) next to a twin where
it fails (the rule leaves the expression, and the rewrite it would have made is shown false
at some admissible size or point, so the condition is needed)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator

import pytest
import sympy
from sympy import (
    Abs,
    IndexedBase,
    Integer,
    KroneckerDelta,
    Pow,
    Rational,
    Sum,
    Symbol,
    exp,
    log,
    sqrt,
)

from derivcheck.engine import symbolic
from derivcheck.engine.context import Context, Definition, Fact, Family
from derivcheck.vocabulary import Diff, sigmoid

N = Symbol("N", integer=True, positive=True)
j = Symbol("j", integer=True)  # free indices, declared 1..N
l = Symbol("l", integer=True)
t = Symbol("t", real=True)
u = Symbol("u", real=True)
p = Symbol("p", positive=True)
k, n, m, g = (sympy.Dummy(name, integer=True) for name in "knmg")
x = IndexedBase("x", real=True)
y = IndexedBase("y", real=True)
Y = IndexedBase("Y", real=True)
one_hot_column = sympy.Function("c_Y", integer=True)

Values = dict[sympy.Basic, sympy.Expr]


def context(
    *,
    minima: dict[sympy.Symbol, int] | None = None,
    ranges: dict | None = None,
    families: dict[str, Family] | None = None,
    definitions: dict[str, Definition] | None = None,
) -> Context:
    """One size N (with an optional minimum), the free indices j and l in 1..N, and more."""
    return Context(
        sizes=(N,),
        ranges={j: (Integer(1), N), l: (Integer(1), N), **(ranges or {})},
        families=families or {},
        scalars={},
        definitions=definitions or {},
        minima=minima or {},
    )


CTX = context()


def written_out(expr: sympy.Basic, values: Values) -> sympy.Basic:
    """expr at `values` with every Sum written out term by term (its outermost limit last),
    a range with high < low giving 0: the format's convention, not SymPy's."""
    if isinstance(expr, Sum):
        var, low, high = expr.limits[-1]
        inner = Sum(expr.function, *expr.limits[:-1]) if len(expr.limits) > 1 else expr.function
        first, last = int(written_out(low, values)), int(written_out(high, values))
        return sympy.Add(*(written_out(inner, {**values, var: Integer(v)}) for v in range(first, last + 1)))
    if expr in values:
        return values[expr]
    if not expr.args:
        return expr
    return expr.func(*(written_out(arg, values) for arg in expr.args))


def with_entries(expr: sympy.Basic, entries: Values, rng: random.Random) -> sympy.Basic:
    """expr with each entry (x[3]) and real scalar given a value: those in `entries`, else a
    random rational remembered there, so both sides of a comparison get the same ones."""
    for atom in sorted(expr.atoms(sympy.Indexed, Symbol), key=sympy.default_sort_key):
        if atom not in entries and (isinstance(atom, sympy.Indexed) or atom in (t, u, p)):
            entries[atom] = Rational(rng.randint(1 if atom == p else -40, 40) or 1, rng.randint(1, 9))
    return expr.xreplace(entries)


def close(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Equal values, compared at 40 digits (exp and log leave exact values unsimplified)."""
    if a == b:
        return True
    difference = complex(sympy.N(a - b, 40))
    return abs(difference) <= 1e-25 * (1 + abs(complex(sympy.N(a, 40))))


Cases = Callable[[int], Iterable[Values]]


def assignments(free: dict[sympy.Basic, tuple[sympy.Expr, sympy.Expr]], size: int) -> Iterator[Values]:
    """Every value of the free indices (or one-hot functions) in their ranges at N = size."""
    spans = [range(int(low.subs(N, size)), int(high.subs(N, size)) + 1) for low, high in free.values()]
    for point in itertools.product(*spans):
        yield {N: Integer(size), **{symbol: Integer(v) for symbol, v in zip(free, point)}}


def comparisons(before: sympy.Expr, after: sympy.Expr, *, least: int = 1, free: dict | None = None, cases: Cases | None = None) -> Iterator[tuple[str, bool]]:
    """(where, equal) at N = least..8, each value of the free indices, and each case of
    fixed entries (a fact's admissible values); other entries random."""
    free = {j: (Integer(1), N)} if free is None else free
    for size in range(max(least, 1), 9):
        for case in (cases(size) if cases else [{}]):
            rng = random.Random(size)
            for values in assignments(free, size):
                entries = dict(case)
                a = with_entries(written_out(before, values), entries, rng)
                b = with_entries(written_out(after, values), entries, rng)
                yield f"{values} {case}", close(a, b)


def agree(before: sympy.Expr, after: sympy.Expr, **options: object) -> None:
    for where, equal in comparisons(before, after, **options):  # type: ignore[arg-type]
        assert equal, f"differ at {where}"


def differ_somewhere(before: sympy.Expr, after: sympy.Expr, **options: object) -> bool:
    return not all(equal for _, equal in comparisons(before, after, **options))  # type: ignore[arg-type]


def at_points(expr: sympy.Expr, point: Values) -> complex:
    """expr's value at a point in complex arithmetic (principal branches)."""
    return complex(sympy.N(expr.xreplace(point), 30))


POINTS = [
    {t: Rational(a), u: Rational(b), p: Rational(c), x[1]: Rational(d), x[2]: Rational(e)}
    for a, b, c, d, e in [(-1, -1, 3, 2, -5), (-2, 3, 1 / 2, -1 / 4, 3), (-100, -1 / 2, 2, 7, 1), (3 / 2, 2, 5, 0, -2)]
]


def same_at_points(a: sympy.Expr, b: sympy.Expr) -> bool:
    return all(abs(at_points(a, point) - at_points(b, point)) < 1e-20 for point in POINTS)


def normal(expr: sympy.Expr, ctx: Context = CTX, facts: tuple[Fact, ...] = ()) -> sympy.Expr:
    return symbolic.Normaliser(ctx, facts).run(expr, dict(ctx.ranges))


# -- freshen ---------------------------------------------------------------------------------


def test_freshen_renames_bound_indices_so_a_substitution_is_not_captured() -> None:
    expr = Sum(x[j] * y[l], (j, 1, N))  # j bound; l free
    fresh = symbolic.freshen(expr)
    ((var, _, _),) = fresh.limits
    assert isinstance(var, sympy.Dummy) and var != j and fresh.function == x[var] * y[l]
    # l := j afterwards means the free j: captured in the original, not in the fresh sum.
    assert fresh.xreplace({l: j}).function == x[var] * y[j]
    assert expr.xreplace({l: j}).function == x[j] * y[j]
    agree(fresh.xreplace({l: j}), Sum(x[k], (k, 1, N)) * y[j])
    assert differ_somewhere(expr.xreplace({l: j}), Sum(x[k], (k, 1, N)) * y[j])


def test_freshen_leaves_a_limits_own_bounds_outside_its_binding() -> None:
    # Sum(x[j], (j, 1, j)): the upper j is the free j, the summand's j the bound one.
    fresh = symbolic.freshen(Sum(x[j], (j, 1, j)))
    ((var, _, high),) = fresh.limits
    assert var != j and high == j and fresh.function == x[var]
    agree(fresh, Sum(x[k], (k, 1, j)))
    # With several limits, an inner limit's bound names the outer limit: renamed with it.
    fresh = symbolic.freshen(Sum(x[j] * y[l], (j, 1, l), (l, 1, N)))
    (_, _, inner_high), (outer, _, _) = fresh.limits
    assert inner_high == outer and outer != l
    agree(fresh, Sum(x[k] * y[m], (k, 1, m), (m, 1, N)))
    # An outer limit's bound is outside every limit: the free l stays.
    fresh = symbolic.freshen(Sum(x[j] * y[l], (l, 1, N), (j, 1, l)))
    assert fresh.limits[1][2] == l


# -- nonnegative: conditions on sizes ---------------------------------------------------------


def test_nonnegative_holds_at_every_admissible_size_only() -> None:
    assert symbolic.nonnegative(N - 1, CTX)
    assert not symbolic.nonnegative(N - 2, CTX)  # N = 1
    at_least_3 = context(minima={N: 3})
    assert symbolic.nonnegative(N - 3, at_least_3)
    assert not symbolic.nonnegative(N - 4, at_least_3)  # N = 3
    assert not symbolic.nonnegative(j - 1, CTX)  # an index: SymPy knows only that it is an integer


# -- definitions and derivatives ------------------------------------------------------------


W = IndexedBase("W", real=True)
a = IndexedBase("a", real=True)
b = IndexedBase("b", real=True)
i_param = Symbol("i", integer=True)
k_named = Symbol("k", integer=True)  # the name the body's Sum uses for its own index
A_BODY = Sum(W[i_param, k_named] * x[k_named], (k_named, 1, N))
DEFINED = context(
    definitions={
        "a": Definition("a", (i_param,), A_BODY, a),
        "b": Definition("b", (i_param,), a[i_param] ** 2, b),
    },
    ranges={i_param: (Integer(1), N), k_named: (Integer(1), N)},
)


def test_a_definition_is_substituted_without_capturing_the_entrys_index() -> None:
    expanded = symbolic.expand_definitions(a[k_named], DEFINED)
    agree(expanded, Sum(W[k_named, m] * x[m], (m, 1, N)), free={k_named: (Integer(1), N)})
    # Substituted naively, the k of a[k] would be captured by the body's Sum over k.
    captured = A_BODY.xreplace({i_param: k_named})
    assert differ_somewhere(captured, Sum(W[k_named, m] * x[m], (m, 1, N)), free={k_named: (Integer(1), N)})
    # `keep` leaves a name alone: the variable of a derivative.
    assert symbolic.expand_definitions(a[j] + b[j], DEFINED, keep=frozenset({"a"})) == a[j] + a[j] ** 2


def test_a_derivative_keeps_its_variables_definition_and_expands_the_others() -> None:
    by_a = symbolic.resolve_derivatives(Diff(b[j], a[l]), DEFINED)
    assert by_a == 2 * a[j] * KroneckerDelta(j, l)
    by_x = normal(symbolic.freshen(symbolic.resolve_derivatives(Diff(b[j], x[l]), DEFINED)), DEFINED)
    agree(by_x, 2 * Sum(W[j, m] * x[m], (m, 1, N)) * W[j, l], free={j: (Integer(1), N), l: (Integer(1), N)})


def test_the_derivative_of_a_sum_by_an_entry_collapses_only_inside_its_range() -> None:
    squares = Sum(x[n] ** 2, (n, 1, N))
    inside = normal(symbolic.freshen(symbolic.resolve_derivatives(Diff(squares, x[j]), CTX)))
    assert inside == 2 * x[j]
    # j in 0..N: at j = 0 no term depends on x[0], and the derivative is 0, not 2*x[0].
    from_zero = context(ranges={j: (Integer(0), N)})
    left = normal(symbolic.freshen(symbolic.resolve_derivatives(Diff(squares, x[j]), from_zero)), from_zero)
    assert left.has(Sum)
    assert differ_somewhere(left, 2 * x[j], free={j: (Integer(0), N)})


# -- the count of a constant sum --------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "least", "fires"),
    [
        (3, N, 1, False),  # at N = 1, 2 the sum is empty: 0, not t*(N - 2)
        (3, N, 3, True),  # N: {min: 3}
        (3, N, 2, True),  # at N = 2: empty, and t*(N - 2) = 0
        (1, N - 1, 1, True),  # at N = 1: empty, and t*(N - 1) = 0
        (N + 1, N, 1, True),  # always empty: 0
        (N, 1, 1, False),  # reversed for N > 2: 0, not t*(2 - N)
        (1, N - 2, 1, False),
        (2, 2 * N, 1, True),
    ],
)
def test_the_count_of_a_constant_sum_only_where_it_cannot_be_negative(low: sympy.Expr, high: sympy.Expr, least: int, fires: bool) -> None:
    ctx = context(minima={N: least} if least > 1 else None)
    total = Sum(t, (k, low, high))
    result = normal(total, ctx)
    count = t * (sympy.sympify(high) - low + 1)
    assert (result == count) is fires
    if fires:
        agree(total, result, least=least, free={})
    else:
        assert result == t * Sum(1, (k, low, high))  # the constant leaves; the count does not
        assert differ_somewhere(total, count, least=least, free={})


# -- the delta collapse ----------------------------------------------------------------------


def collapse_case(delta_other: sympy.Expr, low: sympy.Expr, high: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    return Sum(x[k] * KroneckerDelta(k, delta_other), (k, low, high)), x[delta_other]


@pytest.mark.parametrize(
    ("other", "low", "high", "least", "fires"),
    [
        (j, 1, N, 1, True),
        (j, 2, N, 1, False),  # j = 1 lies outside 2..N
        (j, 1, N - 1, 1, False),  # j = N lies outside
        (j + 1, 1, N, 1, False),  # j + 1 = N + 1 lies outside
        (j + 1, 1, N + 1, 1, True),
        (j + 1, 2, N + 1, 1, True),
        (2, 1, N, 1, False),  # at N = 1, 2 lies outside 1..1
        (2, 1, N, 2, True),  # N: {min: 2}
        (N + 1, 1, N, 1, False),  # N + 1 is not an index with a range
    ],
)
def test_a_delta_collapses_only_when_its_other_index_lies_in_the_range(other: sympy.Expr, low: sympy.Expr, high: sympy.Expr, least: int, fires: bool) -> None:
    ctx = context(minima={N: least} if least > 1 else None)
    total, collapsed = collapse_case(sympy.sympify(other), sympy.sympify(low), sympy.sympify(high))
    result = normal(total, ctx)
    assert (result == collapsed) is fires
    if fires:
        agree(total, result, least=least)
    else:
        assert result.has(Sum)
        assert differ_somewhere(total, collapsed, least=least)


def test_a_delta_on_an_outer_sums_index_collapses_within_that_sums_range() -> None:
    inside = Sum(Sum(x[k] * KroneckerDelta(k, m), (k, 1, N)), (m, 1, N))
    assert normal(inside) == Sum(x[m], (m, 1, N))
    agree(inside, normal(inside), free={})
    # m runs to N, and k only to N - 1: at m = N the inner sum is 0, not x[N].
    short = Sum(Sum(x[k] * KroneckerDelta(k, m), (k, 1, N - 1)), (m, 1, N))
    assert normal(short).has(KroneckerDelta)
    assert differ_somewhere(short, Sum(x[m], (m, 1, N)), free={})


def test_a_delta_on_a_one_hot_column_collapses_within_the_columns_range() -> None:
    # c_Y(i) is the row of column i's 1, in 1..N: in range of a sum over 1..N, not of 2..N.
    hot = one_hot_column(l)
    ctx = context(ranges={one_hot_column: (Integer(1), N)})
    full, collapsed = collapse_case(hot, Integer(1), N)
    assert normal(full, ctx) == collapsed
    partial, _ = collapse_case(hot, Integer(2), N)
    assert normal(partial, ctx).has(Sum)
    free = {hot: (Integer(1), N)}
    agree(full, collapsed, free=free)
    assert differ_somewhere(partial, collapsed, free=free)


def test_a_delta_between_var_and_an_expression_of_var_is_not_collapsed() -> None:
    total = Sum(x[k] * KroneckerDelta(k, 2 * k - 1), (k, 1, N))  # k = 2k - 1 only at k = 1
    assert normal(total).has(Sum)
    agree(total, x[1], free={})
    # c_Y(k) has a range, but depends on k: the sum counts the k with c_Y(k) = k.
    ctx = context(ranges={one_hot_column: (Integer(1), N)})
    total = Sum(x[k] * KroneckerDelta(k, one_hot_column(k)), (k, 1, N))
    assert normal(total, ctx).has(Sum)


# -- facts in force --------------------------------------------------------------------------

y_sums_to_one = Fact("y_sums", "sum", "y", Integer(1), N, Integer(1))
Y_columns_sum_to_one = Fact("Y_columns", "sum", "Y", Integer(1), N, Integer(1), position=0)
FAMILIES = {"y": Family("y", y, (N,)), "Y": Family("Y", Y, (N, N))}
WITH_FAMILIES = context(families=FAMILIES)


def summing_to_one(size: int) -> list[Values]:
    """Entries of y and of each column of Y that sum to 1 over 1..size."""
    rng = random.Random(size)
    values: Values = {}
    vectors = [[y[r] for r in range(1, size + 1)]] + [[Y[r, col] for r in range(1, size + 1)] for col in range(1, size + 1)]
    for entries in vectors:
        for entry in entries[:-1]:
            values[entry] = Rational(rng.randint(-9, 9), rng.randint(1, 5))
        values[entries[-1]] = 1 - sum(values[entry] for entry in entries[:-1])
    return [values]


@pytest.mark.parametrize(
    ("total", "facts", "fires"),
    [
        (Sum(y[k], (k, 1, N)), (y_sums_to_one,), True),
        (Sum(y[k], (k, 1, N)), (), False),  # no fact in force
        (Sum(y[k], (k, 1, N - 1)), (y_sums_to_one,), False),  # a sub-range is another sum
        (Sum(y[k], (k, 2, N)), (y_sums_to_one,), False),
        (Sum(y[k] ** 2, (k, 1, N)), (y_sums_to_one,), False),  # not an entry
        (Sum(Y[k, l], (k, 1, N)), (Y_columns_sum_to_one,), True),  # down column l
        (Sum(Y[k, k], (k, 1, N)), (Y_columns_sum_to_one,), False),  # the diagonal
        (Sum(Y[l, k], (k, 1, N)), (Y_columns_sum_to_one,), False),  # along a row
    ],
)
def test_a_sum_fact_gives_the_value_of_its_own_sum_only(total: Sum, facts: tuple[Fact, ...], fires: bool) -> None:
    result = normal(total, WITH_FAMILIES, facts)
    assert (result == 1) is fires
    free = {l: (Integer(1), N)}
    if fires:
        agree(total, result, free=free, cases=summing_to_one)
    else:
        assert result.has(Sum)
        assert differ_somewhere(total, Integer(1), free=free, cases=summing_to_one if facts else None)


# -- logs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expanded", "fires"),
    [
        (log(p * t), log(p) + log(t), True),  # p > 0
        (log(-p * t), log(p) + log(-t), True),
        (log(t * u), log(t) + log(u), False),  # 2*pi*i apart at t = u = -1
        (log(p**2), 2 * log(p), True),
        (log(t**2), 2 * log(t), False),  # log(1) = 0, 2*log(-1) = 2*pi*i
        (log(1 / p), -log(p), True),
        (log(1 / t), -log(t), False),  # log(-1) = i*pi, -log(-1) = -i*pi
        (log(sqrt(t)), log(t) / 2, True),  # an exponent in (-1, 1]: on every branch
        (log(exp(t)), t, True),
        (log(exp(sqrt(t))), sqrt(t), False),  # exp(10i) is exp(10i - 4*pi*i)
    ],
)
def test_a_log_is_split_only_where_the_branches_agree(expr: sympy.Expr, expanded: sympy.Expr, fires: bool) -> None:
    result = normal(expr)
    assert (sympy.expand(result - expanded) == 0) is fires
    if fires:
        assert same_at_points(expr, result)
    else:
        assert result == expr
        assert not same_at_points(expr, expanded)


# -- powers of a delta -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("power", "fires"),
    [(2, True), (Rational(1, 2), True), (-1, False), (t, False), (0, False)],
)
def test_a_delta_to_a_power_is_the_delta_only_for_a_positive_power(power: sympy.Expr, fires: bool) -> None:
    delta = KroneckerDelta(j, 1)
    raised = Pow(delta, power, evaluate=False)
    for rule in (normal, symbolic.drop_delta_powers):
        assert (rule(raised) == delta) is fires
    # At j = 1 the delta is 1; at j = 2 it is 0, and 0**p is 0 only for p > 0.
    values = [(raised.xreplace({j: v, t: 0}), Integer(1 if v == 1 else 0)) for v in (1, 2)]
    assert all(sympy.simplify(value - expected) == 0 for value, expected in values) is fires


# -- expand_summand --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "split", "fires"),
    [
        ((x[1] + x[2]) * (x[1] - x[2]), x[1] ** 2 - x[2] ** 2, True),
        (sqrt(p * t), sqrt(p) * sqrt(t), True),
        (sqrt(t * u), sqrt(t) * sqrt(u), False),  # 1 and -1 at t = u = -1
        ((t * u) ** Rational(3, 2), (t ** Rational(3, 2)) * u ** Rational(3, 2), False),
        ((t + u) ** 2, t**2 + 2 * t * u + u**2, True),
    ],
)
def test_expand_summand_distributes_and_splits_powers_only_where_sympy_may(expr: sympy.Expr, split: sympy.Expr, fires: bool) -> None:
    result = symbolic.expand_summand(expr)
    assert (result == sympy.expand(split)) is fires
    if fires:
        assert same_at_points(expr, result)
    else:
        assert result == expr
        assert not same_at_points(expr, split)


def test_expand_summand_splits_a_sum_of_sums_for_any_range() -> None:
    total = Sum(x[k] + y[k], (k, 3, N))  # empty at N = 1, 2: both parts 0 too
    result = symbolic.expand_summand(total)
    assert result == Sum(x[k], (k, 3, N)) + Sum(y[k], (k, 3, N))
    agree(total, result, free={})


# -- merge_exponentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "merged", "fires"),
    [
        (exp(t) ** Rational(3, 2), exp(3 * t / 2), True),  # simplified by SymPy already: t is real
        (exp(sqrt(t) / 3) ** Rational(3, 2), exp(sqrt(t) / 2), False),  # t = -100: not real
        (Pow(exp(sqrt(t) / 3), 3, evaluate=False), exp(sqrt(t)), True),  # an integer power
        (Pow(exp(sqrt(t) / 3), Rational(3, 2), evaluate=False) * exp(sqrt(t)), exp(3 * sqrt(t) / 2), False),
        (exp(sqrt(t)) * exp(-sqrt(t) / 2), exp(sqrt(t) / 2), True),  # exp(a)*exp(b) always
    ],
)
def test_merge_exponentials_merges_a_power_only_for_an_integer_power_or_a_real_exponent(term: sympy.Expr, merged: sympy.Expr, fires: bool) -> None:
    result = symbolic.merge_exponentials(term * x[k], k)
    assert (sympy.expand(result - merged * x[k]) == 0) is fires
    point = {x[k]: Integer(1)}
    if fires:
        assert same_at_points(term.xreplace(point), result.xreplace(point))
    else:
        assert result.has(Pow(exp(sqrt(t) / 3), Rational(3, 2), evaluate=False))
        assert not same_at_points(term, merged)


def test_merge_exponentials_splits_the_exponent_by_what_depends_on_the_index() -> None:
    result = symbolic.merge_exponentials(exp(t + x[k]) * x[k], k)
    assert result.as_independent(k, as_Add=False) == (exp(t), exp(x[k]) * x[k])
    assert same_at_points(result.xreplace({x[k]: u}), exp(t + u) * u)


# -- one-hot facts ---------------------------------------------------------------------------

y_one_hot = Fact("y_one_hot", "one_hot", "y")
Y_one_hot = Fact("Y_one_hot", "one_hot", "Y")


def test_a_one_hot_vector_is_a_delta_on_a_fresh_index_in_its_range() -> None:
    expr = Sum(y[k] * x[k], (k, 1, N)) + y[j]
    ranges: symbolic.Ranges = {}
    result = symbolic.apply_one_hot(expr, WITH_FAMILIES, (y_one_hot,), ranges)
    (hot,) = ranges
    assert ranges[hot] == (1, N) and not result.has(y)
    # For each place c of the 1, the result at c is expr at y = e_c.

    def placed(size: int) -> list[Values]:
        return [{hot: Integer(c), **{y[r]: Integer(1 if r == c else 0) for r in range(1, size + 1)}} for c in range(1, size + 1)]

    agree(expr, result, cases=placed)


def test_a_family_without_a_one_hot_fact_in_force_is_left() -> None:
    expr = Sum(y[k] * x[k], (k, 1, N))
    for facts in [(), (Fact("x_one_hot", "one_hot", "x"),), (y_sums_to_one,)]:
        ranges: symbolic.Ranges = {}
        families = {**FAMILIES, "x": Family("x", x, (N,))}
        result = symbolic.apply_one_hot(expr, context(families=families), facts, ranges)
        assert result.has(y)
    assert not symbolic.prove(symbolic.Prepared(Sum(y[k], (k, 1, N)), Integer(1)), WITH_FAMILIES, ())
    assert symbolic.prove(symbolic.Prepared(Sum(y[k], (k, 1, N)), Integer(1)), WITH_FAMILIES, (y_one_hot,))


def test_a_matrix_with_one_hot_columns_is_a_delta_on_an_unknown_row_per_column() -> None:
    ranges: symbolic.Ranges = {}
    result = symbolic.apply_one_hot(Y[k, l], WITH_FAMILIES, (Y_one_hot,), ranges)
    (hot,) = ranges
    assert ranges[hot] == (1, N)
    assert result == KroneckerDelta(k, hot(l))


# -- case splits -----------------------------------------------------------------------------


def splits(residual: sympy.Expr, ctx: Context = CTX) -> bool:
    ranges = dict(ctx.ranges)
    return symbolic.split_cases(residual, lambda e: symbolic.Normaliser(ctx, ()).run(e, ranges))


def test_a_split_on_a_delta_covers_both_cases() -> None:
    zero = KroneckerDelta(j, l) * (x[j] - x[l])
    assert splits(zero)
    agree(zero, Integer(0), free={j: (Integer(1), N), l: (Integer(1), N)})
    both = {j: (Integer(1), N), l: (Integer(1), N)}
    nonzero = KroneckerDelta(j, l) * (x[j] - x[l + 1])  # the equal case is not 0
    assert not splits(nonzero)
    assert differ_somewhere(nonzero, Integer(0), free=both)
    unequal_case = (1 - KroneckerDelta(j, l)) * (x[j] - x[l])  # 0 when equal, not when not
    assert not splits(unequal_case)
    assert differ_somewhere(unequal_case, Integer(0), free=both)
    # A delta with a size: at N = j both sides are the same sum; otherwise the term is 0.
    assert splits(KroneckerDelta(j, N) * (Sum(x[k], (k, 1, j)) - Sum(x[k], (k, 1, N))))


def test_a_delta_with_no_symbol_side_is_not_split() -> None:
    # Zero (j + 1 = l + 1 means j = l), but the split substitutes a symbol: not proved.
    assert not splits(KroneckerDelta(j + 1, l + 1) * (x[j] - x[l]))


def test_where_sets_the_delta_of_unequal_indices_to_zero_and_only_then() -> None:
    claim = symbolic.Prepared(KroneckerDelta(j, l) * x[j], Integer(0))
    assert symbolic.prove(claim, CTX, (), unequal=((j, l),))
    assert not symbolic.prove(claim, CTX, ())


# -- keys: canonical, merge_nested, order_limits ---------------------------------------------


def test_canonical_makes_alpha_equivalent_sums_equal_and_no_others() -> None:
    assert symbolic.canonical(Sum(x[n], (n, 1, N))) == symbolic.canonical(Sum(x[m], (m, 1, N)))
    assert symbolic.canonical(Sum(x[n], (n, 1, N))) != symbolic.canonical(Sum(x[m], (m, 1, N - 1)))
    nested = Sum(Sum(x[n] * y[m], (n, 1, m)), (m, 1, N))
    assert symbolic.canonical(nested) == symbolic.canonical(Sum(Sum(x[g] * y[k], (g, 1, k)), (k, 1, N)))
    assert symbolic.canonical(nested) != symbolic.canonical(Sum(Sum(x[m] * y[n], (n, 1, m)), (m, 1, N)))


def test_canonical_leaves_a_limits_own_bounds_outside_its_binding() -> None:
    # Sum(x[j], (j, 1, j)) sums to the free j: the same as Sum(x[m], (m, 1, j)).
    assert symbolic.canonical(Sum(x[j], (j, 1, j))) == symbolic.canonical(Sum(x[m], (m, 1, j)))
    assert symbolic.canonical(Sum(x[j], (j, 1, j))) != symbolic.canonical(Sum(x[m], (m, 1, l)))
    # Several limits: an inner bound names the outer limit, never the inner one.
    dependent = Sum(x[n] * y[m], (n, 1, m), (m, 1, N))
    assert symbolic.canonical(dependent) == symbolic.canonical(Sum(x[k] * y[g], (k, 1, g), (g, 1, N)))
    assert symbolic.canonical(dependent) != symbolic.canonical(Sum(x[n] * y[m], (n, 1, j), (m, 1, N)))


def test_canonical_names_a_sum_in_a_bound_past_the_limits_in_scope() -> None:
    # In the inner limit's bound, the outer limit j is in scope (as _k0): a Sum there must
    # not take the name _k0 for its own index, or y[j] would become y[m].
    f = IndexedBase("f")
    outer, inner, bound = (sympy.Dummy(name, integer=True) for name in "jkm")
    uses_j = Sum(f[inner], (inner, 1, Sum(x[bound] * y[outer], (bound, 1, N))), (outer, 1, N))
    uses_m = Sum(f[inner], (inner, 1, Sum(x[bound] * y[bound], (bound, 1, N))), (outer, 1, N))
    assert symbolic.canonical(uses_j) != symbolic.canonical(uses_m)
    assert not symbolic.is_zero(uses_j - uses_m)
    # The same sum with its indices renamed has the same canonical form.
    outer2, inner2, bound2 = (sympy.Dummy(name, integer=True) for name in "jkm")
    renamed = Sum(f[inner2], (inner2, 1, Sum(x[bound2] * y[outer2], (bound2, 1, N))), (outer2, 1, N))
    assert symbolic.canonical(uses_j) == symbolic.canonical(renamed)
    assert symbolic.is_zero(uses_j - renamed)


def test_merge_nested_leaves_an_inner_sum_whose_index_the_rest_uses() -> None:
    # x[n] outside the inner sum is another n than the one it sums over (a shadowed index):
    # merging would sum x[n]*y[n] instead of x[n] times the sum of y.
    shadowed = Sum(x[n] * Sum(y[n], (n, 1, N)), (g, 1, N))
    assert symbolic.merge_nested(shadowed) == shadowed
    wrong = Sum(x[n] * y[n], (n, 1, N), (g, 1, N))
    assert not symbolic.is_zero(shadowed - wrong)
    free = {n: (Integer(1), N)}
    assert differ_somewhere(shadowed, wrong, free=free)
    fresh = Sum(x[n] * Sum(y[m], (m, 1, N)), (g, 1, N))
    merged = symbolic.merge_nested(fresh)
    assert merged == Sum(x[n] * y[m], (m, 1, N), (g, 1, N))
    agree(fresh, merged, free=free)
    # The inner range may depend on the outer index.
    dependent = Sum(x[g] * Sum(y[m], (m, 1, g)), (g, 1, N))
    assert symbolic.merge_nested(dependent) == Sum(x[g] * y[m], (m, 1, g), (g, 1, N))
    agree(dependent, symbolic.merge_nested(dependent), free={})


def test_order_limits_reorders_independent_limits_only() -> None:
    independent = Sum(x[k] * y[m], (k, 1, N), (m, 2, N))
    swapped = Sum(x[k] * y[m], (m, 2, N), (k, 1, N))
    ordered = symbolic.order_limits(independent)
    assert symbolic.canonical(ordered) == symbolic.canonical(symbolic.order_limits(swapped))
    agree(independent, ordered, free={})
    agree(swapped, ordered, free={})
    # k's range depends on m: swapping would make the bound m another (outer) m.
    dependent = Sum(x[k] * y[m], (k, 1, m), (m, 1, N))
    assert symbolic.order_limits(dependent) == dependent
    assert symbolic.order_limits(Sum(x[k] * y[m], (m, 1, N), (k, 1, m))) == Sum(x[k] * y[m], (m, 1, N), (k, 1, m))


# -- sums as symbols, and is_zero -------------------------------------------------------------


def test_sums_with_one_key_are_one_symbol_and_others_are_not() -> None:
    assert symbolic.is_zero(Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 1, N)))
    assert not symbolic.is_zero(Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 1, N - 1)))


def test_a_sum_symbol_is_positive_only_for_a_range_known_to_be_nonempty() -> None:
    # 0**S is 0 for S > 0 and 1 for an empty sum (0**0 = 1).
    nonempty = Sum(exp(x[k]), (k, 1, N))
    assert symbolic.is_zero(Pow(0, nonempty, evaluate=False))
    agree(Pow(0, nonempty, evaluate=False), Integer(0), free={})
    maybe_empty = Sum(exp(x[k]), (k, 3, N))  # empty at N = 1, 2
    assert not symbolic.is_zero(Pow(0, maybe_empty, evaluate=False))
    assert differ_somewhere(Pow(0, maybe_empty, evaluate=False), Integer(0), free={})


def test_a_sum_symbol_is_real_only_for_real_terms() -> None:
    real = Sum(x[k], (k, 1, N))
    assert symbolic.is_zero(Abs(real) ** 2 - real**2)
    not_real = Sum(sqrt(t) * x[k], (k, 1, N))  # imaginary for t < 0
    assert not symbolic.is_zero(Abs(not_real) ** 2 - not_real**2)
    at_one = written_out(Abs(not_real) ** 2 - not_real**2, {N: Integer(1)})
    assert at_points(at_one, {t: Integer(-1), x[1]: Integer(1)}) == 2


@pytest.mark.parametrize(
    ("residual", "zero"),
    [
        (sympy.sin(t) ** 2 + sympy.cos(t) ** 2 - 1, True),
        (sqrt(p**2) - p, True),
        (sqrt(t**2) - t, False),  # 2 at t = -1
        (sigmoid(t) - 1 / (1 + exp(-t)), False),  # the atomic sigmoid is opaque to simplify
    ],
)
def test_simplify_proves_identities_under_the_variables_assumptions_only(residual: sympy.Expr, zero: bool) -> None:
    assert symbolic.is_zero(residual) is zero
    assert same_at_points(residual.rewrite(sigmoid, exp), Integer(0)) is (zero or residual.has(sigmoid))


# -- align_limits ----------------------------------------------------------------------------


def test_sums_over_one_summand_get_the_same_lower_limit() -> None:
    residual = x[1] + Sum(x[n], (n, 2, N)) - Sum(x[m], (m, 1, N))
    aligned = symbolic.align_limits(residual, CTX)
    assert symbolic.is_zero(aligned)  # sums equal up to the name of their index
    agree(residual, aligned, free={})


def test_sums_over_one_summand_get_the_same_upper_limit() -> None:
    residual = Sum(x[n], (n, 1, N)) - x[N] - Sum(x[m], (m, 1, N - 1))
    aligned = symbolic.align_limits(residual, CTX)
    assert symbolic.is_zero(aligned)  # sums equal up to the name of their index
    agree(residual, aligned, free={})


def test_no_lower_peel_of_terms_a_sum_may_not_have() -> None:
    # sum_{1}^{N} = x[1] + x[2] + sum_{3}^{N} is false at N = 1, where sum_{3}^{1} is empty.
    residual = Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 3, N))
    assert symbolic.align_limits(residual, CTX) == residual
    assert differ_somewhere(Sum(x[n], (n, 1, N)), x[1] + x[2] + Sum(x[m], (m, 3, N)), free={})
    # With N: {min: 2} every sum up to N has them.
    at_least_2 = context(minima={N: 2})
    aligned = symbolic.align_limits(residual, at_least_2)
    assert aligned != residual and symbolic.is_zero(aligned - x[1] - x[2])
    agree(residual, aligned, least=2, free={})


def test_no_upper_raise_of_a_sum_that_may_be_reversed() -> None:
    # sum_{1}^{N-2} = sum_{1}^{N} - x[N] - x[N-1] is false at N = 1, where the left is empty.
    residual = Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 1, N - 2))
    assert symbolic.align_limits(residual, CTX) == residual
    assert differ_somewhere(Sum(x[m], (m, 1, N - 2)), Sum(x[m], (m, 1, N)) - x[N] - x[N - 1], free={})
    at_least_2 = context(minima={N: 2})
    aligned = symbolic.align_limits(residual, at_least_2)
    assert aligned != residual and symbolic.is_zero(aligned - x[N] - x[N - 1])
    agree(residual, aligned, least=2, free={})


def test_other_sums_are_left_alone() -> None:
    residual = Sum(x[n], (n, 2, N)) - Sum(x[m] ** 2, (m, 1, N)) + Sum(x[m], (m, 1, 2 * N))
    assert symbolic.align_limits(residual, CTX) == residual


# -- the exp pass ----------------------------------------------------------------------------


def test_the_exp_pass_writes_sigmoid_as_its_definition() -> None:
    spelled_out = symbolic.Prepared(sigmoid(t), 1 / (1 + exp(-t)))
    assert not symbolic.prove(spelled_out, CTX, (), mode="atomic")
    assert symbolic.prove(spelled_out, CTX, (), mode="exp")
    wrong = symbolic.Prepared(sigmoid(t), 1 / (1 + exp(t)))
    assert not any(symbolic.prove(wrong, CTX, (), mode=mode) for mode in symbolic.PASSES)
    # The rewrite and sigmoid's derivative s*(1 - s) hold in complex arithmetic too.
    z = sympy.Symbol("z")
    definition = 1 / (1 + exp(-z))
    for value in (Rational(1, 3) + 2 * sympy.I, -2 - sympy.I, Integer(5)):
        assert abs(complex(sympy.N((sigmoid(z).rewrite(exp) - definition).subs(z, value)))) < 1e-20
        derivative = sympy.diff(sigmoid(z), z) - sympy.diff(definition, z)
        assert abs(complex(sympy.N(derivative.subs(z, value).rewrite(exp)))) < 1e-20
