"""Tests for the text and JSON reporters, on hand-built results."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from derivcheck import __version__
from derivcheck.model import (
    Counterexample,
    FileResult,
    Problem,
    Span,
    StepResult,
    Verdict,
    summarize,
)
from derivcheck.report import (
    REPORTER_BY_NAME,
    failing_steps,
    file_holds,
    load_reporter,
    make_reporter,
    printable_path,
    reporter_names,
    step_holds,
)
from derivcheck.report.jsonreport import JsonReporter, report_to_dict
from derivcheck.report.terminal import TerminalReporter, summary_line

REPO = Path(__file__).resolve().parents[2]
WIDTH = 100


def make_step(
    number: str = "1",
    verdict: Verdict = Verdict.PROVED,
    *,
    written: str = "x + x = 2*x",
    method: str = "simplify",
    **fields: Any,
) -> StepResult:
    return StepResult(
        number=number,
        id=fields.pop("id", None),
        span=fields.pop("span", Span(10, 5)),
        written=written,
        verdict=verdict,
        method=method,
        **fields,
    )


def make_file(
    *steps: StepResult, path: str = "d.yaml", title: str | None = None, **fields: Any
) -> FileResult:
    return FileResult(path=path, title=title, steps=steps, **fields)


def render_text(
    results: Sequence[FileResult], *, strict: bool = False, width: int = WIDTH, interrupted: bool = False
) -> str:
    stream = io.StringIO()
    reporter = TerminalReporter(stream, color=False, width=width, strict=strict)
    for result in results:
        reporter.file_done(result)
    reporter.finish(results, interrupted=interrupted)
    return stream.getvalue()


def summary_text(out: str) -> str:
    """The summary at the end of a text report, its lines joined (it is cut to the width)."""
    return " ".join(out.rstrip("\n").split("\n\n")[-1].split())


def render_json(results: Sequence[FileResult], *, strict: bool = False, interrupted: bool = False) -> dict[str, Any]:
    stream = io.StringIO()
    reporter = JsonReporter(stream, strict=strict)
    for result in results:
        reporter.file_done(result)
    reporter.finish(results, interrupted=interrupted)
    document: dict[str, Any] = json.loads(stream.getvalue())
    return document


COUNTEREXAMPLE = Counterexample(
    sizes=(("n", "2"),),
    indices=(("k", "1"),),
    values=(("x[1]", "3/2"),),
    lhs="2.25",
    rhs="1.5",
)

PROVED = make_step(
    "3",
    Verdict.PROVED,
    id="dL_dz",
    span=Span(42, 5),
    written="dL/dz[j] = a[j] - y[j]",
    method="simplify(lhs - rhs) == 0",
    pretty_written="∂            \n──(L) = a - y \n∂z           \n  j     j   j",
    pretty_simplified="a  - y  = a  - y \n j    j    j    j",
    justification="chain rule through softmax",
    assumptions_used=("y_one_hot",),
)

REFUTED = make_step(
    "4",
    Verdict.REFUTED,
    id="wrong",
    span=Span(50, 5),
    written="x[k]**2 = x[k]",
    method="random evaluation",
    counterexample=COUNTEREXAMPLE,
    message="the two sides differ",
)


# -- text: golden output ---------------------------------------------------------------------


def test_text_golden_proved_step() -> None:
    expected = "\n".join(
        [
            "proofs/softmax.yaml — Softmax gradient " + "─" * (WIDTH - 39),
            "   3  ✔ PROVED     dL_dz  (line 42)",
            "      dL/dz[j] = a[j] - y[j]",
            "      ∂",
            "      ──(L) = a - y",
            "      ∂z",
            "        j     j   j",
            "      simplified: a  - y  = a  - y",
            "                   j    j    j    j",
            "      by: chain rule through softmax",
            "      method: simplify(lhs - rhs) == 0",
            "      assumptions used: y_one_hot",
            "",
            "1 file, 1 step: 1 proved, 0 checked, 0 refuted, 0 undecided, 0 errors — all hold",
            "",
        ]
    )
    assert (
        render_text([make_file(PROVED, path="proofs/softmax.yaml", title="Softmax gradient")])
        == expected
    )


def test_text_golden_refuted_step_with_counterexample() -> None:
    expected = "\n".join(
        [
            "proofs/bad.yaml " + "─" * (WIDTH - 16),
            "   4  ✘ REFUTED    wrong  (line 50)",
            "      x[k]**2 = x[k]",
            "      method: random evaluation",
            "      the two sides differ",
            "      counterexample:",
            "      ┌─────────┬──────┬──────┐",
            "      │ sizes   │ n    │ 2    │",
            "      ├─────────┼──────┼──────┤",
            "      │ indices │ k    │ 1    │",
            "      ├─────────┼──────┼──────┤",
            "      │ values  │ x[1] │ 3/2  │",
            "      ├─────────┼──────┼──────┤",
            "      │ sides   │ lhs  │ 2.25 │",
            "      │         │ rhs  │ 1.5  │",
            "      └─────────┴──────┴──────┘",
            "",
            "1 file, 1 step: 0 proved, 0 checked, 1 refuted, 0 undecided, 0 errors"
            " — 1 step does not hold",
            "",
        ]
    )
    assert render_text([make_file(REFUTED, path="proofs/bad.yaml")]) == expected


def test_text_counterexample_leaves_out_empty_sections() -> None:
    bare = Counterexample(sizes=(), indices=(), values=(("x", "2"),), lhs="4", rhs="2")
    out = render_text([make_file(make_step(verdict=Verdict.REFUTED, counterexample=bare))])
    assert "values" in out
    assert "sizes" not in out
    assert "indices" not in out


# -- text: escaping ---------------------------------------------------------------------------


MARKUP = "a[k] + [bold]b[/bold] + [red]c + :smile:"


def test_text_keeps_square_brackets_everywhere() -> None:
    counterexample = Counterexample(
        sizes=(("[n]", "[2]"),), indices=(), values=(("a[k]", "[1/2]"),), lhs="[lhs]", rhs="[rhs]"
    )
    step = make_step(
        verdict=Verdict.REFUTED,
        id="[id]",
        written=MARKUP,
        method="[method]",
        message="[message]",
        justification="[by]",
        pretty_written="[pretty]",
        pretty_simplified="[simplified]",
        assumptions_used=("[assumption]",),
        counterexample=counterexample,
        problems=(Problem("[p].yaml", Span(1, 2), "[code]", "[problem]"),),
    )
    out = render_text([make_file(step, path="[dir]/x.yaml", title="[title]")], width=200)
    for text in (
        MARKUP,
        "[id]",
        "[method]",
        "[message]",
        "by: [by]",
        "[pretty]",
        "simplified: [simplified]",
        "assumptions used: [assumption]",
        "[n]",
        "[2]",
        "a[k]",
        "[1/2]",
        "[lhs]",
        "[rhs]",
        "[p].yaml:1:2: error [[code]] [problem]",
        "[dir]/x.yaml — [title]",
    ):
        assert text in out, text


def test_text_markup_is_not_interpreted() -> None:
    out = render_text([make_file(make_step(written="[bold]x[/bold] = x"))])
    assert "[bold]x[/bold] = x" in out
    assert "\x1b[" not in out


# -- text: badges and step details ------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "badge"),
    [
        (Verdict.PROVED, "✔ PROVED"),
        (Verdict.CHECKED, "✔ CHECKED"),
        (Verdict.REFUTED, "✘ REFUTED"),
        (Verdict.UNDECIDED, "? UNDECIDED"),
        (Verdict.ERROR, "! ERROR"),
    ],
)
def test_text_badge_per_verdict(verdict: Verdict, badge: str) -> None:
    out = render_text([make_file(make_step("7", verdict, id="s7"))])
    header = next(line for line in out.splitlines() if line.lstrip().startswith("7 "))
    assert badge in header
    assert "s7" in header
    assert "(line 10)" in header
    others = [
        other
        for other in ("PROVED", "CHECKED", "REFUTED", "UNDECIDED", "ERROR")
        if other not in badge
    ]
    assert not any(other in header for other in others)


def test_text_expected_refutation_shows_as_expected() -> None:
    out = render_text([make_file(make_step("2", Verdict.REFUTED, expect_refuted=True))])
    assert "✘ REFUTED (expected)" in out
    assert "1 refuted (expected)" in out
    assert out.rstrip().endswith("— all hold")


def test_text_missed_refutation_is_a_failure() -> None:
    out = render_text([make_file(make_step("2", Verdict.PROVED, expect_refuted=True))])
    assert "expected refuted, but was PROVED" in out
    assert "(expected)" not in out
    assert out.rstrip().endswith("— 1 step does not hold")


def test_text_mixed_refutations_count_the_expected_ones() -> None:
    out = render_text(
        [
            make_file(
                make_step("1", Verdict.REFUTED, expect_refuted=True),
                make_step("2", Verdict.REFUTED),
            )
        ]
    )
    assert "2 refuted (1 expected)" in out


def test_text_simplified_shown_when_it_differs() -> None:
    step = make_step(pretty_written="x + x = 2⋅x", pretty_simplified="2⋅x = 2⋅x")
    assert "simplified: 2⋅x = 2⋅x" in render_text([make_file(step)])


def test_text_simplified_hidden_when_same_or_empty() -> None:
    same = make_step("1", pretty_written="x + x = 2⋅x", pretty_simplified="x + x = 2⋅x")
    empty = make_step("2", pretty_written="x + x = 2⋅x")
    assert "simplified" not in render_text([make_file(same, empty)])


def test_text_pretty_lines_are_kept_whole_where_they_fit() -> None:
    long_line = "x" * 60 + " = " + "y" * 60
    out = render_text([make_file(make_step(written="x = y", pretty_written=long_line))], width=200)
    assert "      " + long_line in out.splitlines()


def test_text_pretty_math_wider_than_the_width_is_cut_into_strips() -> None:
    # As SymPy's printer wraps: each strip keeps the rows aligned, one strip under the other.
    drawing = "\n".join(["  " + "2" * 70, "x" * 70 + " = y", "  " + "-" * 70])
    out = render_text([make_file(make_step(written="x = y", pretty_written=drawing))], width=40)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 40
    first = lines.index("      " + "  " + "2" * 32)
    assert lines[first + 1 : first + 3] == ["      " + "x" * 34, "      " + "  " + "-" * 32]
    assert "      " + "2" * 34 in lines and "      " + "x" * 2 + " = y" in lines  # the last strip


def test_text_long_prose_wraps_with_indent() -> None:
    words = " ".join(["word"] * 30)
    out = render_text([make_file(make_step(justification=words))], width=40)
    lines = [line for line in out.splitlines() if "word" in line]
    assert len(lines) > 1
    assert all(line.startswith("      ") and len(line) <= 40 for line in lines)


def test_text_undecided_lists_what_was_tried() -> None:
    step = make_step(verdict=Verdict.UNDECIDED, tried=("simplify: no", "random evaluation: agree"))
    out = render_text([make_file(step)])
    assert "tried:" in out
    assert "- simplify: no" in out
    assert "- random evaluation: agree" in out


def test_text_a_long_attempt_wraps_under_its_own_text() -> None:
    step = make_step(verdict=Verdict.UNDECIDED, tried=("symbolic proof: " + " ".join(["residual"] * 12),))
    out = render_text([make_file(step)], width=40)
    lines = out[out.index("- symbolic") - 8 :].splitlines()
    assert lines[0] == "        - symbolic proof: residual"
    continued = [line for line in lines[1:] if line.strip().startswith("residual")]
    assert continued and all(line.startswith(" " * 10 + "residual") and len(line) <= 40 for line in continued)


def test_text_no_tried_section_without_attempts() -> None:
    assert "tried:" not in render_text([make_file(make_step(verdict=Verdict.UNDECIDED))])


def test_text_file_and_step_problems() -> None:
    result = make_file(
        make_step(
            verdict=Verdict.ERROR,
            problems=(Problem("d.yaml", Span(12, 9), "parse-error", "unexpected ')'"),),
        ),
        problems=(Problem("d.yaml", Span(1, 1), "unknown-key", "unknown key 'stesp'"),),
        warnings=(Problem("d.yaml", Span(2, 3), "unused", "x is never used", "warning"),),
    )
    out = render_text([result])
    lines = out.splitlines()
    assert "d.yaml:1:1: error [unknown-key] unknown key 'stesp'" in lines
    assert "d.yaml:2:3: warning [unused] x is never used" in lines
    assert "      d.yaml:12:9: error [parse-error] unexpected ')'" in lines
    assert summary_text(out).endswith("— 1 step does not hold, 1 file problem")


def test_text_a_step_error_is_said_once() -> None:
    # As prepare/claims.py makes it: the problem is the step's message too.
    problem = Problem("d.yaml", Span(9, 12), "undeclared-symbol", "undeclared name 'thetta'; did you mean 'theta'?")
    step = make_step(verdict=Verdict.ERROR, method="could not check", message=problem.message, problems=(problem,))
    out = render_text([make_file(step)])
    assert out.count("undeclared name 'thetta'") == 1
    assert "      d.yaml:9:12: error [undeclared-symbol] undeclared name 'thetta'; did you mean 'theta'?" in out.splitlines()


def test_text_a_message_other_than_the_problem_is_kept() -> None:
    # The twin: a message that says more than the problem is printed as well.
    problem = Problem("d.yaml", Span(9, 12), "index-out-of-range", "r[d] is out of range")
    step = make_step(verdict=Verdict.ERROR, message="see the problem below", problems=(problem,))
    out = render_text([make_file(step)])
    assert "      see the problem below" in out.splitlines() and out.count("r[d] is out of range") == 1


def test_text_file_without_steps_or_problems_says_so() -> None:
    assert "no steps" in render_text([make_file()])


def test_text_file_with_problems_does_not_say_no_steps() -> None:
    result = make_file(problems=(Problem("d.yaml", Span(1, 1), "not-found", "no such file"),))
    assert "no steps" not in render_text([result])


# -- paths: they come from the file system, so their control characters are shown escaped ------

HOSTILE_PATH = "dir/a\x1b[2Jb\u202ec\x07d\x9b\udcff.yaml"
SHOWN_PATH = "dir/a\\x1b[2Jb\\u202ec\\x07d\\x9b\\udcff.yaml"
RAW = ("\x1b[2J", "\u202e", "\x07", "\x9b", "\udcff")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("derivations/softmax_ce.yaml", "derivations/softmax_ce.yaml"),
        ("é/∂ — 界 [x].yaml", "é/∂ — 界 [x].yaml"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("tab\tnew\nline\rend\x00", "tab\\x09new\\x0aline\\x0dend\\x00"),
        ("del\x7f csi\x9b nel\x85", "del\\x7f csi\\x9b nel\\x85"),
        ("\u202eevil\u2066\u2069\u200f\u061c", "\\u202eevil\\u2066\\u2069\\u200f\\u061c"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("bytes\udcff", "bytes\\udcff"),
    ],
)
def test_printable_path(path: str, shown: str) -> None:
    assert printable_path(path) == shown


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_shows_control_characters_in_paths_as_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    step = make_step(
        verdict=Verdict.ERROR, problems=(Problem(HOSTILE_PATH, Span(3, 5), "syntax", "no"),)
    )
    result = make_file(
        step, path=HOSTILE_PATH, title="T", problems=(Problem(HOSTILE_PATH, Span(1, 1), "schema", "bad"),)
    )
    plain = render_text([result])
    lines = plain.splitlines()
    assert lines[0].startswith(f"{SHOWN_PATH} — T ─")
    assert f"{SHOWN_PATH}:1:1: error [schema] bad" in lines
    assert f"      {SHOWN_PATH}:3:5: error [syntax] no" in lines
    assert "\x1b" not in plain
    terminal = _Terminal()
    reporter = TerminalReporter(terminal, color=True, width=WIDTH)
    reporter.file_done(result)
    reporter.finish([result])
    colored = terminal.getvalue()
    assert "\x1b[1m" in colored  # in colour: escape sequences, but only rich's
    assert colored.count(SHOWN_PATH) == 3
    for out in (plain, colored):
        assert not [raw for raw in RAW if raw in out]
        out.encode("utf-8")  # no lone surrogate: it could not be written


def test_text_streams_each_file_before_finish() -> None:
    stream = io.StringIO()
    reporter = TerminalReporter(stream, color=False, width=WIDTH)
    reporter.file_done(make_file(make_step(), path="first.yaml"))
    assert "first.yaml" in stream.getvalue()
    assert "all hold" not in stream.getvalue()
    reporter.finish([make_file(make_step(), path="first.yaml")])
    assert "all hold" in stream.getvalue()


def test_text_strict_flags_checked_steps() -> None:
    results = [make_file(make_step(verdict=Verdict.CHECKED))]
    out = render_text(results, strict=True)
    assert "it fails the run (--accept-checked lets it pass)" in out
    assert out.rstrip().endswith("— 1 step does not hold")


def test_text_not_strict_accepts_checked_steps() -> None:
    out = render_text([make_file(make_step(verdict=Verdict.CHECKED))])
    assert "--strict" not in out
    assert out.rstrip().endswith("— all hold")


# -- summary line -----------------------------------------------------------------------------


def test_summary_line_counts_everything() -> None:
    results = [
        make_file(
            make_step("1", Verdict.PROVED),
            make_step("2", Verdict.CHECKED),
            make_step("3", Verdict.REFUTED, expect_refuted=True),
        ),
        make_file(make_step("1", Verdict.PROVED)),
    ]
    assert summary_line(results, strict=False) == (
        "2 files, 4 steps: 2 proved, 1 checked, 1 refuted (expected), 0 undecided, 0 errors"
        " — all hold"
    )
    assert summary_line(results).endswith(" — 1 step does not hold")  # by default checked fails


def test_summary_line_reports_failures() -> None:
    results = [
        make_file(make_step("1", Verdict.UNDECIDED), make_step("2", Verdict.ERROR)),
        make_file(problems=(Problem("e.yaml", Span(1, 1), "yaml", "bad"),)),
    ]
    assert summary_line(results) == (
        "2 files, 2 steps: 0 proved, 0 checked, 0 refuted, 1 undecided, 1 error"
        " — 2 steps do not hold, 1 file problem"
    )


# -- shared helpers ---------------------------------------------------------------------------


def test_summary_line_of_an_interrupted_run_never_says_all_hold() -> None:
    results = [make_file(PROVED)]
    assert summary_line(results).endswith("— all hold")  # the twin: a finished run that holds
    assert summary_line(results, interrupted=True).endswith("— interrupted before every file was checked")
    failing = summary_line([make_file(REFUTED)], interrupted=True)
    assert failing.endswith("— interrupted before every file was checked, 1 step does not hold")


def test_text_interrupted_run_keeps_its_files_and_says_so() -> None:
    finished = render_text([make_file(PROVED, path="first.yaml")])
    interrupted = render_text([make_file(PROVED, path="first.yaml")], interrupted=True)
    assert finished.split("\n\n")[:-1] == interrupted.split("\n\n")[:-1]  # the same files, shown alike
    assert summary_text(finished).endswith("— all hold")
    assert summary_text(interrupted) == (
        "1 file, 1 step: 1 proved, 0 checked, 0 refuted, 0 undecided, 0 errors — "
        "interrupted before every file was checked"
    )


def test_text_nothing_is_wider_than_80_columns_at_width_80() -> None:
    # Found by a newcomer run: with several verdict kinds the summary line was 100 columns wide.
    wide_math = "\n".join(["  " + "N" * 90, "x" * 90 + " = y", "  " + "-" * 90])
    results = [
        make_file(
            PROVED,
            REFUTED,
            make_step("5", Verdict.REFUTED, expect_refuted=True),
            make_step("6", Verdict.CHECKED, pretty_written=wide_math, pretty_simplified=wide_math + " "),
            make_step("7", Verdict.UNDECIDED, tried=("a very long attempt " * 8,), pretty_written="Sum(a3[i], (i, 1, N)) + " * 5),
            make_step(
                "8",
                Verdict.ERROR,
                message="undeclared name 'thetta'",
                problems=(Problem("d.yaml", Span(9, 12), "undeclared-symbol", "undeclared name 'thetta' " * 4),),
            ),
            make_step("9", Verdict.ERROR, expect_error="shape-mismatch",
                      problems=(Problem("d.yaml", Span(9, 12), "shape-mismatch", "shapes differ"),)),
            path="derivations/" + "a_rather_long_directory/" * 3 + "d.yaml",
            title="A title that goes on " * 3,
        ),
        make_file(problems=(Problem("e.yaml", Span(1, 1), "schema", "unknown key 'stesp' " * 6),), path="e.yaml"),
    ]
    for interrupted in (False, True):
        out = render_text(results, width=80, interrupted=interrupted)
        assert max(len(line) for line in out.splitlines()) <= 80, out
        summary = out.rstrip("\n").split("\n\n")[-1].splitlines()
        assert len(summary) > 1 and all(line.startswith("  ") for line in summary[1:])
        assert " ".join(" ".join(summary).split()) == summary_line(results, strict=False, interrupted=interrupted)


@pytest.mark.parametrize("width", [50, 60, 80, 100])
def test_summary_lines_are_cut_between_counts_never_inside_one(width: int) -> None:
    from derivcheck.report.terminal import summary_lines

    line = (
        "3 files, 12 steps: 4 proved, 2 checked, 3 refuted (1 expected), 1 undecided, "
        "2 errors (1 expected) — interrupted before every file was checked, 6 steps do not hold, 1 file problem"
    )
    lines = summary_lines(line, width)
    assert all(len(part) <= width for part in lines)
    assert " ".join(" ".join(lines).split()) == line
    for count in ("4 proved,", "3 refuted (1 expected),", "2 errors (1 expected)", "— interrupted", "1 file problem"):
        assert any(count in part for part in lines), (count, lines)
    assert summary_lines("1 file, 1 step: 1 proved — all hold", width) == ["1 file, 1 step: 1 proved — all hold"]


def test_text_interrupted_summary_is_red(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    reporter = TerminalReporter(terminal, color=True, width=200)  # each summary on one line
    reporter.finish([make_file(PROVED)], interrupted=True)
    reporter.finish([make_file(PROVED)])
    interrupted, finished = terminal.getvalue().splitlines()
    assert "\x1b[1;31m" in interrupted and "\x1b[1;32m" in finished  # red, as a failure is; green


def test_step_holds_fails_checked_unless_accepted() -> None:
    step = make_step(verdict=Verdict.CHECKED)
    assert not step_holds(step)  # the default: evidence, not proof
    assert not step.ok and not make_file(step).ok
    assert step_holds(step, strict=False)  # --accept-checked
    assert step.holds(accept_checked=True) and make_file(step).holds(accept_checked=True)


def test_step_holds_strict_keeps_expected_refutations() -> None:
    step = make_step(verdict=Verdict.REFUTED, expect_refuted=True)
    assert step_holds(step, strict=True)
    assert not step_holds(make_step(verdict=Verdict.CHECKED, expect_refuted=True), strict=True)


def test_file_holds_and_failing_steps() -> None:
    good = make_file(make_step(verdict=Verdict.PROVED))
    bad = make_file(make_step(verdict=Verdict.REFUTED), make_step(verdict=Verdict.UNDECIDED))
    assert file_holds(good)
    assert not file_holds(bad)
    assert failing_steps([good, bad]) == 2


# -- reporter table -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REPORTER_BY_NAME))
def test_load_reporter_finds_every_registered_name(name: str) -> None:
    reporter = make_reporter(name, io.StringIO(), color=False, width=80)
    assert callable(reporter.file_done)
    assert callable(reporter.finish)


def test_load_reporter_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        load_reporter("xml")


def test_reporter_names_are_the_table() -> None:
    assert reporter_names() == ["github", "json", "junit", "markdown", "sarif", "text"]
    assert load_reporter("text") is TerminalReporter
    assert load_reporter("json") is JsonReporter


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_json_reporter_does_not_import_rich() -> None:
    code = (
        "import io, sys\n"
        "from derivcheck.report import make_reporter\n"
        "make_reporter('json', io.StringIO()).finish([])\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
    )
    completed = _run_python(code)
    assert completed.returncode == 0, completed.stderr


def test_text_reporter_does_import_rich() -> None:
    code = (
        "import io, sys\n"
        "from derivcheck.report import make_reporter\n"
        "make_reporter('text', io.StringIO()).finish([])\n"
        "assert 'rich' in sys.modules\n"
    )
    completed = _run_python(code)
    assert completed.returncode == 0, completed.stderr


# -- JSON ---------------------------------------------------------------------------------------

STEP_KEYS = {
    "number",
    "id",
    "line",
    "col",
    "written",
    "verdict",
    "method",
    "justification",
    "assumptions_used",
    "counterexample",
    "tried",
    "message",
    "problems",
    "expect",
    "ok",
}
FILE_KEYS = {"path", "title", "ok", "problems", "warnings", "steps"}
PROBLEM_KEYS = {"line", "col", "code", "message", "severity"}


def test_json_document_schema() -> None:
    results = [
        make_file(PROVED, REFUTED, path="a.yaml", title="A"),
        make_file(
            problems=(Problem("b.yaml", Span(3, 4), "yaml-syntax", "bad indent"),), path="b.yaml"
        ),
    ]
    document = render_json(results)
    assert set(document) == {"version", "schema", "interrupted", "files", "summary"}
    assert document["interrupted"] is False
    assert document["version"] == __version__
    assert document["schema"] == 2
    assert [file["path"] for file in document["files"]] == ["a.yaml", "b.yaml"]
    for file in document["files"]:
        assert set(file) == FILE_KEYS
        for step in file["steps"]:
            assert set(step) == STEP_KEYS
    assert document["files"][1]["problems"] == [
        {"line": 3, "col": 4, "code": "yaml-syntax", "message": "bad indent", "severity": "error"}
    ]
    assert set(document["files"][1]["problems"][0]) == PROBLEM_KEYS
    assert document["summary"] == {**summarize(results), "steps": 2, "interrupted": False, "ok": False}


def test_json_step_fields() -> None:
    document = render_json([make_file(PROVED, REFUTED)])
    proved, refuted = document["files"][0]["steps"]
    assert proved == {
        "number": "3",
        "id": "dL_dz",
        "line": 42,
        "col": 5,
        "written": "dL/dz[j] = a[j] - y[j]",
        "verdict": "proved",
        "method": "simplify(lhs - rhs) == 0",
        "justification": "chain rule through softmax",
        "assumptions_used": ["y_one_hot"],
        "counterexample": None,
        "tried": [],
        "message": "",
        "problems": [],
        "expect": None,
        "ok": True,
    }
    assert refuted["verdict"] == "refuted"
    assert refuted["ok"] is False
    assert refuted["counterexample"] == COUNTEREXAMPLE.to_dict()
    assert document["files"][0]["ok"] is False
    assert document["summary"]["ok"] is False


def test_json_all_good_is_ok() -> None:
    document = render_json([make_file(PROVED, make_step("5", Verdict.CHECKED))])
    assert document["files"][0]["ok"] is True
    assert document["summary"]["ok"] is True


def test_json_expected_refutation_is_ok() -> None:
    step = make_step(verdict=Verdict.REFUTED, expect_refuted=True, counterexample=COUNTEREXAMPLE)
    document = render_json([make_file(step)])
    (entry,) = document["files"][0]["steps"]
    assert entry["expect"] == "refuted"
    assert entry["ok"] is True
    assert document["summary"]["ok"] is True
    assert document["summary"]["expected_refutations"] == 1


def test_json_missed_refutation_is_not_ok() -> None:
    document = render_json([make_file(make_step(verdict=Verdict.PROVED, expect_refuted=True))])
    (entry,) = document["files"][0]["steps"]
    assert entry["expect"] == "refuted"
    assert entry["ok"] is False
    assert document["summary"]["ok"] is False


def test_json_strict_fails_checked_steps() -> None:
    document = render_json([make_file(make_step(verdict=Verdict.CHECKED))], strict=True)
    assert document["files"][0]["steps"][0]["ok"] is False
    assert document["files"][0]["ok"] is False
    assert document["summary"]["ok"] is False


def test_json_not_found_is_not_ok() -> None:
    missing = make_file(problems=(Problem("gone.yaml", Span(1, 1), "not-found", "no such file"),))
    document = render_json([missing])
    assert document["summary"]["ok"] is False
    assert document["files"][0]["problems"][0]["code"] == "not-found"


def test_json_keeps_unicode_and_brackets() -> None:
    stream = io.StringIO()
    JsonReporter(stream).finish([make_file(make_step(written="∂L/∂z[j] = [bold]a[/bold]"))])
    assert "∂L/∂z[j] = [bold]a[/bold]" in stream.getvalue()


def test_json_written_once_at_finish() -> None:
    stream = io.StringIO()
    reporter = JsonReporter(stream)
    reporter.file_done(make_file(PROVED))
    assert stream.getvalue() == ""
    reporter.finish([make_file(PROVED)])
    assert stream.getvalue().endswith("}\n")
    json.loads(stream.getvalue())


def test_json_interrupted_run_keeps_its_files_and_does_not_pass() -> None:
    files = [make_file(PROVED, path="first.yaml")]
    finished, interrupted = render_json(files), render_json(files, interrupted=True)
    assert (finished["interrupted"], finished["summary"]["interrupted"], finished["summary"]["ok"]) == (False, False, True)
    assert (interrupted["interrupted"], interrupted["summary"]["interrupted"]) == (True, True)
    assert interrupted["summary"]["ok"] is False
    assert interrupted["files"] == finished["files"]  # what was finished is reported as it is
    assert interrupted["files"][0]["ok"] is True


def test_json_interrupted_empty_run_does_not_pass() -> None:
    document = report_to_dict([], interrupted=True)
    assert document["files"] == [] and document["interrupted"] is True
    assert document["summary"]["ok"] is False  # type: ignore[index]


def test_report_to_dict_empty_run() -> None:
    document = report_to_dict([])
    assert document["files"] == []
    summary = document["summary"]
    assert isinstance(summary, dict)
    assert summary["ok"] is True
    assert summary["steps"] == 0


def test_bound_variables_are_shown_by_their_names_not_sympys_dummies() -> None:
    import sympy

    from derivcheck.engine import symbolic

    k = sympy.Symbol("k", integer=True)
    x = sympy.IndexedBase("x")
    first, second = sympy.Dummy("k", integer=True), sympy.Dummy("k", integer=True)
    inner = sympy.Sum(x[first] * x[second], (first, 1, 3), (second, 1, 3))
    shown = symbolic.readable(inner + x[k])[0]
    names = sorted(symbol.name for symbol in shown.atoms(sympy.Symbol))
    assert not shown.atoms(sympy.Dummy)
    assert names == ["k", "k′", "k″", "x"]  # the free k keeps its name; the two bound ones differ
