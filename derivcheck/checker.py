"""Checking derivation files: from a loaded Derivation to a FileResult, step by step."""

from __future__ import annotations

import collections
import dataclasses
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import sympy

from derivcheck import exprparse, latex, matrices, source, worker
from derivcheck.engine import concrete
from derivcheck.engine import decide as deciding
from derivcheck.engine import fastpaths
from derivcheck.engine import symbolic, witness
from derivcheck.engine.context import Context, Definition, Fact, Family
from derivcheck.exprparse import Diff, MatrixValue, ParseError, Scope
from derivcheck.model import FileResult, Problem, Span, StepResult, Verdict
from derivcheck.runner import discover  # re-exported: finding the files needs no SymPy
from derivcheck.source import Derivation, SourceError, Text

T = TypeVar("T")

DERIVATION_SUFFIXES = (".yaml", ".yml")
# The time a refuted step's hints (residual, a fact that would make it hold) may take.
HINT_SECONDS = 5.0
ONE_HOT = re.compile(r"^\s*one_hot\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*$")


class FileProblems(Exception):
    """Problems that stop the checking of a file before its steps."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Workspace:
    """A derivation read into SymPy: the scope to parse steps in and the engine's context."""

    derivation: Derivation
    scope: Scope
    context: Context
    problems: list[Problem] = field(default_factory=list)


def _problem(path: str, text: Text, exc: ParseError) -> Problem:
    return Problem(path, text.at(exc.offset), exc.code, str(exc.args[0]) if exc.args else str(exc))


def build(derivation: Derivation) -> Workspace:
    """Declarations, definitions and assumptions into SymPy, or FileProblems."""
    path = derivation.path
    problems: list[Problem] = []
    names: dict[str, sympy.Symbol] = {}
    families: dict[str, tuple[sympy.IndexedBase, int]] = {}
    declared_at: dict[str, Span] = {}

    def claim_name(text: Text) -> bool:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text.value):
            problems.append(Problem(path, text.span, "schema", f"'{text.value}' is not a valid name"))
            return False
        if text.value in declared_at:
            first = declared_at[text.value]
            problems.append(
                Problem(path, text.span, "duplicate-name", f"'{text.value}' is already declared at line {first.line}")
            )
            return False
        declared_at[text.value] = text.span
        return True

    sizes = []
    for text in derivation.sizes:
        if claim_name(text):
            symbol = sympy.Symbol(text.value, integer=True, positive=True)
            names[text.value] = symbol
            sizes.append(symbol)
    minima = {names[name]: int(least.value) for name, least in derivation.minima if name in names}
    size_scope = Scope(names=dict(names), families={}, indices=frozenset())

    ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]] = {}
    index_names: set[str] = set()
    for decl in derivation.indices:
        if not claim_name(decl.name):
            continue
        bounds = []
        for bound in (decl.low, decl.high):
            try:
                bounds.append(exprparse.parse_expression(bound.value, size_scope))
            except ParseError as exc:
                problems.append(_problem(path, bound, exc))
        if len(bounds) != 2:
            continue
        low, high = bounds
        symbol = sympy.Symbol(decl.name.value, integer=True)
        names[decl.name.value] = symbol
        ranges[symbol] = (low, high)
        index_names.add(decl.name.value)

    ctx_families: dict[str, Family] = {}
    scalars: dict[str, sympy.Symbol] = {}
    signs: dict[str, set[str]] = {"positive": set(), "nonnegative": set(), "negative": set()}
    for var in derivation.variables:
        if not claim_name(var.name):
            continue
        clash = _sign_clash(var.assume)
        if clash:
            problems.append(Problem(path, var.name.span, "contradictory-assumptions", f"{var.name.value} cannot be both {clash[0]} and {clash[1]}"))
            continue
        assume = {word: True for word in var.assume if word != "real"}
        for word in var.assume:
            if word in signs:
                signs[word].add(var.name.value)
        if var.shape:
            shape = []
            for dim in var.shape:
                try:
                    shape.append(exprparse.parse_expression(dim.value, size_scope))
                except ParseError as exc:
                    problems.append(_problem(path, dim, exc))
            base = sympy.IndexedBase(var.name.value, real=True, **assume)
            families[var.name.value] = (base, len(var.shape))
            ctx_families[var.name.value] = Family(var.name.value, base, tuple(shape))
        else:
            symbol = sympy.Symbol(var.name.value, real=True, **assume)
            names[var.name.value] = symbol
            scalars[var.name.value] = symbol

    # Definitions may come in any order: read the heads, order them by what each body
    # uses (a cycle is an error), then parse each body once what it uses is known, so a
    # matrix-valued body (Z: theta @ X) makes its name a family with a shape.
    heads: dict[str, tuple[source.Definition, tuple[str, ...]]] = {}
    for definition in derivation.definitions:
        try:
            name, params = exprparse.parse_head(definition.head.value)
        except ParseError as exc:
            problems.append(_problem(path, definition.head, exc))
            continue
        if not claim_name(Text(name, definition.head.span, definition.head.exact)):
            continue
        bad = [p for p in params if p not in index_names]
        if bad:
            problems.append(
                Problem(path, definition.head.span, "undeclared-symbol", f"'{bad[0]}' in {definition.head.value} is not a declared index")
            )
            continue
        heads[name] = (definition, params)
    uses = {
        name: {word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", definition.body.value) + latex.names_in(definition.body.value) if word in heads}
        for name, (definition, _) in heads.items()
    }
    cycle = _find_cycle(uses)
    if cycle:
        first = heads[cycle[0]][0]
        problems.append(
            Problem(path, first.head.span, "cyclic-definition", "definitions form a cycle: " + " -> ".join(cycle + [cycle[0]]))
        )
        raise FileProblems(problems)

    shapes: dict[str, tuple[sympy.Expr, ...]] = {name: family.shape for name, family in ctx_families.items()}
    definitions: dict[str, Definition] = {}
    for name in _topological(uses):
        definition, params = heads[name]
        scope = Scope(names=names, families=families, indices=frozenset(index_names), shapes=shapes, layout=derivation.layout)
        try:
            body = exprparse.parse_expression(definition.body.value, scope)
        except ParseError as exc:
            problems.append(_problem(path, definition.body, exc))
            continue
        symbols = tuple(names[p] for p in params)
        if isinstance(body, MatrixValue):
            if params:
                problems.append(
                    Problem(path, definition.body.span, "shape-mismatch", f"{definition.head.value} is one entry, but its body is a {body.shape} matrix")
                )
                continue
            # A matrix (or column vector) definition: a family whose entries are the body's.
            row, col = sympy.Dummy("r", integer=True), sympy.Dummy("c", integer=True)
            column = body.is_column()
            symbols = (row,) if column else (row, col)
            shape = (body.rows,) if column else (body.rows, body.cols)
            base = sympy.IndexedBase(name, real=True)
            families[name] = (base, len(shape))
            shapes[name] = shape
            ctx_families[name] = Family(name, base, shape)
            definitions[name] = Definition(name, symbols, body.at(row, col), base)
            continue
        stray = sorted(s.name for s in body.free_symbols if s in ranges and s not in symbols)
        if stray:
            problems.append(
                Problem(
                    path,
                    definition.body.span,
                    "free-index",
                    f"the definition of {definition.head.value} uses the index {stray[0]}, which is neither a parameter nor bound by a Sum",
                )
            )
            continue
        if body.has(Diff):
            problems.append(Problem(path, definition.body.span, "schema", "a definition cannot contain a Derivative"))
            continue
        if params:
            base = sympy.IndexedBase(name, real=True)
            families[name] = (base, len(params))
            shape = tuple(ranges[s][1] for s in symbols)
            shapes[name] = shape
            ctx_families[name] = Family(name, base, shape)
            definitions[name] = Definition(name, symbols, body, base)
        else:
            symbol = sympy.Symbol(name, real=True)
            names[name] = symbol
            definitions[name] = Definition(name, (), body, symbol)

    scope = Scope(names=names, families=families, indices=frozenset(index_names), shapes=shapes, layout=derivation.layout)
    facts: list[Fact] = []
    for assumption in derivation.assumptions:
        fact = _fact(assumption, scope, ctx_families, set(definitions), set(sizes), path, problems)
        if fact is not None:
            facts.append(fact)

    if problems:
        raise FileProblems(problems)
    problems.extend(_empty_ranges(derivation, ranges, sizes, minima))
    if problems:
        raise FileProblems(problems)
    context = Context(
        sizes=tuple(sizes),
        ranges=ranges,
        families=ctx_families,
        scalars=scalars,
        definitions=definitions,
        facts=tuple(facts),
        positive=frozenset(signs["positive"]),
        nonnegative=frozenset(signs["nonnegative"]),
        negative=frozenset(signs["negative"]),
        minima=minima,
    )
    problems.extend(_inconsistent_facts(derivation, context))
    if problems:
        raise FileProblems(problems)
    return Workspace(derivation, scope, context)


def _sign_clash(words: Sequence[str]) -> tuple[str, str] | None:
    """Two sign assumptions on one variable that no number meets together."""
    for first, second in (("positive", "negative"), ("nonnegative", "negative")):
        if first in words and second in words:
            return first, second
    return None


# Sizes at which a declaration is tried for being empty or inconsistent: 1 to this many.
PROBE_SIZES = 6


def _probe_assignments(sizes: Sequence[sympy.Symbol], minima: dict[sympy.Symbol, int]) -> list[dict[sympy.Symbol, int]]:
    """Every size at the same value v, for v from 1 to PROBE_SIZES (at least its minimum), and
    the sizes at distinct values: enough to see a range or a set of facts that is never met."""
    found = []
    for value in range(1, PROBE_SIZES + 1):
        for offset in (0, 1):
            assignment = {size: max(value + offset * position, minima.get(size, 1)) for position, size in enumerate(sizes)}
            if assignment not in found:
                found.append(assignment)
    return found


def _empty_ranges(derivation: Derivation, ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]], sizes: Sequence[sympy.Symbol], minima: dict[sympy.Symbol, int]) -> list[Problem]:
    """An index whose range is empty at every size tried (`e: 2..1`): a claim about it would
    hold vacuously, so it is an error at its declaration."""
    problems = []
    for decl in derivation.indices:
        symbol = next((s for s in ranges if s.name == decl.name.value), None)
        if symbol is None:
            continue
        low, high = ranges[symbol]
        counts = []
        for assignment in _probe_assignments(sizes, minima):
            values = {s: sympy.Integer(v) for s, v in assignment.items()}
            width = (high - low + 1).xreplace(values)
            counts.append(int(width) if width.is_Integer else 1)
        if all(count <= 0 for count in counts):
            problems.append(Problem(derivation.path, decl.low.span, "empty-range", f"the range {decl.low.value}..{decl.high.value} of {decl.name.value} is empty at every size"))
    return problems


def _inconsistent_facts(derivation: Derivation, ctx: Context) -> list[Problem]:
    """Assumptions that no point meets together (one_hot(y) with Sum(y[k], (k, 1, N)) = 2), at
    every size tried: an error naming them, at the first one's position."""
    if not ctx.facts:
        return []
    shared = witness.Shared(ctx)
    rng = random.Random(0)
    for assignment in _probe_assignments(ctx.sizes, ctx.minima):
        try:
            witness.fact_values(ctx, assignment, shared, rng, "simple")
            return []
        except witness.NoSample:
            return []  # not shown to be inconsistent
        except (witness.Inconsistent, witness.WitnessError, witness.Unsupported):
            continue
    named = ", ".join(fact.name for fact in ctx.facts)
    first = derivation.assumptions[0]
    return [Problem(derivation.path, first.statement.span, "inconsistent-assumptions", f"no values meet the assumptions {named} together, at any size tried (1 to {PROBE_SIZES})")]


def _topological(uses: dict[str, set[str]]) -> list[str]:
    """Names in an order where each comes after the names it uses (no cycles here)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        done.add(node)
        for used in sorted(uses[node]):
            visit(used)
        order.append(node)

    for node in sorted(uses):
        visit(node)
    return order


def _find_cycle(uses: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(uses.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(uses):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _fact(assumption: source.Assumption, scope: Scope, families: dict[str, Family], defined: set[str], sizes: set[sympy.Symbol], path: str, problems: list[Problem]) -> Fact | None:
    """An assumption read into a Fact, or a problem at its position. A fact is about a
    variable (not a defined quantity, which its definition already fixes), and a Sum fact's
    limits and value are numbers and sizes only."""
    name = assumption.name.value
    text = assumption.statement
    match = ONE_HOT.match(text.value)
    if match:
        family = match.group(1)
        if family in defined:
            problems.append(Problem(path, text.span, "unsupported-assumption", f"'{family}' is defined, so a fact about it could contradict its definition; state facts about variables"))
            return None
        if family not in families or len(families[family].shape) not in (1, 2):
            problems.append(
                Problem(path, text.span, "unsupported-assumption", f"one_hot needs a vector or matrix variable, and '{family}' is not one")
            )
            return None
        return Fact(name, "one_hot", family)
    try:
        lhs, rhs = exprparse.parse_equation(text.value, scope)
    except ParseError as exc:
        problems.append(_problem(path, text, exc))
        return None
    if isinstance(lhs, sympy.Sum) and len(lhs.limits) == 1 and not isinstance(rhs, MatrixValue):
        var, low, high = lhs.limits[0]
        summand = lhs.function
        if isinstance(summand, sympy.Indexed) and str(summand.base.label) in defined:
            problems.append(Problem(path, text.span, "unsupported-assumption", f"'{summand.base.label}' is defined, so a fact about it could contradict its definition; state facts about variables"))
            return None
        loose = sorted(s.name for s in (low.free_symbols | high.free_symbols | rhs.free_symbols) - sizes)
        if loose:
            problems.append(Problem(path, text.span, "unsupported-assumption", f"the limits and the value of a Sum assumption are numbers and sizes only, and '{loose[0]}' is neither"))
            return None
        if isinstance(summand, sympy.Indexed) and str(summand.base.label) in families and var in summand.indices:
            position = summand.indices.index(var)
            others = [index for i, index in enumerate(summand.indices) if i != position]
            # The other index (of a matrix) is free: the fact holds for each of its values.
            distinct = all(isinstance(o, sympy.Symbol) and o != var for o in others) and len(set(others)) == len(others)
            if distinct and len(summand.indices) <= 2:
                return Fact(name, "sum", str(summand.base.label), low, high, rhs, position=position)
    problems.append(
        Problem(
            path,
            text.span,
            "unsupported-assumption",
            "derivcheck understands two kinds of assumption: one_hot(y) (a vector, or each column of a matrix), "
            "and Sum(y[k], (k, 1, N)) = value (also Sum(Y[l, i], (l, 1, L)) = value for every column i)",
        )
    )
    return None


# Pretty math taller or wider than this is shown on one line instead (and cut short).
PRETTY_MAX_LINES = 12
PRETTY_MAX_WIDTH = 100
COMPACT_MAX_CHARS = 400


def _shown(expr: sympy.Basic) -> sympy.Basic:
    return expr.replace(lambda e: isinstance(e, Diff), lambda e: sympy.Derivative(e.args[0], e.args[1], evaluate=False))


def _pretty_equation(lhs: sympy.Basic, rhs: sympy.Basic) -> str:
    """Unicode math for `lhs = rhs`; one line of text when the math would be too big."""
    left, right = symbolic.readable(_shown(lhs), _shown(rhs))
    try:
        text = sympy.pretty(sympy.Eq(left, right, evaluate=False), use_unicode=True, wrap_line=False)
    except Exception:
        text = ""
    lines = text.splitlines()
    if text and len(lines) <= PRETTY_MAX_LINES and max(len(line) for line in lines) <= PRETTY_MAX_WIDTH:
        return "\n".join(line.rstrip() for line in lines)
    compact = f"{left} = {right}"
    if len(compact) > COMPACT_MAX_CHARS:
        compact = compact[: COMPACT_MAX_CHARS - 1] + "…"
    return compact


@dataclass(frozen=True)
class Claim:
    """One equality to check, with where it came from."""

    number: str
    step: source.StepSpec
    written: str
    text: Text  # where errors in the claim point
    lhs: sympy.Expr
    rhs: sympy.Expr
    justification: str
    # The indices of a generic entry when two matrices are compared: one side may not
    # use them (a constant matrix), unlike the free indices the author wrote.
    entry: frozenset[sympy.Symbol] = frozenset()


def _entry_claim(before: exprparse.Value, after: exprparse.Value, ranges: dict) -> tuple[sympy.Expr, sympy.Expr, frozenset[sympy.Symbol]] | str:
    """Two sides as scalars: matrices of one shape are compared at a generic entry (row, col),
    two fresh indices over the shape; a message when the shapes differ."""
    if not isinstance(before, MatrixValue) and not isinstance(after, MatrixValue):
        return before, after, frozenset()
    if not (isinstance(before, MatrixValue) and isinstance(after, MatrixValue)):
        matrix = before if isinstance(before, MatrixValue) else after
        return f"a scalar and a {matrix.shape} matrix cannot be equal"  # type: ignore[union-attr]
    if not (matrices.same_size(before.rows, after.rows) and matrices.same_size(before.cols, after.cols)):
        return f"the two sides have different shapes: {before.shape} = {after.shape}"
    row, col = sympy.Dummy("row", integer=True), sympy.Dummy("col", integer=True)
    ranges[row] = (sympy.Integer(1), before.rows)
    ranges[col] = (sympy.Integer(1), before.cols)
    return before.at(row, col), after.at(row, col), frozenset({row, col})


def claims_of(step: source.StepSpec, workspace: Workspace) -> tuple[list[Claim], list[StepResult]]:
    """The equalities a step makes, or error results for parts that do not parse."""
    scope = workspace.scope
    path = workspace.derivation.path
    ranges = workspace.context.ranges
    errors: list[StepResult] = []
    claims: list[Claim] = []
    step_id = step.id.value if step.id else None
    words = step.by.value if step.by else ", ".join(ref.value for ref in step.by_ids)

    def error(number: str, text: Text, problem: Problem) -> StepResult:
        if problem.code == exprparse.TOO_LARGE_TO_EVALUATE:
            # Well-formed, but its numbers cannot be computed within the limits: undecided,
            # as if it had run out of time, without spending the time.
            return StepResult(number, step_id, problem.span, text.value, Verdict.UNDECIDED, "time-out: not started, the numbers are too large to compute within the limits", problems=(dataclasses.replace(problem, severity="warning"),), justification=words, expect_refuted=step.expect_refuted, expect_error=step.expect_error)
        return StepResult(number, step_id, problem.span, text.value, Verdict.ERROR, "could not check", message=problem.message, problems=(problem,), justification=words, expect_refuted=step.expect_refuted, expect_error=step.expect_error)

    if step.claim is not None:
        number = str(step.number)
        try:
            lhs, rhs = exprparse.parse_equation(step.claim.value, scope)
        except ParseError as exc:
            return [], [error(number, step.claim, _problem(path, step.claim, exc))]
        sides = _entry_claim(lhs, rhs, ranges)
        if isinstance(sides, str):
            return [], [error(number, step.claim, Problem(path, step.claim.span, "shape-mismatch", sides))]
        claims.append(Claim(number, step, step.claim.value, step.claim, sides[0], sides[1], words, sides[2]))
        return claims, errors
    parsed: list[exprparse.Value | None] = []
    for position, link in enumerate(step.chain):
        try:
            parsed.append(exprparse.parse_expression(link.expr.value, scope))
        except ParseError as exc:
            parsed.append(None)
            errors.append(error(f"{step.number}.{max(position, 1)}", link.expr, _problem(path, link.expr, exc)))
    for position in range(1, len(step.chain)):
        before, after = parsed[position - 1], parsed[position]
        if before is None or after is None:
            continue
        link = step.chain[position]
        number = f"{step.number}.{position}"
        sides = _entry_claim(before, after, ranges)
        if isinstance(sides, str):
            errors.append(error(number, link.expr, Problem(path, link.expr.span, "shape-mismatch", sides)))
            continue
        written = f"{step.chain[position - 1].expr.value} = {link.expr.value}"
        by = link.by.value if link.by else words
        claims.append(Claim(number, step, written, link.expr, sides[0], sides[1], by, sides[2]))
    return claims, errors


def hygiene_warnings(claim: Claim, ctx: Context, path: str) -> list[Problem]:
    """A Sum whose bound index has the name of one of the claim's free indices: legal
    (the bound one shadows it) but a classic source of slips, so it is pointed at."""
    free = {s.name for s in deciding.free_indices(claim.lhs, ctx) | deciding.free_indices(claim.rhs, ctx)}
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
                    warnings.append(
                        Problem(
                            path,
                            span,
                            "index-shadowing",
                            f"the Sum's bound index {name} has the name of a free index of this claim; "
                            "inside the Sum it is a different index",
                            severity="warning",
                        )
                    )
    return warnings


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
        differentiated = {index for node in side.atoms(Diff) for index in deciding.free_indices(node.args[1], ctx)}
        bound = {var.name for total in other_side.atoms(sympy.Sum) for var, _low, _high in total.limits}
        if not extra <= differentiated or any(index.name in bound for index in extra):
            return False
    return True


def check_claim(claim: Claim, workspace: Workspace, unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...]) -> StepResult:
    path = workspace.derivation.path
    step = claim.step
    step_id = step.id.value if step.id else None
    base = dict(
        number=claim.number,
        id=step_id,
        span=claim.text.span,
        written=claim.written,
        pretty_written=_pretty_equation(claim.lhs, claim.rhs),
        justification=claim.justification,
        expect_refuted=step.expect_refuted,
        expect_error=step.expect_error,
    )
    ctx = workspace.context
    left_free = deciding.free_indices(claim.lhs, ctx) - claim.entry
    right_free = deciding.free_indices(claim.rhs, ctx) - claim.entry
    mismatch = ""
    if left_free != right_free:
        mismatch = (
            f"the two sides have different free indices: "
            f"{{{', '.join(sorted(s.name for s in left_free))}}} and {{{', '.join(sorted(s.name for s in right_free))}}}"
        )
        if not _free_by_differentiation(claim, left_free, right_free, ctx):
            problem = Problem(path, claim.text.span, "free-index-mismatch", mismatch)
            return StepResult(verdict=Verdict.ERROR, method="not checked", message=mismatch, problems=(problem,), **base)
    outcome = deciding.decide(claim.lhs, claim.rhs, ctx, unequal=unequal)
    if mismatch and outcome.verdict not in (Verdict.PROVED, Verdict.CHECKED):
        note = f"{mismatch} (the claim is checked for every value of each)"
        outcome = dataclasses.replace(outcome, message="; ".join(filter(None, [outcome.message, note])))
    simplified = ""
    if outcome.simplified is not None:
        simplified = _pretty_equation(*outcome.simplified)
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
        **base,
    )


def _unfinished(claim: Claim, method: str, tried: tuple[str, ...]) -> StepResult:
    """A claim with no verdict from the engine: stopped, crashed, or never started."""
    step = claim.step
    return StepResult(
        number=claim.number,
        id=step.id.value if step.id else None,
        span=claim.text.span,
        written=claim.written,
        verdict=Verdict.UNDECIDED,
        method=method,
        justification=claim.justification,
        tried=tried,
        expect_refuted=step.expect_refuted,
        expect_error=step.expect_error,
    )


def _with_hints(result: StepResult, hints: list[str]) -> StepResult:
    if not hints:
        return result
    return dataclasses.replace(result, message="; ".join(filter(None, [result.message, *hints])))


def _wants_hints(claim: Claim, result: StepResult) -> bool:
    return result.verdict is Verdict.REFUTED and not claim.step.expect_refuted


@dataclass
class Pending:
    """A claim waiting for the engine, with what it is checked against."""

    claim: Claim
    workspace: Workspace
    unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...]
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
    path = derivation.path
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
            warnings.extend(hygiene_warnings(claim, workspace.context, path))
            prepared.pending.append(Pending(claim, workspace, tuple(pair for _, pair in conditions), position))
    return prepared


Condition = tuple[Text, tuple[sympy.Symbol, sympy.Symbol]]


def _where_error(step: source.StepSpec, text: Text, problem: Problem) -> StepResult:
    return StepResult(str(step.number), step.id.value if step.id else None, problem.span, text.value, Verdict.ERROR, "could not check", message=problem.message, problems=(problem,), expect_refuted=step.expect_refuted, expect_error=step.expect_error)


def _conditions(step: source.StepSpec, workspace: Workspace) -> list[Condition] | StepResult:
    """The step's `where:` conditions as pairs of unequal indices, or the error result of the
    first that does not parse or can never hold (`k != k`)."""
    path = workspace.derivation.path
    found: list[Condition] = []
    for condition in step.where:
        try:
            pair = exprparse.parse_condition(condition.value, workspace.scope)
        except ParseError as exc:
            return _where_error(step, condition, _problem(path, condition, exc))
        if pair[0] == pair[1]:
            problem = Problem(path, condition.span, "vacuous-condition", f"{condition.value} never holds, so the step would claim nothing")
            return _where_error(step, condition, problem)
        found.append((condition, pair))
    return found


def _vacuous_condition(step: source.StepSpec, conditions: list[Condition], claims: list[Claim], workspace: Workspace) -> StepResult | None:
    """An error for a `where:` about an index that no claim of the step has free, or that no
    values of the indices meet at any size tried: either way the step would claim nothing."""
    if not conditions or not claims:
        return None
    ctx, path = workspace.context, workspace.derivation.path
    free = [deciding.free_indices(claim.lhs, ctx) | deciding.free_indices(claim.rhs, ctx) for claim in claims]
    for text, pair in conditions:
        missing = [index.name for index in pair if not any(index in indices for indices in free)]
        if missing:
            problem = Problem(path, text.span, "vacuous-condition", f"{missing[0]} is not a free index of this step, so `where: {text.value}` restricts nothing")
            return _where_error(step, text, problem)
    pairs = [pair for _, pair in conditions]
    indices = sorted({index for pair in pairs for index in pair}, key=lambda s: s.name)
    for assignment in _probe_assignments(ctx.sizes, ctx.minima):
        if next(concrete.index_patterns(indices, ctx, assignment, pairs), None) is not None:
            return None
    problem = Problem(path, conditions[0][0].span, "vacuous-condition", f"no values of {', '.join(i.name for i in indices)} meet these conditions at any size tried (1 to {PROBE_SIZES})")
    return _where_error(step, conditions[0][0], problem)


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


# What a server is asked: check a claim, or find hints for a refuted one.
CHECK, HINT = "check", "hint"


def _pending(files: Sequence[Prepared], place: tuple[int, int]) -> Pending:
    """The claim at a (file, claim) place."""
    return files[place[0]].pending[place[1]]


def claim_servers(files: Sequence[Prepared], jobs: int) -> worker.Servers:
    """Up to `jobs` server processes for the claims of `files` (forked when first needed),
    to give to check_claims as `servers`: they can serve several calls in turn, keeping
    SymPy's caches from one to the next. The caller closes them."""

    def handle(job: object) -> object:
        fastpaths.defer_units()  # in a server process: ours, with no user code in it
        kind, place = job  # type: ignore[misc]
        item = _pending(files, place)
        if kind == CHECK:
            return check_claim(item.claim, item.workspace, item.unequal)
        return deciding.hints(item.claim.lhs, item.claim.rhs, item.workspace.context, unequal=item.unequal)

    return worker.Servers(handle, jobs)


def check_claims(
    files: Sequence[Prepared],
    *,
    timeout: float | None = 10.0,
    jobs: int = 1,
    file_budget: float | None = None,
    places: Sequence[tuple[int, int]] | None = None,
    servers: worker.Servers | None = None,
) -> Iterator[tuple[int, int, StepResult]]:
    """The result of every pending claim of `files` (or of those at `places` only), as
    (file, claim) places with it, in the order they end.

    With a timeout, claims run in up to `jobs` server processes (worker.Servers) that keep
    SymPy's caches from claim to claim; a claim past `timeout` seconds is undecided and its
    server replaced. `servers` from claim_servers(files, ...) are used instead of new ones,
    and left running. Once the claims of a file have taken `file_budget` seconds in all, its
    claims not yet started are undecided without being checked. Without a timeout, claims
    run here, one after another, without limits.
    """
    everything = list(places) if places is not None else [
        (number, index) for number, prepared in enumerate(files) for index in range(len(prepared.pending))
    ]

    if timeout is None:
        for place in everything:
            item = _pending(files, place)
            result = check_claim(item.claim, item.workspace, item.unequal)
            if _wants_hints(item.claim, result):
                result = _with_hints(result, deciding.hints(item.claim.lhs, item.claim.rhs, item.workspace.context, unequal=item.unequal))
            yield (*place, result)
        return

    if servers is None:
        with claim_servers(files, jobs) as owned:
            yield from _serve(files, everything, owned, timeout, file_budget)
        return
    try:
        yield from _serve(files, everything, servers, timeout, file_budget)
    except BaseException:
        servers.close()  # jobs still running would answer the next call: stop them
        raise


def _serve(
    files: Sequence[Prepared],
    everything: list[tuple[int, int]],
    servers: worker.Servers,
    timeout: float,
    file_budget: float | None,
) -> Iterator[tuple[int, int, StepResult]]:
    """check_claims with servers: the claims at `everything`, in as many servers as there are."""

    # Each server starts on its own run of consecutive claims: the links of a chain share
    # their sides, and a server that prepared a side keeps it for the next link. A server
    # whose run is done takes claims from the end of the longest run left.
    blocks = _blocks(everything, servers.size)
    hints: dict[int, collections.deque[tuple[int, int]]] = collections.defaultdict(collections.deque)

    def take(slot: int) -> tuple[str, tuple[int, int]] | None:
        if hints[slot]:
            return HINT, hints[slot].popleft()  # in the server that has the claim's sides
        if blocks[slot]:
            return CHECK, blocks[slot].popleft()
        longest = max(blocks, key=len)
        return (CHECK, longest.pop()) if longest else None

    spent: collections.Counter[int] = collections.Counter()
    refuted: dict[tuple[int, int], StepResult] = {}
    running: dict[tuple[str, tuple[int, int]], int] = {}
    while True:
        for slot in servers.free_slots():
            while (job := take(slot)) is not None:
                kind, place = job
                if kind == CHECK and file_budget is not None and spent[place[0]] >= file_budget:
                    yield (*place, _unfinished(
                        _pending(files, place).claim,
                        f"time-out: not checked, the file's time budget of {file_budget:g} s was spent",
                        (f"the file's claims took {spent[place[0]]:.0f} s in all (raise the budget with --file-budget)",),
                    ))
                    continue
                servers.submit(job, job, timeout if kind == CHECK else min(timeout, HINT_SECONDS), slot)
                running[job] = slot
                break
        if not servers.busy():
            break
        key, outcome, elapsed = servers.next()
        kind, place = key  # type: ignore[misc]
        slot = running.pop(key)  # type: ignore[arg-type]
        spent[place[0]] += elapsed
        claim = _pending(files, place).claim
        if kind == HINT:
            result = refuted.pop(place)
            if isinstance(outcome, worker.Finished):
                result = _with_hints(result, outcome.value)  # type: ignore[arg-type]
            yield (*place, result)  # a hint that fails or times out is no hint: the verdict stands
            continue
        if isinstance(outcome, worker.Finished):
            result = outcome.value  # type: ignore[assignment]
            if _wants_hints(claim, result):
                refuted[place] = result
                hints[slot].append(place)  # a hint is a bonus with its own short limit
                continue
        elif isinstance(outcome, worker.TimedOut):
            result = _unfinished(
                claim,
                f"time-out: not finished within {timeout:g} s",
                (f"the check was stopped after {timeout:g} s (raise the limit with --timeout)",),
            )
        else:
            result = _unfinished(claim, "the check crashed", (outcome.reason.splitlines()[0],))
        yield (*place, result)


def _blocks(items: Sequence[T], count: int) -> list[collections.deque[T]]:
    """`items` cut into `count` runs of consecutive items, as equal in length as can be."""
    size, extra = divmod(len(items), count)
    runs: list[collections.deque[T]] = []
    start = 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        runs.append(collections.deque(items[start:end]))
        start = end
    return runs


def check_derivation(
    derivation: Derivation,
    *,
    timeout: float | None = 10.0,
    jobs: int = 1,
    file_budget: float | None = None,
) -> FileResult:
    """Check every step of a loaded derivation (see check_claims for the limits)."""
    prepared = prepare(derivation)
    outcomes = {index: result for _, index, result in check_claims([prepared], timeout=timeout, jobs=jobs, file_budget=file_budget)}
    return whole(prepared, outcomes)


def check_file(path: Path, *, timeout: float | None = 10.0, jobs: int = 1, file_budget: float | None = None) -> FileResult:
    """Check one derivation file. Never raises for bad input. Each claim runs in a server
    process and is stopped after `timeout` seconds (None: in this process, without a limit)."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        title = derivation.title if derivation is not None else None
        return FileResult(str(path), title, problems=tuple(problems))
    return check_derivation(derivation, timeout=timeout, jobs=jobs, file_budget=file_budget)


__all__ = ["discover", "check_file", "check_derivation", "SourceError"]
