"""The Markdown reporter: a summary and a table of steps per file, for pull-request comments."""

# The document is written at the end, so that the verdict of the whole run comes first:
#
#   ## derivcheck: ✅ all hold          (❌ does not hold; ❌ interrupted, incomplete)
#   1 file, 9 steps: ... (the summary line)
#   ### `derivations/softmax_ce.yaml` — Softmax + cross-entropy
#   | step | id | claim | verdict | method |
#   then the file's problems and the details of each step that does not hold.
#
# GitHub-flavoured Markdown. User text goes into code spans (claims, ids, paths), or is
# escaped (titles, methods, messages), so `a[k]`, `*`, `|` and `<tag>` show as written, and
# text that starts a line (`# x`, `- x`, `1. x`, `---`) opens no block. render.py escapes
# the text of a rendered derivation with the same `escape`.
# Paths, which come from the file system unchecked, have their control and bidirectional
# characters shown as escapes (printable_path).

from __future__ import annotations

import re
from collections.abc import Sequence

from derivcheck.model import FileResult, Problem, StepResult, Verdict
from derivcheck.report import INTERRUPTED_NOTE, WholeDocumentReporter, printable_path, run_holds, step_holds, summary_line
from derivcheck.report.diagnostics import (
    counterexample_summary,
    failure_rule,
    one_line,
    step_headline,
)

ICON_BY_VERDICT: dict[Verdict, str] = {
    Verdict.PROVED: "✅",
    Verdict.CHECKED: "☑️",
    Verdict.REFUTED: "❌",
    Verdict.UNDECIDED: "❓",
    Verdict.ERROR: "⚠️",
}

# Characters that mean something inside a line of GitHub Markdown ($ starts math there, #
# ends a heading), escaped wherever they are: they cover the block markers # > * _ ` ~ | <.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$#])")

# Escaped text may start a line (a description, a title after `# `, a list item's text): then
# what would still open a block there is escaped too. A list item (+ or -, or 1. and 1) up to
# nine digits), a setext underline (= or -) and a thematic break (- - -).
_LINE_START = re.compile(r"^(?:([+=-])|([0-9]{1,9})([.)]))")


def _escape_line_start(match: re.Match[str]) -> str:
    sign, digits, mark = match.groups()
    return f"\\{sign}" if sign else f"{digits}\\{mark}"


def escape(text: str) -> str:
    """Plain text for a Markdown paragraph, heading or table cell, on one line: shown as
    written wherever it is put, never as markup, a block or raw HTML."""
    escaped = _SPECIAL.sub(r"\\\1", one_line(text))
    return _LINE_START.sub(_escape_line_start, escaped, count=1)


def code(text: str) -> str:
    """`text` as a code span that is safe in a table cell (pipes escaped, backticks fenced)."""
    text = one_line(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def verdict_cell(step: StepResult, *, strict: bool = True) -> str:
    """The icon and the verdict, with how it counts when that is not plain."""
    icon = ICON_BY_VERDICT[step.verdict]
    word = step.verdict.value
    rule = failure_rule(step, strict=strict)
    if step.expect_refuted:
        if step.verdict is Verdict.REFUTED:
            return f"✅ {word} (expected)"
        return f"❌ {word} (expected refuted)"
    if rule == "not-proved":
        return f"❌ {word} (--strict)"
    return f"{icon} {word}"


def _problem(problem: Problem) -> str:
    """`path:line:col` `code`: message."""
    return (
        f"{code(printable_path(problem.location))} {code(problem.code)}: "
        f"{escape(problem.message)}"
    )


def _file_section(result: FileResult, *, strict: bool) -> list[str]:
    """A file's heading, its problems and warnings, its table of steps, and the details of
    each step that does not hold."""
    heading = f"### {code(printable_path(result.path))}"
    if result.title:
        heading += f" — {escape(result.title)}"
    lines = [heading, ""]
    problems = (*result.problems, *result.warnings)
    if problems:
        lines.extend(f"- **{problem.severity}** {_problem(problem)}" for problem in problems)
        lines.append("")
    if not result.steps:
        if not problems:
            lines.extend(["No steps.", ""])
        return lines
    lines.extend(_step_table(result.steps, strict=strict))
    failing = [step for step in result.steps if not step_holds(step, strict=strict)]
    for step in failing:
        lines.extend(_step_details(step, strict=strict))
    if failing:
        lines.append("")
    return lines


def _step_table(steps: Sequence[StepResult], *, strict: bool) -> list[str]:
    """The table of a file's steps: number, id, claim, verdict and method, one row each."""
    lines = ["| step | id | claim | verdict | method |", "| ---: | --- | --- | --- | --- |"]
    for step in steps:
        lines.append(
            f"| {step.number} | {code(step.id) if step.id else ''} | {code(step.written)} "
            f"| {verdict_cell(step, strict=strict)} | {escape(step.method)} |"
        )
    lines.append("")
    return lines


def _step_details(step: StepResult, *, strict: bool) -> list[str]:
    """A list item for a step that does not hold: its message, problems, counterexample and
    what was tried."""
    lines = [f"- **{escape(step_headline(step, strict=strict))}** (line {step.span.line})"]
    if step.message and step.message not in {problem.message for problem in step.problems}:
        lines.append(f"  - {escape(step.message)}")
    for problem in step.problems:
        lines.append(f"  - {_problem(problem)}")
    if step.counterexample is not None:
        summary = counterexample_summary(step.counterexample, max_values=None)
        lines.append(f"  - counterexample: {code(summary)}")
    for attempt in step.tried:
        lines.append(f"  - tried: {escape(attempt)}")
    return lines


def render(results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False) -> str:
    """The whole Markdown document for a run."""
    holds = run_holds(results, strict=strict, interrupted=interrupted)
    verdict = "✅ all hold" if holds else "❌ interrupted, incomplete" if interrupted else "❌ does not hold"
    lines = [f"## derivcheck: {verdict}", ""]
    if interrupted:
        lines += [f"**The run was {INTERRUPTED_NOTE}**: below are the files it finished.", ""]
    lines += [escape(summary_line(results, strict=strict, interrupted=interrupted)), ""]
    for result in results:
        lines.extend(_file_section(result, strict=strict))
    return "\n".join(lines).rstrip("\n") + "\n"


class MarkdownReporter(WholeDocumentReporter):
    """Writes the Markdown document once, at the end of the run (the summary comes first)."""

    def render(self, results: Sequence[FileResult], *, interrupted: bool) -> str:
        return render(results, strict=self.strict, interrupted=interrupted)
