"""The findings of a run as located diagnostics, one per thing to fix, for the CI reporters."""

# GitHub annotations, SARIF results and JUnit failures all want the same thing: where,
# under which rule, how bad, a one-line title and a few lines of detail. This module
# turns file results into that list once, so the reporters only differ in syntax.
#
# A step that holds has no diagnostic. A step that does not hold has one, at the step,
# under the rule for why it fails (FAILURE_RULES), unless it carries problems with their
# own positions (a parse error points at the character): then one per problem, under
# the problem's code. File problems and warnings are one diagnostic each, under their code.

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from derivcheck.model import Counterexample, FileResult, Problem, Span, StepResult, Verdict
from derivcheck.report import step_holds

# Why a step does not hold: rule id -> description. The ids are kebab-case like problem codes.
FAILURE_RULES: dict[str, str] = {
    "refuted": "The two sides of the step differ at a concrete counterexample.",
    "undecided": (
        "derivcheck could neither prove nor refute the step (a time-out, a SymPy failure, "
        "or numeric agreement without a proof)."
    ),
    "step-error": (
        "The step could not be checked: it does not parse, uses an undeclared name, "
        "or its sides have different free indices."
    ),
    "refutation-missed": "The step is marked `expect: refuted`, but it holds.",
    "not-proved": "The step was only checked at concrete sizes, not proved (it passes with --accept-checked).",
}

# Problem codes with a description for SARIF rules; other codes get a generic one.
PROBLEM_RULES: dict[str, str] = {
    "not-found": "The path does not exist.",
    "unreadable": "The file cannot be read as UTF-8 text.",
    "too-large": "The file, or an expression in it, is larger than derivcheck reads.",
    "yaml-syntax": "The file is not valid YAML.",
    "yaml-alias": "The file uses YAML aliases, which derivation files do not allow.",
    "schema": "The file does not follow the derivation format (a misspelled or misplaced key).",
    "duplicate-key": "A key appears twice in the same mapping.",
    "duplicate-id": "Two steps have the same id.",
    "duplicate-name": "A name is declared twice.",
    "unknown-reference": "`by:` names a step id that is not an earlier step.",
    "syntax": "An expression does not parse.",
    "undeclared-symbol": "An expression uses a name that is not declared.",
    "free-index": "A definition uses an index that is neither a parameter nor bound by a Sum.",
    "free-index-mismatch": "The two sides of a claim have different free indices.",
    "cyclic-definition": "Definitions refer to each other in a cycle.",
    "unsupported-assumption": "An assumption is of a kind derivcheck does not understand, or is about a defined quantity.",
    "control-character": "The file holds a control or bidirectional-override character.",
    "unsafe-expression": "An expression uses a construct outside the safe subset (it is never evaluated).",
    "arity": "A function or a family is given the wrong number of arguments or indices.",
    "shape-mismatch": "Matrix shapes do not fit (a product, a sum or an equation).",
    "too-large-to-evaluate": "The numbers of a claim are too large to compute within the limits.",
    "index-shadowing": "A Sum's bound index has the name of a free index of the claim.",
    "ambiguous-latex": "A LaTeX step can be read two ways; write it so that one reading is meant.",
    "confusable-name": "A name that Unicode normalisation would turn into another name.",
    "bound-index-in-limits": "A Sum's range names the index the Sum sums over.",
    "vacuous-condition": "A `where:` condition that can restrict nothing, so the step would claim nothing.",
    "empty-range": "An index whose range is empty at every size.",
    "contradictory-assumptions": "A variable's sign assumptions contradict each other.",
    "inconsistent-assumptions": "No values meet the file's assumptions together.",
    "index-range": "A defined family over an index that does not run from 1.",
    "index-out-of-range": "A claim names an entry outside its family's shape at some size.",
}

# At most this many assignments are named in a one-line counterexample.
SUMMARY_MAX_VALUES = 8


@dataclass(frozen=True)
class Diagnostic:
    """One thing to fix, at a position, under a rule (a failure kind or a problem code)."""

    path: str
    span: Span
    rule: str
    severity: str  # "error" or "warning"
    title: str  # one line
    details: tuple[str, ...] = ()  # lines of plain text
    step: StepResult | None = None

    @property
    def message(self) -> str:
        """The details as one block of text (the title when there are none)."""
        return "\n".join(self.details) if self.details else self.title

    @property
    def full_text(self) -> str:
        """Title and details for a step; a file problem's message alone (its title is its code)."""
        if self.step is None:
            return self.message
        return "\n".join((self.title, *self.details))


def rule_description(rule: str) -> str:
    """What a rule id means, for SARIF's rule list."""
    return FAILURE_RULES.get(rule) or PROBLEM_RULES.get(rule) or f"derivcheck problem '{rule}'."


def failure_rule(step: StepResult, *, strict: bool = True) -> str | None:
    """The FAILURE_RULES id for why `step` does not hold, or None when it holds."""
    if step_holds(step, strict=strict):
        return None
    if step.expect_refuted and step.verdict in (Verdict.PROVED, Verdict.CHECKED):
        return "refutation-missed"
    if step.verdict is Verdict.CHECKED:
        return "not-proved"
    if step.verdict is Verdict.REFUTED:
        return "refuted"
    if step.verdict is Verdict.UNDECIDED:
        return "undecided"
    return "step-error"


def step_label(step: StepResult) -> str:
    """`step 3 (dL_dz)`, or `step 3` without an id."""
    return f"step {step.number} ({step.id})" if step.id else f"step {step.number}"


def step_headline(step: StepResult, *, strict: bool = True) -> str:
    """One line on how the step came out, in words."""
    label = step_label(step)
    rule = failure_rule(step, strict=strict)
    if rule == "refutation-missed":
        return f"{label} was expected to be refuted, but was {step.verdict.value}"
    if rule == "not-proved":
        return f"{label} was only checked at concrete sizes, not proved (--accept-checked lets it pass)"
    if rule == "refuted":
        return f"{label} is refuted"
    if rule == "undecided":
        return f"{label} is undecided"
    if rule == "step-error":
        return f"{label} could not be checked"
    if step.expect_refuted:
        return f"{label} is refuted, as expected"
    return f"{label} is {step.verdict.value}"


def assignments(counterexample: Counterexample) -> list[str]:
    """`name = value` for every size, index and variable of a counterexample, in that order."""
    pairs = (*counterexample.sizes, *counterexample.indices, *counterexample.values)
    return [f"{name} = {value}" for name, value in pairs]


def counterexample_summary(
    counterexample: Counterexample, *, max_values: int | None = SUMMARY_MAX_VALUES
) -> str:
    """One line: `at N = 2, k = 1, x[1] = 3/2: lhs = 2.25, rhs = 1.5` (long lists cut short)."""
    shown = assignments(counterexample)
    if max_values is not None and len(shown) > max_values:
        shown = [*shown[:max_values], f"… ({len(shown) - max_values} more)"]
    where = f"at {', '.join(shown)}: " if shown else ""
    return f"{where}lhs = {counterexample.lhs}, rhs = {counterexample.rhs}"


def step_details(step: StepResult, *, strict: bool = True) -> list[str]:
    """Plain lines about a step: the claim, the method, why it fails, the counterexample."""
    lines = [f"claim: {one_line(step.written)}"]
    lines.append(
        f"verdict: {step.verdict.value}" + (" (expect: refuted)" if step.expect_refuted else "")
    )
    if step.method:
        lines.append(f"method: {one_line(step.method)}")
    if step.justification:
        lines.append(f"by: {one_line(step.justification)}")
    if step.assumptions_used:
        lines.append(f"assumptions used: {', '.join(step.assumptions_used)}")
    if step.message and step.message not in {problem.message for problem in step.problems}:
        lines.append(one_line(step.message))
    if step.counterexample is not None:
        lines.append(
            "counterexample: " + counterexample_summary(step.counterexample, max_values=None)
        )
    for attempt in step.tried:
        lines.append(f"tried: {one_line(attempt)}")
    return lines


def one_line(text: str) -> str:
    """Whitespace, newlines included, collapsed to single spaces."""
    return " ".join(text.split())


def _problem_diagnostic(
    problem: Problem, *, title: str, details: Sequence[str] = (), step: StepResult | None = None
) -> Diagnostic:
    return Diagnostic(
        path=problem.path,
        span=problem.span,
        rule=problem.code,
        severity=problem.severity if problem.severity in ("error", "warning") else "error",
        title=title,
        details=(one_line(problem.message), *details),
        step=step,
    )


def step_diagnostics(step: StepResult, path: str, *, strict: bool = True) -> Iterator[Diagnostic]:
    """Diagnostics for one step: none when it holds (except problems it carries)."""
    rule = failure_rule(step, strict=strict)
    headline = step_headline(step, strict=strict)
    if rule is None:
        for problem in step.problems:
            yield _problem_diagnostic(problem, title=headline, step=step)
        return
    details = step_details(step, strict=strict)
    if step.problems:
        for problem in step.problems:
            yield _problem_diagnostic(problem, title=headline, details=details, step=step)
        return
    yield Diagnostic(path, step.span, rule, "error", headline, tuple(details), step)


def file_diagnostics(result: FileResult, *, strict: bool = True) -> list[Diagnostic]:
    """Every diagnostic for one file: its problems, its warnings, then its steps in order."""
    found: list[Diagnostic] = []
    for problem in result.problems:
        found.append(_problem_diagnostic(problem, title=problem.code))
    for warning in result.warnings:
        found.append(_problem_diagnostic(warning, title=warning.code))
    for step in result.steps:
        found.extend(step_diagnostics(step, result.path, strict=strict))
    return found
