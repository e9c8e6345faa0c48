"""One claim's result: its free indices checked, its verdict decided, and its sides shown as
unicode math for the report (the engine's output, as data the reports read)."""

from __future__ import annotations

import dataclasses
import re

import sympy

from derivcheck.engine import decide as deciding
from derivcheck.engine import symbolic
from derivcheck.engine.context import Context
from derivcheck.model import Claim, Problem, Span, StepResult, Text, Verdict
from derivcheck.vocabulary import Diff, shown

Unequal = tuple[tuple[sympy.Symbol, sympy.Symbol], ...]

# Pretty math taller or wider than this is shown on one line instead (and cut short).
PRETTY_MAX_LINES = 12
PRETTY_MAX_WIDTH = 100
COMPACT_MAX_CHARS = 400


def check_claim(claim: Claim, ctx: Context, unequal: Unequal, *, path: str) -> StepResult:
    """The verdict on one claim, with what the report shows of it."""
    base = dict(
        number=claim.number,
        id=claim.id,
        span=claim.text.span,
        written=claim.written,
        pretty_written=pretty_equation(claim.lhs, claim.rhs),
        justification=claim.justification,
        expect_refuted=claim.expect_refuted,
        expect_error=claim.expect_error,
    )
    left_free = ctx.free_indices(claim.lhs) - claim.entry
    right_free = ctx.free_indices(claim.rhs) - claim.entry
    mismatch = ""
    if left_free != right_free:
        mismatch = (
            f"the two sides have different free indices: "
            f"{{{', '.join(sorted(s.name for s in left_free))}}} and {{{', '.join(sorted(s.name for s in right_free))}}}"
        )
        if not _free_by_differentiation(claim, left_free, right_free, ctx):
            problem = Problem(path, claim.text.span, "free-index-mismatch", mismatch)
            return StepResult(verdict=Verdict.ERROR, method="could not check", message=mismatch, problems=(problem,), **base)  # type: ignore[arg-type]
    outcome = deciding.decide(claim.lhs, claim.rhs, ctx, unequal=unequal)
    if mismatch and outcome.verdict not in (Verdict.PROVED, Verdict.CHECKED):
        note = f"{mismatch} (the claim is checked for every value of each)"
        outcome = dataclasses.replace(outcome, message="; ".join(filter(None, [outcome.message, note])))
    problems: tuple[Problem, ...] = ()
    if outcome.verdict is Verdict.ERROR and outcome.code:
        problems = (Problem(path, entry_span(claim.text, outcome.entry), outcome.code, outcome.message),)
    simplified = ""
    if outcome.simplified is not None:
        simplified = pretty_equation(*outcome.simplified)
        if simplified == base["pretty_written"]:
            simplified = ""
    return StepResult(
        verdict=outcome.verdict,
        method=outcome.method,
        message=outcome.message,
        pretty_simplified=simplified,
        assumptions_used=outcome.assumptions_used,
        counterexample=outcome.counterexample,
        tried=tuple(outcome.tried),
        problems=problems,
        **base,  # type: ignore[arg-type]
    )


def entry_span(text: Text, entry: str) -> Span:
    """Where the claim writes `entry` (r[d], or r[d + 1], as SymPy prints it): its first place
    with those subscripts, spaces aside. The claim's start when it is not written there (an
    entry inside a definition's body, or a claim in LaTeX)."""
    name, bracket, rest = entry.partition("[")
    if not bracket or not rest.endswith("]"):
        return text.span
    subscripts = (re.escape(part.strip()).replace(r"\ ", r"\s*") for part in rest[:-1].split(","))
    pattern = rf"(?<![\w.]){re.escape(name)}\s*\[\s*" + r"\s*,\s*".join(subscripts) + r"\s*\]"
    found = re.search(pattern, text.value)
    return text.at(found.start()) if found else text.span


def hints(claim: Claim, ctx: Context, unequal: Unequal) -> list[str]:
    """For a refuted claim: its residual, and a common fact that would make it hold."""
    return deciding.hints(claim.lhs, claim.rhs, ctx, unequal=unequal)


def with_hints(result: StepResult, found: list[str]) -> StepResult:
    if not found:
        return result
    return dataclasses.replace(result, message="; ".join(filter(None, [result.message, *found])))


def wants_hints(claim: Claim, result: StepResult) -> bool:
    """Hints are looked for on a refutation nobody expected."""
    return result.verdict is Verdict.REFUTED and not claim.expect_refuted


def _free_by_differentiation(claim: Claim, left_free: set[sympy.Symbol], right_free: set[sympy.Symbol], ctx: Context) -> bool:
    """Whether the free indices that only one side has are all indices of a variable that
    side differentiates by, and the other side does not bind them in a Sum: the partial
    derivative of an entry, dz[i]/db[i] = 1, whose value may not depend on i. Then the claim
    is checked for every value of every free index. Otherwise (a sum dropped or added: an
    index free on one side and summed on the other) different free indices are an error."""
    for side, own, other, other_side in ((claim.lhs, left_free, right_free, claim.rhs), (claim.rhs, right_free, left_free, claim.lhs)):
        extra = own - other
        if not extra:
            continue
        differentiated = {index for node in side.atoms(Diff) for index in ctx.free_indices(node.args[1])}
        bound = {var.name for total in other_side.atoms(sympy.Sum) for var, _low, _high in total.limits}
        if not extra <= differentiated or any(index.name in bound for index in extra):
            return False
    return True


def pretty_equation(lhs: sympy.Basic, rhs: sympy.Basic) -> str:
    """Unicode math for `lhs = rhs`; one line of text when the math would be too big."""
    left, right = symbolic.readable(shown(lhs), shown(rhs))
    compact = f"{left} = {right}"
    text = ""
    # SymPy's 2-D printer takes time quadratic in the depth of nested sums (tens of seconds
    # for a deep network's gradient), and what is wider than a line on one line is wider
    # still drawn: such sides are shown on one line without drawing them.
    if len(compact) <= 2 * PRETTY_MAX_WIDTH:
        try:
            text = sympy.pretty(sympy.Eq(left, right, evaluate=False), use_unicode=True, wrap_line=False)
        except Exception:  # noqa: BLE001  # SymPy's printer can fail on odd input; the text form stands in
            text = ""
    lines = text.splitlines()
    if text and len(lines) <= PRETTY_MAX_LINES and max(len(line) for line in lines) <= PRETTY_MAX_WIDTH:
        return "\n".join(line.rstrip() for line in lines)
    if len(compact) > COMPACT_MAX_CHARS:
        compact = compact[: COMPACT_MAX_CHARS - 1] + "…"
    return compact
