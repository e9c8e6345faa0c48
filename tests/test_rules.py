"""The prover's rewrite rules (derivcheck/engine/symbolic.py): each fires where its side
condition holds, is then an identity, and does not fire where the condition fails."""

from __future__ import annotations

import sympy
from sympy import IndexedBase, Sum, Symbol

from derivcheck.engine import symbolic
from derivcheck.engine.context import Context

N = Symbol("N", integer=True, positive=True)
n = sympy.Dummy("n", integer=True)
m = sympy.Dummy("m", integer=True)
x = IndexedBase("x")
CTX = Context(sizes=(N,), ranges={}, families={}, scalars={}, definitions={})


def _equal_at_every_size(before: sympy.Expr, after: sympy.Expr, sizes: range = range(0, 9)) -> bool:
    """Both sides at N = 0..8, an empty sum (upper limit below the lower) being 0."""

    def value(expr: sympy.Expr, size: int) -> sympy.Expr:
        def total(s: Sum) -> sympy.Expr:
            var, low, high = s.limits[0]
            low, high = int(low.subs(N, size)), int(high.subs(N, size))
            return sympy.Add(*(s.function.xreplace({var: i}) for i in range(low, high + 1)))

        return sympy.expand(expr.subs(N, size).replace(lambda e: isinstance(e, Sum), total))

    return all(value(before, size) == value(after, size) for size in sizes)


def test_sums_over_one_summand_get_the_same_lower_limit() -> None:
    residual = x[1] + Sum(x[n], (n, 2, N)) - Sum(x[m], (m, 1, N))
    aligned = symbolic.align_limits(residual, CTX)
    assert symbolic.is_zero(aligned)  # sums equal up to the name of their index
    assert _equal_at_every_size(residual, aligned, range(1, 9))


def test_sums_over_one_summand_get_the_same_upper_limit() -> None:
    residual = Sum(x[n], (n, 1, N)) - x[N] - Sum(x[m], (m, 1, N - 1))
    aligned = symbolic.align_limits(residual, CTX)
    assert symbolic.is_zero(aligned)  # sums equal up to the name of their index
    assert _equal_at_every_size(residual, aligned, range(1, 9))


def test_no_rewrite_where_it_would_not_hold_at_every_size() -> None:
    # sum_{1}^{N} = x[1] + x[2] + sum_{3}^{N} is false at N = 1, where sum_{3}^{1} is empty.
    residual = Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 3, N))
    assert symbolic.align_limits(residual, CTX) == residual
    # sum_{1}^{N-2} = sum_{1}^{N} - x[N] - x[N-1] is false at N = 1, where the left is empty.
    residual = Sum(x[n], (n, 1, N)) - Sum(x[m], (m, 1, N - 2))
    assert symbolic.align_limits(residual, CTX) == residual


def test_other_sums_are_left_alone() -> None:
    residual = Sum(x[n], (n, 2, N)) - Sum(x[m] ** 2, (m, 1, N)) + Sum(x[m], (m, 1, 2 * N))
    assert symbolic.align_limits(residual, CTX) == residual


def test_canonical_names_a_sum_in_a_bound_past_the_limits_in_scope() -> None:
    # In the inner limit's bound, the outer limit j is in scope (as _k0): a Sum there must
    # not take the name _k0 for its own index, or y[j] would become y[m].
    j, k, m = (sympy.Dummy(name, integer=True) for name in "jkm")
    f, y = IndexedBase("f"), IndexedBase("y")
    uses_j = Sum(f[k], (k, 1, Sum(x[m] * y[j], (m, 1, N))), (j, 1, N))
    uses_m = Sum(f[k], (k, 1, Sum(x[m] * y[m], (m, 1, N))), (j, 1, N))
    assert symbolic.canonical(uses_j) != symbolic.canonical(uses_m)
    assert not symbolic.is_zero(uses_j - uses_m)
    # The same sum with its indices renamed has the same canonical form.
    j2, k2, m2 = (sympy.Dummy(name, integer=True) for name in "jkm")
    renamed = Sum(f[k2], (k2, 1, Sum(x[m2] * y[j2], (m2, 1, N))), (j2, 1, N))
    assert symbolic.canonical(uses_j) == symbolic.canonical(renamed)
    assert symbolic.is_zero(uses_j - renamed)


def test_merge_nested_leaves_an_inner_sum_whose_index_the_rest_uses() -> None:
    # x[n] outside the inner sum is another n than the one it sums over (a shadowed index):
    # merging would sum x[n]*y[n] instead of x[n] times the sum of y.
    g = sympy.Dummy("g", integer=True)
    y = IndexedBase("y")
    shadowed = Sum(x[n] * Sum(y[n], (n, 1, N)), (g, 1, N))
    assert symbolic.merge_nested(shadowed) == shadowed
    assert not symbolic.is_zero(shadowed - Sum(x[n] * y[n], (n, 1, N), (g, 1, N)))
    fresh = Sum(x[n] * Sum(y[m], (m, 1, N)), (g, 1, N))
    merged = symbolic.merge_nested(fresh)
    assert merged == Sum(x[n] * y[m], (m, 1, N), (g, 1, N))
