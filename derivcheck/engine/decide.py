"""The verdict on one claimed equality: proved, checked, refuted or undecided.

Order of work: a symbolic proof for general sizes (trying no fact, then each fact);
then, always, a numeric search at concrete sizes and admissible points, which can
overrule a proof (a disagreement is a refutation); then, if nothing was proved, an
exact check at every concrete size and index pattern tried.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy

from derivcheck.engine import concrete, symbolic
from derivcheck.engine.context import Context, Fact
from derivcheck.model import Counterexample, Verdict

# Index patterns evaluated numerically at each size (all of them when there are fewer).
NUMERIC_PATTERNS_PER_SIZE = 6
# In the quick first look (before the proof), fewer: it is also a proved step's spot check.
QUICK_PATTERNS = 3
POINTS_PER_PATTERN = 2


@dataclass
class Outcome:
    verdict: Verdict
    method: str
    assumptions_used: tuple[str, ...] = ()
    counterexample: Counterexample | None = None
    message: str = ""
    tried: list[str] = field(default_factory=list)
    simplified: tuple[sympy.Expr, sympy.Expr] | None = None


def free_indices(expr: sympy.Basic, ctx: Context) -> set[sympy.Symbol]:
    return {symbol for symbol in expr.free_symbols if symbol in ctx.ranges}


def _show(value: object) -> str:
    if isinstance(value, Fraction):
        return str(value)
    return mpmath.nstr(value, 15)


def _label(entry: sympy.Basic) -> str:
    if isinstance(entry, sympy.Indexed):
        return f"{entry.base.label}[{', '.join(str(i) for i in entry.indices)}]"
    return str(entry)


def decide(
    lhs: sympy.Expr,
    rhs: sympy.Expr,
    ctx: Context,
    *,
    unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...] = (),
    seed: int = 0,
) -> Outcome:
    tried: list[str] = []
    free = sorted(free_indices(lhs, ctx) | free_indices(rhs, ctx), key=lambda s: s.name)
    rng = random.Random(seed)
    assignments = concrete.size_assignments(ctx, max(2, len(free)), beyond=max(concrete.index_constants(lhs, rhs), default=0))
    builders = [concrete.Explicit(ctx, sizes) for sizes in assignments]
    made: dict[tuple[int, tuple[int, ...]], tuple[sympy.Expr, sympy.Expr]] = {}
    simplified_sides: tuple[sympy.Expr, sympy.Expr] | None = None
    points = 0

    def explicit_sides(position: int, pattern: dict[sympy.Symbol, int]) -> tuple[sympy.Expr, sympy.Expr]:
        key = (position, tuple(pattern[s] for s in free))
        if key not in made:
            builder = builders[position]
            made[key] = (builder.make(lhs, pattern), builder.make(rhs, pattern))
        return made[key]

    def search(positions: Iterable[int], per_size: int) -> Outcome | None:
        """Random admissible points at these size assignments; a refutation if the sides differ."""
        nonlocal points
        for position in positions:
            sizes, explicit = assignments[position], builders[position]
            patterns = list(concrete.index_patterns(free, ctx, sizes, list(unequal)))
            chosen = patterns if len(patterns) <= per_size else rng.sample(patterns, per_size)
            for pattern in chosen:
                left, right = explicit_sides(position, pattern)
                entries = concrete.variables_in(left) | concrete.variables_in(right)
                for attempt in range(POINTS_PER_PATTERN):
                    point = concrete.sample_point(ctx, ctx.facts, explicit, entries, rng, simple=attempt == 0)
                    differs, left_value, right_value = concrete.differ(left, right, point)
                    points += 1
                    if differs:
                        example = Counterexample(
                            sizes=tuple((str(s), str(v)) for s, v in sizes.items()),
                            indices=tuple((s.name, str(v)) for s, v in pattern.items()),
                            values=tuple(
                                (_label(entry), str(point.values[entry]))
                                for entry in sorted(entries, key=sympy.default_sort_key)
                                if entry in point.values
                            ),
                            lhs=_show(left_value),
                            rhs=_show(right_value),
                        )
                        exact = isinstance(left_value, Fraction)
                        return Outcome(
                            Verdict.REFUTED,
                            "counterexample"
                            + (f" at {_sizes_text(sizes)}" if sizes else "")
                            + (": exact values, sides compared exactly" if exact else ": exact values, sides compared at 60 digits"),
                            counterexample=example,
                            message="the two sides differ at the values below",
                            tried=tried,
                            simplified=simplified_sides,
                        )
        return None

    def numeric(positions: Iterable[int], per_size: int = NUMERIC_PATTERNS_PER_SIZE) -> Outcome | None:
        try:
            return search(positions, per_size)
        except symbolic.EngineError as exc:
            return Outcome(Verdict.ERROR, "could not evaluate at concrete sizes", message=str(exc), tried=tried)
        except Exception as exc:  # SymPy can raise anything on hard input; that is not a verdict
            tried.append(f"numeric evaluation at concrete sizes: SymPy failed ({type(exc).__name__}: {exc})")
            return Outcome(Verdict.UNDECIDED, "nothing decided", tried=tried, simplified=simplified_sides)

    # 1. A quick numeric look at the smallest sizes: a wrong step is refuted before any
    #    slow algebra, and a proved step has its independent spot check.
    found = numeric([0], QUICK_PATTERNS)
    if found is not None:
        return found
    spot = f"numeric spot check agrees at {points} admissible points"

    # 2. A symbolic proof for general sizes, with no fact, then each fact, then all.
    proved_with: tuple[Fact, ...] | None = None
    try:
        prepared = symbolic.prepare(lhs, rhs, ctx)
        simplified_sides = (symbolic.simplified(lhs, ctx), symbolic.simplified(rhs, ctx))
        for mode in symbolic.PASSES:
            for subset in symbolic.fact_subsets(ctx.facts):
                if symbolic.prove(prepared, ctx, subset, unequal, mode):
                    proved_with = subset
                    break
            if proved_with is not None:
                break
        if proved_with is None:
            tried.append("symbolic proof for general sizes: a residual remained after normalisation")
    except symbolic.EngineError as exc:
        tried.append(f"symbolic proof for general sizes: {exc}")
    except Exception as exc:  # SymPy can raise anything on hard input; that is not a verdict
        tried.append(f"symbolic proof for general sizes: SymPy failed ({type(exc).__name__})")
    if proved_with is not None:
        return Outcome(
            Verdict.PROVED,
            f"symbolic, for general sizes; {spot}",
            assumptions_used=tuple(fact.name for fact in proved_with),
            tried=tried,
            simplified=simplified_sides,
        )

    # 3. No proof: search the other size assignments, then check exactly at all of them.
    found = numeric(range(1, len(assignments)))
    if found is not None:
        return found
    spot = f"numeric evaluation agrees at {points} admissible points"

    def every_pattern() -> Iterator[tuple[concrete.Explicit, sympy.Expr, sympy.Expr]]:
        for position, sizes in enumerate(assignments):
            for pattern in concrete.index_patterns(free, ctx, sizes, list(unequal)):
                yield (builders[position], *explicit_sides(position, pattern))

    for subset in _exact_subsets(ctx.facts):
        try:
            if _exact_everywhere(every_pattern(), ctx, subset):
                names = "; ".join(_sizes_text(sizes) for sizes in assignments)
                return Outcome(
                    Verdict.CHECKED,
                    f"exact at {names} for every index pattern; {spot}; not proved for general sizes",
                    assumptions_used=tuple(fact.name for fact in subset),
                    tried=tried,
                    simplified=simplified_sides,
                )
        except Exception as exc:
            tried.append(f"exact check at concrete sizes: SymPy failed ({type(exc).__name__})")
            break
    else:
        tried.append("exact check at concrete sizes: a nonzero residual remained (not shown to be zero)")
    tried.append(spot)
    return Outcome(
        Verdict.UNDECIDED,
        "no proof, no exact check, no counterexample",
        tried=tried,
        simplified=simplified_sides,
    )


def _fact_text(fact: Fact, ctx: Context) -> str:
    family = ctx.families[fact.family]
    if fact.kind == "one_hot":
        return f"one_hot({fact.family})" + (" (each column)" if len(family.shape) == 2 else "")
    var = "k" if len(family.shape) == 1 else "l"
    entry = f"{fact.family}[{var}]" if len(family.shape) == 1 else f"{fact.family}[{var}, i]"
    return f"Sum({entry}, ({var}, {fact.low}, {fact.high})) = {fact.value}" + (" for every column i" if len(family.shape) == 2 else "")


def hints(
    lhs: sympy.Expr,
    rhs: sympy.Expr,
    ctx: Context,
    *,
    unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...] = (),
) -> list[str]:
    """For a refuted step: its residual, and the common facts (not declared) under which
    it would be proved, e.g. "holds if Sum(y[k], (k, 1, N)) = 1"."""
    found: list[str] = []
    prepared = symbolic.prepare(lhs, rhs, ctx)
    residual = symbolic.simplified(lhs - rhs, ctx)
    (text,) = map(str, symbolic.readable(residual))
    found.append("residual lhs - rhs: " + (text if len(text) <= 300 else text[:299] + "…"))
    declared = {(fact.kind, fact.family) for fact in ctx.facts}
    candidates: list[Fact] = []
    for name, family in ctx.families.items():
        if name in ctx.definitions or len(family.shape) not in (1, 2):
            continue
        if ("sum", name) not in declared and ("one_hot", name) not in declared:
            candidates.append(Fact(f"{name} sums to 1", "sum", name, sympy.Integer(1), family.shape[0], sympy.Integer(1)))
        if ("one_hot", name) not in declared:
            candidates.append(Fact(f"{name} one-hot", "one_hot", name))
    for candidate in candidates:
        if not (prepared.lhs - prepared.rhs).has(ctx.families[candidate.family].base):
            continue
        if symbolic.prove(prepared, ctx, ctx.facts + (candidate,), unequal):
            found.append(f"holds if {_fact_text(candidate, ctx)}")
            break  # sum-to-one comes first: the weaker fact is the better hint
    return found


def _sizes_text(sizes: dict[sympy.Symbol, int]) -> str:
    return ", ".join(f"{s}={v}" for s, v in sizes.items()) or "no sizes"


def _exact_subsets(facts: tuple[Fact, ...]) -> list[tuple[Fact, ...]]:
    return [()] + ([facts] if facts else [])


def _exact_everywhere(sides: Iterable[tuple[concrete.Explicit, sympy.Expr, sympy.Expr]], ctx: Context, facts: tuple[Fact, ...]) -> bool:
    cases: dict[int, list[dict]] = {}
    for explicit, left, right in sides:
        if id(explicit) not in cases:
            cases[id(explicit)] = list(concrete.fact_cases(ctx, facts, explicit))
        residual = left - right
        for case in cases[id(explicit)]:
            if not concrete.exactly_zero(explicit.with_assumptions(residual.xreplace(case))):
                return False
    return True
