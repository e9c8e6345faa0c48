"""engine/witness.py, the evaluator a proof must agree with: its arithmetic, its decision at a
point, the sizes and values it tries, and how it counts."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import mpmath
import pytest
import sympy
from mpmath import iv

from derivcheck.engine import witness
from derivcheck.engine.context import Context, Definition, Fact, Family

N = sympy.Symbol("N", integer=True, positive=True)
k = sympy.Symbol("k", integer=True)
j = sympy.Symbol("j", integer=True)
t = sympy.Symbol("t", real=True)
x = sympy.IndexedBase("x", real=True)
y = sympy.IndexedBase("y", real=True)


def context(**changes: object) -> Context:
    base: dict[str, object] = dict(
        sizes=(N,),
        ranges={k: (sympy.Integer(1), N), j: (sympy.Integer(1), N)},
        families={"x": Family("x", x, (N,)), "y": Family("y", y, (N,))},
        scalars={"t": t},
        definitions={},
    )
    base.update(changes)
    return Context(**base)  # type: ignore[arg-type]


# -- dual numbers: derivatives by forward mode, nested ones too -------------------------------------


def test_a_dual_number_carries_the_derivative_through_products_quotients_and_functions() -> None:
    numbers = witness.Interval()
    with mpmath.workdps(30):
        iv.dps = 30
        point = witness.Dual(numbers.number(Fraction(3)), 1, 0)  # x = 3, dx = 1
        value = witness.div(witness.mul(point, point), witness.add(point, 1))  # x**2/(x + 1)
        assert abs(value.ep.mid - mpmath.mpf(15) / 16) < 1e-25  # (x**2 + 2x)/(x + 1)**2 at 3
        logged = witness.apply(numbers, "log", point)
        assert abs(logged.ep.mid - mpmath.mpf(1) / 3) < 1e-25


def test_nested_derivatives_do_not_confuse_their_perturbations() -> None:
    # d/dx (x * d/dy (x + y)) = d/dx x = 1: a shared tag would give 2 (perturbation confusion).
    outer = witness.Dual(Fraction(2), Fraction(1), 0)
    inner_y = witness.Dual(Fraction(5), Fraction(1), 1)
    inner = witness.add(outer, inner_y)  # x + y, dual in both
    d_dy = inner.ep if type(inner) is witness.Dual and inner.tag == 1 else 0
    product = witness.mul(outer, d_dy)
    assert product.ep == 1 and product.re == 2


def test_abs_and_sign_are_not_differentiated_at_zero() -> None:
    numbers = witness.Exact()
    at_zero = witness.Dual(Fraction(0), Fraction(1), 0)
    with pytest.raises(witness.Undefined):
        witness.apply(numbers, "Abs", at_zero)
    with pytest.raises(witness.Undefined):
        witness.apply(numbers, "sign", at_zero)
    assert witness.apply(numbers, "Abs", witness.Dual(Fraction(-2), Fraction(1), 0)).ep == -1


# -- deciding at a point ------------------------------------------------------------------------


def sides_of(left: sympy.Expr, right: sympy.Expr, values: dict[str, Fraction]):  # type: ignore[no-untyped-def]
    ctx = context(sizes=(), ranges={}, families={})
    shared = witness.Shared(ctx)
    point = witness.Point(None, {(name, ()): value for name, value in values.items()})

    def sides(numbers: object) -> tuple[object, object]:
        evaluator = witness.Evaluator(ctx, {}, point, numbers, shared)  # type: ignore[arg-type]
        return evaluator.value(left, {}, evaluator.root), evaluator.value(right, {}, evaluator.root)

    return sides


def test_rational_sides_are_compared_exactly() -> None:
    assert witness.resolve(sides_of(t**2 - 1, (t - 1) * (t + 1), {"t": Fraction(7, 3)}), rational=True)[0] == "agree"
    outcome, left, right, digits = witness.resolve(sides_of(t**2, t**2 + sympy.Rational(1, 10**40), {"t": Fraction(7, 3)}), rational=True)
    assert (outcome, digits) == ("differ", 0) and left != right


def test_a_cancellation_of_large_terms_is_resolved_by_raising_the_precision() -> None:
    e = sympy.exp(50 * t)
    assert witness.resolve(sides_of((e + 1) * (e - 1) - e**2, sympy.Integer(-1), {"t": Fraction(3)}), rational=False)[0] == "agree"
    assert witness.resolve(sides_of((e + 1) * (e - 1) - e**2, sympy.Integer(-2), {"t": Fraction(3)}), rational=False)[0] == "differ"


def test_a_difference_far_below_the_first_precision_is_still_seen() -> None:
    # 10**-60 is below a 40-digit enclosure of exp(4); the digits needed follow the claim's numbers.
    tiny = sympy.Rational(1, 10**60)
    ctx = context(sizes=(), ranges={}, families={})
    assert witness.largest_number_digits(ctx, sympy.exp(t**2) + tiny) == 61
    outcome, *_ = witness.resolve(sides_of(sympy.exp(t**2) + tiny, sympy.exp(t**2), {"t": Fraction(2)}), rational=False, digits=2 * 61 + 20)
    assert outcome == "differ"
    outcome, *_ = witness.resolve(sides_of(sympy.exp(t**2) + tiny, sympy.exp(t**2), {"t": Fraction(2)}), rational=False)
    assert outcome == "agree"  # the twin: at 40 digits the difference cannot be seen, which is why the digits are raised


def test_complex_intermediates_are_evaluated_on_the_principal_branch() -> None:
    # log(-a) = log(a) + log(-1) is false for a < 0: log(2) against log(2) + 2*pi*i.
    a = sympy.Symbol("a", real=True)
    claim = (sympy.log(-a), sympy.log(a) + sympy.log(-1))
    ctx = context(sizes=(), ranges={}, families={}, scalars={"a": a})
    shared = witness.Shared(ctx)
    for value, expected in ((Fraction(-2), "differ"), (Fraction(2), "agree")):
        point = witness.Point(None, {("a", ()): value})

        def sides(numbers: object) -> tuple[object, object]:
            evaluator = witness.Evaluator(ctx, {}, point, numbers, shared)  # type: ignore[arg-type]
            return evaluator.value(claim[0], {}, evaluator.root), evaluator.value(claim[1], {}, evaluator.root)

        assert witness.resolve(sides, rational=False)[0] == expected


# -- sizes, values, facts ---------------------------------------------------------------------------


def test_every_size_takes_1_to_4_and_a_size_past_the_constants() -> None:
    assignments = witness.size_assignments(context(), {7}, {})
    assert sorted(a[N] for a in assignments) == [1, 2, 3, 4, 9]
    # With a least value, from it up.
    assert sorted(a[N] for a in witness.size_assignments(context(), set(), {N: 5})) == [5, 6, 7, 8]


def test_constants_that_combine_are_gone_past() -> None:
    # k + 2 against N - 1: the claim may first fail at N = 5.
    assert max(a[N] for a in witness.size_assignments(context(), {1, 2}, {})) >= 5


def test_one_hot_and_sum_to_one_are_met_together_and_contradictions_are_shown() -> None:
    hot = Fact("hot", "one_hot", "y")
    total = Fact("total", "sum", "y", sympy.Integer(1), N, sympy.Integer(1))
    ctx = context(facts=(hot, total))
    values = witness.fact_values(ctx, {N: 4}, witness.Shared(ctx), random.Random(1), "simple")
    entries = [values[("y", (i,))] for i in range(1, 5)]
    assert sorted(entries) == [0, 0, 0, 1]
    two = Fact("two", "sum", "y", sympy.Integer(1), N, sympy.Integer(2))
    ctx = context(facts=(hot, two))
    with pytest.raises(witness.Inconsistent):
        witness.fact_values(ctx, {N: 4}, witness.Shared(ctx), random.Random(1), "simple")


def test_a_real_family_summing_to_one_is_sampled_with_either_sign() -> None:
    total = Fact("total", "sum", "y", sympy.Integer(1), N, sympy.Integer(1))
    ctx = context(facts=(total,))
    rng = random.Random(3)
    seen = set()
    for _ in range(40):
        values = witness.fact_values(ctx, {N: 3}, witness.Shared(ctx), rng, "mixed")
        entries = [values[("y", (i,))] for i in range(1, 4)]
        assert sum(entries) == 1
        seen.update(value > 0 for value in entries)
    assert seen == {True, False}


def test_values_cover_negatives_near_zero_and_large_magnitudes() -> None:
    rng = random.Random(0)
    drawn = [witness.draw("real", "wide", rng) for _ in range(400)]
    assert min(drawn) < -100 and max(drawn) > 100
    assert any(0 < abs(value) < Fraction(1, 1000) for value in drawn)
    assert all(value > 0 for value in (witness.draw("positive", kind, rng) for kind in witness.KINDS for _ in range(50)))


# -- counting -------------------------------------------------------------------------------------


def test_a_point_with_no_value_is_not_counted_as_agreement() -> None:
    # 1/(x[k] - x[k]), kept unevaluated, has no value anywhere: no point agrees, nothing counts.
    nowhere = sympy.Pow(sympy.Add(x[k], -x[k], evaluate=False), -1, evaluate=False)
    testimony = witness.Witness(nowhere, nowhere, context()).testify()
    assert testimony.counterexample is None
    assert not testimony.witnessed()


def test_the_witness_needs_points_at_two_sizes_before_a_proof_counts() -> None:
    testimony = witness.Testimony(evaluated={"N=2": 9})
    assert not testimony.witnessed()  # enough points, one size
    testimony = witness.Testimony(evaluated={"N=2": 2, "N=1": 2})
    assert testimony.witnessed()
    assert not witness.Testimony(evaluated={"N=2": 2, "N=1": 1}).witnessed()  # too few points
    assert witness.Testimony(evaluated={"no sizes": 4}, has_sizes=False).witnessed()
    assert witness.Testimony().describe() == "the witness evaluated no point"


def test_a_wrong_claim_over_a_definition_is_refuted_with_admissible_values() -> None:
    s = sympy.IndexedBase("s", real=True)
    ctx = context(families={"x": Family("x", x, (N,)), "s": Family("s", s, (N,))}, definitions={"s": Definition("s", (k,), x[k] ** 2, s)})
    good = witness.Witness(s[j], x[j] * x[j], ctx)
    assert good.look().counterexample is None and good.testify().witnessed()
    bad = witness.Witness(s[j], x[j] * x[j] + 1, ctx)
    example = bad.look().counterexample
    assert example is not None and example.lhs != example.rhs


def test_a_claim_that_relates_sizes_sees_every_two_far_apart_in_both_orders() -> None:
    # Sum(c, (k, M, N)) = (N - M + 1)*c fails only where M >= N + 2 (an empty sum against -c).
    n, m, d = sympy.symbols("N M D", integer=True, positive=True)
    ctx = context(sizes=(n, m, d))
    for assignments in (witness.size_assignments(ctx, set(), {}, spread=True), witness.size_assignments(ctx, {3}, {m: 2}, spread=True), witness.size_assignments(ctx, set(), {n: 50}, spread=True)):
        for first, second in itertools.permutations((n, m, d), 2):
            assert any(a[second] - a[first] >= 3 for a in assignments), (first, second, assignments)
    # Without a relation between sizes (a network's layers), no extra rows.
    assert len(witness.size_assignments(ctx, set(), {})) == 5


def test_relates_sizes_looks_at_lower_limits_values_and_deltas_not_at_plain_sums() -> None:
    m = sympy.Symbol("M", integer=True, positive=True)
    ctx = context(sizes=(N, m))
    assert not witness.relates_sizes(ctx, sympy.Sum(x[k], (k, 1, N)), sympy.Sum(y[k], (k, 1, m)))
    assert witness.relates_sizes(ctx, sympy.Sum(t, (k, m, N)), sympy.Integer(0))
    assert witness.relates_sizes(ctx, (N - m) * t, sympy.Integer(0))
    assert witness.relates_sizes(ctx, sympy.KroneckerDelta(k, N) * t, sympy.Integer(0))


def test_relates_sizes_sees_indices_of_different_sizes_meet_in_a_delta_or_an_index() -> None:
    # Sum(KroneckerDelta(j, k + 2), (k, 1, N)) with j in 1..M is 0 for every k only where
    # j > N + 2: the sizes never meet as values, only through the indices' ranges.
    m = sympy.Symbol("M", integer=True, positive=True)
    ranges = {j: (sympy.Integer(1), m), k: (sympy.Integer(1), N)}
    ctx = context(sizes=(N, m), ranges=ranges, families={"x": Family("x", x, (N,)), "y": Family("y", y, (m,))})
    assert witness.relates_sizes(ctx, sympy.Sum(sympy.KroneckerDelta(j, k + 2), (k, 1, N)), sympy.Integer(1))
    assert witness.relates_sizes(ctx, x[j + k], sympy.Integer(0))  # an index expression of both
    # Entries at bare indices, and a delta between indices of one size, relate nothing.
    assert not witness.relates_sizes(ctx, x[k] * y[j], sympy.Integer(0))
    assert not witness.relates_sizes(ctx, sympy.Sum(sympy.KroneckerDelta(k, k + 1) * x[k], (k, 1, N)), sympy.Integer(0))
