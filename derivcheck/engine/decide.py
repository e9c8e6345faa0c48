"""The verdict on one claimed equality: proved, checked, refuted or undecided.

Order of work: the witness's first look at the cheapest sizes (a wrong step is refuted before
any slow algebra); a symbolic proof for general sizes (trying no fact, then each fact); then
the witness at every size assignment, on a proof and on everything else. A proof counts only
when the witness evaluated enough points and none disagreed: a disagreement is a refutation
at that point, and a proof with too few witnessed points is undecided. Without a proof, an
exact check at every concrete size and index pattern may give `checked`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sympy

from derivcheck.engine import concrete, symbolic
from derivcheck.engine.context import Context, Fact
from derivcheck.engine.witness import Testimony, Witness, sizes_text
from derivcheck.model import Counterexample, Verdict

# The pairs of free indices a claim holds unequal (`where: k != j`).
Unequal = tuple[tuple[sympy.Symbol, sympy.Symbol], ...]


@dataclass
class Outcome:
    verdict: Verdict
    method: str
    assumptions_used: tuple[str, ...] = ()
    counterexample: Counterexample | None = None
    message: str = ""
    tried: list[str] = field(default_factory=list)
    simplified: tuple[sympy.Expr, sympy.Expr] | None = None
    code: str = ""  # the problem code of an ERROR verdict
    entry: str = ""  # the entry an ERROR is about (r[d], as SymPy prints it), when it has one


def free_indices(expr: sympy.Basic, ctx: Context) -> set[sympy.Symbol]:
    return {symbol for symbol in expr.free_symbols if symbol in ctx.ranges}


def _refuted(testimony: Testimony, tried: list[str], simplified: tuple[sympy.Expr, sympy.Expr] | None, *, proof: bool = False) -> Outcome | None:
    """The outcome the witness decides alone: a counterexample, or a claim that is ill-formed
    at some size; None when it did neither."""
    if testimony.error is not None:
        return Outcome(
            Verdict.ERROR, "could not evaluate at concrete sizes", message=testimony.error, tried=tried,
            code="index-out-of-range", entry=testimony.error_entry or "",
        )
    example = testimony.counterexample
    if example is None:
        return None
    sizes = ", ".join(f"{name}={value}" for name, value in example.sizes)
    digits = testimony.digits
    compared = "the sides differ exactly" if not digits else f"the sides differ in interval arithmetic at {digits // 2} and {digits} digits"
    message = "the two sides differ at the values below"
    if proof:
        message += "; the symbolic engine had found a proof, which the witness overrules"
    return Outcome(
        Verdict.REFUTED,
        "counterexample" + (f" at {sizes}" if sizes else "") + f": exact values; {compared}",
        counterexample=example,
        message=message,
        tried=tried,
        simplified=simplified,
    )


def _prove(lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context, unequal: Unequal, tried: list[str]) -> tuple[tuple[Fact, ...] | None, tuple[sympy.Expr, sympy.Expr] | None]:
    """A symbolic proof for general sizes, at the cheapest stage first (definitions kept by
    name, then substituted a layer at a time), with no fact, then each fact, then all: the
    facts it used (None: no proof), and the sides as the report shows them."""
    simplified = None
    try:
        simplified = (symbolic.simplified(lhs, ctx), symbolic.simplified(rhs, ctx))
        for prepared in symbolic.stages(lhs, rhs, ctx):
            for mode in symbolic.PASSES:
                for subset in symbolic.fact_subsets(ctx.facts):
                    if symbolic.prove(prepared, ctx, subset, unequal, mode):
                        return subset, simplified
        tried.append("symbolic proof for general sizes: a residual remained after normalisation")
    except symbolic.EngineError as exc:
        tried.append(f"symbolic proof for general sizes: {exc}")
    except Exception as exc:  # SymPy can raise anything on hard input; that is not a verdict
        tried.append(f"symbolic proof for general sizes: SymPy failed ({type(exc).__name__})")
    return None, simplified


def decide(
    lhs: sympy.Expr,
    rhs: sympy.Expr,
    ctx: Context,
    *,
    unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...] = (),
    seed: int = 0,
) -> Outcome:
    tried: list[str] = []
    witness = Witness(lhs, rhs, ctx, unequal=unequal, seed=seed, minima=ctx.minima)
    # 1. The witness's first look: a wrong step is refuted before any slow algebra.
    found = _refuted(witness.look(), tried, None)
    if found is not None:
        return found

    # 2. A symbolic proof for general sizes; then the witness at every size assignment.
    proved_with, simplified_sides = _prove(lhs, rhs, ctx, unequal, tried)
    testimony = witness.testify()
    found = _refuted(testimony, tried, simplified_sides, proof=proved_with is not None)
    if found is not None:
        return found
    if testimony.unsupported is not None:
        tried.append(f"the witness: {testimony.unsupported}")
    if proved_with is not None:
        if testimony.witnessed():
            return Outcome(
                Verdict.PROVED,
                f"symbolic, for general sizes; {testimony.describe()}",
                assumptions_used=tuple(fact.name for fact in proved_with),
                tried=tried,
                simplified=simplified_sides,
            )
        tried.append(f"a symbolic proof was found, but not witnessed: {testimony.describe()}")
        return Outcome(Verdict.UNDECIDED, "proof found, no witness", tried=tried, simplified=simplified_sides)

    # 3. No proof: an exact check at every concrete size and index pattern.
    checked = _checked(lhs, rhs, ctx, unequal, tried)
    if checked is not None and testimony.witnessed():
        subset, names = checked
        return Outcome(
            Verdict.CHECKED,
            f"exact at {names} for every index pattern; {testimony.describe()}; not proved for general sizes",
            assumptions_used=tuple(fact.name for fact in subset),
            tried=tried,
            simplified=simplified_sides,
        )
    if checked is not None:
        tried.append(f"exact at {checked[1]} for every index pattern, but not witnessed")
    tried.append(testimony.describe())
    return Outcome(Verdict.UNDECIDED, "no proof, no exact check, no counterexample", tried=tried, simplified=simplified_sides)


def _checked(lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context, unequal: Unequal, tried: list[str]) -> tuple[tuple[Fact, ...], str] | None:
    """The facts under which the sides are exactly equal at every concrete size assignment and
    index pattern tried, with those sizes; None when that is not shown."""
    free = sorted(free_indices(lhs, ctx) | free_indices(rhs, ctx), key=lambda s: s.name)
    assignments = concrete.size_assignments(ctx, max(2, len(free)), beyond=max(concrete.index_constants(lhs, rhs), default=0))
    builders = [concrete.Explicit(ctx, sizes) for sizes in assignments]

    # Only the assignments with some index pattern are checked, and only those are named.
    patterns = {position: list(concrete.index_patterns(free, ctx, sizes, list(unequal))) for position, sizes in enumerate(assignments)}
    where = [position for position in patterns if patterns[position]]
    if not where:
        tried.append("exact check at concrete sizes: no values of the free indices at any size tried")
        return None

    def every_pattern() -> Iterator[tuple[concrete.Explicit, sympy.Expr, sympy.Expr]]:
        for position in where:
            builder = builders[position]
            for pattern in patterns[position]:
                yield builder, builder.make(lhs, pattern), builder.make(rhs, pattern)

    for subset in _exact_subsets(ctx.facts):
        try:
            if _exact_everywhere(every_pattern(), ctx, subset):
                return subset, "; ".join(sizes_text(assignments[position]) for position in where)
        except symbolic.EngineError as exc:
            tried.append(f"exact check at concrete sizes: {exc}")
            return None
        except Exception as exc:  # SymPy can raise anything on hard input; that is not a verdict
            tried.append(f"exact check at concrete sizes: SymPy failed ({type(exc).__name__})")
            return None
    tried.append("exact check at concrete sizes: a nonzero residual remained (not shown to be zero)")
    return None


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
    it would be proved, e.g. "holds if Sum(y[k], (k, 1, N)) = 1". A fact is named only when
    the witness agrees with that proof too. Hints are a bonus: a failure gives fewer of them."""
    found: list[str] = []
    try:
        # The cheapest stage only (the intermediates by name): a hint is a bonus, and the
        # stages with the definitions substituted cost most on exactly the deep claims.
        prepared = next(symbolic.stages(lhs, rhs, ctx))
        residual = symbolic.simplified(lhs - rhs, ctx)
        (text,) = map(str, symbolic.readable(residual))
        found.append("residual lhs - rhs: " + (text if len(text) <= 300 else text[:299] + "…"))
        for candidate in _candidate_facts(ctx):
            if not (prepared.lhs - prepared.rhs).has(ctx.families[candidate.family].base):
                continue
            if symbolic.prove(prepared, ctx, ctx.facts + (candidate,), unequal, "structural"):
                assumed = dataclasses.replace(ctx, facts=ctx.facts + (candidate,))
                if Witness(lhs, rhs, assumed, unequal=unequal, minima=ctx.minima).testify().witnessed():
                    found.append(f"holds if {_fact_text(candidate, ctx)}")
                break  # sum-to-one comes first: the weaker fact is the better hint
        factor = _factor_between(prepared, lhs, rhs, ctx, unequal)
        if factor is not None:
            found.append(_FACTOR_WORDS.get(factor, f"the left side is {factor} times the right side"))
    except Exception:  # noqa: BLE001  # SymPy can raise anything on hard input; a hint is not a verdict
        pass
    return found


# The slips a constant factor shows: a sign, a dropped or doubled 2. Tried in this order.
_FACTORS = (sympy.Integer(-1), sympy.Integer(2), sympy.Rational(1, 2), sympy.Integer(-2), sympy.Rational(-1, 2))
_FACTOR_WORDS = {sympy.Integer(-1): "the sides differ only in sign: lhs = -rhs"}
_FACTOR_SECONDS = 1.5  # of CPU for all the factors: the hints' limit is HINT_SECONDS in all


def _factor_between(
    prepared: symbolic.Prepared, lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context, unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...]
) -> sympy.Expr | None:
    """A constant c of _FACTORS with lhs = c*rhs proved for general sizes and confirmed by
    the witness, or None. Given up past _FACTOR_SECONDS: the residual matters more."""
    start = time.process_time()
    for factor in _FACTORS:
        if time.process_time() - start > _FACTOR_SECONDS:
            return None
        # The witness first: at a wrong factor it disagrees at its first points, cheaply.
        if not Witness(lhs, factor * rhs, ctx, unequal=unequal, minima=ctx.minima).testify().witnessed():
            continue
        scaled = symbolic.Prepared(prepared.lhs, factor * prepared.rhs)
        proved = any(symbolic.prove(scaled, ctx, ctx.facts, unequal, mode) for mode in symbolic.PASSES)
        return factor if proved else None
    return None


def _candidate_facts(ctx: Context) -> list[Fact]:
    """Common facts the file did not declare: each vector or matrix variable summing to 1, and one-hot."""
    declared = {(fact.kind, fact.family) for fact in ctx.facts}
    candidates: list[Fact] = []
    for name, family in ctx.families.items():
        if name in ctx.definitions or len(family.shape) not in (1, 2):
            continue
        if ("sum", name) not in declared and ("one_hot", name) not in declared:
            candidates.append(Fact(f"{name} sums to 1", "sum", name, sympy.Integer(1), family.shape[0], sympy.Integer(1)))
        if ("one_hot", name) not in declared:
            candidates.append(Fact(f"{name} one-hot", "one_hot", name))
    return candidates


def _exact_subsets(facts: tuple[Fact, ...]) -> list[tuple[Fact, ...]]:
    return [()] + ([facts] if facts else [])


def _exact_everywhere(sides: Iterable[tuple[concrete.Explicit, sympy.Expr, sympy.Expr]], ctx: Context, facts: tuple[Fact, ...]) -> bool:
    cases: dict[int, list[dict[sympy.Basic, sympy.Expr]]] = {}
    for explicit, left, right in sides:
        if id(explicit) not in cases:
            cases[id(explicit)] = list(concrete.fact_cases(ctx, facts, explicit))
        residual = left - right
        for case in cases[id(explicit)]:
            if not concrete.exactly_zero(explicit.with_assumptions(residual.xreplace(case))):
                return False
    return True
