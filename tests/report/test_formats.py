"""Tests for the CI report formats: github, junit, sarif and markdown (and --format's default)."""

from __future__ import annotations

import copy
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from derivcheck import __version__, cli
from derivcheck.model import NO_SPAN, Counterexample, FileResult, Problem, Span, StepResult, Verdict
from derivcheck.report import make_reporter
from derivcheck.report.diagnostics import (
    FAILURE_RULES,
    counterexample_summary,
    failure_rule,
    file_diagnostics,
)
from derivcheck.report.github import escape_data, escape_property, workflow_command
from derivcheck.report.junit import classname, xml_text
from derivcheck.report.markdown import code, escape
from derivcheck.report.sarif import artifact_uri, report_to_sarif

DATA = Path(__file__).resolve().parent / "data"
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

COUNTEREXAMPLE = Counterexample(
    sizes=(("N", "2"),), indices=(("k", "1"),), values=(("x[1]", "3/2"),), lhs="2.25", rhs="1.5"
)


def make_step(
    number: str = "1", verdict: Verdict = Verdict.PROVED, *, line: int = 5, **fields: Any
) -> StepResult:
    return StepResult(
        number=number,
        id=fields.pop("id", None),
        span=Span(line, 12),
        written=fields.pop("written", "2*t = t + t"),
        verdict=verdict,
        method=fields.pop("method", "symbolic"),
        **fields,
    )


PROVED = make_step("1", Verdict.PROVED, line=5)
CHECKED = make_step("2", Verdict.CHECKED, line=6)
REFUTED = make_step(
    "3", Verdict.REFUTED, line=7, id="bad", written="2*t = t", counterexample=COUNTEREXAMPLE
)
EXPECTED = make_step(
    "4", Verdict.REFUTED, line=8, expect_refuted=True, counterexample=COUNTEREXAMPLE
)
MISSED = make_step("5", Verdict.PROVED, line=10, expect_refuted=True)
UNDECIDED = make_step("6", Verdict.UNDECIDED, line=11, tried=("time-out after 10 s",))
PARSE_ERROR = make_step(
    "7",
    Verdict.ERROR,
    line=12,
    written="2*t = (t",
    method="could not parse",
    message="'(' was never closed",
    problems=(Problem("wrong.yaml", Span(12, 18), "syntax", "'(' was never closed"),),
)
ALL_STEPS = (PROVED, CHECKED, REFUTED, EXPECTED, MISSED, UNDECIDED, PARSE_ERROR)
FAILING = (REFUTED, MISSED, UNDECIDED, PARSE_ERROR)

WRONG = FileResult("wrong.yaml", "tiny", ALL_STEPS)
GOOD = FileResult("derivations/good.yaml", "Good", (PROVED, CHECKED, EXPECTED))
BROKEN = FileResult(
    "broken.yaml",
    None,
    problems=(Problem("broken.yaml", Span(2, 1), "schema", "unknown key 'variabls'"),),
    warnings=(Problem("broken.yaml", Span(4, 3), "unused", "x is never used", "warning"),),
)
RUN = [GOOD, WRONG, BROKEN]


def render(name: str, results: Sequence[FileResult], *, strict: bool = False, interrupted: bool = False) -> str:
    stream = io.StringIO()
    reporter = make_reporter(name, stream, color=False, width=100, strict=strict)
    for result in results:
        reporter.file_done(result)
    reporter.finish(results, interrupted=interrupted)
    return stream.getvalue()


# -- diagnostics: what every CI format reports ---------------------------------------------------


@pytest.mark.parametrize(
    ("step", "rule"),
    [
        (REFUTED, "refuted"),
        (MISSED, "refutation-missed"),
        (UNDECIDED, "undecided"),
        (PARSE_ERROR, "step-error"),
        (PROVED, None),
        (CHECKED, "not-proved"),  # by default, checked is evidence, not proof: it fails
        (EXPECTED, None),
    ],
)
def test_failure_rule_per_outcome(step: StepResult, rule: str | None) -> None:
    assert failure_rule(step) == rule


def test_failure_rule_accepting_checked_passes_checked_only() -> None:
    assert failure_rule(CHECKED, strict=False) is None  # --accept-checked
    assert failure_rule(PROVED, strict=False) is None
    assert failure_rule(REFUTED, strict=False) == "refuted"
    assert failure_rule(EXPECTED, strict=False) is None


def test_diagnostics_one_per_failing_step_and_problem() -> None:
    found = file_diagnostics(WRONG, strict=False)
    assert [(d.rule, d.span.line, d.span.col) for d in found] == [
        ("refuted", 7, 12),
        ("refutation-missed", 10, 12),
        ("undecided", 11, 12),
        ("syntax", 12, 18),  # a parse error points at its character, under its own code
    ]
    assert file_diagnostics(GOOD, strict=False) == []
    assert [d.rule for d in file_diagnostics(GOOD)] == ["not-proved"]  # its checked step, by default
    assert [(d.rule, d.severity) for d in file_diagnostics(BROKEN)] == [
        ("schema", "error"),
        ("unused", "warning"),
    ]


def test_counterexample_summary_names_every_value() -> None:
    assert (
        counterexample_summary(COUNTEREXAMPLE)
        == "at N = 2, k = 1, x[1] = 3/2: lhs = 2.25, rhs = 1.5"
    )
    many = Counterexample((), (), tuple((f"x[{i}]", str(i)) for i in range(1, 12)), "1", "2")
    short = counterexample_summary(many, max_values=3)
    assert short == "at x[1] = 1, x[2] = 2, x[3] = 3, … (8 more): lhs = 1, rhs = 2"
    assert "x[11] = 11" in counterexample_summary(many, max_values=None)


# -- github ---------------------------------------------------------------------------------------


def test_github_escaping_follows_the_runner() -> None:
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d"
    # % first, so an escape already in the text is not decoded by GitHub
    assert escape_data("%0A") == "%250A"


def test_github_workflow_command_escapes_every_part() -> None:
    line = workflow_command("error", "x: 1,\ny", file="a,b:c.yaml", line=3, title="t\n")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,title=t%0A::x: 1,%0Ay"


def test_github_annotation_for_a_refuted_step() -> None:
    out = render("github", [FileResult("wrong.yaml", None, (REFUTED,))])
    (error,) = [line for line in out.splitlines() if line.startswith("::error")]
    head, message = error.split("::", 2)[1:]
    assert head == (
        "error file=wrong.yaml,line=7,col=12,title=derivcheck%3A step 3 (bad) is refuted"
    )
    assert message.split("%0A") == [
        "claim: 2*t = t",
        "verdict: refuted",
        "method: symbolic",
        "counterexample: at N = 2, k = 1, x[1] = 3/2: lhs = 2.25, rhs = 1.5",
    ]


def _annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"::(error|warning|notice) ", line)]


def test_github_one_error_per_step_that_does_not_hold() -> None:
    annotations = _annotations(render("github", [WRONG]))
    assert len(annotations) == len(FAILING)
    assert all(line.startswith("::error ") for line in annotations)
    assert [re.search(r"line=(\d+),col=(\d+)", line).groups() for line in annotations] == [  # type: ignore[union-attr]
        ("7", "12"),
        ("10", "12"),
        ("11", "12"),
        ("12", "18"),
    ]
    assert "was expected to be refuted%2C but was proved" in annotations[1]


def test_github_steps_that_hold_have_no_annotation() -> None:
    out = render("github", [GOOD])
    assert _annotations(out) == []
    assert "::notice" not in out
    # ...but every step is in the log, inside a group
    lines = out.splitlines()
    assert lines[0] == "::group::derivcheck derivations/good.yaml — Good"
    assert lines[4] == "::endgroup::"
    assert [line.split()[0:2] for line in lines[1:4]] == [
        ["1", "proved"],
        ["2", "checked"],
        ["4", "refuted"],
    ]
    assert lines[-1].startswith("derivcheck: 1 file, 3 steps")
    assert lines[-1].endswith("all hold")


def test_github_strict_annotates_checked_steps() -> None:
    out = render("github", [GOOD], strict=True)
    (annotation,) = _annotations(out)
    assert "line=6" in annotation
    assert "not proved (--accept-checked lets it pass)" in annotation


def test_github_file_problems_and_warnings() -> None:
    annotations = _annotations(render("github", [BROKEN]))
    assert annotations == [
        "::error file=broken.yaml,line=2,col=1,title=derivcheck%3A schema::unknown key 'variabls'",
        "::warning file=broken.yaml,line=4,col=3,title=derivcheck%3A unused::x is never used",
    ]


def test_github_user_text_cannot_inject_commands() -> None:
    hostile = "x\n::warning file=evil::pwned\r\n::add-mask::secret"
    step = make_step(
        "1", Verdict.REFUTED, id="evil", written=hostile, method=hostile, message=hostile
    )
    result = FileResult(
        f"a\n::error::{hostile}.yaml", hostile, (step, make_step("2", written=hostile))
    )
    out = render("github", [result])
    for line in out.splitlines():
        assert line.startswith(
            ("::group::", "::endgroup::", "::error ", "derivcheck: ")
        ) or re.match(r"^ +\d", line), line
    assert len(_annotations(out)) == 1


HOSTILE_PATH = "dir/a\x1b[2Jb\u202ec\x07.yaml"
SHOWN_PATH = "dir/a\\x1b[2Jb\\u202ec\\x07.yaml"


@pytest.mark.parametrize("name", ["github", "markdown"])
def test_control_characters_in_paths_are_shown_as_escapes(name: str) -> None:
    step = make_step("1", Verdict.ERROR, problems=(Problem(HOSTILE_PATH, Span(3, 5), "syntax", "no"),))
    result = FileResult(
        HOSTILE_PATH, "T", (step, REFUTED), problems=(Problem(HOSTILE_PATH, Span(1, 1), "schema", "bad"),)
    )
    out = render(name, [result])
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    lines = out.splitlines()
    if name == "github":
        assert f"::group::derivcheck {SHOWN_PATH} — T" in lines
        annotations = _annotations(out)
        assert len(annotations) == 3
        assert all(line.startswith(f"::error file={SHOWN_PATH},line=") for line in annotations)
    else:
        assert f"### `{SHOWN_PATH}` — T" in lines
        assert f"- **error** `{SHOWN_PATH}:1:1` `schema`: bad" in lines
        assert f"  - `{SHOWN_PATH}:3:5` `syntax`: no" in lines


# -- junit ----------------------------------------------------------------------------------------


def _junit(results: Sequence[FileResult], *, strict: bool = False) -> ET.Element:
    out = render("junit", results, strict=strict)
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(out.encode("utf-8"))


def test_junit_counts_per_suite_and_in_total() -> None:
    root = _junit(RUN)
    assert root.tag == "testsuites"
    assert [suite.get("name") for suite in root] == [
        "derivations/good.yaml",
        "wrong.yaml",
        "broken.yaml",
    ]
    counts = [
        (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
        for suite in root
    ]
    assert counts == [("3", "0", "0", "0"), ("7", "3", "1", "0"), ("1", "0", "1", "0")]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("11", "3", "2")
    for suite in root:
        cases = suite.findall("testcase")
        assert len(cases) == int(suite.get("tests", "-1"))
        assert len(suite.findall("testcase/failure")) == int(suite.get("failures", "-1"))
        assert len(suite.findall("testcase/error")) == int(suite.get("errors", "-1"))


def test_junit_step_cases() -> None:
    suite = _junit([WRONG]).find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [
        "step 1", "step 2", "step 3 (bad)", "step 4", "step 5", "step 6", "step 7",
    ]  # fmt: skip
    refuted = cases["step 3 (bad)"]
    assert refuted.attrib == {
        "name": "step 3 (bad)", "classname": "wrong", "file": "wrong.yaml", "line": "7",
    }  # fmt: skip
    failure = refuted.find("failure")
    assert failure is not None
    assert failure.get("type") == "refuted"
    assert failure.get("message") == "step 3 (bad) is refuted"
    assert "counterexample: at N = 2, k = 1, x[1] = 3/2: lhs = 2.25, rhs = 1.5" in (
        failure.text or ""
    )
    assert cases["step 5"].find("failure").get("type") == "refutation-missed"  # type: ignore[union-attr]
    error = cases["step 7"].find("error")
    assert error is not None and error.get("type") == "step-error"
    assert "wrong.yaml:12:18: error [syntax] '(' was never closed" in (error.text or "")
    for passing in ("step 1", "step 2", "step 4"):
        assert cases[passing].find("failure") is None
        assert cases[passing].find("error") is None
        assert cases[passing].find("system-out") is not None


def test_junit_file_problem_is_an_error_case() -> None:
    suite = _junit([BROKEN]).find("testsuite")
    assert suite is not None
    (case,) = suite.findall("testcase")
    assert case.get("name") == "[file] schema at 2:1"
    error = case.find("error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == ("schema", "unknown key 'variabls'")
    assert "x is never used" in (suite.findtext("system-err") or "")


def test_junit_strict_fails_checked_steps() -> None:
    root = _junit([GOOD], strict=True)
    assert root.get("failures") == "1"
    assert _junit([GOOD]).get("failures") == "0"


def test_junit_escapes_hostile_text() -> None:
    hostile = 'a < b && c > "d" ]]> <!-- \x00\x01\x1b[31m \ud800 ∂L'
    step = make_step("1", Verdict.REFUTED, id="x", written=hostile, message=hostile)
    root = _junit([FileResult(f"{hostile}.yaml", hostile, (step,))])
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == xml_text(f"{hostile}.yaml")
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert 'a < b && c > "d" ]]> <!--' in (failure.text or "")
    assert "\ufffd\ufffd\ufffd[31m \ufffd ∂L" in (failure.text or "")


def test_junit_empty_run_is_valid() -> None:
    root = _junit([])
    assert (root.tag, root.get("tests"), len(root)) == ("testsuites", "0", 0)


def test_junit_classname_from_path() -> None:
    assert classname("derivations/softmax_ce.yaml") == "derivations.softmax_ce"
    assert classname("x.yml") == "x"


# -- sarif ----------------------------------------------------------------------------------------


def _validate_sarif(document: object) -> None:
    jsonschema.validators.validator_for(SARIF_SCHEMA)(SARIF_SCHEMA).validate(document)


def test_the_vendored_schema_is_the_official_sarif_2_1_0() -> None:
    assert SARIF_SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)


@pytest.mark.parametrize("strict", [False, True])
def test_sarif_validates_against_the_official_schema(strict: bool) -> None:
    document = json.loads(render("sarif", RUN, strict=strict))
    _validate_sarif(document)


def test_sarif_empty_run_validates() -> None:
    document = json.loads(render("sarif", []))
    _validate_sarif(document)
    assert document["runs"][0]["results"] == []


def test_sarif_schema_check_can_fail() -> None:
    document = json.loads(render("sarif", RUN))
    bad_level = copy.deepcopy(document)
    bad_level["runs"][0]["results"][0]["level"] = "fatal"
    no_driver = copy.deepcopy(document)
    del no_driver["runs"][0]["tool"]["driver"]
    bad_line = copy.deepcopy(document)
    bad_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    for broken in (bad_level, no_driver, bad_line):
        with pytest.raises(jsonschema.ValidationError):
            _validate_sarif(broken)


def test_sarif_driver_and_rules() -> None:
    run = report_to_sarif(RUN)["runs"][0]  # type: ignore[index]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("derivcheck", __version__)
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == [*FAILURE_RULES, "syntax", "schema", "unused"]
    assert len(set(rule_ids)) == len(rule_ids)
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_results_and_locations() -> None:
    run = report_to_sarif(RUN, strict=False)["runs"][0]  # type: ignore[index]
    found = [
        (
            result["ruleId"],
            result["level"],
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
            result["locations"][0]["physicalLocation"]["region"]["startColumn"],
        )
        for result in run["results"]
    ]
    assert found == [
        ("refuted", "error", "wrong.yaml", 7, 12),
        ("refutation-missed", "error", "wrong.yaml", 10, 12),
        ("undecided", "error", "wrong.yaml", 11, 12),
        ("syntax", "error", "wrong.yaml", 12, 18),
        ("schema", "error", "broken.yaml", 2, 1),
        ("unused", "warning", "broken.yaml", 4, 3),
    ]
    refuted = run["results"][0]
    assert refuted["message"]["text"].startswith("step 3 (bad) is refuted\nclaim: 2*t = t\n")
    assert refuted["properties"]["counterexample"] == COUNTEREXAMPLE.to_dict()
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_sarif_all_good_has_no_results() -> None:
    run = report_to_sarif([GOOD], strict=False)["runs"][0]  # type: ignore[index]
    assert run["results"] == []
    assert run["invocations"][0]["exitCode"] == 0
    run = report_to_sarif([GOOD])["runs"][0]  # type: ignore[index]
    assert [result["ruleId"] for result in run["results"]] == ["not-proved"]  # checked fails by default
    assert run["invocations"][0]["exitCode"] == 1


def test_sarif_uris() -> None:
    assert artifact_uri("derivations/a b#1.yaml") == "derivations/a%20b%231.yaml"
    assert artifact_uri("/tmp/x.yaml") == "file:///tmp/x.yaml"
    document = report_to_sarif([FileResult("/tmp/d ir/x.yaml", None, (REFUTED,))])
    _validate_sarif(document)


# -- markdown -------------------------------------------------------------------------------------


def test_markdown_summary_and_table() -> None:
    out = render("markdown", [WRONG])
    lines = out.splitlines()
    assert lines[0] == "## derivcheck: ❌ does not hold"
    assert lines[2].startswith("1 file, 7 steps: ")
    assert "### `wrong.yaml` — tiny" in lines
    header = lines.index("| step | id | claim | verdict | method |")
    rows = lines[header + 2 : header + 2 + len(ALL_STEPS)]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert rows[2] == "| 3 | `bad` | `2*t = t` | ❌ refuted | symbolic |"
    assert "✅ refuted (expected)" in rows[3]
    assert "❌ proved (expected refuted)" in rows[4]
    assert "- **step 3 (bad) is refuted** (line 7)" in lines
    assert "  - counterexample: `at N = 2, k = 1, x[1] = 3/2: lhs = 2.25, rhs = 1.5`" in lines


def test_markdown_all_hold() -> None:
    out = render("markdown", [GOOD])
    assert out.startswith("## derivcheck: ✅ all hold\n")
    assert "is refuted**" not in out


def test_markdown_file_problems() -> None:
    out = render("markdown", [BROKEN])
    assert "- **error** `broken.yaml:2:1` `schema`: unknown key 'variabls'" in out
    assert "- **warning** `broken.yaml:4:3` `unused`: x is never used" in out


def test_markdown_escapes_table_breaking_text() -> None:
    step = make_step("1", Verdict.PROVED, written="|a| = `b` | c", method="a|b <b>*x*</b> $y$")
    out = render("markdown", [FileResult("d.yaml", "*T* | <i>", (step,))])
    row = next(line for line in out.splitlines() if line.startswith("| 1 |"))
    # five cells: unescaped pipes are exactly the six borders
    assert len(re.findall(r"(?<!\\)\|", row)) == 6
    assert "``\\|a\\| = `b` \\| c``" in row
    assert "a\\|b \\<b\\>\\*x\\*\\</b\\> \\$y\\$" in row
    assert "— \\*T\\* \\| \\<i\\>" in out


# Text that opens a block where it starts a line (a list item's text counts), or raw HTML.
LINE_STARTS = ["# heading", "- item", "+ item", "* item", "1. item", "7) item", "> quote", "---", "===", "<div>x</div>", "```", "Ends #"]


def _markdown_blocks(text: str) -> tuple[list[str], str]:
    """The tags markdown-it (CommonMark, GFM tables) makes of `text`, and the text of its h3."""
    import html
    from markdown_it import MarkdownIt

    page = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    heading = html.unescape(re.sub(r"<[^>]+>", "", re.findall(r"<h3>(.*?)</h3>", page)[0]))
    return re.findall(r"<(/?[a-z!][a-z0-9]*)", page), heading


def _hostile_run(text: str) -> list[FileResult]:
    step = make_step(
        "1", Verdict.UNDECIDED, method=text, message=text, tried=(text,),
        problems=(Problem("d.yaml", Span(3, 4), "syntax", f"{text}, again"),),  # not the message: both are shown
    )  # fmt: skip
    warning = Problem("d.yaml", Span(1, 1), "unused", text, "warning")
    return [FileResult("d.yaml", text, (step,), warnings=(warning,))]


@pytest.mark.parametrize("text", LINE_STARTS)
def test_markdown_report_shows_user_text_that_starts_a_line_as_written(text: str) -> None:
    hostile, heading = _markdown_blocks(render("markdown", _hostile_run(text)))
    plain, _ = _markdown_blocks(render("markdown", _hostile_run("plain words")))
    assert hostile == plain  # the same blocks and tags: the text opened none
    assert heading == f"d.yaml — {text}"


def test_markdown_report_reading_sees_a_block_that_text_opens() -> None:
    # The twin of the test above: the same reading notices a heading, a list, and raw HTML.
    plain, _ = _markdown_blocks(render("markdown", _hostile_run("plain words")))
    for injected in ("plain words\n\n# heading", "plain words\n\n- item", "plain words <div>x</div>"):
        assert _markdown_blocks(render("markdown", _hostile_run("plain words")).replace("plain words", injected, 1))[0] != plain


def test_markdown_code_spans() -> None:
    assert code("a[k]") == "`a[k]`"
    assert code("x `y`") == "`` x `y` ``"  # one space each side, stripped by CommonMark
    assert code("a\nb") == "`a b`"
    assert escape("a_b [c]") == "a\\_b \\[c\\]"


# -- an interrupted run, in each CI format: its files, and that it was interrupted ---------------


def test_github_interrupted_run_is_an_error_annotation() -> None:
    finished = render("github", [GOOD])
    interrupted = render("github", [GOOD], interrupted=True)
    assert _annotations(finished) == []  # the twin: a finished run that holds has none
    assert _annotations(interrupted) == [
        "::error title=derivcheck%3A interrupted::derivcheck was interrupted before every file was "
        "checked: this report holds only the files above."
    ]
    assert interrupted.splitlines()[-1].endswith("— interrupted before every file was checked")
    assert finished.splitlines()[:-1] == interrupted.splitlines()[:-2]  # the same files, shown alike


def test_junit_interrupted_run_is_an_error_case() -> None:
    finished = ET.fromstring(render("junit", [GOOD]))
    interrupted = ET.fromstring(render("junit", [GOOD], interrupted=True))
    assert (finished.get("tests"), finished.get("errors")) == ("3", "0")
    assert (interrupted.get("tests"), interrupted.get("errors"), interrupted.get("failures")) == ("4", "1", "0")
    suites = interrupted.findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["derivations/good.yaml", "derivcheck run"]
    error = suites[1].find("testcase/error")
    assert error is not None and error.get("type") == "interrupted"
    assert error.get("message") == "derivcheck was interrupted before every file was checked"
    kept, alone = suites[0], finished.findall("testsuite")[0]
    kept.tail = alone.tail = None  # the indentation after it differs: it is no longer last
    assert ET.tostring(kept) == ET.tostring(alone)


@pytest.mark.parametrize("results", [[], RUN], ids=["no-files", "files"])
def test_sarif_interrupted_run_did_not_succeed_and_validates(results: list[FileResult]) -> None:
    finished = json.loads(render("sarif", results))
    interrupted = json.loads(render("sarif", results, interrupted=True))
    _validate_sarif(interrupted)
    (invocation,) = interrupted["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "exitCode" not in invocation  # not known: the run had not ended
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"] == (
        f"derivcheck was interrupted before every file was checked: the results are those of the {len(results)} file(s) it finished."
    )
    assert note["level"] == "error"
    assert interrupted["runs"][0]["properties"] == {"ok": False, "interrupted": True}
    assert finished["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert finished["runs"][0]["properties"]["interrupted"] is False
    assert interrupted["runs"][0]["results"] == finished["runs"][0]["results"]


def test_markdown_interrupted_run_says_so_first() -> None:
    finished = render("markdown", [GOOD])
    interrupted = render("markdown", [GOOD], interrupted=True)
    assert finished.startswith("## derivcheck: ✅ all hold\n")
    lines = interrupted.splitlines()
    assert lines[0] == "## derivcheck: ❌ interrupted, incomplete"
    assert lines[2] == "**The run was interrupted before every file was checked**: below are the files it finished."
    assert lines[4].endswith("— interrupted before every file was checked")
    assert "all hold" not in interrupted
    assert finished[finished.index("### ") :] == interrupted[interrupted.index("### ") :]


# -- the formats on real results, through the CLI -------------------------------------------------

TINY = """\
title: tiny
variables:
  t: real
steps:
  - claim: 2*t = t + t
  - id: wrong
    claim: 2*t = t
  - claim: 2*t = (t
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("real")
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (folder / "broken.yaml").write_text("steps: [\n", encoding="utf-8")
    yield folder


runner = CliRunner()


@pytest.mark.parametrize("name", ["github", "junit", "sarif", "markdown"])
def test_cli_formats_on_real_results(
    name: str, real_run: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(real_run)
    report = tmp_path / f"report.{name}"
    result = runner.invoke(
        cli.app, ["verify", "tiny.yaml", "broken.yaml", "-f", name, "-o", str(report)]
    )
    assert result.exit_code == 1, result.output
    out = report.read_text(encoding="utf-8")
    if name == "github":
        annotations = _annotations(out)
        assert len(annotations) == 3
        assert "file=tiny.yaml,line=7,col=12" in annotations[0]
        found = re.search(r"counterexample: at t = (\S+): lhs = (\S+), rhs = (\S+)", annotations[0])
        assert found is not None, annotations[0]
        t = Fraction(found.group(1))
        assert (Fraction(found.group(2)), Fraction(found.group(3))) == (2 * t, t)  # the values of 2*t and t there
        assert annotations[1].startswith("::error file=tiny.yaml,line=8,col=18,")
        assert annotations[2].startswith("::error file=broken.yaml,")
        assert "yaml-syntax" in annotations[2]
    elif name == "junit":
        root = ET.fromstring(out.encode("utf-8"))
        assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "2")
    elif name == "sarif":
        document = json.loads(out)
        _validate_sarif(document)
        rules = [r["ruleId"] for r in document["runs"][0]["results"]]
        assert rules == ["refuted", "syntax", "yaml-syntax"]
    else:
        assert out.startswith("## derivcheck: ❌ does not hold")
        assert "| 2 | `wrong` | `2*t = t` | ❌ refuted |" in out


# -- --format's default -----------------------------------------------------------------------


def _fake_check(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
    yield FileResult("wrong.yaml", None, (REFUTED,))


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"GITHUB_ACTIONS": "true"}, [], "github"),
        ({"GITHUB_ACTIONS": "true"}, ["--format", "text"], "text"),
        ({"GITHUB_ACTIONS": "true"}, ["-f", "json"], "json"),
        ({"GITHUB_ACTIONS": "false"}, [], "text"),
        ({}, [], "text"),
    ],
)
def test_github_format_is_the_default_inside_github_actions(
    env: dict[str, str], args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(cli, "_check_paths", _fake_check)
    result = runner.invoke(cli.app, ["verify", "wrong.yaml", "--width", "100", *args])
    assert result.exit_code == 1
    out = result.stdout
    is_github = out.startswith("::group::")
    is_json = out.startswith("{")
    assert (is_github, is_json) == (expected == "github", expected == "json")
    if expected == "text":
        assert "✘ REFUTED" in out


def test_github_default_does_not_apply_to_a_report_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setattr(cli, "_check_paths", _fake_check)
    target = tmp_path / "report.txt"
    result = runner.invoke(cli.app, ["verify", "wrong.yaml", "-o", str(target)])
    assert result.exit_code == 1
    assert "✘ REFUTED" in target.read_text(encoding="utf-8")


def test_verify_help_names_every_format() -> None:
    result = runner.invoke(cli.app, ["verify", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("text", "json", "github", "junit", "sarif", "markdown", "GITHUB_ACTIONS"):
        assert name in result.stdout, name


@pytest.mark.parametrize("name", ["github", "junit", "sarif", "markdown"])
def test_ci_reporters_import_neither_rich_nor_sympy(name: str) -> None:
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from derivcheck.report import make_reporter\n"
        f"make_reporter({name!r}, io.StringIO()).finish([])\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr


# -- problems with no position (a file not found) --------------------------------------------------

MISSING = FileResult(
    "gone, really: 100%.yaml", None, problems=(Problem("gone, really: 100%.yaml", NO_SPAN, "not-found", "no such file"),)
)
# GitHub's workflow command, exactly: `::name key=value,key=value::message`, with the properties
# escaped by the runner's escapeProperty (no raw ',' ':' '%' CR or LF left in a value) and the
# message by its escapeData (no raw '%' CR or LF).
WORKFLOW_COMMAND = re.compile(
    r"::(?P<name>error|warning) (?P<props>[a-z]+=[^,:%\r\n]*(?:%(?:25|0D|0A|3A|2C)[^,:%\r\n]*)*"
    r"(?:,[a-z]+=[^,:%\r\n]*(?:%(?:25|0D|0A|3A|2C)[^,:%\r\n]*)*)*)::(?P<message>[^%\r\n]*(?:%(?:25|0D|0A)[^%\r\n]*)*)"
)


def _unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def test_github_annotations_follow_the_workflow_command_syntax_exactly() -> None:
    tricky = FileResult(
        "a,b:c%d.yaml",
        None,
        problems=(Problem("a,b:c%d.yaml", Span(3, 4), "yaml-syntax", "50% off:\nline two, \r three"),),
    )
    annotations = _annotations(render("github", [tricky, MISSING, WRONG]))
    assert len(annotations) == 2 + len(FAILING)
    for line in annotations:
        match = WORKFLOW_COMMAND.fullmatch(line)
        assert match is not None, line
        props = dict(pair.split("=", 1) for pair in match["props"].split(","))
        assert list(props) in (["file", "line", "col", "title"], ["file", "title"]), line
    first = WORKFLOW_COMMAND.fullmatch(annotations[0])
    assert first is not None
    assert first["props"] == "file=a%2Cb%3Ac%25d.yaml,line=3,col=4,title=derivcheck%3A yaml-syntax"
    assert _unescape(first["message"]) == "50% off: line two, three"  # one line: diagnostics collapse it


def test_a_problem_with_no_position_is_shown_without_one_in_every_format() -> None:
    assert str(MISSING.problems[0]) == "gone, really: 100%.yaml: error [not-found] no such file"
    assert "::error file=gone%2C really%3A 100%25.yaml,title=derivcheck%3A not-found::no such file" in render("github", [MISSING])
    assert json.loads(render("json", [MISSING]))["files"][0]["problems"][0] | {} == {
        "line": None, "col": None, "code": "not-found", "message": "no such file", "severity": "error"
    }
    sarif = json.loads(render("sarif", [MISSING]))
    (location,) = sarif["runs"][0]["results"][0]["locations"]
    assert "region" not in location["physicalLocation"]
    case = ET.fromstring(render("junit", [MISSING])).find(".//testcase")
    assert case is not None and "line" not in case.attrib and case.get("name") == "[file] not-found"
    assert "`gone, really: 100%.yaml` `not-found`" in render("markdown", [MISSING])
    # The twin: a problem with a position keeps it everywhere.
    placed = Problem("d.yaml", Span(3, 4), "schema", "x")
    assert str(placed) == "d.yaml:3:4: error [schema] x" and Span(3, 4).known and not NO_SPAN.known
