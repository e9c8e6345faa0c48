"""A derivation's steps into claims: each `claim:` or link of a `chain:` as an equality of two
SymPy sides, with its `where:` conditions, or the error result of a part that cannot be read."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from derivcheck import parse
from derivcheck.engine.context import Context
from derivcheck.model import Claim, FileResult, Problem, StepResult, Text, Verdict
from derivcheck.parse import TOO_LARGE_TO_EVALUATE, MatrixValue, ParseError, Value, matrices
from derivcheck.prepare.workspace import PROBE_SIZES, FileProblems, Workspace, build, parse_problem, probe_assignments
from derivcheck.source import Derivation, StepSpec

Unequal = tuple[tuple[sympy.Symbol, sympy.Symbol], ...]
Condition = tuple[Text, tuple[sympy.Symbol, sympy.Symbol]]


@dataclass
class Pending:
    """A claim waiting for the engine, with what it is checked against."""

    claim: Claim
    workspace: Workspace
    unequal: Unequal
    position: int  # the step's position in its file


@dataclass
class Prepared:
    """A file read into SymPy, its steps split into claims for the engine and results
    known without it (parse errors, shape errors), before any claim is checked."""

    derivation: Derivation
    positions: tuple[int, ...]
    problems: tuple[Problem, ...] = ()
    pending: list[Pending] = field(default_factory=list)
    known: dict[int, list[StepResult]] = field(default_factory=dict)
    warnings: dict[int, list[Problem]] = field(default_factory=dict)


def prepare(derivation: Derivation, positions: Sequence[int] | None = None) -> Prepared:
    """Build the file and turn the steps at `positions` (all by default) into claims."""
    chosen = tuple(range(len(derivation.steps))) if positions is None else tuple(positions)
    try:
        workspace = build(derivation)
    except FileProblems as exc:
        return Prepared(derivation, chosen, problems=tuple(exc.problems))
    prepared = Prepared(derivation, chosen)
    for position in chosen:
        step = derivation.steps[position]
        known = prepared.known.setdefault(position, [])
        warnings = prepared.warnings.setdefault(position, [])
        conditions = _conditions(step, workspace)
        if isinstance(conditions, StepResult):
            known.append(conditions)
            continue
        claims, errors = claims_of(step, workspace)
        known.extend(errors)
        vacuous = _vacuous_condition(step, conditions, claims, workspace)
        if vacuous is not None:
            known.append(vacuous)
            continue
        for claim in claims:
            warnings.extend(hygiene_warnings(claim, workspace.context, derivation.path))
            prepared.pending.append(Pending(claim, workspace, tuple(pair for _, pair in conditions), position))
    return prepared


def _entry_claim(before: Value, after: Value, ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]) -> tuple[sympy.Expr, sympy.Expr, frozenset[sympy.Symbol]] | str:
    """Two sides as scalars: matrices of one shape are compared at a generic entry (row, col),
    two fresh indices over the shape; a message when the shapes differ."""
    if not isinstance(before, MatrixValue) and not isinstance(after, MatrixValue):
        return before, after, frozenset()
    if not (isinstance(before, MatrixValue) and isinstance(after, MatrixValue)):
        matrix = before if isinstance(before, MatrixValue) else after
        return f"a scalar and a {matrix.shape} matrix cannot be equal"
    if not (matrices.same_size(before.rows, after.rows) and matrices.same_size(before.cols, after.cols)):
        return f"the two sides have different shapes: {before.shape} = {after.shape}"
    row, col = sympy.Dummy("row", integer=True), sympy.Dummy("col", integer=True)
    ranges[row] = (sympy.Integer(1), before.rows)
    ranges[col] = (sympy.Integer(1), before.cols)
    return before.at(row, col), after.at(row, col), frozenset({row, col})


@dataclass(frozen=True)
class _StepMaker:
    """Claims and error results for one step, stamped with its number, id and expectations."""

    step: StepSpec
    path: str

    @property
    def words(self) -> str:
        return self.step.by.value if self.step.by else ", ".join(ref.value for ref in self.step.by_ids)

    def error(self, number: str, text: Text, problem: Problem) -> StepResult:
        step, step_id = self.step, self.step.id.value if self.step.id else None
        if problem.code == TOO_LARGE_TO_EVALUATE:
            # Well-formed, but its numbers cannot be computed within the limits: undecided,
            # as if it had run out of time, without spending the time.
            return StepResult(number, step_id, problem.span, text.value, Verdict.UNDECIDED, "time-out: not started, the numbers are too large to compute within the limits", problems=(dataclasses.replace(problem, severity="warning"),), justification=self.words, expect_refuted=step.expect_refuted, expect_error=step.expect_error)
        return StepResult(number, step_id, problem.span, text.value, Verdict.ERROR, "could not check", message=problem.message, problems=(problem,), justification=self.words, expect_refuted=step.expect_refuted, expect_error=step.expect_error)

    def claim(self, number: str, text: Text, written: str, by: str, sides: tuple[sympy.Expr, sympy.Expr, frozenset[sympy.Symbol]]) -> Claim:
        step = self.step
        return Claim(number, step.id.value if step.id else None, text, written, by, sides[0], sides[1], step.expect_refuted, step.expect_error, sides[2])


def claims_of(step: StepSpec, workspace: Workspace) -> tuple[list[Claim], list[StepResult]]:
    """The equalities a step makes, or error results for parts that do not parse."""
    scope, path, ranges = workspace.scope, workspace.derivation.path, workspace.context.ranges
    make = _StepMaker(step, path)
    if step.claim is not None:
        number = str(step.number)
        try:
            lhs, rhs = parse.parse_equation(step.claim.value, scope)
        except ParseError as exc:
            return [], [make.error(number, step.claim, parse_problem(path, step.claim, exc))]
        sides = _entry_claim(lhs, rhs, ranges)
        if isinstance(sides, str):
            return [], [make.error(number, step.claim, Problem(path, step.claim.span, "shape-mismatch", sides))]
        return [make.claim(number, step.claim, step.claim.value, make.words, sides)], []
    errors: list[StepResult] = []
    claims: list[Claim] = []
    parsed: list[Value | None] = []
    for position, link in enumerate(step.chain):
        try:
            parsed.append(parse.parse_expression(link.expr.value, scope))
        except ParseError as exc:
            parsed.append(None)
            errors.append(make.error(f"{step.number}.{max(position, 1)}", link.expr, parse_problem(path, link.expr, exc)))
    for position in range(1, len(step.chain)):
        before, after = parsed[position - 1], parsed[position]
        if before is None or after is None:
            continue
        link, number = step.chain[position], f"{step.number}.{position}"
        sides = _entry_claim(before, after, ranges)
        if isinstance(sides, str):
            errors.append(make.error(number, link.expr, Problem(path, link.expr.span, "shape-mismatch", sides)))
            continue
        written = f"{step.chain[position - 1].expr.value} = {link.expr.value}"
        claims.append(make.claim(number, link.expr, written, link.by.value if link.by else make.words, sides))
    return claims, errors


def hygiene_warnings(claim: Claim, ctx: Context, path: str) -> list[Problem]:
    """A Sum whose bound index has the name of one of the claim's free indices: legal
    (the bound one shadows it) but a classic source of slips, so it is pointed at."""
    free = {s.name for s in ctx.free_indices(claim.lhs) | ctx.free_indices(claim.rhs)}
    warnings: list[Problem] = []
    seen: set[str] = set()
    for side in (claim.lhs, claim.rhs):
        for total in side.atoms(sympy.Sum):
            for var, _low, _high in total.limits:
                name = var.name
                if name in free and name not in seen:
                    seen.add(name)
                    match = re.search(r"\(\s*" + re.escape(name) + r"\s*,", claim.text.value)
                    span = claim.text.at(match.start() + 1) if match else claim.text.span
                    message = f"the Sum's bound index {name} has the name of a free index of this claim; inside the Sum it is a different index"
                    warnings.append(Problem(path, span, "index-shadowing", message, severity="warning"))
    return warnings


def _where_error(step: StepSpec, text: Text, problem: Problem) -> StepResult:
    return StepResult(str(step.number), step.id.value if step.id else None, problem.span, text.value, Verdict.ERROR, "could not check", message=problem.message, problems=(problem,), expect_refuted=step.expect_refuted, expect_error=step.expect_error)


def _conditions(step: StepSpec, workspace: Workspace) -> list[Condition] | StepResult:
    """The step's `where:` conditions as pairs of unequal indices, or the error result of the
    first that does not parse or can never hold (`k != k`)."""
    path = workspace.derivation.path
    found: list[Condition] = []
    for condition in step.where:
        try:
            pair = parse.parse_condition(condition.value, workspace.scope)
        except ParseError as exc:
            return _where_error(step, condition, parse_problem(path, condition, exc))
        if pair[0] == pair[1]:
            problem = Problem(path, condition.span, "vacuous-condition", f"{condition.value} never holds, so the step would claim nothing")
            return _where_error(step, condition, problem)
        found.append((condition, pair))
    return found


def _vacuous_condition(step: StepSpec, conditions: list[Condition], claims: list[Claim], workspace: Workspace) -> StepResult | None:
    """An error for a `where:` about an index that no claim of the step has free, or that no
    values of the indices meet at any size tried: either way the step would claim nothing."""
    if not conditions or not claims:
        return None
    ctx, path = workspace.context, workspace.derivation.path
    free = [ctx.free_indices(claim.lhs) | ctx.free_indices(claim.rhs) for claim in claims]
    for text, pair in conditions:
        missing = [index.name for index in pair if not any(index in indices for indices in free)]
        if missing:
            problem = Problem(path, text.span, "vacuous-condition", f"{missing[0]} is not a free index of this step, so `where: {text.value}` restricts nothing")
            return _where_error(step, text, problem)
    pairs = [pair for _, pair in conditions]
    indices = sorted({index for pair in pairs for index in pair}, key=lambda s: s.name)
    if any(_meets(indices, pairs, ctx, assignment) for assignment in probe_assignments(ctx.sizes, ctx.minima)):
        return None
    problem = Problem(path, conditions[0][0].span, "vacuous-condition", f"no values of {', '.join(i.name for i in indices)} meet these conditions at any size tried (1 to {PROBE_SIZES})")
    return _where_error(step, conditions[0][0], problem)


def _meets(indices: list[sympy.Symbol], pairs: list[tuple[sympy.Symbol, sympy.Symbol]], ctx: Context, sizes: dict[sympy.Symbol, int]) -> bool:
    """Whether some values of the indices, within their ranges at these sizes, meet every pair."""
    values = {s: sympy.Integer(v) for s, v in sizes.items()}
    spans = []
    for index in indices:
        low, high = (bound.xreplace(values) for bound in ctx.ranges[index])
        if not (low.is_Integer and high.is_Integer):
            return True  # not known here: not shown vacuous
        spans.append(range(int(low), int(high) + 1))
    for chosen in itertools.islice(itertools.product(*spans), 10_000):
        pattern = dict(zip(indices, chosen))
        if all(pattern[a] != pattern[b] for a, b in pairs):
            return True
    return False


def step_results(prepared: Prepared, outcomes: dict[int, StepResult], positions: Sequence[int] | None = None) -> dict[int, FileResult]:
    """Each prepared step's result alone (of the steps at `positions`, by default all), from
    the results of its claims (keyed by their place in `prepared.pending`); a file that does
    not build gives its problems."""
    derivation = prepared.derivation
    chosen = prepared.positions if positions is None else tuple(positions)
    if prepared.problems:
        return {position: FileResult(derivation.path, derivation.title, problems=prepared.problems) for position in chosen}
    results: dict[int, list[StepResult]] = {position: list(prepared.known[position]) for position in chosen}
    for index, pending in enumerate(prepared.pending):
        if pending.position in results:
            results[pending.position].append(outcomes[index])
    return {
        position: FileResult(derivation.path, derivation.title, steps=tuple(_in_order(found)), warnings=tuple(prepared.warnings[position]))
        for position, found in results.items()
    }


def _in_order(results: list[StepResult]) -> list[StepResult]:
    return sorted(results, key=lambda r: [int(part) for part in r.number.split(".")])


def whole(prepared: Prepared, outcomes: dict[int, StepResult]) -> FileResult:
    """The file's result from the results of its claims."""
    derivation = prepared.derivation
    if prepared.problems:
        return FileResult(derivation.path, derivation.title, problems=prepared.problems)
    by_step = step_results(prepared, outcomes)
    steps = _in_order([result for position in prepared.positions for result in by_step[position].steps])
    warnings = tuple(warning for position in prepared.positions for warning in by_step[position].warnings)
    return FileResult(derivation.path, derivation.title, steps=tuple(steps), warnings=warnings)
