"""Reporters, found by name: each writes the results of a run to a text stream in one format."""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, TextIO, cast

from derivcheck.model import FileResult, Problem, StepResult, Verdict, summarize

# Name -> "module:Class". Modules are imported only when their reporter is asked for,
# so the JSON reporter never imports rich.
REPORTER_BY_NAME: dict[str, str] = {
    "text": "derivcheck.report.terminal:TerminalReporter",
    "json": "derivcheck.report.jsonreport:JsonReporter",
    "github": "derivcheck.report.github:GithubReporter",
    "junit": "derivcheck.report.junit:JunitReporter",
    "sarif": "derivcheck.report.sarif:SarifReporter",
    "markdown": "derivcheck.report.markdown:MarkdownReporter",
}


class Reporter(Protocol):
    """What the CLI drives: one call per checked file, as it is checked, then one at the end.

    `finish` is told whether the run was interrupted (Ctrl-C, SIGTERM) before every file was
    checked: the report then holds the files done so far, says that it is incomplete, and
    does not pass.
    """

    def file_done(self, result: FileResult) -> None: ...

    def finish(self, results: Sequence[FileResult], *, interrupted: bool = False) -> None: ...


class ReporterFactory(Protocol):
    """A reporter class: built with the stream to write to and a few display settings."""

    def __call__(
        self, stream: TextIO, *, color: bool = True, width: int | None = None, strict: bool = True
    ) -> Reporter: ...


class WholeDocumentReporter:
    """A reporter that writes one document at the end of the run (JSON, SARIF, JUnit,
    Markdown): nothing is streamed per file. A subclass says how to `render` the results;
    `color` and `width` are ignored."""

    def __init__(
        self, stream: TextIO, *, color: bool = True, width: int | None = None, strict: bool = True
    ) -> None:
        self.stream = stream
        self.strict = strict

    def file_done(self, result: FileResult) -> None:
        """Nothing to stream: the document is written whole by `finish`."""

    def render(self, results: Sequence[FileResult], *, interrupted: bool) -> str:
        raise NotImplementedError

    def finish(self, results: Sequence[FileResult], *, interrupted: bool = False) -> None:
        self.stream.write(self.render(results, interrupted=interrupted))
        self.stream.flush()


def reporter_names() -> list[str]:
    """The names accepted by `load_reporter`, sorted."""
    return sorted(REPORTER_BY_NAME)


def load_reporter(name: str) -> ReporterFactory:
    """The reporter class registered under `name`; ValueError for an unknown name."""
    try:
        target = REPORTER_BY_NAME[name]
    except KeyError:
        choices = ", ".join(reporter_names())
        raise ValueError(f"unknown report format {name!r} (choose from {choices})") from None
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    return cast(ReporterFactory, getattr(module, class_name))


def make_reporter(
    name: str, stream: TextIO, *, color: bool = True, width: int | None = None, strict: bool = True
) -> Reporter:
    """Build the reporter registered under `name`, writing to `stream`."""
    return load_reporter(name)(stream, color=color, width=width, strict=strict)


# What a file path may hold that must not reach a terminal or a log as it is: C0 and C1 controls
# (ESC starts colour, screen and hyperlink sequences; line ends break the report's lines), line
# and paragraph separators, bidirectional marks, embeddings, overrides and isolates (they
# reorder what is shown, as in "Trojan Source"), and lone surrogates (bytes of a name that
# are not UTF-8, which cannot even be written out). The text inside a file is checked when it
# is read (source.py); a path comes from the file system or the command line, unchecked.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable_path(path: str) -> str:
    """`path` as it can be shown: the characters above as escapes, like `\\x1b` and `\\u202e`."""
    return _UNPRINTABLE.sub(_escape, path)


def printable_problem(problem: Problem) -> str:
    """`path:line:col: severity [code] message`, with the path made printable."""
    shown = printable_path(problem.path)
    return str(problem if shown == problem.path else replace(problem, path=shown))


def step_holds(step: StepResult, *, strict: bool = True) -> bool:
    """Whether a step counts as holding; a `checked` step does only when not `strict`
    (--accept-checked)."""
    return step.holds(accept_checked=not strict)


def file_holds(result: FileResult, *, strict: bool = True) -> bool:
    """Whether a file has no problems and every step in it holds."""
    return not result.problems and all(step_holds(step, strict=strict) for step in result.steps)


def failing_steps(results: Sequence[FileResult], *, strict: bool = True) -> int:
    """How many steps, over all files, do not hold."""
    return sum(
        1 for result in results for step in result.steps if not step_holds(step, strict=strict)
    )


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


# Said by every report of a run that was stopped before it was done.
INTERRUPTED_NOTE = "interrupted before every file was checked"


def summary_line(results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False) -> str:
    """One line of counts, ending in whether everything holds (never, for an interrupted run)."""
    counts = summarize(list(results))
    steps = sum(len(result.steps) for result in results)
    refuted = counts[Verdict.REFUTED.value]
    expected = sum(
        1
        for result in results
        for step in result.steps
        if step.expect_refuted and step.verdict is Verdict.REFUTED
    )
    if refuted and expected == refuted:
        refuted_text = f"{refuted} refuted (expected)"
    elif expected:
        refuted_text = f"{refuted} refuted ({expected} expected)"
    else:
        refuted_text = f"{refuted} refuted"
    errors = counts[Verdict.ERROR.value]
    expected_errors = sum(
        1 for result in results for step in result.steps if step.expect_error is not None and step.ok
    )
    error_text = _plural(errors, "error") + (f" ({expected_errors} expected)" if expected_errors else "")
    head = (
        f"{_plural(len(results), 'file')}, {_plural(steps, 'step')}: "
        f"{counts[Verdict.PROVED.value]} proved, {counts[Verdict.CHECKED.value]} checked, "
        f"{refuted_text}, {counts[Verdict.UNDECIDED.value]} undecided, "
        f"{error_text}"
    )
    failing = failing_steps(results, strict=strict)
    problems = counts["file_errors"]
    tail: list[str] = [INTERRUPTED_NOTE] if interrupted else []
    if failing:
        tail.append(f"{_plural(failing, 'step')} {'does' if failing == 1 else 'do'} not hold")
    if problems:
        tail.append(_plural(problems, "file problem"))
    return f"{head} — {', '.join(tail) if tail else 'all hold'}"


def run_holds(results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False) -> bool:
    """Whether every step of every file holds and no file has a problem; an interrupted run
    does not hold, whatever the files it finished."""
    return not interrupted and all(file_holds(result, strict=strict) for result in results)
