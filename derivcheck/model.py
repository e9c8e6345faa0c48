"""The data shared by every part of derivcheck: positions, texts, problems, claims, verdicts and results."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2

# Problem codes that mean a file could not be read at all: the run exits with EXIT_ERROR.
FATAL_CODES = frozenset({"not-found", "unreadable"})


@dataclass(frozen=True)
class Span:
    """A 1-based position in a file (line and column of the first character)."""

    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}" if self.known else ""

    @property
    def known(self) -> bool:
        """Whether this is a position in the file (NO_SPAN is not)."""
        return self.line >= 1 and self.col >= 1


# The span of a problem about a path as a whole, which has no position inside it (no such
# file, a directory): shown as the path alone, never as a made-up 1:1.
NO_SPAN = Span(0, 0)


@dataclass(frozen=True)
class Text:
    """A string from the file and where it starts.

    `exact` says whether the string sits on one line exactly as written (a plain or
    simply-quoted scalar), so that an offset into it maps onto a column.
    """

    value: str
    span: Span
    exact: bool = False

    def at(self, offset: int) -> Span:
        """The position of the character at `offset` (the start of the text when unknown)."""
        if self.exact and 0 <= offset <= len(self.value):
            return Span(self.span.line, self.span.col + offset)
        return self.span


@dataclass(frozen=True)
class Problem:
    """Something wrong in a derivation file, at a position, with a kebab-case code."""

    path: str
    span: Span
    code: str
    message: str
    severity: str = "error"  # "error" or "warning"

    @property
    def location(self) -> str:
        """`path:line:col`, or the path alone for a problem with no position (NO_SPAN)."""
        return f"{self.path}:{self.span}" if self.span.known else self.path

    def __str__(self) -> str:
        return f"{self.location}: {self.severity} [{self.code}] {self.message}"


def suggestion(word: str, known: Iterable[str]) -> str:
    """"; did you mean 'theta'?" for the known name closest to a misspelt `word`, or "" when
    none is close (difflib's ratio below 0.6). The one place derivcheck guesses a spelling:
    undeclared names in expressions and unknown keys in the YAML both ask here."""
    found = difflib.get_close_matches(word, sorted(set(known) - {word}), n=1)
    return f"; did you mean '{found[0]}'?" if found else ""


class Verdict(str, enum.Enum):
    """How a step came out. The string values are part of the JSON schema."""

    PROVED = "proved"
    CHECKED = "checked"
    REFUTED = "refuted"
    UNDECIDED = "undecided"
    ERROR = "error"


@dataclass(frozen=True)
class Counterexample:
    """Concrete values at which the two sides of a step differ.

    Every value is a string, ready to show: exact integers or rationals for the inputs; the
    two sides exact when they are rational and were computed exactly, else decimals of 15
    significant digits, or more where 15 would show them alike (witness.show_pair).
    """

    sizes: tuple[tuple[str, str], ...]
    indices: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str], ...]
    lhs: str
    rhs: str

    def to_dict(self) -> dict[str, object]:
        return {
            "sizes": dict(self.sizes),
            "indices": dict(self.indices),
            "values": dict(self.values),
            "lhs": self.lhs,
            "rhs": self.rhs,
        }


@dataclass(frozen=True)
class Claim:
    """One equality to check (a claim, or one link of a chain), with where it came from.

    `lhs` and `rhs` are SymPy expressions (typed Any here, so that this module, read by the
    reports, needs no SymPy). `entry` holds the indices of a generic entry when two matrices
    are compared: one side may not use them (a constant matrix), unlike the free indices the
    author wrote."""

    number: str  # "3" for a claim, "3.2" for the second link of chain step 3
    id: str | None
    text: Text  # where errors in the claim point
    written: str  # "lhs = rhs" as written
    justification: str
    lhs: Any
    rhs: Any
    expect_refuted: bool = False
    expect_error: str | None = None
    entry: frozenset[Any] = frozenset()


@dataclass(frozen=True)
class StepResult:
    """The verdict on one claimed equality (a claim, or one link of a chain)."""

    number: str  # "3" for a claim, "3.2" for the second link of chain step 3
    id: str | None
    span: Span
    written: str  # the claim as written in the file, "lhs = rhs"
    verdict: Verdict
    method: str  # how the verdict was reached, one line
    message: str = ""
    pretty_written: str = ""  # unicode pretty-print of the parsed claim
    pretty_simplified: str = ""  # unicode pretty-print with definitions substituted
    justification: str = ""  # the step's `by:`
    assumptions_used: tuple[str, ...] = ()
    counterexample: Counterexample | None = None
    tried: tuple[str, ...] = ()  # what was attempted, for undecided steps
    expect_refuted: bool = False
    problems: tuple[Problem, ...] = ()
    expect_error: str | None = None  # a problem code the step is meant to fail with (seeds as written)

    @property
    def ok(self) -> bool:
        """Whether this step holds the file: proved, or refuted when a refutation is expected,
        or failing with the expected problem code. A `checked` step does not hold: it is
        evidence, not proof (see holds)."""
        return self.holds(accept_checked=False)

    def holds(self, *, accept_checked: bool = False) -> bool:
        """Whether this step holds the file; with `accept_checked` (--accept-checked), a
        `checked` step holds too."""
        if self.expect_error is not None:
            return self.verdict is Verdict.ERROR and any(p.code == self.expect_error for p in self.problems)
        if self.expect_refuted:
            return self.verdict is Verdict.REFUTED
        return self.verdict is Verdict.PROVED or (accept_checked and self.verdict is Verdict.CHECKED)


@dataclass(frozen=True)
class FileResult:
    """Everything derivcheck found in one derivation file."""

    path: str
    title: str | None
    steps: tuple[StepResult, ...] = ()
    problems: tuple[Problem, ...] = ()  # file-level problems (YAML syntax, schema, definitions)
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the file has no problems and every step holds (`checked` does not)."""
        return self.holds(accept_checked=False)

    def holds(self, *, accept_checked: bool = False) -> bool:
        return not self.problems and all(step.holds(accept_checked=accept_checked) for step in self.steps)


def summarize(files: tuple[FileResult, ...] | list[FileResult]) -> dict[str, int]:
    """Counts of verdicts over all files, for summary lines and the JSON report."""
    counts = {verdict.value: 0 for verdict in Verdict}
    for result in files:
        for step in result.steps:
            counts[step.verdict.value] += 1
    counts["files"] = len(files)
    counts["files_failed"] = sum(1 for result in files if not result.ok)
    counts["file_errors"] = sum(len(result.problems) for result in files)
    counts["expected_refutations"] = sum(
        1 for result in files for step in result.steps if step.expect_refuted
    )
    return counts


def exit_code(files: tuple[FileResult, ...] | list[FileResult], *, strict: bool = True) -> int:
    """EXIT_OK when every step holds (`checked` does not, unless not `strict`: --accept-checked).

    EXIT_ERROR when a file could not be read at all (missing, unreadable, not UTF-8).
    """
    if any(problem.code in FATAL_CODES for result in files for problem in result.problems):
        return EXIT_ERROR
    if all(result.holds(accept_checked=not strict) for result in files):
        return EXIT_OK
    return EXIT_FAIL
