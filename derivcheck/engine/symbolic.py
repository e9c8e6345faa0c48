"""Proof for symbolic sizes: expand definitions, take derivatives, normalise sums, test for zero.

Every rewrite here is an identity (for all sizes, under the facts in force), so a
residual that normalises to 0 proves the step. SymPy's `simplify` and `doit` are not
trusted with sums of Kronecker deltas: the sum rules below (split, pull out
constants, collapse a delta within the declared ranges, apply facts) are our own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy
from sympy import Add, Indexed, KroneckerDelta, Mul, Pow, Sum, Symbol

from derivcheck.engine.context import Context, Fact
from derivcheck.exprparse import Diff, sigmoid

Ranges = dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]

# Beyond this many free Kronecker deltas, case splitting (2**n cases) is not attempted.
MAX_CASE_DELTAS = 6


class EngineError(ValueError):
    """The step cannot be checked as written (an index out of its range, an unsupported form)."""


def rebuild(expr: sympy.Basic, visit: Callable[[sympy.Basic], sympy.Basic]) -> sympy.Basic:
    """expr with `visit` applied to each argument (the identity on atoms)."""
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
    may use the outer limits' variables, and only those are renamed in them."""
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
    declared minimum (N: {min: 3})."""
    shift = {size: sympy.Dummy(size.name, integer=True, positive=True) + (least - 1) for size, least in ctx.minima.items() if least > 1}
    return bool(sympy.sympify(expr).xreplace(shift).is_nonnegative)


def expand_definitions(expr: sympy.Basic, ctx: Context, keep: frozenset[str] = frozenset()) -> sympy.Basic:
    """Substitute every defined quantity (but those named in `keep`) by its definition."""

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
    return isinstance(target, Symbol) and target == node


def variable_name(var: sympy.Basic) -> str:
    if isinstance(var, Indexed):
        return str(var.base.label)
    if isinstance(var, Symbol):
        return var.name
    raise EngineError(f"cannot differentiate with respect to {var}")


def resolve_derivatives(expr: sympy.Basic, ctx: Context) -> sympy.Basic:
    """Replace each Derivative(F, v) (innermost first) by the derivative of F with every
    definition but v's expanded: v is the independent variable."""

    def walk(node: sympy.Basic) -> sympy.Basic:
        if isinstance(node, Diff):
            function = walk(node.args[0])
            var = node.args[1]
            expanded = freshen(expand_definitions(function, ctx, keep=frozenset({variable_name(var)})))
            return sympy.diff(expanded, var)
        return rebuild(node, walk)

    return walk(expr)


def _within(value: sympy.Expr, low: sympy.Expr, high: sympy.Expr, ranges: Ranges, ctx: Context) -> bool:
    """Whether every admissible value of `value` lies in [low, high]."""
    offset, rest = value.as_coeff_Add()
    if rest == 0:
        value_low = value_high = value
    elif isinstance(rest, Symbol) and rest in ranges:
        value_low, value_high = (bound + offset for bound in ranges[rest])
    elif isinstance(rest, sympy.core.function.AppliedUndef) and rest.func in ranges:
        value_low, value_high = (bound + offset for bound in ranges[rest.func])
    else:
        return False
    return nonnegative(value_low - low, ctx) and nonnegative(high - value_high, ctx)


@dataclass
class Normaliser:
    """Applies the sum rules bottom-up. `facts` are the ones in force for this attempt."""

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
        summand = drop_delta_powers(expand_summand(summand))
        results = []
        for term in Add.make_args(summand):
            term = merge_exponentials(term, var)
            constant, dependent = term.as_independent(var, as_Add=False)
            if dependent == 1 and nonnegative(high - low + 1, self.ctx):
                # A sum of a constant over low..high has high - low + 1 terms only when that
                # is not negative at any admissible size: an empty sum is 0, never negative.
                results.append(constant * (high - low + 1))
                continue
            collapsed = self._collapse(dependent, var, low, high, ranges)
            if collapsed is not None:
                results.append(constant * self._walk(collapsed, ranges))
                continue
            fact_value = self._fact(dependent, var, low, high)
            if fact_value is not None:
                results.append(constant * fact_value)
                continue
            results.append(constant * Sum(dependent, (var, low, high)))
        return Add(*results)

    def _collapse(self, dependent: sympy.Expr, var: Symbol, low: sympy.Expr, high: sympy.Expr, ranges: Ranges) -> sympy.Expr | None:
        """Sum over var of g(var) * delta(var, q) is g(q) when q always lies in the sum's range."""
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


def expand_summand(expr: sympy.Expr) -> sympy.Expr:
    """Products distributed over sums in numerators, denominators left as products.

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
    return expr.replace(
        lambda e: isinstance(e, Pow) and isinstance(e.base, KroneckerDelta) and e.exp.is_positive,
        lambda e: e.base,
    )


def apply_one_hot(expr: sympy.Basic, ctx: Context, facts: Iterable[Fact], ranges: Ranges) -> sympy.Basic:
    """y one-hot: y[m] = delta(m, c) for a fresh index c in y's range (added to `ranges`).
    A matrix Y with one-hot columns: Y[m, i] = delta(m, c(i)), c an unknown function."""
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
    """Deltas between free indices (not inside a Sum's bound variable)."""
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
    """Bound variables renamed by nesting depth, so that alpha-equivalent sums compare equal."""
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
    indices: sum_g A_g * (sum_n B_gn) = sum_g sum_n A_g*B_gn (the inner index is fresh,
    so A_g cannot depend on it)."""
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
    order: the permutation whose canonical form sorts first. Sums may be swapped."""
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
    if keying == "names":
        return canonical(expr)
    merged = merge_nested(canonical(expr) if keying == "names-merged" else expr)
    return canonical(order_limits(merged)) if isinstance(merged, Sum) else canonical(merged)


def replace_sums(expr: sympy.Basic, table: dict[sympy.Basic, sympy.Symbol], keying: str = "names") -> sympy.Basic:
    """Each outermost Sum replaced by a symbol (the same symbol for sums with one key)."""
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
    outermost sums with a single limit are aligned."""
    expr = _align(expr, ctx, lower=True)
    return _align(expr, ctx, lower=False)


def _outermost_sums(expr: sympy.Basic) -> list[Sum]:
    if isinstance(expr, Sum):
        return [expr]
    return [found for arg in expr.args for found in _outermost_sums(arg)]


def _align(expr: sympy.Basic, ctx: Context, *, lower: bool) -> sympy.Basic:
    # Sums are grouped by their limits first (cheap), then, where a group's bounds differ,
    # by their summand up to the name of the index (canonical rebuilds the sum).
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
    mapping: dict[sympy.Basic, sympy.Basic] = {}
    for members in by_limits.values():
        if len({bound for _, bound in members}) < 2:
            continue
        by_summand: dict[sympy.Basic, list[tuple[Sum, sympy.Expr]]] = {}
        for found, bound in members:
            by_summand.setdefault(canonical(found).function, []).append((found, bound))
        for group in by_summand.values():
            target = max(bound for _, bound in group)
            for found, bound in group:
                peel = target - bound
                if not 0 < peel <= MAX_PEELED_TERMS:
                    continue
                var, low, high = found.limits[0]
                if lower and nonnegative(high - (target - 1), ctx):
                    terms = [found.function.xreplace({var: low + i}) for i in range(int(peel))]
                    mapping[found] = Add(Sum(found.function, (var, target, high)), *terms)
                elif not lower and nonnegative(high - low + 1, ctx):
                    top = high + peel
                    terms = [found.function.xreplace({var: top - i}) for i in range(int(peel))]
                    mapping[found] = Sum(found.function, (var, low, top)) - Add(*terms)
    return expr.xreplace(mapping) if mapping else expr


def is_zero(expr: sympy.Expr) -> bool:
    """A residual free of free deltas is zero: each outermost sum replaced by a symbol
    (under each keying in turn), then expand and cancel; SymPy's simplify is tried only
    when no keying gives zero that way (it costs as much as the rest together)."""
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
    indices (equal: substitute one for the other; different: the delta is 0)."""
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
    return Prepared(_prepared_side(lhs, ctx), _prepared_side(rhs, ctx))


def _prepared_side(side: sympy.Expr, ctx: Context) -> sympy.Expr:
    """A side with derivatives taken and every definition substituted, its sums' variables
    fresh. Remembered in ctx.memo: the same side (a chain's link, a derivative used in
    several steps) is prepared once; both sides being one object is then no harm, as
    they are equal."""
    key = ("prepare", side)
    if key not in ctx.memo:
        ctx.memo[key] = freshen(expand_definitions(_resolved(side, ctx), ctx))
    return ctx.memo[key]  # type: ignore[return-value]


def _resolved(expr: sympy.Expr, ctx: Context) -> sympy.Expr:
    """expr with its derivatives taken (other definitions kept by name), its sums'
    variables fresh: the common start of a prepared side and of the side the report
    shows, taken once."""
    key = ("resolved", expr)
    if key not in ctx.memo:
        ctx.memo[key] = resolve_derivatives(freshen(expr), ctx)
    return ctx.memo[key]  # type: ignore[return-value]


# The ways a residual is normalised, cheapest first. "atomic": the sigmoid stays a
# function of its own (its derivative is s*(1 - s), as authors write it); "exp": it is
# written out as 1/(1 + exp(-x)), for claims that spell it out on one side only.
PASSES = ("atomic", "exp")


def prove(
    prepared: Prepared,
    ctx: Context,
    facts: tuple[Fact, ...],
    unequal: Iterable[tuple[sympy.Symbol, sympy.Symbol]] = (),
    mode: str = "atomic",
) -> bool:
    """Whether lhs - rhs normalises to zero for symbolic sizes under `facts`."""
    unequal_deltas = {KroneckerDelta(a, b): sympy.Integer(0) for a, b in unequal}
    difference = prepared.lhs - prepared.rhs
    if mode == "exp":
        if not difference.has(sigmoid):
            return False  # the same as the atomic pass
        difference = difference.rewrite(sigmoid, sympy.exp)
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
        ctx.memo[key] = Normaliser(ctx, ()).run(_resolved(expr, ctx), ranges)
    return ctx.memo[key]  # type: ignore[return-value]


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
