"""Tests for derivcheck.worker: a task in a killable child, with a time limit and a memory cap."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from derivcheck.run import worker
from derivcheck.run.worker import Crashed, Finished, Servers, TimedOut, run_limited

GIB = 1024**3


def _no_children_left() -> bool:
    return not multiprocessing.active_children()


def test_a_task_that_finishes_gives_its_value() -> None:
    outcome = run_limited(lambda: {"answer": 42}, seconds=10)
    assert outcome == Finished({"answer": 42})
    assert _no_children_left()


def test_a_task_that_finishes_late_is_not_finished() -> None:
    # The rejects twin of the test above: the same shape of task, made to overrun.
    outcome = run_limited(lambda: time.sleep(5) or 42, seconds=0.5)
    assert outcome == TimedOut(0.5)


def test_a_large_result_comes_back_whole() -> None:
    outcome = run_limited(lambda: "x" * 5_000_000, seconds=20)
    assert isinstance(outcome, Finished)
    assert len(outcome.value) == 5_000_000


def test_a_task_that_sleeps_forever_is_killed_within_the_limit() -> None:
    start = time.monotonic()
    outcome = run_limited(lambda: time.sleep(3600), seconds=1.0)
    elapsed = time.monotonic() - start
    assert outcome == TimedOut(1.0)
    assert elapsed < 3.0
    assert _no_children_left()


def test_a_task_that_ignores_sigterm_and_sigint_is_still_killed() -> None:
    def stubborn() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(0.01)

    start = time.monotonic()
    outcome = run_limited(stubborn, seconds=0.5)
    assert isinstance(outcome, TimedOut)
    assert time.monotonic() - start < 3.0
    assert _no_children_left()


def test_a_long_big_integer_operation_is_stopped() -> None:
    # One C call that never returns to the interpreter: signal.alarm could not stop it,
    # killing the child does.
    start = time.monotonic()
    outcome = run_limited(lambda: 3 ** (10**9), seconds=1.0)
    assert isinstance(outcome, TimedOut)
    assert time.monotonic() - start < 4.0


def test_a_task_that_raises_is_crashed_with_the_reason() -> None:
    def fails() -> None:
        raise ValueError("no such thing")

    outcome = run_limited(fails, seconds=10)
    assert isinstance(outcome, Crashed)
    assert outcome.reason.splitlines()[0] == "ValueError: no such thing"
    assert "Traceback" in outcome.reason  # kept for the curious, after the first line


def test_keyboard_interrupt_and_system_exit_in_the_task_are_crashes() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    def exits() -> None:
        raise SystemExit(3)

    assert run_limited(interrupted, seconds=10).reason.startswith("KeyboardInterrupt")  # type: ignore[union-attr]
    assert run_limited(exits, seconds=10).reason.startswith("SystemExit: 3")  # type: ignore[union-attr]


def test_deep_recursion_is_a_crash_not_a_dead_worker() -> None:
    def deep(n: int) -> int:
        return deep(n + 1) + 1

    outcome = run_limited(lambda: deep(0), seconds=10)
    assert outcome == Crashed("the expression is nested too deeply to check")


def test_a_huge_allocation_is_a_memory_error_under_the_cap() -> None:
    outcome = run_limited(lambda: bytearray(3 * GIB), seconds=20, memory=1 * GIB)
    assert outcome == Crashed("ran out of memory (the cap is 1 GiB)")
    assert _no_children_left()


def test_a_growing_allocation_stops_at_the_cap() -> None:
    def grow() -> int:
        blocks = []
        while True:
            blocks.append(bytearray(64 * 1024**2))

    start = time.monotonic()
    outcome = run_limited(grow, seconds=30, memory=1 * GIB)
    assert outcome == Crashed("ran out of memory (the cap is 1 GiB)")
    assert time.monotonic() - start < 20


def test_the_default_cap_stops_a_runaway_allocation() -> None:
    outcome = run_limited(lambda: bytearray(64 * GIB), seconds=20)
    assert isinstance(outcome, Crashed)
    assert "out of memory" in outcome.reason
    assert worker.MEMORY_LIMIT <= 8 * GIB


def test_the_cap_does_not_apply_to_the_parent() -> None:
    before = __import__("resource").getrlimit(__import__("resource").RLIMIT_AS)
    run_limited(lambda: None, seconds=10, memory=1 * GIB)
    assert __import__("resource").getrlimit(__import__("resource").RLIMIT_AS) == before


def test_a_child_that_exits_without_answering_is_crashed() -> None:
    outcome = run_limited(lambda: os._exit(7), seconds=10)
    assert outcome == Crashed("the worker died (exit code 7)")


def test_a_child_killed_by_a_signal_is_crashed() -> None:
    outcome = run_limited(lambda: os.kill(os.getpid(), signal.SIGKILL), seconds=10)
    assert isinstance(outcome, Crashed)
    assert outcome.reason == "the worker died (killed by SIGKILL)"


def test_an_unpicklable_result_is_a_crash_not_a_hang() -> None:
    start = time.monotonic()
    outcome = run_limited(lambda: (lambda: None), seconds=10)
    assert isinstance(outcome, Crashed)
    assert outcome.reason.startswith("could not send the result back")
    assert time.monotonic() - start < 5


def test_the_task_runs_in_another_process(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    outcome = run_limited(lambda: marker.write_text(str(os.getpid())) and os.getpid(), seconds=10)
    assert isinstance(outcome, Finished)
    assert outcome.value != os.getpid()
    assert marker.read_text() == str(outcome.value)


def test_many_runs_leave_no_processes_or_descriptors_behind() -> None:
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    for _ in range(20):
        assert run_limited(lambda: 1, seconds=10) == Finished(1)
    run_limited(lambda: time.sleep(60), seconds=0.2)
    assert _no_children_left()
    if fds_before:
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 1


@pytest.mark.parametrize("seconds", [0.05, 0.3])
def test_the_limit_is_wall_clock_and_close(seconds: float) -> None:
    start = time.monotonic()
    assert run_limited(lambda: time.sleep(30), seconds=seconds) == TimedOut(seconds)
    assert seconds <= time.monotonic() - start < seconds + 2.5


# -- the time limit seen from a derivation ---------------------------------------------------

SLOW_FILE = """\
title: a step that takes SymPy minutes, between two quick ones
variables:
  t: real
  s: real
  u: real
  v: real
steps:
  - id: before
    claim: t + t = 2*t
  - id: slow
    claim: (t + s + u + v + 1)**30 = (t + s + u + v + 1)**29*(t + s + u + v) + (t + s + u + v + 1)**29
  - id: after
    claim: t - t = 0
"""


def test_a_slow_step_is_undecided_by_the_time_limit_and_the_others_are_verified(tmp_path: Path) -> None:
    # A true claim (so the quick numeric look cannot refute it): (t + s + u + v + 1)**30
    # expands to tens of thousands of terms, more than a minute of
    # SymPy here. (A huge power such as 2**2**2**30 never gets that far: the parser refuses it.)
    from derivcheck.run.claims import check_file

    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_FILE)
    start = time.monotonic()
    result = check_file(path, timeout=2)
    assert time.monotonic() - start < 8
    assert [step.verdict.value for step in result.steps] == ["proved", "undecided", "proved"]
    slow = result.steps[1]
    assert slow.method == "time-out: not finished within 2 s of CPU time"
    assert not slow.ok
    assert _no_children_left()


def test_the_slow_step_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from derivcheck.cli import app

    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_FILE)
    result = CliRunner().invoke(app, ["verify", str(path), "--timeout", "2", "--no-color", "--width", "100"])
    assert result.exit_code == 1
    assert "time-out" in result.output
    assert "2 proved" in result.output and "1 undecided" in result.output
    assert "Traceback" not in result.output


# -- Servers: children that run job after job ---------------------------------------------------


def _serve_all(servers: Servers, jobs: list[tuple[str, object]], seconds: float) -> dict[int, object]:
    queue = list(enumerate(jobs))
    outcomes: dict[int, object] = {}
    while queue or servers.busy():
        while queue and servers.has_room():
            number, job = queue.pop(0)
            servers.submit(number, job, seconds)
        number, outcome, _elapsed = servers.next()
        outcomes[number] = outcome  # type: ignore[index]
    return outcomes


def _job(job: object) -> object:
    kind, value = job  # type: ignore[misc]
    if kind == "pid":
        return os.getpid()
    if kind == "sleep":
        time.sleep(value)
    if kind == "grow":
        return len(bytearray(value))
    if kind == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "raise":
        raise ValueError(value)
    if kind == "spin":  # spend `value` seconds of CPU time
        until = time.process_time() + value
        while time.process_time() < until:
            pass
        return "spun"
    return value


def _hog() -> None:
    while True:
        pass


@pytest.mark.skipif(worker.cpu_seconds(os.getpid()) is None, reason="the CPU time of a process is read from /proc")
def test_the_limit_counts_cpu_time_not_the_clock() -> None:
    # One core shared by the job and three busy loops: the job's 0.5 s of CPU time take about
    # 2 s on the clock, past its 1 s limit, and it still finishes, its CPU time under the limit.
    context = multiprocessing.get_context("fork")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    hogs = [context.Process(target=_hog, daemon=True) for _ in range(3)]
    try:
        for hog in hogs:
            hog.start()
        with Servers(_job, 1) as servers:
            started = time.monotonic()
            servers.submit("job", ("spin", 0.5), 1.0)
            key, outcome, spent = servers.next()
            elapsed = time.monotonic() - started
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()
        os.sched_setaffinity(0, before)
    assert outcome == Finished("spun"), outcome
    assert elapsed > 1.0, "the job did not share its core: the test shows nothing"
    assert 0.4 <= spent < 1.0  # its CPU seconds, not the clock's


@pytest.mark.skipif(worker.cpu_seconds(os.getpid()) is None, reason="the CPU time of a process is read from /proc")
def test_a_job_that_spends_its_cpu_time_is_stopped_by_the_cpu_limit() -> None:
    with Servers(_job, 1) as servers:
        started = time.monotonic()
        servers.submit("job", ("spin", 60), 0.5)
        _key, outcome, spent = servers.next()
    assert outcome == TimedOut(0.5, "CPU")
    assert spent >= 0.5 and time.monotonic() - started < 0.5 * worker.WALL_FACTOR


@pytest.mark.skipif(worker.cpu_seconds(os.getpid()) is None, reason="the CPU time of a process is read from /proc")
def test_a_job_that_waits_is_stopped_by_the_wall_clock_backstop() -> None:
    # The twin: sleeping uses no CPU time, so only the backstop (5 times the limit) ends it.
    with Servers(_job, 1) as servers:
        started = time.monotonic()
        servers.submit("job", ("sleep", 60), 0.4)
        _key, outcome, _spent = servers.next()
        elapsed = time.monotonic() - started
    assert outcome == TimedOut(0.4, "wall-clock")
    assert 0.4 * worker.WALL_FACTOR <= elapsed < 0.4 * worker.WALL_FACTOR + 2


def test_a_server_runs_job_after_job_in_one_child() -> None:
    with Servers(_job, 1) as servers:
        outcomes = _serve_all(servers, [("pid", None)] * 5, 10)
    pids = {outcome.value for outcome in outcomes.values()}  # type: ignore[attr-defined]
    assert len(pids) == 1 and os.getpid() not in pids


def test_a_job_past_its_limit_is_timed_out_and_its_server_replaced() -> None:
    with Servers(_job, 1) as servers:
        started = time.monotonic()
        outcomes = _serve_all(servers, [("pid", None), ("sleep", 60), ("pid", None)], 0.5)
        assert time.monotonic() - started < 10
    assert outcomes[1] == TimedOut(0.5)
    assert isinstance(outcomes[0], Finished) and isinstance(outcomes[2], Finished)
    assert outcomes[0].value != outcomes[2].value  # the killed child was replaced
    assert multiprocessing.active_children() == []


def test_failures_are_crashes_and_the_jobs_after_them_still_run() -> None:
    jobs = [("raise", "engine bug"), ("value", 1), ("die", None), ("value", 2), ("grow", 3 * GIB), ("value", 3)]
    with Servers(_job, 2, memory=1 * GIB) as servers:
        outcomes = _serve_all(servers, jobs, 20)
    assert outcomes[0].reason.startswith("ValueError: engine bug")  # type: ignore[attr-defined]
    assert outcomes[2] == Crashed("the worker died (killed by SIGKILL)")
    assert outcomes[4] == Crashed("ran out of memory (the cap is 1 GiB)")
    assert [outcomes[n] for n in (1, 3, 5)] == [Finished(1), Finished(2), Finished(3)]


def test_a_job_can_be_given_to_a_chosen_slot() -> None:
    with Servers(_job, 2) as servers:
        assert servers.free_slots() == [0, 1]
        servers.submit("a", ("pid", None), 10, slot=1)
        assert servers.free_slots() == [0]
        with pytest.raises(AssertionError):
            servers.submit("b", ("pid", None), 10, slot=1)  # busy
        servers.submit("b", ("pid", None), 10, slot=0)
        first = dict((key, outcome) for key, outcome, _ in (servers.next(), servers.next()))
        servers.submit("c", ("pid", None), 10, slot=1)
        servers.submit("d", ("pid", None), 10, slot=0)
        second = dict((key, outcome) for key, outcome, _ in (servers.next(), servers.next()))
    assert first["a"] == second["c"] != first["b"] == second["d"]  # each slot keeps its child


def test_closing_stops_every_server() -> None:
    servers = Servers(_job, 2)
    servers.submit(0, ("sleep", 60), 120)
    servers.submit(1, ("value", 1), 120)
    servers.close()
    assert multiprocessing.active_children() == []


# -- children never outlive their parent ---------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
PR_GET_PDEATHSIG = 2

# A parent that forks two servers, gives each a job, prints their pids and waits to be killed.
# With "idle", the jobs are quick, so the servers wait for their next job when it is killed;
# with "busy", they are still sleeping. With "no-prctl", the kernel is not asked to kill them.
PARENT_SCRIPT = """\
import sys, time
from derivcheck.run import worker
from tests.run.test_worker import _job

if "no-prctl" in sys.argv:
    worker._prctl = lambda: None
servers = worker.Servers(_job, 2)
seconds = 0.0 if "idle" in sys.argv else 3600.0
servers.submit(0, ("sleep", seconds), 7200)
servers.submit(1, ("sleep", seconds), 7200)
if "idle" in sys.argv:
    servers.next(), servers.next()
print(" ".join(str(server.process.pid) for server in servers._live), flush=True)
time.sleep(3600)
"""


def _ended(pid: int) -> bool:
    """Whether process `pid` is gone or a zombie (dead, waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            return any(line.split()[1:2] == ["Z"] for line in status if line.startswith("State:"))
    except FileNotFoundError:
        return True


def _wait_until_ended(pids: list[int], seconds: float = 10.0) -> list[int]:
    """The pids among `pids` still running after `seconds` (polling, not sleeping it out)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_ended(pid) for pid in pids):
            return []
        time.sleep(0.05)
    return [pid for pid in pids if not _ended(pid)]


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")


@needs_proc
@pytest.mark.parametrize("mode", ["busy", "idle", "idle no-prctl"])
def test_servers_end_when_their_parent_is_killed(mode: str) -> None:
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    children: list[int] = []
    with subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, *mode.split()], stdout=subprocess.PIPE, env=env, cwd=REPO, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            children = [int(pid) for pid in parent.stdout.readline().split()]
            assert len(children) == 2
            assert not any(_ended(pid) for pid in children)  # they run while their parent does
            parent.kill()
            parent.wait(timeout=30)
            assert _wait_until_ended(children) == []
        finally:
            parent.kill()
            _kill_all(children)


def _probe(parent: int) -> None:
    worker._bind_to_parent(parent)
    os._exit(7)  # reached only when the child stays: its parent is the one it was given


@pytest.mark.parametrize(("parent", "code"), [("this", 7), ("another", 0)])
def test_a_child_whose_parent_changed_before_it_was_bound_exits(parent: str, code: int) -> None:
    # A parent that died before the child asked to die with it: the child has another parent.
    pid = os.getpid() if parent == "this" else 0
    process = multiprocessing.get_context("fork").Process(target=_probe, args=(pid,))
    process.start()
    process.join(timeout=30)
    assert process.exitcode == code


def _open_files() -> list[str]:
    """What this process's file descriptors point at (`socket:[123]`, `/dev/null` ...)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listdir used to read the folder
            continue
    return sorted(found)


def _child_state(_job: object) -> dict[str, object]:
    import ctypes

    value = ctypes.c_int(-1)
    prctl = worker._prctl()
    if prctl is not None:
        prctl(PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0)
    return {
        "pdeathsig": value.value,
        "stdout": os.readlink("/proc/self/fd/1"),
        "sigterm_default": signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
        "fds": _open_files(),
    }


def _socket_of(conn: multiprocessing.connection.Connection) -> str:
    return os.readlink(f"/proc/self/fd/{conn.fileno()}")


@needs_proc
def test_a_server_is_bound_to_its_parent_and_holds_none_of_its_pipe_ends() -> None:
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # as cli.py's own handler
    try:
        with Servers(_child_state, 3) as servers:
            for slot in range(3):
                servers.submit(slot, None, 30, slot=slot)
            states = [servers.next()[1] for _ in range(3)]
            ours = {_socket_of(server.conn) for server in servers._live}
            mine = _open_files()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert ours <= set(mine) and len(ours) == 3  # the check can see the parent's ends...
    for state in states:
        assert isinstance(state, Finished)
        held = state.value["fds"]
        assert not ours & set(held)  # ...and no child holds one, its own or another's
        assert sum(1 for target in held if target.startswith("socket:")) == 1  # its own end
        assert state.value["pdeathsig"] == signal.SIGKILL
        assert state.value["stdout"] == os.devnull
        assert state.value["sigterm_default"] is True
