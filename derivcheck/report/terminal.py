"""The text reporter: a readable, colored report for the terminal, printed file by file."""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.control import strip_control_codes
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.text import Text

from derivcheck.model import Counterexample, FileResult, Problem, StepResult, Verdict
from derivcheck.report import (
    failing_steps,
    printable_path,
    printable_problem,
    step_holds,
    summary_line,
)

if TYPE_CHECKING:
    from rich.table import Table  # imported when a counterexample is printed

__all__ = ["TerminalReporter", "summary_line"]

# Columns: step numbers are right-aligned in NUMBER_WIDTH, the step body is indented by BODY_INDENT.
NUMBER_WIDTH = 4
BODY_INDENT = NUMBER_WIDTH + 2

BADGE_BY_VERDICT: dict[Verdict, tuple[str, str]] = {
    Verdict.PROVED: ("✔ PROVED", "bold green"),
    Verdict.CHECKED: ("✔ CHECKED", "bold cyan"),
    Verdict.REFUTED: ("✘ REFUTED", "bold red"),
    Verdict.UNDECIDED: ("? UNDECIDED", "bold yellow"),
    Verdict.ERROR: ("! ERROR", "bold magenta"),
}
BADGE_WIDTH = max(len(text) for text, _ in BADGE_BY_VERDICT.values())
EXPECTED_REFUTATION = ("✘ REFUTED (expected)", "bold green")
MISSED_REFUTATION_STYLE = "bold red"
MIN_WRAP_WIDTH = 20
UNLIMITED_WIDTH = 1 << 16  # more columns than any table wants: to measure one's natural width
SEVERITY_STYLE: dict[str, str] = {"error": "red", "warning": "yellow"}


class _Console(Console):
    """rich's Console, but for a reader that went away: rich ends the process with exit
    code 1 (a step failed, for derivcheck); here it is a BrokenPipeError, which the CLI
    reports with its own exit code."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the report went away")


class TerminalReporter:
    """Prints each file's report as soon as it is checked, then a summary line."""

    def __init__(
        self, stream: TextIO, *, color: bool = True, width: int | None = None, strict: bool = True
    ) -> None:
        self.strict = strict
        settings: dict[str, Any] = {
            "file": stream,
            "color_system": "auto" if color else None,
            "no_color": not color or None,
            "markup": False,
            "emoji": False,
            "highlight": False,
            "legacy_windows": False,
        }
        # rich asks the environment and the terminal for its size and whether it is a
        # terminal on every print (a good part of a report's time): ask once, for this report.
        probe = Console(width=width, **settings)
        self.console = _Console(
            width=probe.width, height=probe.height, force_terminal=probe.is_terminal, **settings
        )
        # Lines printed as they are (soft-wrapped), waiting to be printed in one call.
        self._pending: list[Text] = []

    # -- the Reporter interface ------------------------------------------------------------

    def file_done(self, result: FileResult) -> None:
        path = printable_path(result.path)
        header = path if not result.title else f"{path} — {result.title}"
        self.console.rule(Text(header, style="bold"), align="left")
        for problem in (*result.problems, *result.warnings):
            self._problem(problem, indent=0)
        if not result.steps and not result.problems:
            self._wrapped(Text("no steps", style="dim"))
        for step in result.steps:
            self._step(step)
        self._pending.append(Text())
        self._flush()

    def finish(self, results: Sequence[FileResult], *, interrupted: bool = False) -> None:
        holds = not interrupted and not failing_steps(results, strict=self.strict) and not any(
            result.problems for result in results
        )
        line = summary_line(results, strict=self.strict, interrupted=interrupted)
        style = "bold green" if holds else "bold red"
        for part in summary_lines(line, self.console.width):
            self._wrapped(Text(part, style=style))
        self._flush()

    # -- printing ----------------------------------------------------------------------------

    def _flush(self) -> None:
        """Print the pending lines, each as it is, in one call (rich's cost is per call)."""
        if not self._pending:
            return
        text = Text("\n").join(self._pending)
        self._pending.clear()
        if "\t" in text.plain:  # tabs are expanded when rich lays text out
            self.console.print(text, soft_wrap=True)
            return
        # The lines are laid out already: rich would only split them and join them again.
        self.console.print(Segments(text.render(self.console, end="\n")), soft_wrap=True)

    def _wrapped(self, text: Text) -> None:
        """Text wrapped to the width, as `console.print(text)` would."""
        self._pending.extend(self._wrap(text, self.console.width))

    def _wrap(self, text: Text, width: int) -> Iterable[Text]:
        """`text.wrap(console, width)`, without the work when the text is one line that fits."""
        plain = text.plain
        if "\n" not in plain and "\t" not in plain and cell_len(plain) <= width:
            return [text]
        return text.wrap(self.console, width)

    # -- pieces ------------------------------------------------------------------------------

    def _badge(self, step: StepResult) -> Text:
        text, style = BADGE_BY_VERDICT[step.verdict]
        if step.expect_error is not None:
            if step.ok:
                text, style = f"✘ {step.expect_error} (expected)", EXPECTED_REFUTATION[1]
            else:
                text = f"✘ expected {step.expect_error}, but was {step.verdict.value.upper()}"
                style = MISSED_REFUTATION_STYLE
        elif step.expect_refuted:
            if step.verdict is Verdict.REFUTED:
                text, style = EXPECTED_REFUTATION
            else:
                text = f"✘ expected refuted, but was {step.verdict.value.upper()}"
                style = MISSED_REFUTATION_STYLE
        elif self.strict and step.verdict is Verdict.CHECKED:
            text = "~ CHECKED"  # not a proof: the ✔ is for steps that pass
        return Text(text.ljust(BADGE_WIDTH), style=style)

    def _line(self, text: Text, *, indent: int = BODY_INDENT, hanging: int = 0) -> None:
        """A body line, wrapped to the width with the indent kept on every line, and
        `hanging` more columns on the lines after the first (under a list item's text)."""
        wrap_width = max(self.console.width - indent - hanging, MIN_WRAP_WIDTH)
        for number, line in enumerate(self._wrap(text, wrap_width)):
            line.rstrip()
            self._pending.append(Text(" " * (indent + (hanging if number else 0))).append_text(line))

    def _block(self, label: str, block: str, *, indent: int = BODY_INDENT) -> None:
        """Pretty-printed math: lines kept aligned; the label leads the first. A drawing wider
        than the width is cut into strips of columns, one under the other (as SymPy's own
        printer wraps); math on one line wraps at spaces, under the label."""
        prefix = f"{label}: " if label else ""
        rows = [line.rstrip() for line in block.splitlines()]
        room = max(self.console.width - indent - len(prefix), MIN_WRAP_WIDTH)
        if len(rows) == 1 and cell_len(rows[0]) > room:  # math on one line wraps as prose does
            self._line(Text.assemble((prefix, "dim"), rows[0]), indent=indent, hanging=len(prefix))
            return
        strips = _strips(rows, room)
        lines = (
            " " * indent + (prefix if index == 0 else " " * len(prefix)) + line.rstrip()
            for index, line in enumerate(row for strip in strips for row in strip)
        )
        self._pending.append(Text("\n".join(lines)))  # one Text: they are many lines

    def _problem(self, problem: Problem, *, indent: int = BODY_INDENT) -> None:
        style = SEVERITY_STYLE.get(problem.severity, "red")
        self._line(Text(printable_problem(problem), style=style), indent=indent)

    def _labelled(self, label: str, value: str, style: str = "") -> None:
        self._line(Text.assemble((f"{label}: ", "dim"), (value, style)))

    def _step(self, step: StepResult) -> None:
        """A step: its header line, the claim as written and as printed, then what the
        verdict rests on (see _reasons)."""
        header = Text(f"{step.number:>{NUMBER_WIDTH}}  ")
        header.append_text(self._badge(step))
        if step.id:
            header.append("  ")
            header.append(step.id, style="bold")
        header.append(f"  (line {step.span.line})", style="dim")
        self._wrapped(header)

        self._line(Text(step.written))
        pretty = step.pretty_written.strip("\n")
        if pretty and pretty != step.written:
            self._block("", pretty)
        simplified = step.pretty_simplified.strip("\n")
        if simplified and simplified != pretty:
            self._block("simplified", simplified)
        self._reasons(step)

    def _reasons(self, step: StepResult) -> None:
        """The justification, method and assumptions of a step, its message and problems, its
        counterexample, and what was tried."""
        if step.justification:
            self._labelled("by", step.justification)
        if step.method:
            self._labelled("method", step.method)
        if step.assumptions_used:
            self._labelled("assumptions used", ", ".join(step.assumptions_used))
        # A step that could not be checked has its problem as its message too: the problem's
        # line (with its position) says it, once.
        if step.message and step.message not in {problem.message for problem in step.problems}:
            self._line(Text(step.message, style="" if step_holds(step) else "red"))
        if self.strict and step.verdict is Verdict.CHECKED and not step.expect_refuted:
            self._line(Text("checked at concrete sizes only, not proved: it fails the run (--accept-checked lets it pass)", style="red"))
        for problem in step.problems:
            self._problem(problem)
        if step.counterexample is not None:
            self._counterexample(step.counterexample)
        if step.tried:
            self._line(Text("tried:", style="dim"))
            for attempt in step.tried:
                self._line(Text(f"- {attempt}"), indent=BODY_INDENT + 2, hanging=2)

    def _counterexample(self, counterexample: Counterexample) -> None:
        # Only a report with a counterexample needs a table (and rich.table, rich.padding, rich.box).
        from rich.padding import Padding

        self._line(Text("counterexample:", style="bold"))
        self._flush()
        sections = [
            (section, pairs)
            for section, pairs in (
                ("sizes", counterexample.sizes),
                ("indices", counterexample.indices),
                ("values", counterexample.values),
                ("sides", (("lhs", counterexample.lhs), ("rhs", counterexample.rhs))),
            )
            if pairs
        ]
        # rich's cost is per cell and per line it lays out. One row a section, with its names
        # and its values as the lines of one cell each, is the same table as one row a value,
        # as long as no cell is laid out again: when the table is no wider than the width and no
        # name or value is more than one line or has a tab. Then the cells are given as lines.
        if all(_one_line(text) for _, pairs in sections for pair in pairs for text in pair):
            table = _table(sections, by_section=True)
            width = self._natural_width(table)
            if width <= self.console.width - BODY_INDENT:
                # As Padding(expand=False) would print it, without measuring the table again.
                padded = Padding(table, (0, 0, 0, BODY_INDENT), expand=True)
                self.console.print(padded, width=width + BODY_INDENT, crop=False)
                return
        table = _table(sections, by_section=False)
        self.console.print(Padding(table, (0, 0, 0, BODY_INDENT), expand=False))

    def _natural_width(self, table: Table) -> int:
        """How wide `table` is when nothing limits it."""
        unlimited = self.console.options.update_width(self.console.width + UNLIMITED_WIDTH)
        return Measurement.get(self.console, unlimited, table).maximum


def _strips(rows: list[str], width: int) -> list[list[str]]:
    """The rows of a drawing cut into strips at most `width` characters wide, left to right."""
    widest = max((len(row) for row in rows), default=0)
    if widest <= width:
        return [rows]
    return [[row[start : start + width] for row in rows] for start in range(0, widest, width)]


def summary_lines(line: str, width: int) -> list[str]:
    """The summary line, cut to lines at most `width` wide where it reads well: after a
    count's comma, or before the dash that says whether all hold; never inside a count
    ("0 refuted"). The lines after the first are indented by two columns."""
    if cell_len(line) <= width:
        return [line]
    head, dash, tail = line.partition(" — ")
    pieces = _clauses(head)
    if dash:
        tail_pieces = _clauses(tail)
        pieces.extend([f"— {tail_pieces[0]}", *tail_pieces[1:]])
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if cell_len(lines[-1]) + 1 + cell_len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append("  " + piece)
    return lines


def _clauses(text: str) -> list[str]:
    """'a, b, c' -> ['a,', 'b,', 'c']."""
    parts = text.split(", ")
    return [part + "," for part in parts[:-1]] + parts[-1:]


def _one_line(text: str) -> bool:
    """Whether rich shows `text` on one line, as it is (no line end of any kind, no tab)."""
    return "\t" not in text and text.splitlines() in ([], [text])


class _Lines:
    """A table cell of lines that fit their column: what a Text of them would render, without
    laying them out (Text pads each line to the column's width, as the column is left-justified)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = [strip_control_codes(line) for line in lines]
        self.width = max((cell_len(line) for line in self.lines), default=0)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        width = options.max_width
        yield Segment("\n".join(line + " " * (width - cell_len(line)) for line in self.lines))
        yield Segment.line()


def _table(sections: Sequence[tuple[str, Sequence[tuple[str, str]]]], *, by_section: bool) -> Table:
    """The counterexample table: a row for each section, or a row for each value."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SQUARE, show_header=False, pad_edge=True)
    table.add_column("section", style="dim", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("value", overflow="fold")
    for number, (section, pairs) in enumerate(sections):
        if number:
            table.add_section()
        if by_section:
            label = [section] + [""] * (len(pairs) - 1)  # a line for each value, as rows have
            names = [name for name, _ in pairs]
            table.add_row(_Lines(label), _Lines(names), _Lines(value for _, value in pairs))
            continue
        for index, (name, value) in enumerate(pairs):
            table.add_row(Text(section if index == 0 else ""), Text(name), Text(value))
    return table
