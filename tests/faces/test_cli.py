"""Tests for the derivcheck command line, with the checker replaced by fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import pytest
from typer.testing import CliRunner

from derivcheck import __version__, cli, report
from derivcheck.model import FileResult, Problem, Span, StepResult, Verdict
from derivcheck.report import REPORTER_BY_NAME, Reporter

REPO = Path(__file__).resolve().parents[2]

runner = CliRunner()


def step(number: str, verdict: Verdict, *, expect_refuted: bool = False) -> StepResult:
    return StepResult(
        number=number,
        id=f"s{number}",
        span=Span(int(number) * 2, 3),
        written="a[k] = b[k]",
        verdict=verdict,
        method="fake",
        expect_refuted=expect_refuted,
    )


def not_found(path: str) -> FileResult:
    problem = Problem(path, Span(1, 1), "not-found", f"no such file or directory: {path}")
    return FileResult(path=path, title=None, problems=(problem,))


# What the fake checker returns for each file name given on the command line.
FAKE_RESULTS: dict[str, FileResult] = {
    "good.yaml": FileResult(
        "good.yaml", "Good", (step("1", Verdict.PROVED), step("2", Verdict.PROVED))
    ),
    "checked.yaml": FileResult("checked.yaml", None, (step("1", Verdict.CHECKED),)),
    "bad.yaml": FileResult(
        "bad.yaml", "Bad", (step("1", Verdict.PROVED), step("2", Verdict.REFUTED))
    ),
    "expected.yaml": FileResult(
        "expected.yaml", None, (step("1", Verdict.REFUTED, expect_refuted=True),)
    ),
    "broken.yaml": FileResult(
        "broken.yaml",
        None,
        problems=(Problem("broken.yaml", Span(3, 1), "yaml-syntax", "bad indent"),),
    ),
}


class FakeCheck:
    """Stands in for cli._check_paths: records its arguments, yields canned results."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Path], float]] = []

    def __call__(self, paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
        self.calls.append((list(paths), timeout))
        for path in paths:
            yield FAKE_RESULTS.get(path.name) or not_found(str(path))


@pytest.fixture(autouse=True)
def _outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text report is the default here, even when the tests run inside GitHub Actions."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def fake_check(monkeypatch: pytest.MonkeyPatch) -> FakeCheck:
    fake = FakeCheck()
    monkeypatch.setattr(cli, "_check_paths", fake)
    return fake


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli.app, list(args), prog_name="derivcheck")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


# -- --version and --help -----------------------------------------------------------------------


def test_version_prints_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert out == f"derivcheck {__version__}\n"


def test_version_is_not_a_verify_option() -> None:
    code, _, err = invoke("verify", "--version")
    assert code == 2
    assert "--version" in err


def test_help_describes_the_tool_with_an_example() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "Verify step-by-step math derivations" in out
    assert "derivcheck verify derivations/softmax_ce.yaml" in out
    assert "verify" in out


def test_verify_help_lists_every_option() -> None:
    code, out, _ = invoke("verify", "--help")
    assert code == 0
    for option in (
        "--format",
        "--strict",
        "--timeout",
        "--output",
        "--no-color",
        "--width",
        "--watch",
    ):
        assert option in out, option
    assert "Example" in out


def test_arguments_read_as_the_command_line_takes_them() -> None:
    # typer 0.29 wrote `{PATH}...` in the usage line and `PATH <list[Path]>` in the help.
    for command, usage, name in (("verify", "verify [OPTIONS] PATH...", "PATH..."), ("render", "render [OPTIONS] FILE", "FILE"), ("new", "new [OPTIONS] NAME", "NAME")):
        code, out, _ = invoke(command, "--help")
        assert code == 0
        assert f"Usage: derivcheck {usage}\n" in out, out
        assert f"\n  {name}  " in out, out
        assert "{" not in out.splitlines()[0] and "<list[" not in out and "<path>" not in out


def test_a_missing_file_is_reported_without_a_made_up_position(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    code, out, _ = invoke("verify", str(missing), "--width", "200")
    assert code == 2
    assert f"{missing}: error [not-found] no such file or directory" in out
    assert ":1:1" not in out


def test_unknown_command_is_a_usage_error() -> None:
    code, _, err = invoke("prove", "x.yaml")
    assert code == 2
    assert "prove" in err


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


def test_importing_cli_does_not_import_sympy() -> None:
    completed = _run_python(
        "import derivcheck.cli, sys\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
        "assert 'derivcheck.prepare' not in sys.modules, 'prepare imported'\n"
        "assert 'derivcheck.engine' not in sys.modules, 'the engine imported'\n"
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["verify", "--help"], ["schema", "--help"], ["new", "--help"]],
)
def test_help_and_version_do_not_import_sympy(argv: list[str]) -> None:
    completed = _run_python(
        "import sys\n"
        f"sys.argv = ['derivcheck', *{argv!r}]\n"
        "from derivcheck.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    assert completed.returncode == 0, completed.stderr
    assert "derivcheck" in completed.stdout


def test_the_sympy_probe_notices_sympy() -> None:
    pytest.importorskip("sympy")
    completed = _run_python(
        "import derivcheck.cli, sympy, sys\nassert 'sympy' not in sys.modules\n"
    )
    assert completed.returncode != 0


def test_python_dash_m_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    completed = subprocess.run(
        [sys.executable, "-m", "derivcheck", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"derivcheck {__version__}\n"


# -- verify: exit codes ---------------------------------------------------------------------------


def test_verify_all_good_exits_0(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "expected.yaml", "--width", "100")
    assert code == 0
    assert "good.yaml — Good" in out
    assert "✔ PROVED" in out
    assert "✘ REFUTED (expected)" in out
    assert out.rstrip().endswith("— all hold")


def test_verify_refuted_step_exits_1(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "bad.yaml", "--width", "100")
    assert code == 1
    assert "✘ REFUTED" in out
    assert out.rstrip().endswith("— 1 step does not hold")


def test_verify_file_problem_exits_1(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "broken.yaml", "--width", "100")
    assert code == 1
    assert "broken.yaml:3:1: error [yaml-syntax] bad indent" in out


def test_verify_missing_path_exits_2(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "missing.yaml", "--width", "100")
    assert code == 2
    assert "missing.yaml:1:1: error [not-found]" in out


def test_verify_without_paths_is_a_usage_error(fake_check: FakeCheck) -> None:
    code, _, err = invoke("verify")
    assert code == 2
    assert "Missing argument" in err
    assert fake_check.calls == []


def test_verify_passes_paths_and_timeout(fake_check: FakeCheck) -> None:
    code, _, _ = invoke("verify", "good.yaml", "dir", "--timeout", "2.5")
    assert code == 2  # "dir" is unknown to the fake: not found
    assert fake_check.calls == [([Path("good.yaml"), Path("dir")], 2.5)]


def test_verify_default_timeout_is_10(fake_check: FakeCheck) -> None:
    invoke("verify", "good.yaml")
    assert fake_check.calls == [([Path("good.yaml")], 10.0)]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_verify_rejects_bad_timeout(fake_check: FakeCheck, value: str) -> None:
    code, _, err = invoke("verify", "good.yaml", "--timeout", value)
    assert code == 2
    assert "--timeout" in err
    assert fake_check.calls == []


@pytest.mark.parametrize("flags", [(), ("--strict",)])
def test_verify_fails_checked_steps_by_default(fake_check: FakeCheck, flags: tuple[str, ...]) -> None:
    # A check at concrete sizes is no proof: (N-1)*(N-2)*(N-3)*(N-4) = 0 holds at N = 1..4.
    code, out, _ = invoke("verify", "checked.yaml", *flags, "--width", "100")
    assert code == 1
    assert "~ CHECKED" in out and "✔ CHECKED" not in out
    assert "it fails the run (--accept-checked lets it pass)" in out


def test_verify_accept_checked_lets_checked_steps_pass(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "checked.yaml", "--accept-checked", "--width", "100")
    assert code == 0
    assert "✔ CHECKED" in out and "all hold" in out


def test_verify_strict_keeps_expected_refutations(fake_check: FakeCheck) -> None:
    code, _, _ = invoke("verify", "expected.yaml", "--strict")
    assert code == 0


# -- verify: formats and output -------------------------------------------------------------------


def test_format_choices_are_the_reporter_table() -> None:
    assert {choice.value for choice in cli.ReportFormat} == set(REPORTER_BY_NAME)


def test_verify_json_matches_the_schema(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "bad.yaml", "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert set(document) == {"version", "schema", "interrupted", "files", "summary"}
    assert document["interrupted"] is False
    assert document["version"] == __version__
    assert document["schema"] == 2
    good, bad = document["files"]
    assert {"path", "title", "ok", "problems", "steps"} <= set(good)
    assert (good["path"], good["ok"], bad["ok"]) == ("good.yaml", True, False)
    assert {
        "number", "id", "line", "col", "written", "verdict", "method",
        "assumptions_used", "counterexample", "message", "expect", "ok",
    } <= set(bad["steps"][1])  # fmt: skip
    assert bad["steps"][1]["verdict"] == "refuted"
    assert document["summary"]["ok"] is False
    assert document["summary"]["refuted"] == 1


def test_verify_json_short_option_and_success(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "-f", "json")
    assert code == 0
    assert json.loads(out)["summary"]["ok"] is True


def test_verify_json_strict(fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "checked.yaml", "-f", "json", "--strict")
    assert code == 1
    assert json.loads(out)["summary"]["ok"] is False


def test_verify_rejects_unknown_format(fake_check: FakeCheck) -> None:
    code, _, err = invoke("verify", "good.yaml", "--format", "xml")
    assert code == 2
    assert "--format" in err
    assert fake_check.calls == []


def test_verify_output_writes_the_file(fake_check: FakeCheck, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = invoke("verify", "good.yaml", "-f", "json", "-o", str(target))
    assert code == 0
    assert out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["files"][0]["path"] == "good.yaml"


def test_verify_output_text_has_no_color(fake_check: FakeCheck, tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    code, _, _ = invoke("verify", "bad.yaml", "--output", str(target))
    assert code == 1
    text = target.read_text(encoding="utf-8")
    assert "✘ REFUTED" in text
    assert "a[k] = b[k]" in text
    assert "\x1b[" not in text


def test_verify_output_into_missing_directory_exits_2(
    fake_check: FakeCheck, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "report.json"
    code, out, err = invoke("verify", "good.yaml", "-o", str(target))
    assert code == 2
    assert "cannot write the report" in err
    assert "Traceback" not in out + err
    assert fake_check.calls == []


def test_verify_output_to_a_directory_is_a_usage_error(
    fake_check: FakeCheck, tmp_path: Path
) -> None:
    code, _, err = invoke("verify", "good.yaml", "-o", str(tmp_path))
    assert code == 2
    assert "--output" in err


def test_verify_width_sets_the_text_width(fake_check: FakeCheck) -> None:
    _, out, _ = invoke("verify", "good.yaml", "--width", "50")
    assert out.splitlines()[0] == "good.yaml — Good " + "─" * (50 - 17)


@pytest.mark.parametrize("value", ["5", "wide"])
def test_verify_rejects_bad_width(fake_check: FakeCheck, value: str) -> None:
    code, _, err = invoke("verify", "good.yaml", "--width", value)
    assert code == 2
    assert "--width" in err


def test_verify_no_color_has_no_escape_codes(fake_check: FakeCheck) -> None:
    result = runner.invoke(cli.app, ["verify", "bad.yaml", "--no-color"], color=True)
    assert result.exit_code == 1
    assert "\x1b[" not in result.stdout
    assert "✘ REFUTED" in result.stdout


def test_verify_color_when_forced(fake_check: FakeCheck, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    result = runner.invoke(cli.app, ["verify", "bad.yaml"])
    assert result.exit_code == 1
    assert "\x1b[" in result.stdout


def test_verify_reports_each_file_before_checking_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    def streaming(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
        yield FAKE_RESULTS["good.yaml"]
        events.append("checking bad.yaml")
        yield FAKE_RESULTS["bad.yaml"]

    original = report.make_reporter

    def spying_make_reporter(name: str, stream: TextIO, **options: Any) -> Reporter:
        reporter = original(name, stream, **options)
        file_done = reporter.file_done

        def spy(result: FileResult) -> None:
            file_done(result)
            events.append(f"reported {result.path}")

        reporter.file_done = spy  # type: ignore[method-assign]
        return reporter

    monkeypatch.setattr(cli, "_check_paths", streaming)
    monkeypatch.setattr(cli, "make_reporter", spying_make_reporter)
    code, out, _ = invoke("verify", "x", "--width", "100")
    assert code == 1
    assert events == ["reported good.yaml", "checking bad.yaml", "reported bad.yaml"]
    assert out.index("good.yaml — Good") < out.index("bad.yaml — Bad") < out.index("2 files, ")


@pytest.mark.parametrize("report_format", ["text", "github", "markdown"])
def test_verify_shows_control_characters_in_file_names_as_escapes(report_format: str, tmp_path: Path) -> None:
    # A pull request can name a file anything: its name reaches the report, not the terminal's
    # escape sequences (here, one that clears the screen) or a bidirectional override.
    for name in ("a\x1b[2Jb.yaml", "c\u202ed.yaml"):
        (tmp_path / name).write_text("steps: [\n", encoding="utf-8")
    code, out, err = invoke("verify", str(tmp_path), "-f", report_format, "--width", "100")
    assert code == 1
    assert "\x1b" not in out + err and "\u202e" not in out + err
    assert out.count("a\\x1b[2Jb.yaml") >= 2 and out.count("c\\u202ed.yaml") >= 2


def test_verify_says_a_step_error_once(tmp_path: Path) -> None:
    # Found by a newcomer run: the step's problem was printed as its message and again as a problem.
    path = tmp_path / "d.yaml"
    path.write_text("variables:\n  theta: real\nsteps:\n  - claim: thetta + 1 = 1 + theta\n", encoding="utf-8")
    code, out, _ = invoke("verify", str(path), "--width", "200")
    assert code == 1
    assert out.count("undeclared name 'thetta'") == 1, out
    assert f"{path}:4:12: error [undeclared-symbol] undeclared name 'thetta'; did you mean 'theta'?" in out


# -- verify: crashes and interrupts ---------------------------------------------------------------


def _failing_check(error: BaseException) -> Callable[..., Iterator[FileResult]]:
    def check(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
        yield FAKE_RESULTS["good.yaml"]
        raise error

    return check


def test_checker_crash_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    crash = cli.CheckCrashed(Path("weird.yaml"), ZeroDivisionError("division by zero"))
    monkeypatch.setattr(cli, "_check_paths", _failing_check(crash))
    code, out, err = invoke("verify", "x")
    assert code == 2
    assert err == (
        "derivcheck: internal error while checking weird.yaml:"
        " ZeroDivisionError: division by zero\n"
    )
    assert "Traceback" not in out + err


def test_unexpected_error_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_check_paths", _failing_check(RuntimeError("boom\nsecond line")))
    code, out, err = invoke("verify", "x")
    assert code == 2
    assert err == "derivcheck: internal error: RuntimeError: boom second line\n"
    assert "Traceback" not in out + err


def test_ctrl_c_reports_finished_files_and_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_check_paths", _failing_check(KeyboardInterrupt()))
    code, out, err = invoke("verify", "x", "--width", "100")
    assert code == 130
    assert "good.yaml — Good" in out
    assert "1 file, 2 steps" in out
    assert "interrupted after 1 file(s)" in err


def test_ctrl_c_with_json_writes_finished_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_check_paths", _failing_check(KeyboardInterrupt()))
    code, out, _ = invoke("verify", "x", "-f", "json")
    assert code == 130
    document = json.loads(out)
    assert [file["path"] for file in document["files"]] == ["good.yaml"]
    assert document["files"][0]["ok"] is True  # the file finished is reported as it came out
    assert (document["interrupted"], document["summary"]["interrupted"], document["summary"]["ok"]) == (True, True, False)


# What says, in each format, that the run was interrupted.
INTERRUPTED_MARK = {
    "text": "— interrupted before every file was checked\n",
    "json": '"interrupted": true',
    "github": "::error title=derivcheck%3A interrupted::",
    "junit": '<error message="derivcheck was interrupted before every file was checked" type="interrupted">',
    "sarif": '"executionSuccessful": false',
    "markdown": "## derivcheck: ❌ interrupted, incomplete\n",
}


def test_every_format_has_a_mark_of_interruption() -> None:
    assert set(INTERRUPTED_MARK) == set(REPORTER_BY_NAME)


@pytest.mark.parametrize("name", sorted(INTERRUPTED_MARK))
def test_ctrl_c_report_says_it_was_interrupted_in_every_format(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_check_paths", _failing_check(KeyboardInterrupt()))
    code, out, err = invoke("verify", "x", "-f", name, "--width", "100")
    assert (code, err) == (130, "derivcheck: interrupted after 1 file(s)\n")
    assert INTERRUPTED_MARK[name] in out
    # The file done before Ctrl-C (SARIF lists only what does not hold: it counts them).
    assert "good.yaml" in out if name != "sarif" else "of the 1 file(s) it finished" in out
    assert "all hold" not in out


@pytest.mark.parametrize("name", sorted(INTERRUPTED_MARK))
def test_a_finished_run_has_no_mark_of_interruption(name: str, fake_check: FakeCheck) -> None:
    code, out, _ = invoke("verify", "good.yaml", "-f", name, "--width", "100")
    assert code == 0
    assert INTERRUPTED_MARK[name] not in out and "interrupted" not in out.replace('"interrupted": false', "")


def _terminating_check(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
    """Yields a file, then sends this process SIGTERM, as a cancelled CI job would."""
    import signal
    import time

    yield FAKE_RESULTS["good.yaml"]
    # Sent only when the CLI handles it: with SIGTERM's default action, it would end the tests.
    assert signal.getsignal(signal.SIGTERM) is cli._on_sigterm, "SIGTERM is not handled"
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)  # the handler raises here
    raise AssertionError("SIGTERM did not stop the run")


def test_sigterm_reports_finished_files_marked_interrupted_and_exits_143(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    monkeypatch.setattr(cli, "_check_paths", _terminating_check)
    before = signal.getsignal(signal.SIGTERM)
    code, out, err = invoke("verify", "x", "-f", "json")
    assert signal.getsignal(signal.SIGTERM) is before  # given back after the run
    assert (code, err) == (cli.EXIT_TERMINATED, "derivcheck: interrupted by SIGTERM after 1 file(s)\n")
    document = json.loads(out)
    assert [file["path"] for file in document["files"]] == ["good.yaml"]
    assert document["interrupted"] is True and document["summary"]["ok"] is False


class _StoppedWriting:
    """A JSON reporter whose `finish` is interrupted by Ctrl-C, on the given calls (1, 2 ...)."""

    def __init__(self, stream: TextIO, *, on: set[int], **options: Any) -> None:
        self.inner = report.make_reporter("json", stream, **options)
        self.on = on
        self.calls: list[bool] = []

    def file_done(self, result: FileResult) -> None:
        self.inner.file_done(result)

    def finish(self, results: Sequence[FileResult], *, interrupted: bool = False) -> None:
        self.calls.append(interrupted)
        if len(self.calls) in self.on:
            raise KeyboardInterrupt
        self.inner.finish(results, interrupted=interrupted)


def _spy_reporter(monkeypatch: pytest.MonkeyPatch, on: set[int]) -> list[_StoppedWriting]:
    made: list[_StoppedWriting] = []

    def make(name: str, stream: TextIO, **options: Any) -> Reporter:
        made.append(_StoppedWriting(stream, on=on, **options))
        return made[-1]

    monkeypatch.setattr(cli, "make_reporter", make)
    return made


def test_ctrl_c_while_the_report_is_written_writes_no_second_report(fake_check: FakeCheck, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _spy_reporter(monkeypatch, on={1})
    code, out, err = invoke("verify", "good.yaml")
    assert (code, out) == (130, "")
    assert made[0].calls == [False]  # one report, stopped: not one more, marked interrupted
    assert err == "derivcheck: interrupted while the report was written, which was left unfinished\n"


def test_a_second_ctrl_c_stops_writing_the_partial_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_check_paths", _failing_check(KeyboardInterrupt()))
    made = _spy_reporter(monkeypatch, on={1})
    code, out, err = invoke("verify", "x")
    assert made[0].calls == [True]
    assert (code, out, err) == (130, "", "derivcheck: interrupted after 1 file(s)\n")  # no traceback


def test_no_files_found_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wrong path or glob in CI does not pass as "0 files, all hold".
    monkeypatch.setattr(cli, "_check_paths", lambda paths, *, timeout, **_: iter(()))
    code, out, err = invoke("verify", "empty_dir", "--width", "100")
    assert code == 2 and out == ""
    assert "no derivation files found" in err and "empty_dir" in err
    assert "internal error" not in err and err.count("\n") == 1, err


def test_an_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a derivation", encoding="utf-8")
    code, out, err = invoke("verify", str(tmp_path), "-f", "json")
    assert (code, out) == (2, "") and "no derivation files found" in err
    assert "internal error" not in err and err.count("\n") == 1, err  # typer.Exit is an Exception


# -- _check_paths, through the runner --------------------------------------------------------------

GOOD = "title: Good\nvariables:\n  t: real\nsteps:\n  - claim: t + t = 2*t\n"


def test_check_paths_yields_missing_then_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    results = list(cli._check_paths([good, tmp_path / "missing.yaml"], timeout=3.0))
    assert [Path(result.path).name for result in results] == ["missing.yaml", "good.yaml"]
    assert [step.verdict for step in results[1].steps] == [Verdict.PROVED]


def test_check_paths_wraps_checker_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derivcheck.prepare import claims

    crash = tmp_path / "crash.yaml"
    crash.write_text(GOOD, encoding="utf-8")

    def build(derivation: object) -> object:
        raise ValueError("engine bug")

    monkeypatch.setattr(claims, "build", build)
    with pytest.raises(cli.CheckCrashed) as raised:
        list(cli._check_paths([crash], timeout=1.0))
    assert raised.value.path == crash
    assert isinstance(raised.value.error, ValueError)


# -- verify --watch -------------------------------------------------------------------------------


def _content_check(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
    """A fake checker that reads each file: a step is refuted when the file says 'wrong'."""
    for given in paths:
        found = sorted(given.rglob("*.y*ml")) if given.is_dir() else [given]
        for path in found:
            text = path.read_text(encoding="utf-8")
            verdict = Verdict.REFUTED if "wrong" in text else Verdict.PROVED
            yield FileResult(str(path), None, (step("1", verdict),))


class ScriptedSleep:
    """Stands in for cli._sleep: each call does the next action; Ctrl-C when there are none."""

    def __init__(self, *actions: Callable[[], None]) -> None:
        self.actions = list(actions)
        self.calls = 0

    def __call__(self, seconds: float) -> None:
        self.calls += 1
        if not self.actions:
            raise KeyboardInterrupt
        self.actions.pop(0)()


def _touch(path: Path, text: str) -> Callable[[], None]:
    def write() -> None:
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a new stamp, even if fast

    return write


def test_watch_checks_changed_files_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("fine", encoding="utf-8")
    second.write_text("fine", encoding="utf-8")
    calls: list[list[Path]] = []

    def recording(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
        calls.append(list(paths))
        yield from _content_check(paths, timeout=timeout)

    sleep = ScriptedSleep(lambda: None, _touch(second, "wrong"), lambda: None)
    monkeypatch.setattr(cli, "_check_paths", recording)
    monkeypatch.setattr(cli, "_sleep", sleep)
    code, out, err = invoke("verify", "--watch", str(tmp_path), "--width", "100")
    assert calls == [[tmp_path], [second]]  # only the changed file is checked again
    assert code == 1  # b.yaml's latest check fails
    assert err.count("watching for changes (Ctrl-C to stop)") == 2
    assert f"changed: {second}" in err
    assert out.count("— all hold") == 1
    assert out.rstrip().endswith("— 1 step does not hold")
    assert sleep.calls == 4


def test_watch_exit_code_is_that_of_the_latest_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("wrong", encoding="utf-8")
    monkeypatch.setattr(cli, "_check_paths", _content_check)
    monkeypatch.setattr(cli, "_sleep", ScriptedSleep(_touch(target, "fixed")))
    code, out, _ = invoke("verify", "--watch", str(target), "--width", "100")
    assert code == 0  # fixed while watched
    assert out.rstrip().endswith("— all hold")


def test_watch_notices_new_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("fine", encoding="utf-8")
    added = tmp_path / "sub" / "new.yml"
    calls: list[list[Path]] = []

    def recording(paths: Sequence[Path], *, timeout: float, **_: object) -> Iterator[FileResult]:
        calls.append(list(paths))
        yield from _content_check(paths, timeout=timeout)

    def add() -> None:
        added.parent.mkdir()
        added.write_text("wrong", encoding="utf-8")

    monkeypatch.setattr(cli, "_check_paths", recording)
    monkeypatch.setattr(cli, "_sleep", ScriptedSleep(add, lambda: (tmp_path / "x.txt").touch()))
    code, _, _ = invoke("verify", "--watch", str(tmp_path))
    assert calls == [[tmp_path], [added]]  # x.txt is not a derivation: no third check
    assert code == 1


def test_without_watch_there_is_no_waiting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("fine", encoding="utf-8")
    sleep = ScriptedSleep()
    monkeypatch.setattr(cli, "_check_paths", _content_check)
    monkeypatch.setattr(cli, "_sleep", sleep)
    code, _, err = invoke("verify", str(target))
    assert code == 0
    assert sleep.calls == 0
    assert "watching" not in err


def test_file_stamps_follow_verify_discovery(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "b.yml").write_text("xy", encoding="utf-8")
    (tmp_path / "c.txt").write_text("x", encoding="utf-8")
    stamps = cli.file_stamps([tmp_path, tmp_path / "missing.yaml"])
    assert sorted(path.name for path in stamps) == ["a.yaml", "b.yml"]
    assert stamps[tmp_path / "b.yml"][1] == 2


# -- the console script's end: a cold run leaves with os._exit, after its output -----------------

WRONG_AND_RIGHT = "variables:\n  t: real\nsteps:\n  - claim: (t + 1)**2 = t**2 + 1\n  - claim: t + t = 2*t\n"


def _derivcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "derivcheck", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=120
    )


def test_a_cold_run_exits_with_its_code_after_all_its_output_and_cache(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(WRONG_AND_RIGHT, encoding="utf-8")
    cold = _derivcheck("verify", "-f", "json", "d.yaml", "--cache-dir", "cache", cwd=tmp_path)
    assert cold.returncode == 1, cold.stderr
    steps = json.loads(cold.stdout)["files"][0]["steps"]
    assert [step["verdict"] for step in steps] == ["refuted", "proved"]
    written = _derivcheck("verify", "d.yaml", "--cache-dir", "cache", "-o", "report.txt", "--no-cache", cwd=tmp_path)
    assert written.returncode == 1 and written.stdout == ""
    report = (tmp_path / "report.txt").read_text(encoding="utf-8")
    assert " ".join(report.split()).endswith("1 refuted, 0 undecided, 0 errors — 1 step does not hold")
    warm = _derivcheck("verify", "-f", "json", "d.yaml", "--cache-dir", "cache", cwd=tmp_path)
    assert warm.returncode == 1 and json.loads(warm.stdout) == json.loads(cold.stdout)  # the cache was written
    assert len(list((tmp_path / "cache").rglob("*.json"))) >= 2
    usage = _derivcheck("verify", "d.yaml", "--format", "nonsense", cwd=tmp_path)
    assert usage.returncode == 2 and "nonsense" in usage.stderr


def test_a_reader_that_goes_away_ends_the_run_with_141(tmp_path: Path) -> None:
    for number in range(3):
        (tmp_path / f"d{number}.yaml").write_text(WRONG_AND_RIGHT.replace("t + t", f"t + {number}*t"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "derivcheck", "verify", "--no-cache", "--no-color", "."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"d0.yaml")
    process.stdout.close()
    with process.stderr:
        error = process.stderr.read()
    assert process.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert b"Traceback" not in error and b"Exception ignored" not in error


# -- a run stopped by a signal: its workers end with it, and its report says so ---------------------

# True, and quick to check at numbers, but a proof expands a power with tens of thousands of terms:
# minutes of SymPy, far past the test. (As in test_parallel.py.)
SLOW_CLAIM = (
    "(t + s + u + v + 1)**30 = (t + s + u + v + 1)**28*(t**2 + s**2 + u**2 + v**2 + 1 + 2*t*s + 2*t*u"
    " + 2*t*v + 2*t + 2*s*u + 2*s*v + 2*s + 2*u*v + 2*u + 2*v)"
)
SLOW = f"variables:\n  t: real\n  s: real\n  u: real\n  v: real\nsteps:\n  - claim: {SLOW_CLAIM}\n  - claim: {SLOW_CLAIM}\n"

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(child) for child in task.read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _ended(pid: int) -> bool:
    """Whether process `pid` is gone or a zombie (dead, waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return any(line.split()[1:2] == ["Z"] for line in status.splitlines() if line.startswith("State:"))


def _poll(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` came true within `seconds`, looking every 50 ms."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class SlowRun:
    """`derivcheck verify` of a quick file and a slow one, in a session of its own; stopped with
    everything in that session when done with (even when a test fails)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        (tmp_path / "a_quick.yaml").write_text(GOOD, encoding="utf-8")
        (tmp_path / "b_slow.yaml").write_text(SLOW, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        command = [sys.executable, "-m", "derivcheck", "verify", "a_quick.yaml", "b_slow.yaml", "--no-cache", "-j", "2"]
        self.process = subprocess.Popen(
            [*command, "--timeout", "600", "--no-color", "--width", "100", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path, start_new_session=True,
        )
        self.workers: list[int] = []
        self.seen = b""

    def wait_for_workers(self, *, shown: bytes = b"") -> list[int]:
        """The pids of its two workers, once both are checking a slow claim (and the report
        shows `shown`)."""
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)

        def ready() -> bool:
            assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
            self.seen += self.process.stdout.read() or b""  # type: ignore[union-attr]
            self.workers = _children(self.process.pid)
            return len(self.workers) == 2 and shown in self.seen

        assert _poll(ready, 120), self.seen
        return self.workers

    def finish(self) -> tuple[int, str, str]:
        """Its exit code, all of its standard output and its standard error."""
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), True)
        rest, err = self.process.communicate(timeout=60)
        return self.process.returncode, (self.seen + rest).decode(), err.decode()

    def __enter__(self) -> SlowRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        import signal

        for pid in (self.process.pid, *self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything else it started
        except (ProcessLookupError, PermissionError):
            pass
        self.process.communicate(timeout=60)


@needs_proc
def test_workers_end_when_verify_is_killed_with_sigkill(tmp_path: Path) -> None:
    with SlowRun(tmp_path) as run:
        workers = run.wait_for_workers()
        assert not any(_ended(pid) for pid in workers)  # the twin: they run while verify does
        run.process.kill()
        run.process.wait(timeout=30)
        assert _poll(lambda: all(_ended(pid) for pid in workers), 10), [pid for pid in workers if not _ended(pid)]


@needs_proc
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the group"])
def test_a_signal_stops_the_workers_and_the_report_says_interrupted(how: str, tmp_path: Path) -> None:
    import signal

    with SlowRun(tmp_path) as run:
        workers = run.wait_for_workers(shown=b"PROVED")  # the quick file is reported
        if how == "SIGTERM":
            os.kill(run.process.pid, signal.SIGTERM)  # to verify alone: its workers hear nothing
        else:
            os.killpg(run.process.pid, signal.SIGINT)  # Ctrl-C in a terminal: to every process
        code, out, err = run.finish()
        assert _poll(lambda: all(_ended(pid) for pid in workers), 10), [pid for pid in workers if not _ended(pid)]
    expected_code, said = (cli.EXIT_TERMINATED, "interrupted by SIGTERM") if how == "SIGTERM" else (130, "interrupted")
    assert (code, err) == (expected_code, f"derivcheck: {said} after 1 file(s)\n")
    assert "a_quick.yaml" in out and "b_slow.yaml" not in out
    assert " ".join(out.split()).endswith(  # the summary is cut to the width
        "1 file, 1 step: 1 proved, 0 checked, 0 refuted, 0 undecided, 0 errors — interrupted before every file was checked"
    )


# -- -o never names an input ----------------------------------------------------------------------

DERIVATION = "variables:\n  t: real\nsteps:\n  - claim: t + t = 2*t\n"


def _inputs(tmp_path: Path) -> Path:
    """tmp/d.yaml, tmp/folder/e.yaml, and links to d.yaml: tmp/link.yaml, tmp/hard.yaml, tmp/folder/l.yaml."""
    (tmp_path / "d.yaml").write_text(DERIVATION, encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "e.yaml").write_text(DERIVATION, encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to("d.yaml")
    os.link(tmp_path / "d.yaml", tmp_path / "hard.yaml")
    (tmp_path / "folder" / "l.yaml").symlink_to("../d.yaml")
    return tmp_path


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every path below `root`, with a file's bytes or a link's target."""
    return {
        str(path.relative_to(root)): os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


# (inputs, -o), run in the folder of _inputs: each -o is, or would be read as, an input.
CLASHES = [
    (["d.yaml"], "d.yaml"),
    (["d.yaml"], "./folder/../d.yaml"),
    (["link.yaml"], "d.yaml"),  # the input is a symlink to the output
    (["d.yaml"], "link.yaml"),  # the output is a symlink to the input
    (["d.yaml"], "hard.yaml"),  # the same file under two names
    (["folder"], "folder/e.yaml"),  # found in an input folder
    (["folder"], "folder/new.yaml"),  # not there yet, but the next run would read it
    (["folder"], "d.yaml"),  # folder/l.yaml, found in the folder, is a symlink to it
    (["nowhere.yaml"], "nowhere.yaml"),  # a missing input: the report would be read as it
]


@pytest.mark.parametrize(("inputs", "output"), CLASHES)
def test_verify_refuses_an_output_that_is_an_input(
    inputs: list[str], output: str, fake_check: FakeCheck, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_inputs(tmp_path))
    before = _tree(tmp_path)
    code, out, err = invoke("verify", *inputs, "-o", output, "-f", "json")
    assert code == 2
    assert err.startswith(f"derivcheck: will not write the report to {Path(output)}: it is ")
    assert err.endswith("; name another file with -o\n") and err.count("\n") == 1
    assert out == "" and fake_check.calls == []  # nothing checked
    assert _tree(tmp_path) == before  # nothing written, no input touched


@pytest.mark.parametrize(
    ("inputs", "output"),
    [(["d.yaml"], "report.json"), (["folder"], "folder/report.json"), (["folder"], "other.yaml"), (["d.yaml"], "folder/x.yaml")],
)
def test_verify_writes_an_output_beside_its_inputs(
    inputs: list[str], output: str, fake_check: FakeCheck, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The twin of the test above: the same inputs, and an output that is none of them.
    monkeypatch.chdir(_inputs(tmp_path))
    before = _tree(tmp_path)
    code, _, err = invoke("verify", *inputs, "-o", output, "-f", "json")
    assert code in (0, 2) and "will not write" not in err  # 2: the fake checker finds no such file
    assert json.loads((tmp_path / output).read_text(encoding="utf-8"))["files"]
    assert {name: data for name, data in _tree(tmp_path).items() if name != os.path.normpath(output)} == before


@pytest.mark.parametrize(("output", "refused"), [("d.yaml", True), ("link.yaml", True), ("hard.yaml", True), ("d.md", False)])
def test_render_refuses_an_output_that_is_its_input(output: str, refused: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_inputs(tmp_path))
    before = _tree(tmp_path)
    code, out, err = invoke("render", "d.yaml", "--no-check", "-o", output)
    if refused:
        assert (code, out) == (2, "")
        assert err == f"derivcheck: will not write the document to {output}: it is the input d.yaml; name another file with -o\n"
        assert _tree(tmp_path) == before
    else:
        assert (code, err) == (0, "")
        assert (tmp_path / output).read_text(encoding="utf-8").startswith("# d.yaml")


# -- -o: the report is put in place whole, or the previous one stays --------------------------------


def _report_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".report"))


def test_a_run_that_ends_without_a_report_leaves_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    crash = cli.CheckCrashed(Path("weird.yaml"), ZeroDivisionError("division by zero"))
    monkeypatch.setattr(cli, "_check_paths", _failing_check(crash))
    code, _, _ = invoke("verify", "x", "-f", "json", "-o", str(target))
    assert code == 2
    assert target.read_text(encoding="utf-8") == "the previous report\n"
    assert _report_files(tmp_path) == []  # the unfinished one is removed


def test_a_run_that_ends_replaces_the_previous_report(fake_check: FakeCheck, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    target.chmod(0o640)
    code, _, _ = invoke("verify", "good.yaml", "-f", "json", "-o", str(target))
    assert code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["files"][0]["path"] == "good.yaml"
    assert target.stat().st_mode & 0o777 == 0o640  # as writing into it kept them
    assert _report_files(tmp_path) == []


def test_an_interrupted_run_replaces_the_previous_report_with_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    monkeypatch.setattr(cli, "_check_paths", _failing_check(KeyboardInterrupt()))
    code, _, _ = invoke("verify", "x", "-f", "json", "-o", str(target))
    assert code == 130
    assert json.loads(target.read_text(encoding="utf-8"))["interrupted"] is True


def test_a_report_interrupted_while_written_is_not_put_in_place(
    fake_check: FakeCheck, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    _spy_reporter(monkeypatch, on={1})
    code, _, _ = invoke("verify", "good.yaml", "-o", str(target))
    assert code == 130
    assert target.read_text(encoding="utf-8") == "the previous report\n"
    assert _report_files(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_a_new_report_file_gets_the_permissions_of_any_new_file(umask: int, fake_check: FakeCheck, tmp_path: Path) -> None:
    previous = os.umask(umask)
    try:
        code, _, _ = invoke("verify", "good.yaml", "-o", str(tmp_path / "report.txt"))
    finally:
        os.umask(previous)
    assert code == 0
    assert (tmp_path / "report.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_report_through_a_symlink_replaces_the_file_it_points_at(fake_check: FakeCheck, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "latest.txt"
    real.write_text("old\n", encoding="utf-8")
    (tmp_path / "report.txt").symlink_to(real)
    code, _, _ = invoke("verify", "good.yaml", "-o", str(tmp_path / "report.txt"))
    assert code == 0
    assert os.readlink(tmp_path / "report.txt") == str(real)  # still a link
    assert "good.yaml — Good" in real.read_text(encoding="utf-8")


def test_a_report_to_a_device_is_written_in_place(fake_check: FakeCheck) -> None:
    code, _, err = invoke("verify", "good.yaml", "-o", os.devnull)
    assert (code, err) == (0, "")
    assert Path(os.devnull).is_char_device()  # not replaced by a regular file


def test_a_report_file_whose_folder_refuses_new_files_is_written_in_place(
    fake_check: FakeCheck, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from derivcheck import outfile

    def refused(self: outfile.ReportFile, mode: int | None) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outfile.ReportFile, "_create", refused)  # as a read-only folder would, even for root
    target = tmp_path / "report.txt"
    target.write_text("old\n", encoding="utf-8")
    assert invoke("verify", "good.yaml", "-o", str(target))[0] == 0
    assert "good.yaml — Good" in target.read_text(encoding="utf-8")
    code, _, err = invoke("verify", "good.yaml", "-o", str(tmp_path / "new.txt"))  # nothing to write into
    assert code == 2 and err == f"derivcheck: cannot write the report to {tmp_path / 'new.txt'}: Permission denied\n"


def test_render_and_schema_files_are_put_in_place_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derivcheck import outfile

    (tmp_path / "d.yaml").write_text(DERIVATION, encoding="utf-8")
    for command in (["render", str(tmp_path / "d.yaml"), "--no-check"], ["schema"]):
        target = tmp_path / "out"
        target.write_text("old\n", encoding="utf-8")
        monkeypatch.setattr(outfile.ReportFile, "commit", lambda self: (_ for _ in ()).throw(OSError(28, "No space left on device")))
        code, _, err = invoke(*command, "-o", str(target))
        assert (code, err) == (2, f"derivcheck: cannot write the {'document' if command[0] == 'render' else 'schema'} to {target}: No space left on device\n")
        assert target.read_text(encoding="utf-8") == "old\n"
        monkeypatch.undo()
        assert invoke(*command, "-o", str(target))[0] == 0
        assert target.read_text(encoding="utf-8") != "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d.yaml", "out"]


@needs_proc
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_run_leaves_the_previous_report_and_an_interrupted_one_replaces_it(how: str, tmp_path: Path) -> None:
    import signal

    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    with SlowRun(tmp_path, "-f", "json", "-o", "report.json") as run:
        workers = run.wait_for_workers()
        (unfinished,) = _report_files(tmp_path)  # the new report is being written beside it
        os.kill(run.process.pid, signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
        code, out, _ = run.finish()
        assert _poll(lambda: all(_ended(pid) for pid in workers), 10)
    assert out == ""
    if how == "SIGKILL":
        assert code == -signal.SIGKILL
        assert target.read_text(encoding="utf-8") == "the previous report\n"
        assert _report_files(tmp_path) == [unfinished]  # left behind: nothing could remove it
    else:
        assert code == cli.EXIT_TERMINATED
        document = json.loads(target.read_text(encoding="utf-8"))
        assert document["interrupted"] is True and document["summary"]["ok"] is False
        assert [file["path"] for file in document["files"]] in ([], ["a_quick.yaml"])
        assert _report_files(tmp_path) == []
