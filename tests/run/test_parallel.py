"""-j N: steps checked in worker processes, N at a time, with the report of -j 1."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivcheck import cli, source
from derivcheck import prepare as preparing
from derivcheck.engine import check as engine_check
from derivcheck.model import Claim
from derivcheck.run import files as runner
from derivcheck.model import StepResult, Verdict

TINY = """\
title: Tiny
variables:
  t: real
definitions:
  f: (t + 1)**2
steps:
  - claim: f = t**2 + 2*t + 1
  - chain:
      - (t + 1)*(t - 1)
      - t**2 - 1
      - t**2 + 1
"""

FOLDER = {
    "a_tiny.yaml": TINY,
    "b_wrong.yaml": TINY.replace("f: (t + 1)**2", "f: (t + 1)**2 + 1"),
    "c_broken.yaml": "steps: [\n",
    "d_undeclared.yaml": TINY.replace("f: (t + 1)**2", "f: (t + 1)**2 + g"),
    "e_mixed.yaml": """\
title: parse errors, a where, a warning
sizes: [N]
indices:
  j k: 1..N
variables:
  y: [N]
steps:
  - claim: Sum(y[k], (k, 1, N)) = Sum(y[j], (j, 1, N))
  - claim: y[k] + = y[k]
  - claim: KroneckerDelta(j, k) = 0
    where: j != k
  - claim: Sum(y[k], (k, 1, N)) + y[k] = y[k] + Sum(y[j], (j, 1, N))
""",
    "sub/f_empty.yaml": "variables:\n  t: real\nsteps: []\n",
}

cli_runner = CliRunner()


def make_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    for name, text in FOLDER.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def verify_json(*args: str) -> tuple[int, dict[str, object]]:
    result = cli_runner.invoke(cli.app, ["verify", "-f", "json", *args], prog_name="derivcheck")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


def test_two_jobs_give_the_report_of_one(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    missing = str(tmp_path / "missing.yaml")
    one = verify_json(str(folder), missing, "--no-cache", "-j", "1")
    two = verify_json(str(folder), missing, "--no-cache", "-j", "2")
    cached_cold = verify_json(str(folder), missing, "--cache-dir", str(tmp_path / "c"), "-j", "2")
    cached_warm = verify_json(str(folder), missing, "--cache-dir", str(tmp_path / "c"), "-j", "2")
    assert one == two == cached_cold == cached_warm
    code, report = one
    assert code == 2  # the missing path
    files = report["files"]
    assert isinstance(files, list)
    assert [file["path"] for file in files] == [missing] + [str(folder / name) for name in sorted(FOLDER)]
    verdicts = [step["verdict"] for file in files for step in file["steps"]]
    assert {"proved", "refuted", "error"} <= set(verdicts)  # a folder that exercises the report
    assert any(file["warnings"] for file in files) and any(file["problems"] for file in files)


# True, and quick to check at numbers, but a proof expands a power with tens of thousands of terms.
SLOW_CLAIM = (
    "(t + s + u + v + 1)**30 = (t + s + u + v + 1)**28*(t**2 + s**2 + u**2 + v**2 + 1 + 2*t*s + 2*t*u"
    " + 2*t*v + 2*t + 2*s*u + 2*s*v + 2*s + 2*u*v + 2*u + 2*v)"
)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_time_limits_still_apply_to_each_claim(jobs: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(
        "variables:\n  t: real\n  s: real\n  u: real\n  v: real\nsteps:\n"
        f"  - claim: {SLOW_CLAIM}\n  - claim: t + t = 2*t\n  - claim: {SLOW_CLAIM}\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    code, report = verify_json(str(path), "--cache-dir", str(tmp_path / "c"), "-j", jobs, "--timeout", "2")
    assert time.monotonic() - started < 60
    assert code == 1
    steps = report["files"][0]["steps"]  # type: ignore[index]
    assert [step["verdict"] for step in steps] == ["undecided", "proved", "undecided"]
    assert steps[0]["method"] == steps[2]["method"] == "time-out: not finished within 2 s of CPU time"


# -- the runner's order, concurrency and failures, with stand-in checks ------------------------------


def _fake_check(behaviour: Callable[[Path, str], None]) -> Callable[..., StepResult]:
    """Stands in for engine.check.check_claim: runs `behaviour` (file, claim number), then proves the claim."""

    def check_claim(claim: Claim, ctx: object, unequal: object, *, path: str) -> StepResult:
        behaviour(Path(path), claim.number)
        return StepResult(claim.number, None, claim.text.span, claim.written, Verdict.PROVED, "stand-in")

    return check_claim


def _files(tmp_path: Path, count: int, steps: int = 2) -> list[Path]:
    text = "variables:\n  t: real\nsteps:\n" + "".join(f"  - claim: t = t + {n}\n" for n in range(steps))
    paths = []
    for number in range(count):
        path = tmp_path / f"f{number}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _log_times(log: Path, duration: Callable[[Path, str], float], *, busy: bool = False) -> Callable[[Path, str], None]:
    """A claim that takes `duration` seconds: asleep, or (busy) spending them as CPU time,
    which is what the time limits and budgets count."""

    def behaviour(path: Path, number: str) -> None:
        start = time.monotonic()
        if busy:
            until = time.process_time() + duration(path, number)
            while time.process_time() < until:
                pass
        else:
            time.sleep(duration(path, number))
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(f"{start} {time.monotonic()} {os.getpid()}\n")

    return behaviour


def _most_at_once(log: Path) -> int:
    spans = [tuple(map(float, line.split()[:2])) for line in log.read_text().splitlines()]
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_at_most_n_claims_are_checked_at_once_in_as_many_servers(jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log"
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(_log_times(log, lambda path, number: 0.3)))
    results = list(runner.check_paths(_files(tmp_path, 3), timeout=10.0, jobs=jobs))
    assert len(results) == 3 and all(len(result.steps) == 2 for result in results)
    assert all(step.verdict is Verdict.PROVED for result in results for step in result.steps)
    assert _most_at_once(log) == jobs
    pids = {int(line.split()[2]) for line in log.read_text().splitlines()}
    assert os.getpid() not in pids  # never in this process: a claim could not be stopped here
    assert len(pids) == jobs  # a server checks claim after claim, keeping SymPy's caches


def _log_claims(log: Path, duration: Callable[[str], float]) -> Callable[[Path, str], None]:
    """A stand-in behaviour that sleeps, then logs the claim's number and its server's pid."""

    def behaviour(path: Path, number: str) -> None:
        time.sleep(duration(number))
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(f"{number} {os.getpid()}\n")

    return behaviour


def _servers_of(log: Path) -> dict[str, int]:
    return {number: int(pid) for number, pid in (line.split() for line in log.read_text().splitlines())}


def test_each_server_checks_a_run_of_consecutive_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The links of a chain share their sides: the server that prepared a side checks the next link.
    log = tmp_path / "log"
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(_log_claims(log, lambda number: 0.2)))
    (result,) = runner.check_paths(_files(tmp_path, 1, steps=6), timeout=10.0, jobs=2)
    assert [step.verdict for step in result.steps] == [Verdict.PROVED] * 6
    servers = _servers_of(log)
    assert servers["1"] == servers["2"] == servers["3"] != servers["4"] == servers["5"] == servers["6"]


def test_a_server_done_with_its_run_takes_claims_from_the_end_of_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log"
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(_log_claims(log, lambda number: 1.5 if number == "1" else 0.05)))
    (result,) = runner.check_paths(_files(tmp_path, 1, steps=6), timeout=10.0, jobs=2)
    assert [step.verdict for step in result.steps] == [Verdict.PROVED] * 6
    order = [line.split()[0] for line in log.read_text().splitlines()]
    assert order == ["4", "5", "6", "3", "2", "1"]  # 3 and 2 taken from the end of the first run
    servers = _servers_of(log)
    assert servers["2"] == servers["3"] == servers["4"] != servers["1"]


def test_a_refuted_claim_gets_its_hints_from_the_server_that_refuted_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refute(claim: Claim, ctx: object, unequal: object, *, path: str) -> StepResult:
        return StepResult(claim.number, None, claim.text.span, claim.written, Verdict.REFUTED, "stand-in", message=f"refuted in {os.getpid()}")

    monkeypatch.setattr(engine_check, "check_claim", refute)
    monkeypatch.setattr(engine_check, "hints", lambda *args, **kwargs: [f"hinted in {os.getpid()}"])
    (result,) = runner.check_paths(_files(tmp_path, 1, steps=4), timeout=10.0, jobs=2)
    assert [step.verdict for step in result.steps] == [Verdict.REFUTED] * 4
    for step in result.steps:
        refuted, hinted = step.message.split("; ")
        assert refuted.removeprefix("refuted in ") == hinted.removeprefix("hinted in ") != str(os.getpid())
    assert len({step.message for step in result.steps}) == 2  # two servers


def test_files_come_out_in_order_when_the_first_is_slowest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 4, steps=1)
    log = tmp_path / "log"
    slow = _log_times(log, lambda path, number: 1.0 if path == paths[0] else 0.0)
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(slow))
    results = list(runner.check_paths(list(reversed(paths[1:])) + [paths[0]], timeout=10.0, jobs=2))
    assert [result.path for result in results] == [str(p) for p in reversed(paths[1:])] + [str(paths[0])]
    results = list(runner.check_paths(paths, timeout=10.0, jobs=2))
    assert [result.path for result in results] == [str(p) for p in paths]


def _crash_in(name: str, how: Callable[[], None]) -> Callable[[Path, str], None]:
    def behaviour(path: Path, number: str) -> None:
        if path.name == name:
            how()

    return behaviour


def _raise() -> None:
    raise ValueError("engine bug")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_engine_failure_on_a_claim_is_undecided_and_the_run_goes_on(jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 3)
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(_crash_in("f1.yaml", _raise)))
    results = list(runner.check_paths(paths, timeout=10.0, jobs=jobs))
    assert [step.verdict for step in results[1].steps] == [Verdict.UNDECIDED] * 2
    assert results[1].steps[0].method == "the check crashed"
    assert results[1].steps[0].tried[0] == "ValueError: engine bug"
    assert all(step.verdict is Verdict.PROVED for result in (results[0], results[2]) for step in result.steps)


def test_a_server_that_dies_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 3)
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(_crash_in("f1.yaml", _die)))
    results = list(runner.check_paths(paths, timeout=10.0, jobs=2))
    assert [step.tried for step in results[1].steps] == [("the worker died (killed by SIGKILL)",)] * 2
    assert all(step.verdict is Verdict.PROVED for result in (results[0], results[2]) for step in result.steps)
    assert multiprocessing.active_children() == []


def _build_fails_in(name: str) -> Callable[[source.Derivation], preparing.Workspace]:
    build = preparing.build

    def failing(derivation: source.Derivation) -> preparing.Workspace:
        if Path(derivation.path).name == name:
            raise ValueError("engine bug")
        return build(derivation)

    return failing


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_crash_is_raised_after_the_files_before_it(jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 3)
    monkeypatch.setattr(preparing.claims, "build", _build_fails_in("f1.yaml"))
    checking = runner.check_paths(paths, timeout=10.0, jobs=jobs)
    assert next(checking).path == str(paths[0])
    with pytest.raises(runner.FileCrashed) as raised:
        next(checking)
    assert raised.value.path == paths[1]
    assert isinstance(raised.value.error, ValueError) and str(raised.value.error) == "engine bug"


def test_cli_reports_a_crash_on_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 2)
    monkeypatch.setattr(preparing.claims, "build", _build_fails_in("f1.yaml"))
    result = cli_runner.invoke(cli.app, ["verify", *map(str, paths), "-j", "2", "--no-cache"], prog_name="derivcheck")
    assert result.exit_code == 2
    assert result.stderr == f"derivcheck: internal error while checking {paths[1]}: ValueError: engine bug\n"


def test_stopping_early_stops_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 3, steps=1)
    slow = _log_times(tmp_path / "log", lambda path, number: 0.0 if path == paths[0] else 60.0)
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(slow))
    checking = runner.check_paths(paths, timeout=10.0, jobs=2)
    assert next(checking).path == str(paths[0])
    started = time.monotonic()
    checking.close()
    assert time.monotonic() - started < 10
    assert multiprocessing.active_children() == []


def test_a_file_past_its_budget_leaves_its_other_claims_undecided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _files(tmp_path, 2, steps=4)
    log = tmp_path / "log"
    busy = _log_times(log, lambda path, number: 0.4 if path == paths[0] else 0.0, busy=True)
    monkeypatch.setattr(engine_check, "check_claim", _fake_check(busy))
    first, second = runner.check_paths(paths, timeout=10.0, jobs=1, file_budget=0.7)
    assert [step.verdict for step in first.steps] == [Verdict.PROVED] * 2 + [Verdict.UNDECIDED] * 2
    assert first.steps[3].method == "time-out: not checked, the file's time budget of 0.7 s of CPU time was spent"
    assert len(log.read_text().splitlines()) == 2 + 4  # the two claims past the budget never ran
    assert [step.verdict for step in second.steps] == [Verdict.PROVED] * 4  # its own budget


def test_discovery_finds_derivation_files_and_reports_missing_paths(tmp_path: Path) -> None:
    for name in ["a.yaml", "b.yml", "c.txt", "sub/d.yaml", "sub/deeper/e.yml", "x.yaml/inner.yaml"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("steps: []\n", encoding="utf-8")
    paths = [tmp_path, tmp_path / "a.yaml", tmp_path / "missing.yaml", tmp_path / "c.txt"]
    found, missing = runner.discover(paths)
    assert len(found) == 7  # five in the folder (not c.txt), and the two named
    assert tmp_path / "c.txt" in found and tmp_path / "sub" / "deeper" / "e.yml" in found
    assert [result.problems[0].code for result in missing] == ["not-found"]


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_jobs_must_be_a_positive_integer(value: str, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli.app, ["verify", str(tmp_path), "-j", value], prog_name="derivcheck")
    assert result.exit_code == 2
    assert "'--jobs' / '-j'" in result.stderr
