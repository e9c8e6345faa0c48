"""Checking derivation files: from a loaded Derivation to a FileResult, step by step."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sympy

from derivcheck import exprparse, source, worker
from derivcheck.engine import decide as deciding
from derivcheck.engine.context import Context, Definition, Fact, Family
from derivcheck.exprparse import Diff, ParseError, Scope
from derivcheck.model import FileResult, Problem, Span, StepResult, Verdict
from derivcheck.source import Derivation, SourceError, Text

DERIVATION_SUFFIXES = (".yaml", ".yml")
ONE_HOT = re.compile(r"^\s*one_hot\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*$")


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileResult]]:
    """Files to check (directories expanded to their *.yaml / *.yml files, sorted), and
    a FileResult with a `not-found` problem for each path that does not exist."""
    found: list[Path] = []
    missing: list[FileResult] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in DERIVATION_SUFFIXES and p.is_file())
            )
        elif path.exists():
            found.append(path)
        else:
            problem = Problem(str(path), Span(1, 1), "not-found", "no such file or directory")
            missing.append(FileResult(str(path), None, problems=(problem,)))
    return found, missing


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
    size_scope = Scope(names=dict(names), families={}, indices=frozenset())

    ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]] = {}
    index_names: set[str] = set()
    for decl in derivation.indices:
        if not claim_name(decl.name):
            continue
        try:
            low = exprparse.parse_expression(decl.low.value, size_scope)
            high = exprparse.parse_expression(decl.high.value, size_scope)
        except ParseError as exc:
            problems.append(_problem(path, decl.low, exc))
            continue
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

    # Heads first, so that definitions may use each other in any order.
    heads: dict[str, tuple[tuple[sympy.Symbol, ...], sympy.Basic]] = {}
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
        symbols = tuple(names[p] for p in params)
        if params:
            base = sympy.IndexedBase(name, real=True)
            families[name] = (base, len(params))
            shape = tuple(ranges[s][1] for s in symbols)
            ctx_families[name] = Family(name, base, shape)
            heads[name] = (symbols, base)
        else:
            symbol = sympy.Symbol(name, real=True)
            names[name] = symbol
            heads[name] = ((), symbol)

    scope = Scope(names=names, families=families, indices=frozenset(index_names))
    definitions: dict[str, Definition] = {}
    uses: dict[str, set[str]] = {}
    for definition in derivation.definitions:
        try:
            name, _ = exprparse.parse_head(definition.head.value)
        except ParseError:
            continue
        if name not in heads:
            continue
        params, target = heads[name]
        try:
            body = exprparse.parse_expression(definition.body.value, scope)
        except ParseError as exc:
            problems.append(_problem(path, definition.body, exc))
            continue
        stray = sorted(s.name for s in body.free_symbols if s in ranges and s not in params)
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
        definitions[name] = Definition(name, params, body, target)
        uses[name] = {n for n in _names_in(body) if n in heads}

    cycle = _find_cycle(uses)
    if cycle:
        first = next(d for d in derivation.definitions if exprparse_head_name(d.head.value) == cycle[0])
        problems.append(
            Problem(path, first.head.span, "cyclic-definition", "definitions form a cycle: " + " -> ".join(cycle + [cycle[0]]))
        )

    facts: list[Fact] = []
    for assumption in derivation.assumptions:
        fact = _fact(assumption, scope, ctx_families, path, problems)
        if fact is not None:
            facts.append(fact)

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
    )
    return Workspace(derivation, scope, context)


def exprparse_head_name(text: str) -> str | None:
    try:
        return exprparse.parse_head(text)[0]
    except ParseError:
        return None


def _names_in(expr: sympy.Basic) -> set[str]:
    found = {s.name for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    found |= {str(i.base.label) for i in expr.atoms(sympy.Indexed)}
    return found


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


def _fact(assumption: source.Assumption, scope: Scope, families: dict[str, Family], path: str, problems: list[Problem]) -> Fact | None:
    name = assumption.name.value
    text = assumption.statement
    match = ONE_HOT.match(text.value)
    if match:
        family = match.group(1)
        if family not in families or len(families[family].shape) != 1:
            problems.append(Problem(path, text.span, "unsupported-assumption", f"one_hot needs a vector variable, and '{family}' is not one"))
            return None
        return Fact(name, "one_hot", family)
    try:
        lhs, rhs = exprparse.parse_equation(text.value, scope)
    except ParseError as exc:
        problems.append(_problem(path, text, exc))
        return None
    if isinstance(lhs, sympy.Sum) and len(lhs.limits) == 1:
        var, low, high = lhs.limits[0]
        summand = lhs.function
        if isinstance(summand, sympy.Indexed) and summand.indices == (var,) and str(summand.base.label) in families:
            if not (rhs.free_symbols - set(scope.names.values())):
                return Fact(name, "sum", str(summand.base.label), low, high, rhs)
    problems.append(
        Problem(
            path,
            text.span,
            "unsupported-assumption",
            "derivcheck understands two kinds of assumption: one_hot(y), and Sum(y[k], (k, 1, N)) = value",
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
    left, right = _shown(lhs), _shown(rhs)
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


def claims_of(step: source.StepSpec, scope: Scope, path: str) -> tuple[list[Claim], list[StepResult]]:
    """The equalities a step makes, or error results for parts that do not parse."""
    errors: list[StepResult] = []
    claims: list[Claim] = []
    step_id = step.id.value if step.id else None
    words = step.by.value if step.by else ", ".join(ref.value for ref in step.by_ids)

    def error(number: str, text: Text, exc: ParseError) -> StepResult:
        problem = _problem(path, text, exc)
        return StepResult(number, step_id, problem.span, text.value, Verdict.ERROR, "could not parse", message=problem.message, problems=(problem,), justification=words, expect_refuted=step.expect_refuted)

    if step.claim is not None:
        number = str(step.number)
        try:
            lhs, rhs = exprparse.parse_equation(step.claim.value, scope)
        except ParseError as exc:
            return [], [error(number, step.claim, exc)]
        claims.append(Claim(number, step, step.claim.value, step.claim, lhs, rhs, words))
        return claims, errors
    parsed: list[sympy.Expr | None] = []
    for link in step.chain:
        try:
            parsed.append(exprparse.parse_expression(link.expr.value, scope))
        except ParseError as exc:
            parsed.append(None)
            errors.append(error(f"{step.number}.{len(parsed) - 1 or 1}", link.expr, exc))
    for position in range(1, len(step.chain)):
        before, after = parsed[position - 1], parsed[position]
        if before is None or after is None:
            continue
        link = step.chain[position]
        written = f"{step.chain[position - 1].expr.value} = {link.expr.value}"
        by = link.by.value if link.by else words
        claims.append(Claim(f"{step.number}.{position}", step, written, link.expr, before, after, by))
    return claims, errors


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
    )
    ctx = workspace.context
    left_free = deciding.free_indices(claim.lhs, ctx)
    right_free = deciding.free_indices(claim.rhs, ctx)
    if left_free != right_free:
        message = (
            f"the two sides have different free indices: "
            f"{{{', '.join(sorted(s.name for s in left_free))}}} and {{{', '.join(sorted(s.name for s in right_free))}}}"
        )
        problem = Problem(path, claim.text.span, "free-index-mismatch", message)
        return StepResult(verdict=Verdict.ERROR, method="not checked", message=message, problems=(problem,), **base)
    outcome = deciding.decide(claim.lhs, claim.rhs, ctx, unequal=unequal)
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


def _check_limited(
    claim: Claim,
    workspace: Workspace,
    unequal: tuple[tuple[sympy.Symbol, sympy.Symbol], ...],
    timeout: float | None,
) -> StepResult:
    """check_claim in a killable child process; a time-out or a crash is `undecided`."""
    if timeout is None:
        return check_claim(claim, workspace, unequal)
    outcome = worker.run_limited(lambda: check_claim(claim, workspace, unequal), seconds=timeout)
    if isinstance(outcome, worker.Finished):
        return outcome.value
    step = claim.step
    if isinstance(outcome, worker.TimedOut):
        method = f"time-out: not finished within {timeout:g} s"
        tried = (f"the check was stopped after {timeout:g} s (raise the limit with --timeout)",)
    else:
        method = "the check crashed"
        tried = (outcome.reason.splitlines()[0],)
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
    )


def check_derivation(derivation: Derivation, *, timeout: float | None = 10.0) -> FileResult:
    path = derivation.path
    try:
        workspace = build(derivation)
    except FileProblems as exc:
        return FileResult(path, derivation.title, problems=tuple(exc.problems))
    results: list[StepResult] = []
    for step in derivation.steps:
        unequal: list[tuple[sympy.Symbol, sympy.Symbol]] = []
        where_error: StepResult | None = None
        for condition in step.where:
            try:
                unequal.append(exprparse.parse_condition(condition.value, workspace.scope))
            except ParseError as exc:
                problem = _problem(path, condition, exc)
                where_error = StepResult(str(step.number), step.id.value if step.id else None, problem.span, condition.value, Verdict.ERROR, "could not parse", message=problem.message, problems=(problem,), expect_refuted=step.expect_refuted)
        if where_error is not None:
            results.append(where_error)
            continue
        claims, errors = claims_of(step, workspace.scope, path)
        results.extend(errors)
        for claim in claims:
            results.append(_check_limited(claim, workspace, tuple(unequal), timeout))
    results.sort(key=lambda r: [int(part) for part in r.number.split(".")])
    return FileResult(path, derivation.title, steps=tuple(results))


def check_file(path: Path, *, timeout: float | None = 10.0) -> FileResult:
    """Check one derivation file. Never raises for bad input. Each claim runs in a child
    process stopped after `timeout` seconds (None: in this process, without a limit)."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        title = derivation.title if derivation is not None else None
        return FileResult(str(path), title, problems=tuple(problems))
    return check_derivation(derivation, timeout=timeout)


__all__ = ["discover", "check_file", "check_derivation", "SourceError"]
