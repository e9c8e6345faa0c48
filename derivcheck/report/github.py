"""The GitHub Actions reporter: workflow commands that annotate the lines that need fixing."""

# Each step that does not hold, and each file problem, becomes one
# `::error file=...,line=...,col=...,title=...::message` line (warnings `::warning`),
# which GitHub shows as an annotation on the file, also in a pull request's diff.
#
# Steps that hold get no annotation, not even `::notice`: GitHub shows at most 10
# annotations of each level per step and 50 per job, so one notice per proved step
# (softmax_ce alone has 15) would use up the budget and bury the errors. Every step's
# verdict is still in the log, one plain line each, inside a collapsed `::group::` per file.
#
# User text can never start a workflow command of its own: commands are recognised at
# the start of a line only, every plain line starts with the step number, and newlines in
# messages and properties are escaped as GitHub's runner expects. File paths come from the
# file system, unchecked: their control and bidirectional characters are shown as escapes
# (printable_path), since the log shows ANSI sequences and GitHub cannot escape them.

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from derivcheck.model import FileResult, StepResult, Verdict
from derivcheck.report import INTERRUPTED_NOTE, printable_path, step_holds, summary_line
from derivcheck.report.diagnostics import Diagnostic, file_diagnostics, one_line

COMMAND_BY_SEVERITY = {"error": "error", "warning": "warning"}


def escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (GitHub's escapeProperty)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, **properties: str | int) -> str:
    """`::name key=value,...::message`, every part escaped."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotation(diagnostic: Diagnostic) -> str:
    """The workflow command for one diagnostic (without line and col when it has no position)."""
    where: dict[str, str | int] = {"file": printable_path(diagnostic.path)}
    if diagnostic.span.known:
        where.update(line=diagnostic.span.line, col=diagnostic.span.col)
    return workflow_command(
        COMMAND_BY_SEVERITY.get(diagnostic.severity, "error"),
        diagnostic.message,
        **where,
        title=f"derivcheck: {diagnostic.title}",
    )


def _verdict_word(step: StepResult, *, strict: bool) -> str:
    word = step.verdict.value
    if step.expect_refuted:
        word += " (expected)" if step.verdict is Verdict.REFUTED else " (expected refuted)"
    if not step_holds(step, strict=strict):
        word += " ✘"
    return word


def step_log_line(step: StepResult, *, strict: bool = True) -> str:
    """One plain log line for a step; it starts with the step number, never with `::`."""
    parts = [f"{step.number:>5}", f"{_verdict_word(step, strict=strict):<22}"]
    if step.id:
        parts.append(step.id)
    parts.append(f"(line {step.span.line})")
    parts.append(one_line(step.written))
    return "  ".join(parts)


class GithubReporter:
    """Prints a group of plain lines and the annotations for each file, then a summary line."""

    def __init__(
        self, stream: TextIO, *, color: bool = True, width: int | None = None, strict: bool = True
    ) -> None:
        self.stream = stream
        self.strict = strict

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")

    def file_done(self, result: FileResult) -> None:
        path = printable_path(result.path)
        header = path if not result.title else f"{path} — {result.title}"
        self._print(workflow_command("group", f"derivcheck {one_line(header)}"))
        for step in result.steps:
            self._print(step_log_line(step, strict=self.strict))
        if not result.steps:
            self._print(
                "    (no steps)"
                if not result.problems
                else "    (not checked: see the errors below)"
            )
        self._print("::endgroup::")
        for diagnostic in file_diagnostics(result, strict=self.strict):
            self._print(annotation(diagnostic))
        self.stream.flush()

    def finish(self, results: Sequence[FileResult], *, interrupted: bool = False) -> None:
        if interrupted:  # an annotation of its own: the job's page must not look complete
            message = f"derivcheck was {INTERRUPTED_NOTE}: this report holds only the files above."
            self._print(workflow_command("error", message, title="derivcheck: interrupted"))
        self._print(f"derivcheck: {summary_line(results, strict=self.strict, interrupted=interrupted)}")
        self.stream.flush()
