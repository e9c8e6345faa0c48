"""Tests for the pytest plugin (`pytest --derivcheck`), on tiny one-variable derivations."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from derivcheck import pytest_plugin

pytest_plugins = ["pytester"]

# The inner runs are real pytest processes (runpytest_subprocess): in-process runs restore
# sys.modules after each run, so a second run re-imports derivcheck's modules and the
# checker's forked workers cannot pickle results whose classes changed identity.

GOOD = """\
title: good
variables:
  t: real
steps:
  - id: double
    claim: 2*t = t + t
  - chain:
      - 3*t
      - t + 2*t
      - expr: t + t + t
        by: 2*t = t + t
"""

BAD = """\
title: bad
variables:
  t: real
steps:
  - id: double
    claim: 2*t = t + t
  - id: wrong
    claim: 2*t = t
  - claim: 2*t = t
    expect: refuted
"""

NOT_A_DERIVATION = """\
name: CI
on: [push]
jobs: {}
"""


@pytest.fixture
def plugin_args() -> list[str]:
    """Arguments that make the plugin available to the inner pytest run, even uninstalled."""
    installed = any(
        entry.value == "derivcheck.pytest_plugin" for entry in entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "derivcheck.pytest_plugin"]


def test_the_plugin_is_a_pytest11_entry_point() -> None:
    (entry,) = [entry for entry in entry_points(group="pytest11") if entry.name == "derivcheck"]
    assert entry.value == "derivcheck.pytest_plugin"
    assert entry.load() is pytest_plugin


def test_a_good_derivation_passes_one_test_per_step(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makefile(".yaml", good=GOOD)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "good.yaml", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*good.yaml::step-1-double PASSED*", "*good.yaml::step-2 PASSED*"])
    assert result.ret == pytest.ExitCode.OK


def test_a_wrong_step_fails_and_is_named(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    pytester.makefile(".yaml", bad=BAD)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "bad.yaml", "-v")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*bad.yaml::step-1-double PASSED*",
            "*bad.yaml::step-2-wrong FAILED*",
            "*bad.yaml::step-3 PASSED*",  # refuted, as expected
            "*bad.yaml:7: step 2 (wrong)*",
            "bad.yaml:8:12: step 2 (wrong) is refuted",
            "    claim: 2*t = t",
            "    verdict: refuted",
            "    method: *",
            "    counterexample: at t = *: lhs = *, rhs = *",
            "FAILED bad.yaml::step-2-wrong*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


COUNT_FORKS_AND_CLAIMS = """\
import os
import time
from derivcheck.engine import check
from derivcheck.run import worker

_fork = worker.Servers._fork
_check_claim = check.check_claim


def _counted_fork(self, slot):
    server = _fork(self, slot)
    with open("forks.log", "a", encoding="utf-8") as log:
        log.write(f"{server.process.pid}\\n")
    return server


def _logged_check(claim, ctx, unequal, *, path):
    time.sleep(0.3)  # claims of equal length: the servers' runs do not depend on start-up times
    with open("claims.log", "a", encoding="utf-8") as log:
        log.write(f"{claim.number} {os.getpid()}\\n")
    return _check_claim(claim, ctx, unequal, path=path)


worker.Servers._fork = _counted_fork
check.check_claim = _logged_check
"""

SIX_STEPS = "variables:\n  t: real\nsteps:\n" + "".join(f"  - claim: {n}*t = t + {n - 1}*t\n" for n in range(2, 8))


def _logged(pytester: pytest.Pytester, name: str) -> list[str]:
    path = pytester.path / name
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_steps_of_a_file_share_its_servers(jobs: int, pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    # Six one-claim steps: `jobs` servers check them all, each a run of consecutive claims,
    # keeping SymPy's caches; none is left once the file's last step has run.
    pytester.makefile(".yaml", six=SIX_STEPS)
    pytester.makeconftest(COUNT_FORKS_AND_CLAIMS)
    pytester.makepyfile(
        test_after="import multiprocessing\n\ndef test_no_server_is_left():\n    assert multiprocessing.active_children() == []\n"
    )
    args = ["--derivcheck", "--derivcheck-jobs", str(jobs), "six.yaml", "test_after.py", "-v"]
    result = pytester.runpytest_subprocess(*plugin_args, *args)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*six.yaml::step-6 PASSED*", "*test_after.py::test_no_server_is_left PASSED*"])
    assert len(_logged(pytester, "forks.log")) == jobs
    servers = dict(line.split() for line in _logged(pytester, "claims.log"))
    assert sorted(servers, key=int) == [str(n) for n in range(1, 7)]  # each claim checked once
    assert servers["1"] == servers["2"] and servers["5"] == servers["6"]
    assert (servers["1"] != servers["6"]) == (jobs == 2)


def test_only_the_selected_steps_are_checked(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    pytester.makefile(".yaml", six=SIX_STEPS)
    pytester.makeconftest(COUNT_FORKS_AND_CLAIMS)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "six.yaml", "-k", "step-2 or step-5")
    result.assert_outcomes(passed=2)
    assert sorted(line.split()[0] for line in _logged(pytester, "claims.log")) == ["2", "5"]


def test_x_stops_at_the_first_failing_step_while_later_ones_are_being_checked(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    pytester.makefile(".yaml", six=SIX_STEPS.replace("2*t = t + 1*t", "2*t = t"))
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "six.yaml", "-x", timeout=120)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_k_selects_one_step(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    pytester.makefile(".yaml", bad=BAD)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "bad.yaml", "-k", "double")
    result.assert_outcomes(passed=1, deselected=2)


def test_without_the_option_yaml_files_are_not_collected(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makefile(".yaml", bad=BAD)
    result = pytester.runpytest_subprocess(*plugin_args)
    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "bad.yaml" not in result.stdout.str()


def test_with_the_option_a_directory_is_searched(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.mkdir("derivations")
    pytester.path.joinpath("derivations", "bad.yaml").write_text(BAD, encoding="utf-8")
    pytester.path.joinpath("derivations", "good.yml").write_text(GOOD, encoding="utf-8")
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "derivations")
    result.assert_outcomes(passed=4, failed=1)


def test_other_yaml_files_in_a_directory_are_left_alone(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makefile(".yaml", good=GOOD, workflow=NOT_A_DERIVATION)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "-v")
    result.assert_outcomes(passed=2)
    assert "workflow.yaml" not in result.stdout.str()


def test_a_yaml_file_named_on_the_command_line_is_always_a_derivation(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makefile(".yaml", workflow=NOT_A_DERIVATION)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "workflow.yaml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*workflow.yaml:1:1: error [[]schema] unknown key 'name'*"])


def test_a_broken_file_is_one_failure_with_its_problems(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makefile(".yaml", broken="steps: [\n")
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "broken.yaml", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.yaml::file FAILED*", "*error [[]yaml-syntax]*"])


def test_problems_in_the_definitions_fail_every_step(
    pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    text = "variables:\n  t: real\ndefinitions:\n  f: 2*u\nsteps:\n  - claim: f = 2*t\n  - claim: t = t\n"
    pytester.makefile(".yaml", undeclared=text)
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "undeclared.yaml")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "the file has problems, so no step was checked:",
            "undeclared.yaml:4:*: error [[]undeclared-symbol]*",
        ]
    )


def test_strict_keeps_proved_steps(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    pytester.makefile(".yaml", good=GOOD)
    result = pytester.runpytest_subprocess(
        *plugin_args, "--derivcheck", "--derivcheck-strict", "good.yaml"
    )
    result.assert_outcomes(passed=2)  # proved steps hold, strict or not


def test_a_bad_timeout_is_a_usage_error(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    result = pytester.runpytest_subprocess(
        *plugin_args, "--derivcheck", "--derivcheck-timeout", "0"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--derivcheck-timeout must be a positive number*"])


def test_negative_jobs_are_a_usage_error(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    result = pytester.runpytest_subprocess(*plugin_args, "--derivcheck", "--derivcheck-jobs", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--derivcheck-jobs must be 0 (one per CPU) or a positive number*"])


def test_help_lists_the_options(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    result = pytester.runpytest_subprocess(*plugin_args, "--help")
    result.stdout.fnmatch_lines(
        ["*--derivcheck *", "*--derivcheck-timeout=SECONDS*", "*--derivcheck-jobs=N*", "*--derivcheck-strict*"]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, True),
        ("derivcheck: 1\n", True),
        (NOT_A_DERIVATION, False),
        ("jobs:\n  steps:\n    - run: x\n", False),  # `steps:` indented: a CI workflow
        ("# steps: in a comment\n", False),
    ],
)
def test_looks_like_derivation(text: str, expected: bool, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    assert pytest_plugin.looks_like_derivation(path) is expected


def test_importing_the_plugin_does_not_import_sympy() -> None:
    import subprocess
    import sys

    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, derivcheck.pytest_plugin\nassert 'sympy' not in sys.modules\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
