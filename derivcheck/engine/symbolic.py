"""Proof for symbolic sizes: expand definitions, take derivatives, normalise sums, test for zero.

Every rewrite here is an identity (for all sizes, under the facts in force), so a
residual that normalises to 0 proves the step. SymPy's `simplify` and `doit` are not
trusted with sums of Kronecker deltas: the sum rules below (split, pull out
constants, collapse a delta within the declared ranges, apply facts) are our own.

Each rule's docstring names its side condition: where it holds, the rule is an identity;
where it fails, the rule does not fire (tests/engine/test_rules.py has a case of each). The
conventions they rely on:

- An empty sum is 0: Sum(f, (k, a, b)) with b < a has no terms. SymPy's own summation
  (`doit`, and its formulas) follows Karr's convention instead (-Sum(f, (k, b+1, a-1)) for
  b < a - 1), so it is never called on a sum; `simplify` only sees residuals whose sums
  are replaced by symbols (`is_zero`).
- Sizes are positive integers, each at least its declared minimum (N: {min: 3}, in
  `Context.minima`); `nonnegative` decides a condition on sizes for every admissible size.
- Indices are integers: a free index lies in its declared range (`Context.ranges`), a
  summation index within its sum's limits, an entry's indices within its family's shape
  (a claim with an entry outside its shape is an error, which the witness reports).
- Bound indices are unique: `freshen` gives every Sum a fresh Dummy, so no substitution
  below can be captured by a Sum, and the rules keep it so.
- The facts in force are those of the attempt (`Normaliser.facts`, `apply_one_hot`).
- Variables are real, or positive, nonnegative or negative as declared; SymPy's rewrites
  are used with force=False only, which are identities in complex arithmetic under those
  assumptions (log(x*y) is split only where a factor is positive, and so on).
- Like all algebra on rational functions, `cancel` takes x/x to 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import sympy
from sympy import Add, Indexed, KroneckerDelta, Mul, Pow, Sum, Symbol

from derivcheck.engine import chain
from derivcheck.engine.context import Context, Fact
from derivcheck.vocabulary import Diff, sigmoid

Ranges = dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]

# Beyond this many free Kronecker deltas, case splitting (2**n cases) is not attempted.
MAX_CASE_DELTAS = 6


class EngineError(ValueError):
    """The step cannot be checked as written (an index out of its range, an unsupported form)."""


def rebuild(expr: sympy.Basic, visit: Callable[[sympy.Basic], sympy.Basic]) -> sympy.Basic:
    """expr with `visit` applied to each argument (the identity on atoms). An identity
    whenever `visit` is one on each argument. It goes into a Sum's body and limits alike,
    so a `visit` that substitutes relies on unique bound indices (see the module docstring)."""
    if not expr.args:
        return expr
    new_args = tuple(visit(arg) for arg in expr.args)
    if new_args == expr.args:
        return expr
    return expr.func(*new_args)


def freshen(expr: sympy.Basic) -> sympy.Basic:
    """Rename the bound variables of every Sum to fresh Dummies, so that no later
    substitution can capture them.

    A Sum's limits are outside its own binding: in Sum(f, (k, a, b)) the bounds a and b mean
    the k outside, if any. With several limits (the first innermost), an inner limit's bounds
    may use the outer limits' variables, and only those are renamed in them.

    Side condition: none. Renaming a bound variable to a fresh one is an identity
    (alpha-equivalence); the Dummies are integers, as every value of a summation index is."""
    if isinstance(expr, Sum):
        limits = list(expr.limits)
        mapping = {var: sympy.Dummy(var.name, integer=True) for var, _, _ in limits}
        renamed = []
        for position, (var, low, high) in enumerate(limits):
            outer = {v: mapping[v] for v, _, _ in limits[position + 1 :]}
            renamed.append((mapping[var], freshen(low.xreplace(outer)), freshen(high.xreplace(outer))))
        return Sum(freshen(expr.function.xreplace(mapping)), *renamed)
    return rebuild(expr, freshen)


def nonnegative(expr: sympy.Expr, ctx: Context) -> bool:
    """Whether expr >= 0 at every admissible size: each size a positive integer, at least its
    declared minimum (N: {min: 3}). Not a rewrite but the test behind the rules' conditions
    on sizes: True only when SymPy's assumptions prove it (a size N with minimum m is written
    as m - 1 + a positive integer); any other symbol (an index, a bound variable) is an
    integer of unknown sign, so a condition that needs its range is not met."""
    shift = {size: sympy.Dummy(size.name, integer=True, positive=True) + (least - 1) for size, least in ctx.minima.items() if least > 1}
    return bool(sympy.sympify(expr).xreplace(shift).is_nonnegative)


def expand_definitions(expr: sympy.Basic, ctx: Context, keep: frozenset[str] = frozenset()) -> sympy.Basic:
    """Substitute every defined quantity (but those named in `keep`) by its definition.

    Side condition: none. A definition is an equation in force for every value of its
    parameters (the entry's indices lie in the family's shape, see the module docstring),
    and its body is freshened before the parameters are substituted, so an index such as
    k in a[k] is never captured by a Sum over k in the body. `keep` only leaves names alone."""

    def walk(node: sympy.Basic) -> sympy.Basic:
        if isinstance(node, Indexed):
            indices = tuple(walk(i) for i in node.indices)
            name = str(node.base.label)
            definition = ctx.definitions.get(name)
            if definition is None or name in keep:
                return node.base[indices] if indices != node.indices else node
            body = freshen(definition.body).xreplace(dict(zip(definition.params, indices)))
            return walk(body)
        if isinstance(node, Symbol) and not isinstance(node, sympy.Dummy):
            definition = ctx.definitions.get(node.name)
            if definition is not None and not definition.params and name_is(definition.target, node) and node.name not in keep:
                return walk(freshen(definition.body))
            return node
        return rebuild(node, walk)

    return walk(expr)


def name_is(target: sympy.Basic, node: sympy.Symbol) -> bool:
    """Whether a scalar definition's target is this symbol (a family's base never is)."""
    return isinstance(target, Symbol) and target == node


def variable_name(var: sympy.Basic) -> str:
    if isinstance(var, Indexed):
        return str(var.base.label)
    if isinstance(var, Symbol):
        return str(var.name)
    raise EngineError(f"cannot differentiate with respect to {var}")


def resolve_derivatives(expr: sympy.Basic, ctx: Context) -> sympy.Basic:
    """Replace each Derivative(F, v) (innermost first) by the derivative of F with every
    definition but v's expanded: v is the independent variable.

    Side condition: none beyond SymPy's differentiation, which is the format's meaning of
    Derivative (docs/format.md): d x[k] / d x[j] = KroneckerDelta(k, j) for any indices,
    a Sum is differentiated term by term (its limits are sizes and indices, never v), and
    sigmoid's derivative is s*(1 - s). The result is freshened by the caller."""

    def walk(node: sympy.Basic) -> sympy.Basic:
        if isinstance(node, Diff):
            function = walk(node.args[0])
            var = node.args[1]
            expanded = freshen(expand_definitions(function, ctx, keep=frozenset({variable_name(var)})))
            return sympy.diff(expanded, var)
        return rebuild(node, walk)

    return walk(expr)


def _within(value: sympy.Expr, low: sympy.Expr, high: sympy.Expr, ranges: Ranges, ctx: Context) -> bool:
    """Whether every admissible value of `value` lies in [low, high].

    Sound by construction: each bound is met either directly (value - low >= 0 as an
    expression at every admissible size, as for m in [1, m]), or through the range of the
    symbol (or unknown function, c(i) of a one-hot matrix) `value` is offset from, both ends
    of which must then lie in [low, high] at every admissible size (`nonnegative`). Any form
    neither can bound (2*j, j + m with m unbounded) gives False. An empty range of `value`
    makes the claim vacuous, which is still true. `value` is an integer: KroneckerDelta(k, q)
    with q not an integer is 0 in SymPy before any rule sees it."""
    offset, rest = value.as_coeff_Add()
    if rest == 0:
        value_low = value_high = value
    elif isinstance(rest, Symbol) and rest in ranges:
        value_low, value_high = (bound + offset for bound in ranges[rest])
    elif isinstance(rest, sympy.core.function.AppliedUndef) and rest.func in ranges:
        value_low, value_high = (bound + offset for bound in ranges[rest.func])
    else:
        value_low = value_high = value
    above = nonnegative(value - low, ctx) or nonnegative(value_low - low, ctx)
    below = nonnegative(high - value, ctx) or nonnegative(high - value_high, ctx)
    return above and below


@dataclass
class Normaliser:
    """Applies the sum rules bottom-up. `facts` are the ones in force for this attempt.

    In `_walk`, besides the sum rules of `_sum`:
    - a Sum's body is normalised knowing each limit's range, its limits knowing only the
      ranges outside it (they are outside its binding); its limits are then summed
      innermost first, each with the ranges of the limits outside it. No side condition.
    - log(a) becomes SymPy's expand_log(log(a), force=False). Side condition, which SymPy
      checks: log(x*y) = log(x) + log(y) only where a factor is positive (or negative,
      taken out as log(-x)), log(x**p) = p*log(x) only for real p with x positive or
      -1 < p <= 1; otherwise the log is left whole (log(t*u) for real t, u is 2*pi*i off
      at t = u = -1; log(1/t) is -log(t) only for t > 0).
    - KroneckerDelta(a, b)**p becomes the delta for p > 0 (0**p = 0 and 1**p = 1); not for
      p that may be 0 or negative (delta**-1 is 1/0 where the delta is 0)."""

    ctx: Context
    facts: tuple[Fact, ...]

    def run(self, expr: sympy.Basic, ranges: Ranges) -> sympy.Basic:
        return self._walk(expr, ranges)

    def _walk(self, node: sympy.Basic, ranges: Ranges) -> sympy.Basic:
        if isinstance(node, Sum):
            # Limits go innermost first (SymPy merges nested Sums into one with several).
            limits = [(var, self._walk(low, ranges), self._walk(high, ranges)) for var, low, high in node.limits]
            inside = {**ranges, **{var: (low, high) for var, low, high in limits}}
            result = self._walk(node.function, inside)
            for position, (var, low, high) in enumerate(limits):
                outside = {**ranges, **{v: (lo, hi) for v, lo, hi in limits[position + 1 :]}}
                result = self._sum(result, var, low, high, outside)
            return result
        if isinstance(node, sympy.log):
            return sympy.expand_log(sympy.log(self._walk(node.args[0], ranges)), force=False)
        if isinstance(node, Pow) and isinstance(node.base, KroneckerDelta) and node.exp.is_positive:
            return node.base  # a delta is 0 or 1
        return rebuild(node, lambda arg: self._walk(arg, ranges))

    def _sum(self, summand: sympy.Expr, var: Symbol, low: sympy.Expr, high: sympy.Expr, ranges: Ranges) -> sympy.Expr:
        """Sum(summand, (var, low, high)), term by term. The rules, in the order tried:

        - an empty range: a sum whose high is below its low at every admissible size
          (low - high - 1 >= 0) is 0, whatever the summand (the format's empty sum).
        - linearity: a sum of terms is the sum of their sums, and a factor free of var
          leaves the sum. No side condition (for an empty range both sides are 0).
        - the count: the sum of a constant is constant * (high - low + 1). Side condition:
          high - low + 1 >= 0 at every admissible size; otherwise the range may be reversed
          (Sum(c, (k, 3, N)) at N = 1 is 0, not -c), and the sum is left.
        - the delta collapse (`_collapse`), then a fact in force (`_fact`); a term none of
          them fits stays a Sum."""
        if nonnegative(low - high - 1, self.ctx):
            return sympy.Integer(0)
        return Add(*(self._sum_term(term, var, low, high, ranges) for term in self._terms(summand, var)))

    def _terms(self, summand: sympy.Expr, var: Symbol) -> list[sympy.Expr]:
        """The summand as terms to sum one by one: multiplied out, exponentials merged."""
        return [merge_exponentials(term, var) for term in Add.make_args(drop_delta_powers(expand_summand(summand)))]

    def _sum_term(self, term: sympy.Expr, var: Symbol, low: sympy.Expr, high: sympy.Expr, ranges: Ranges) -> sympy.Expr:
        """Sum(term, (var, low, high)) for one term: the count, the delta collapse, a fact, or
        the Sum left as it is (the rules of `_sum`)."""
        constant, dependent = term.as_independent(var, as_Add=False)
        if dependent == 1 and nonnegative(high - low + 1, self.ctx):
            # A sum of a constant over low..high has high - low + 1 terms only when that
            # is not negative at any admissible size: an empty sum is 0, never negative.
            return constant * (high - low + 1)
        collapsed = self._collapse(dependent, var, low, high, ranges)
        if collapsed is not None:
            return constant * self._walk(collapsed, ranges)
        fact_value = self._fact(dependent, var, low, high)
        return constant * (fact_value if fact_value is not None else Sum(dependent, (var, low, high)))

    def _collapse(self, dependent: sympy.Expr, var: Symbol, low: sympy.Expr, high: sympy.Expr, ranges: Ranges) -> sympy.Expr | None:
        """Sum over var of g(var) * delta(var, q) is g(q) when q always lies in the sum's range.

        Side condition: q is free of var, and every admissible value of q lies in
        [low, high] (`_within`); else the sum may be 0 where g(q) is not (q = j with j in
        1..N, summed over 2..N, at j = 1). No Sum in g binds a symbol of q (unique bound
        indices), so the substitution var -> q is not captured."""
        factors = Mul.make_args(dependent)
        for position, factor in enumerate(factors):
            if not isinstance(factor, KroneckerDelta):
                continue
            first, second = factor.args
            if first == var and var not in second.free_symbols:
                other = second
            elif second == var and var not in first.free_symbols:
                other = first
            else:
                continue
            if not _within(other, low, high, ranges, self.ctx):
                continue
            rest = Mul(*(f for i, f in enumerate(factors) if i != position))
            return rest.xreplace({var: other})
        return None

    def _fact(self, dependent: sympy.Expr, var: Symbol, low: sympy.Expr, high: sympy.Expr) -> sympy.Expr | None:
        """The value of Sum(dependent, (var, low, high)) that a fact in force gives, or None.

        Side condition: a "sum" fact in force, Sum(y[.., v, ..], (v, a, b)) = value, where
        dependent is exactly an entry of y with var at the fact's position, its other indices
        free of var (the fact holds for each column, not along a diagonal Y[l, l]), and the
        limits are the fact's own (the same expressions: a sub-range such as 1..N-1 is
        another sum)."""
        for fact in self.facts:
            if fact.kind != "sum":
                continue
            family = self.ctx.families[fact.family]
            if not (isinstance(dependent, Indexed) and dependent.base == family.base):
                continue
            indices = dependent.indices
            others = [index for i, index in enumerate(indices) if i != fact.position]
            if indices[fact.position] == var and not any(o.has(var) for o in others) and low == fact.low and high == fact.high:
                return fact.value
        return None


@dataclass
class Collapser(Normaliser):
    """The sum rules without multiplying out: the only product distributed is one whose
    factor is a sum holding a Kronecker delta in the summed index, so that the delta can
    collapse. Every other rule is the Normaliser's (each an identity under its side
    condition). The chain rule's adjoints are kept so, factored as a person writes them:
    their size grows with the definition graph, not exponentially with its depth."""

    def _terms(self, summand: sympy.Expr, var: Symbol) -> list[sympy.Expr]:
        """The summand's terms without multiplying out, but for a factor that is a sum
        holding a delta in var (`_delta_terms`); every other rule is the Normaliser's."""
        return _delta_terms(drop_delta_powers(summand), var)


def _delta_terms(expr: sympy.Expr, var: Symbol) -> list[sympy.Expr]:
    """expr as a sum of terms: its own terms, with a product distributed over a factor that
    is a sum holding a delta in `var` (and no further). An identity: distributivity."""
    terms: list[sympy.Expr] = []
    for term in Add.make_args(expr):
        factors = Mul.make_args(term)
        spread = next((f for f in factors if isinstance(f, Add) and any(var in d.free_symbols for d in f.atoms(KroneckerDelta))), None)
        if spread is None:
            terms.append(term)
            continue
        rest = Mul(*(f for f in factors if f is not spread))
        for part in Add.make_args(spread):
            terms.extend(_delta_terms(rest * part, var))
    return terms


def structurally_equal(lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context, facts: tuple[Fact, ...], unequal: Iterable[tuple[sympy.Symbol, sympy.Symbol]] = ()) -> bool:
    """Whether the sides, each collapsed (Collapser) under the facts, are the same up to the
    names of their bound indices: the cheap proof, before anything is multiplied out. Sound:
    each side is only rewritten by identities, and equal canonical forms are equal."""
    unequal_deltas = {KroneckerDelta(a, b): sympy.Integer(0) for a, b in unequal}
    ranges: Ranges = dict(ctx.ranges)
    collapser = Collapser(ctx, facts)
    both = apply_one_hot(sympy.Tuple(lhs, rhs), ctx, facts, ranges).xreplace(unequal_deltas)  # one hot index for both
    sides = [canonical(collapser.run(side, ranges)) for side in both.args]
    return bool(sides[0] == sides[1])


def expand_summand(expr: sympy.Expr) -> sympy.Expr:
    """Products distributed over sums in numerators, denominators left as products.

    Side condition: none of its own. SymPy's expand with force=False: distributing, a Sum
    of an Add split into Sums (for any range), positive integer powers of sums multiplied
    out, (x*y)**p split only where SymPy's assumptions allow (p an integer, or a factor
    nonnegative: sqrt(t*u) for real t, u stays), and logs as in the Normaliser's log rule.

    power_exp stays off: SymPy would turn exp(Sum) into a Product on one side only.
    multinomial stays off at first: it would multiply out (1+u)**-2 * (1+v)**-2 into one
    polynomial, and a factor that depends on the outer index only (a sigmoid derivative
    of an earlier layer) could no longer leave the sum. Positive powers of sums are
    expanded on their own.
    """
    expanded = sympy.expand(expr, power_exp=False, multinomial=False)
    powers = expanded.replace(
        lambda e: isinstance(e, Pow) and e.exp.is_Integer and e.exp > 1 and isinstance(e.base, Add),
        lambda e: sympy.expand_multinomial(e),
    )
    if powers == expanded:
        return expanded
    return sympy.expand(powers, power_exp=False, multinomial=False)


def merge_exponentials(term: sympy.Expr, var: Symbol) -> sympy.Expr:
    """A product's exponential factors in one normal form: exp(part free of var) *
    exp(part with var), so exp(-u)*exp(u) inside a sum becomes 1 (SymPy leaves it when
    u holds a Sum) and constant factors still come out of the sum.

    Side condition: exp(a)*exp(b) = exp(a + b) always, but a power exp(u)**p is exp(p*u)
    only when p is an integer or u is real (u = sqrt(t)/3 with t = -100 breaks it for
    p = 3/2). A power that meets neither is left as it is."""
    factors = Mul.make_args(term)

    def mergeable(f: sympy.Basic) -> bool:
        if isinstance(f, sympy.exp):
            return True
        return isinstance(f, Pow) and isinstance(f.base, sympy.exp) and bool(f.exp.is_integer or f.base.args[0].is_extended_real)

    exponents = [f.args[0] if isinstance(f, sympy.exp) else f.exp * f.base.args[0] for f in factors if mergeable(f)]
    if not exponents:
        return term
    rest = [f for f in factors if not mergeable(f)]
    total = sympy.expand(Add(*exponents), power_exp=False)
    free, bound = total.as_independent(var, as_Add=True)
    return Mul(*rest) * sympy.exp(free) * sympy.exp(bound)


def drop_delta_powers(expr: sympy.Expr) -> sympy.Expr:
    """KroneckerDelta(a, b)**p as the delta. Side condition: p > 0 (a delta is 0 or 1, and
    0**p = 0 only for p > 0); other powers stay."""
    return expr.replace(
        lambda e: isinstance(e, Pow) and isinstance(e.base, KroneckerDelta) and e.exp.is_positive,
        lambda e: e.base,
    )


def apply_one_hot(expr: sympy.Basic, ctx: Context, facts: Iterable[Fact], ranges: Ranges) -> sympy.Basic:
    """y one-hot: y[m] = delta(m, c) for a fresh index c in y's range (added to `ranges`).
    A matrix Y with one-hot columns: Y[m, i] = delta(m, c(i)), c an unknown function.

    Side condition: a one_hot fact about the family is in force, and the entries used lie
    in its shape. Then some c in 1..rows (for a matrix, one per column) has y[m] =
    delta(m, c) for every m, and since c is fresh and only its range is known, a residual
    proved 0 for it is 0 for the actual c. Families without a fact in force are left."""
    for fact in facts:
        if fact.kind != "one_hot":
            continue
        family = ctx.families[fact.family]
        if len(family.shape) == 1:
            hot = sympy.Dummy(f"c_{fact.family}", integer=True)
            ranges[hot] = (sympy.Integer(1), family.shape[0])
            expr = expr.replace(
                lambda e, base=family.base: isinstance(e, Indexed) and e.base == base,
                lambda e, hot=hot: KroneckerDelta(e.indices[0], hot),
            )
        else:
            hot_of = sympy.Function(f"c_{fact.family}", integer=True)
            ranges[hot_of] = (sympy.Integer(1), family.shape[0])
            expr = expr.replace(
                lambda e, base=family.base: isinstance(e, Indexed) and e.base == base,
                lambda e, hot_of=hot_of: KroneckerDelta(e.indices[0], hot_of(e.indices[1])),
            )
    return expr


def outer_deltas(expr: sympy.Basic, bound: frozenset[sympy.Symbol] = frozenset()) -> list[KroneckerDelta]:
    """Deltas between free indices (not inside a Sum's bound variable). Not a rewrite: the
    deltas `split_cases` may split on."""
    found: list[KroneckerDelta] = []

    def walk(node: sympy.Basic, bound: frozenset[sympy.Symbol]) -> None:
        if isinstance(node, Sum):
            inner = bound | {limit[0] for limit in node.limits}
            walk(node.function, inner)
            return
        if isinstance(node, KroneckerDelta):
            if not (node.free_symbols & bound) and node not in found:
                found.append(node)
            return
        for arg in node.args:
            walk(arg, bound)

    walk(expr, bound)
    return found


def canonical(expr: sympy.Basic, depth: int = 0) -> sympy.Basic:
    """Bound variables renamed by nesting depth, so that alpha-equivalent sums compare equal.

    Side condition: none; the names are chosen so that it holds. A Sum at depth d with c
    limits names them _k{d}.._k{d+c-1}; its summand, and any Sum inside a limit's bound
    (where the outer limits' names are in scope), is named from d + c on, and so never
    captures a name it is inside of. A limit's bounds are outside its own binding, so only
    the outer limits' names are substituted in them. Used for keys only (`sum_key`)."""
    if isinstance(expr, Sum):
        count = len(expr.limits)
        # The outermost limit (the last) gets the smallest depth.
        names = {
            var: sympy.Symbol(f"_k{depth + count - 1 - position}", integer=True)
            for position, (var, _, _) in enumerate(expr.limits)
        }
        # A limit's bounds are outside its own binding: only the outer limits' names apply.
        # Those names (depth and up) may occur in a bound, so a Sum inside one is named
        # from depth + count on, like the summand's: from depth, it would capture them.
        limits = []
        for position, (var, low, high) in enumerate(expr.limits):
            outer = {v: names[v] for v, _, _ in expr.limits[position + 1 :]}
            limits.append((names[var], canonical(low.xreplace(outer), depth + count), canonical(high.xreplace(outer), depth + count)))
        return Sum(canonical(expr.function.xreplace(names), depth + count), *limits)
    return rebuild(expr, lambda arg: canonical(arg, depth))


# Beyond this many summation variables in one merged sum, their order is not canonicalised.
MAX_REORDERED_LIMITS = 4


def merge_nested(expr: sympy.Basic) -> sympy.Basic:
    """A sum whose summand is a product holding one inner sum, as one sum over both
    indices: sum_g A_g * (sum_n B_gn) = sum_g sum_n A_g*B_gn (distributivity; for any
    ranges, empty ones included, and the inner limits may depend on g).

    Side condition: A_g has none of the inner sum's indices free; a fresh index never is,
    but a shadowed one would be captured (x[n] * Sum(y[n], (n, 1, N)) is not
    Sum(x[n]*y[n], (n, 1, N))), so the product is then left as it is."""
    if not isinstance(expr, Sum):
        return rebuild(expr, merge_nested)
    function = merge_nested(expr.function)
    factors = Mul.make_args(function)
    inner = [f for f in factors if isinstance(f, Sum)]
    if len(inner) == 1:
        rest = Mul(*(f for f in factors if f is not inner[0]))
        # Merged, the inner limits bind in the rest too: only where it has none of them free.
        if not rest.free_symbols & set(inner[0].variables):
            return merge_nested(Sum(rest * inner[0].function, *inner[0].limits, *expr.limits))
    return Sum(function, *expr.limits)


def order_limits(expr: Sum) -> Sum:
    """Independent limits (no bound depends on another summation index) in a canonical
    order: the permutation whose canonical form sorts first. Sums may be swapped.

    Side condition: no limit's bounds name any index of this Sum. Finite sums over
    independent ranges may be taken in any order (empty ranges included: both sides are
    0); with Sum(f, (k, 1, m), (m, 1, N)) the range of k depends on m, and the limits keep
    their order."""
    variables = {limit[0] for limit in expr.limits}
    limits = list(expr.limits)
    if len(limits) < 2 or len(limits) > MAX_REORDERED_LIMITS:
        return expr
    if any((low.free_symbols | high.free_symbols) & variables for _, low, high in limits):
        return expr
    options = [Sum(expr.function, *order) for order in itertools.permutations(limits)]
    return min(options, key=lambda option: sympy.default_sort_key(canonical(option)))


# How sums are keyed before they are compared, each an identity, tried in turn:
# "names": up to the names of the bound indices; "merged": also a product with an inner
# sum merged into one sum, whose independent limits take a canonical order; "names-merged":
# the same after the names are made canonical (equal inner sums then combine first,
# S * S**-2 becoming S**-1).
KEYINGS = ("names", "merged", "names-merged")


def sum_key(expr: Sum, keying: str) -> sympy.Basic:
    """A key for expr: sums with equal keys are equal, since each step (canonical,
    merge_nested, order_limits) is an identity. No side condition of its own."""
    if keying == "names":
        return canonical(expr)
    merged = merge_nested(canonical(expr) if keying == "names-merged" else expr)
    return canonical(order_limits(merged)) if isinstance(merged, Sum) else canonical(merged)


def replace_sums(expr: sympy.Basic, table: dict[sympy.Basic, sympy.Symbol], keying: str = "names") -> sympy.Basic:
    """Each outermost Sum replaced by a symbol (the same symbol for sums with one key).

    Side condition: sums with one key are equal (`sum_key`), so the residual is a
    function of the symbols. A symbol is positive only when SymPy's Sum.is_positive says
    so, which needs every term positive and the range known to be nonempty (high - low
    >= 0 from the sizes' assumptions: Sum(exp(x[k]), (k, 3, N)), empty and so 0 at N = 1,
    is not positive); it is real when every term is real or the range is empty, as an
    empty sum is 0."""
    if isinstance(expr, Sum):
        key = sum_key(expr, keying)
        if key not in table:
            table[key] = sympy.Symbol(
                f"Σ{len(table) + 1}",
                positive=bool(expr.is_positive) or None,
                real=bool(expr.is_real) or None,
            )
        return table[key]
    return rebuild(expr, lambda arg: replace_sums(arg, table, keying))


# At most this many terms are written out to give sums over one summand the same limits.
MAX_PEELED_TERMS = 8


def align_limits(expr: sympy.Basic, ctx: Context) -> sympy.Basic:
    """Sums over one summand whose limits differ by a constant, given the same limits:
    x[1] + sum_{n=2}^{N} x[n] - sum_{n=1}^{N} x[n] has its second sum written as
    x[1] + sum_{n=2}^{N} x[n], and a sum up to N - 1 is one up to N less its last term.

    Each rewrite is an identity for every size where it is made: sum_{n=a}^{b} f =
    f(a) + ... + f(c - 1) + sum_{n=c}^{b} f holds when b >= c - 1 (an empty sum is 0), and
    a sum is only rewritten so when that follows from the sizes' assumptions. Only the
    outermost sums with a single limit are aligned.

    Side conditions, tested with `nonnegative` at every admissible size (limits are
    integers): lower limits are numbers, and sum_{n=a}^{b} f is peeled to target c > a only
    where b >= c - 1, so it has each peeled term f(a), ..., f(c-1) (sum_{n=1}^{N} f is not
    x[1] + x[2] + sum_{n=3}^{N} f at N = 1). An upper limit b is raised to b + p only where
    b >= a - 1, so the sum up to b + p has the p terms subtracted (sum_{n=1}^{N-2} f is not
    sum_{n=1}^{N} f - f(N) - f(N-1) at N = 1, where the left is empty and the right not)."""
    expr = _align(expr, ctx, lower=True)
    return _align(expr, ctx, lower=False)


def _outermost_sums(expr: sympy.Basic) -> list[Sum]:
    if isinstance(expr, Sum):
        return [expr]
    return [found for arg in expr.args for found in _outermost_sums(arg)]


def _align(expr: sympy.Basic, ctx: Context, *, lower: bool) -> sympy.Basic:
    """expr with the outermost sums that differ only in one bound (lower or upper) rewritten
    to the largest such bound (see align_limits for the rules and their side conditions)."""
    # Sums are grouped by their limits first (cheap), then, where a group's bounds differ,
    # by their summand up to the name of the index (canonical rebuilds the sum).
    mapping: dict[sympy.Basic, sympy.Basic] = {}
    for members in _by_other_limits(expr, lower=lower).values():
        if len({bound for _, bound in members}) < 2:
            continue
        by_summand: dict[sympy.Basic, list[tuple[Sum, sympy.Expr]]] = {}
        for found, bound in members:
            by_summand.setdefault(canonical(found).function, []).append((found, bound))
        for group in by_summand.values():
            target = max(bound for _, bound in group)
            for found, bound in group:
                aligned = _aligned(found, bound, target, ctx, lower=lower)
                if aligned is not None:
                    mapping[found] = aligned
    return expr.xreplace(mapping) if mapping else expr


def _by_other_limits(expr: sympy.Basic, *, lower: bool) -> dict[sympy.Basic, list[tuple[Sum, sympy.Expr]]]:
    """The outermost sums of one limit, grouped by what they share: the upper limit when
    lower limits are aligned (the numeric lower limit with each), else the lower limit and
    the upper one but for its numeric offset (the offset with each)."""
    by_limits: dict[sympy.Basic, list[tuple[Sum, sympy.Expr]]] = {}
    for found in _outermost_sums(expr):
        if len(found.limits) != 1:
            continue
        _var, low, high = found.limits[0]
        if lower:
            if low.is_Integer:
                by_limits.setdefault(high, []).append((found, low))
        else:
            offset, rest = high.as_coeff_Add()
            by_limits.setdefault(sympy.Tuple(low, rest), []).append((found, offset))
    return by_limits


def _aligned(found: Sum, bound: sympy.Expr, target: sympy.Expr, ctx: Context, *, lower: bool) -> sympy.Basic | None:
    """`found` rewritten with its bound moved to `target`, the terms in between added or
    subtracted; None where the rule's side condition is not shown (or too many terms)."""
    peel = target - bound
    if not 0 < peel <= MAX_PEELED_TERMS:
        return None
    var, low, high = found.limits[0]
    if lower and nonnegative(high - (target - 1), ctx):
        terms = [found.function.xreplace({var: low + i}) for i in range(int(peel))]
        return Add(Sum(found.function, (var, target, high)), *terms)
    if not lower and nonnegative(high - low + 1, ctx):
        top = high + peel
        terms = [found.function.xreplace({var: top - i}) for i in range(int(peel))]
        return Sum(found.function, (var, low, top)) - Add(*terms)
    return None


def is_zero(expr: sympy.Expr) -> bool:
    """A residual free of free deltas is zero: each outermost sum replaced by a symbol
    (under each keying in turn), then expand and cancel; SymPy's simplify is tried only
    when no keying gives zero that way (it costs as much as the rest together).

    Side condition: the residual has no free deltas (`split_cases` removes them). Each
    keying is an identity (`replace_sums`), and with the sums gone, SymPy's expand,
    expand_log(force=False), cancel and simplify see an expression in real (or signed)
    variables, integer indices and sum symbols whose assumptions hold (a sum symbol is
    positive only for a range known to be nonempty), so no empty-sum convention can enter."""
    left: list[sympy.Expr] = []
    for keying in KEYINGS:
        flat = _flat(expr, keying)
        if flat == 0:
            return True
        if flat not in left:  # the keyings often agree: simplify each residual once
            left.append(flat)
    return any(sympy.count_ops(flat) <= 120 and sympy.simplify(flat) == 0 for flat in left)


def _flat(expr: sympy.Expr, keying: str) -> sympy.Expr:
    """The residual with its sums replaced by symbols, expanded, over one denominator."""
    table: dict[sympy.Basic, sympy.Symbol] = {}
    flat = replace_sums(expr, table, keying)
    flat = sympy.expand(sympy.expand_log(flat, force=False))
    if flat == 0:
        return flat
    return sympy.cancel(sympy.together(flat))


def split_cases(
    residual: sympy.Expr,
    normalise: Callable[[sympy.Expr], sympy.Expr],
    depth: int = 0,
) -> bool:
    """Zero for every value of the free indices: split on each delta between free
    indices (equal: substitute one for the other; different: the delta is 0).

    Side condition: none; the two cases cover every value. In the equal case a side that
    is a symbol (a free index, a size, a one-hot index c) is replaced by the other side,
    which is its value there; the ranges stay true statements, as both sides are equal.
    (If the other side holds the symbol too, KroneckerDelta(j, N - j), the residual is
    proved at N - j for every j in range, so also at the j where j = N - j.)
    Case combinations that cannot occur together only add work. A delta with no symbol
    side (KroneckerDelta(j + 1, k + 1)) is not split, and the residual is not proved;
    nor past MAX_CASE_DELTAS splits."""
    residual = drop_delta_powers(residual)
    deltas = outer_deltas(residual)
    if not deltas:
        return is_zero(residual)
    if depth >= MAX_CASE_DELTAS:
        return False
    delta = deltas[0]
    first, second = delta.args
    if isinstance(second, Symbol) and not second.is_number:
        equal = residual.xreplace({second: first})
    elif isinstance(first, Symbol):
        equal = residual.xreplace({first: second})
    else:
        return False
    different = residual.xreplace({delta: sympy.Integer(0)})
    return split_cases(normalise(different), normalise, depth + 1) and split_cases(
        normalise(equal), normalise, depth + 1
    )


@dataclass(frozen=True)
class Prepared:
    """A side of a claim with derivatives taken and definitions substituted."""

    lhs: sympy.Expr
    rhs: sympy.Expr


def prepare(lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context) -> Prepared:
    """The sides with every definition substituted: the last of `stages`."""
    return Prepared(_expanded(lhs, ctx, 0), _expanded(rhs, ctx, 0))


def stages(lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context) -> Iterator[Prepared]:
    """The sides to compare, from the cheapest: derivatives taken through the definitions
    with every defined quantity kept by name (engine/chain.py); then the definitions of the
    greatest height substituted, then the next, one layer at a time, down to every definition
    substituted; last, the derivatives taken the old way, on sides with every definition but
    the variable's substituted. Each stage is an identity of the one before, so a residual
    that normalises to 0 at any stage is a proof. A stage equal to the one before is skipped."""
    height = chain.heights(ctx)
    present = chain.names_used(_kept(lhs, ctx)) | chain.names_used(_kept(rhs, ctx))
    levels = sorted({height[name] for name in present if name in height}, reverse=True)
    for level in dict.fromkeys([max(height.values(), default=0) + 1, *levels, 0]):
        yield Prepared(_expanded(lhs, ctx, level), _expanded(rhs, ctx, level))
    yield Prepared(_prepared_side(lhs, ctx), _prepared_side(rhs, ctx))


def _expanded(side: sympy.Expr, ctx: Context, level: int) -> sympy.Expr:
    """A side with its derivatives taken through the definitions, and the definitions of
    height `level` and above substituted (level 0: all of them)."""
    key = ("expanded", sympy.Tuple(side, sympy.Integer(level)))
    if key not in ctx.memo:
        keep = frozenset(name for name, height in chain.heights(ctx).items() if height < level)
        ctx.memo[key] = freshen(expand_definitions(_kept(side, ctx), ctx, keep=keep))
    return ctx.memo[key]


def _kept(side: sympy.Expr, ctx: Context) -> sympy.Expr:
    """A side with its derivatives taken by the chain rule over the definitions, every
    defined quantity kept by name, its sums' variables fresh (remembered per expression)."""
    key = ("kept", side)
    if key not in ctx.memo:

        def normalise(expr: sympy.Expr, ranges: Ranges) -> sympy.Expr:
            return Collapser(ctx, ()).run(expr, {**ctx.ranges, **ranges})

        tools = chain.Tools(normalise, freshen, canonical)

        def walk(node: sympy.Basic) -> sympy.Basic:
            if isinstance(node, Diff):
                function = walk(node.args[0])
                try:
                    return chain.derivative(freshen(function), node.args[1], ctx, tools)
                except chain.ChainError as exc:
                    raise EngineError(str(exc)) from None
            return rebuild(node, walk)

        ctx.memo[key] = freshen(walk(freshen(side)))
    return ctx.memo[key]


def _prepared_side(side: sympy.Expr, ctx: Context) -> sympy.Expr:
    """A side with derivatives taken the old way (every definition but the variable's
    substituted, then SymPy's diff) and every definition substituted, its sums' variables
    fresh. The last stage, for what the chain rule's stages did not prove."""
    key = ("prepare", side)
    if key not in ctx.memo:
        ctx.memo[key] = freshen(expand_definitions(_resolved(side, ctx), ctx))
    return ctx.memo[key]


def _resolved(expr: sympy.Expr, ctx: Context) -> sympy.Expr:
    """expr with its derivatives taken the old way (other definitions kept by name), its
    sums' variables fresh."""
    key = ("resolved", expr)
    if key not in ctx.memo:
        ctx.memo[key] = resolve_derivatives(freshen(expr), ctx)
    return ctx.memo[key]


# The ways a residual is normalised, cheapest first. "structural": each side collapsed and
# compared as it stands; "atomic": the residual multiplied out, the sigmoid a function of its
# own (its derivative is s*(1 - s), as authors write it); "exp": the sigmoid written out as
# 1/(1 + exp(-x)) and tanh by exponentials, for claims that spell one out on one side only.
PASSES = ("structural", "atomic", "exp")


def prove(
    prepared: Prepared,
    ctx: Context,
    facts: tuple[Fact, ...],
    unequal: Iterable[tuple[sympy.Symbol, sympy.Symbol]] = (),
    mode: str = "atomic",
) -> bool:
    """Whether lhs - rhs normalises to zero for symbolic sizes under `facts`.

    Two more rewrites: each pair in `unequal` (from `where: k != j`) sets
    KroneckerDelta(k, j) to 0, which holds wherever the claim is made; and the "exp"
    pass writes sigmoid(x) as 1/(1 + exp(-x)) and tanh(x) as (exp(x) - exp(-x))/(exp(x) +
    exp(-x)), their definitions, identities everywhere (in complex arithmetic too, where
    defined). Then the residual is normalised (the sum
    rules, then align_limits and the sum rules again) and split on its free deltas.

    Mode "structural" is the cheap one: each side collapsed, nothing multiplied out, and
    compared as it stands (structurally_equal)."""
    if mode == "structural":
        return structurally_equal(prepared.lhs, prepared.rhs, ctx, facts, unequal)
    unequal_deltas = {KroneckerDelta(a, b): sympy.Integer(0) for a, b in unequal}
    difference = prepared.lhs - prepared.rhs
    if mode == "exp":
        if not difference.has(sigmoid, sympy.tanh):
            return False  # the same as the atomic pass
        difference = difference.rewrite(sigmoid, sympy.exp).rewrite(sympy.tanh, sympy.exp)
    ranges: Ranges = dict(ctx.ranges)
    residual = apply_one_hot(difference, ctx, facts, ranges)
    normaliser = Normaliser(ctx, facts)

    def normalise(expr: sympy.Expr) -> sympy.Expr:
        normal = normaliser.run(expr.xreplace(unequal_deltas), ranges)
        aligned = align_limits(normal, ctx)
        return normal if aligned == normal else normaliser.run(aligned, ranges)

    return split_cases(normalise(residual), normalise)


def simplified(expr: sympy.Expr, ctx: Context) -> sympy.Expr:
    """A side as the report shows it: derivatives taken (with the definitions they
    need substituted), sums normalised, no facts; other definitions kept by name."""
    key = ("simplified", expr)
    if key not in ctx.memo:
        ranges: Ranges = dict(ctx.ranges)
        ctx.memo[key] = Collapser(ctx, ()).run(_kept(expr, ctx), ranges)  # factored, as written
    return ctx.memo[key]


def fact_subsets(facts: tuple[Fact, ...]) -> Iterable[tuple[Fact, ...]]:
    """No fact, then each fact alone, then all: the first that proves a step names what it needed."""
    yield ()
    if not facts:
        return
    for fact in facts:
        yield (fact,)
    if len(facts) > 1:
        for size in range(2, len(facts) + 1):
            yield from itertools.combinations(facts, size)


PRIMES = ("", "′", "″", "‴")


def readable(*exprs: sympy.Basic) -> tuple[sympy.Basic, ...]:
    """The expressions with each Dummy (a bound variable renamed by `freshen`, or a matrix
    claim's generic entry) shown under its own name instead of SymPy's `_k`: k, then k′,
    k″, ... for other Dummies of that name, never a name a plain symbol already has. For
    display only: the result is never checked."""
    dummies = sorted({atom for expr in exprs for atom in expr.atoms(sympy.Dummy)}, key=lambda d: (d.name, d.dummy_index))
    if not dummies:
        return exprs
    taken = {atom.name for expr in exprs for atom in expr.atoms(Symbol) if not isinstance(atom, sympy.Dummy)}
    names: dict[sympy.Dummy, Symbol] = {}
    for dummy in dummies:
        for count in itertools.count():
            name = dummy.name + (PRIMES[count] if count < len(PRIMES) else f"_{count}")
            if name not in taken:
                break
        taken.add(name)
        names[dummy] = Symbol(name, **dummy.assumptions0)
    return tuple(expr.xreplace(names) for expr in exprs)
