"""Running checks in child processes that can be killed: a limit of CPU time per job (with a
wall-clock backstop), and a memory cap.

`signal.alarm` cannot interrupt SymPy inside a long big-integer operation, so each
check runs in a forked child; the parent waits, and kills the child when its job has used
its CPU seconds (read from /proc), or when WALL_FACTOR times that has passed on the clock.
Counting CPU time makes a verdict independent of how busy the machine is. Forking shares
the parsed derivation with the child without pickling it. (`run_limited`, one task in one
child, keeps a plain wall-clock limit.)

A child never outlives its parent: on Linux the kernel kills it when the parent dies
(PR_SET_PDEATHSIG), and everywhere it holds no copy of the parent's end of any pipe, so an
idle child reads EOF and exits.
"""

from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")  # what a job's outcome comes back with (Servers)
J = TypeVar("J")  # a job, as its handler takes it (Servers)

# Address-space cap for a child, in bytes: a runaway expansion gets MemoryError, not the machine.
MEMORY_LIMIT = 4 * 1024**3


@dataclass(frozen=True)
class Finished(Generic[T]):
    value: T


@dataclass(frozen=True)
class TimedOut:
    seconds: float
    clock: str = "wall-clock"  # which limit ended the job: "CPU" or "wall-clock"


@dataclass(frozen=True)
class Crashed:
    reason: str


def default_jobs() -> int:
    """One job per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# prctl(2): ask the kernel to send a signal to this process when its parent dies.
_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, on Linux; None elsewhere or when it cannot be found. Looked up in the
    parent before it forks (ctypes is 2 ms to import), once, so that a child does not have to."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _bind_to_parent(parent: int) -> None:
    """In a child, first thing: die with the parent, whose pid was `parent` before the fork.

    With PR_SET_PDEATHSIG the kernel SIGKILLs this child when its parent dies (killed by
    SIGKILL, say, which leaves the parent no chance to stop its children). The parent may
    have died before the call took effect: then this child was already given to another
    parent, and it exits. (The signal is tied to the thread that forked: derivcheck forks from
    its main thread only.)
    """
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _detach(inherited: Sequence[multiprocessing.connection.Connection]) -> None:
    """In a child: close what it inherited and must not hold.

    The parent's ends of the pipes (its own and other children's) are closed, so that when
    the parent dies, every child's pipe is closed at the other end and the child reads EOF,
    even where the kernel does not kill it. Its standard output goes to /dev/null: a child
    writes nothing there, and must not keep the reader of the report waiting for EOF.
    SIGTERM gets its default action back: the parent may have made it an interruption of its
    own (cli.py), which a child would report as a crash, and keep serving.
    """
    for connection in inherited:
        try:
            connection.close()
        except OSError:
            pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _set_limits(memory: int) -> None:
    """In a child: the address-space cap, and room for SymPy's deep recursion."""
    if memory:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))


def _run(task: Callable[[], object], memory: int) -> tuple[Finished[object] | Crashed, bool]:
    """task's outcome in a child, and whether the child is spent (it hit its memory cap)."""
    try:
        return Finished(task()), False
    except MemoryError:
        return Crashed(f"ran out of memory (the cap is {memory // 1024**3} GiB)"), True
    except RecursionError:
        return Crashed("the expression is nested too deeply to check"), False
    except BaseException as exc:  # noqa: BLE001  # the child reports every failure; the parent decides
        return Crashed(f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=3)[-600:]), False


def _child(
    conn: multiprocessing.connection.Connection,
    task: Callable[[], object],
    memory: int,
    parent: int,
    inherited: Sequence[multiprocessing.connection.Connection],
) -> None:
    try:
        _bind_to_parent(parent)
        _detach(inherited)
        _set_limits(memory)
        result, _spent = _run(task, memory)
        try:
            conn.send(result)
        except Exception as exc:  # noqa: BLE001  # an unpicklable result is a crash, not a hang
            conn.send(Crashed(f"could not send the result back: {exc}"))
    finally:
        conn.close()
        os._exit(0)  # skip atexit handlers and buffers inherited from the parent


def _exit_status(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run_limited(task: Callable[[], T], *, seconds: float, memory: int = MEMORY_LIMIT) -> Finished[T] | TimedOut | Crashed:
    """Run `task` in a forked child; its result, or why there is none."""
    context = multiprocessing.get_context("fork")
    _prctl()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, task, memory, os.getpid(), [receive]), daemon=True)
    process.start()
    send.close()
    try:
        if receive.poll(seconds):
            try:
                outcome = receive.recv()
            except EOFError:
                process.join(timeout=5)  # the exit code is only known once the child is reaped
                outcome = Crashed(f"the worker died ({_exit_status(process.exitcode)})")
        else:
            outcome = TimedOut(seconds)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    if isinstance(outcome, (Finished, TimedOut, Crashed)):
        return outcome
    return Crashed("the worker sent something unexpected")


# ---------------------------------------------------------------------------------------------
# Servers: children that run many jobs each, so that SymPy's caches outlive a single claim.


def _serve(
    conn: multiprocessing.connection.Connection,
    handler: Callable[[J], object],
    memory: int,
    parent: int,
    inherited: Sequence[multiprocessing.connection.Connection],
) -> None:
    """A server's loop: a job in, its outcome out, until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills us
    try:
        _bind_to_parent(parent)
        _detach(inherited)
        _set_limits(memory)
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                break
            result, spent = _run(functools.partial(handler, job), memory)
            try:
                conn.send((result, spent))
            except Exception as exc:  # noqa: BLE001  # an unpicklable result is a crash, not a hang
                conn.send((Crashed(f"could not send the result back: {exc}"), spent))
            if spent:  # a child that hit its cap is not trusted with another job
                break
    finally:
        conn.close()
        os._exit(0)


@dataclass(eq=False)  # one child each: compared by identity
class _Server:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    slot: int
    seconds: float = 0.0
    started: float = 0.0
    cpu_started: float = 0.0  # the child's CPU seconds when its job was given


# A job's limit counts the CPU time its child spends, so that a verdict does not depend on how
# busy the machine is; past this many times the limit in wall-clock time, the job is stopped
# anyway (a child waiting, or a machine so loaded that even the CPU time cannot accrue).
WALL_FACTOR = 5.0
# How often a running child's CPU time is read, in seconds.
CPU_POLL = 0.1
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) a process has used, from /proc; None where it cannot be
    read (not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Servers(Generic[K, J]):
    """Up to `size` forked children (0: one per CPU) running `handler(job)` for the jobs
    given to them.

    A child runs its jobs one after another and keeps what it computed (SymPy's caches)
    from one to the next; `handler` and everything it refers to are shared with the child
    by forking, so a job is only a small picklable value. Each job has its own limit in CPU
    seconds, with a wall-clock backstop of WALL_FACTOR times it: past either, its child is
    killed (the job is TimedOut, saying which clock) and a new child is forked for the next
    job. A child that dies or hits the memory cap gives Crashed, and is replaced.

    Children sit in numbered slots (0 to size - 1). A job may be given to a chosen slot, so
    that jobs which share work go to the child that has done it; the child in a slot is
    forked on its first job, and again after it was killed.
    """

    def __init__(self, handler: Callable[[J], object], size: int, *, memory: int = MEMORY_LIMIT) -> None:
        self._context = multiprocessing.get_context("fork")
        self._handler = handler
        self._size = size if size > 0 else default_jobs()
        self._memory = memory
        self._idle: dict[int, _Server] = {}  # forked children without a job, by slot
        self._busy: list[_Server] = []
        self._keys: dict[int, K] = {}  # the key of each running job, by its slot
        # Every child forked and not yet killed, busy, idle or in between: a Ctrl-C in the
        # middle of next() must not hide a child from close().
        self._live: list[_Server] = []

    @property
    def size(self) -> int:
        return self._size

    def has_room(self) -> bool:
        return len(self._busy) < self._size

    def busy(self) -> int:
        return len(self._busy)

    def free_slots(self) -> list[int]:
        """The slots without a running job, in order."""
        taken = {server.slot for server in self._busy}
        return [slot for slot in range(self._size) if slot not in taken]

    def submit(self, key: K, job: J, seconds: float, slot: int | None = None) -> None:
        """Start `job` in `slot` (by default a free slot, one with a forked child first); its
        outcome comes back with `key`."""
        free = self.free_slots()
        if slot is None:
            assert free, "every slot is busy"
            slot = next((number for number in free if number in self._idle), free[0])
        assert slot in free, f"slot {slot} is busy"
        server = self._idle.pop(slot, None) or self._fork(slot)
        try:
            server.conn.send(job)
        except OSError:  # the idle child died meanwhile: replace it
            self._kill(server)
            server = self._fork(slot)
            server.conn.send(job)
        self._keys[slot] = key
        server.seconds, server.started = seconds, time.monotonic()
        server.cpu_started = cpu_seconds(server.process.pid or 0) or 0.0
        self._busy.append(server)

    def _over(self, server: _Server, now: float) -> TimedOut | None:
        """Whether a running job is past its limit: its CPU seconds, or the wall-clock
        backstop (its limit itself where the CPU time cannot be read)."""
        cpu = cpu_seconds(server.process.pid or 0)
        if cpu is not None and cpu - server.cpu_started >= server.seconds:
            return TimedOut(server.seconds, "CPU")
        backstop = server.seconds * (WALL_FACTOR if cpu is not None else 1.0)
        if now - server.started >= backstop:
            return TimedOut(server.seconds, "wall-clock")
        return None

    def next(self) -> tuple[K, Finished[object] | TimedOut | Crashed, float]:
        """Wait for a job to end: its key, its outcome and the CPU seconds it took (the
        wall-clock seconds where its CPU time cannot be read)."""
        assert self._busy, "no job is running"
        while True:
            now = time.monotonic()
            for server in self._busy:
                over = self._over(server, now)
                if over is not None:
                    self._busy.remove(server)
                    spent = self._spent(server, now)
                    self._kill(server)
                    return self._keys.pop(server.slot), over, spent
            handles: list[object] = []
            for server in self._busy:
                handles.extend((server.conn, server.process.sentinel))
            ready = multiprocessing.connection.wait(handles, timeout=CPU_POLL)  # type: ignore[arg-type]
            for server in list(self._busy):
                if server.conn not in ready and server.process.sentinel not in ready:
                    continue
                self._busy.remove(server)
                return self._ended(server)

    def _spent(self, server: _Server, now: float) -> float:
        cpu = cpu_seconds(server.process.pid or 0)
        return cpu - server.cpu_started if cpu is not None else now - server.started

    def _ended(self, server: _Server) -> tuple[K, Finished[object] | TimedOut | Crashed, float]:
        """The outcome of a job whose child answered or died."""
        elapsed = self._spent(server, time.monotonic())
        outcome: object
        try:
            outcome = server.conn.recv() if server.conn.poll() else None
        except (EOFError, OSError):
            outcome = None
        if outcome is None:
            server.process.join(timeout=5)  # the exit code is only known once the child is reaped
            self._kill(server)
            return self._keys.pop(server.slot), Crashed(f"the worker died ({_exit_status(server.process.exitcode)})"), elapsed
        result, spent = outcome if isinstance(outcome, tuple) and len(outcome) == 2 else (None, True)
        if not isinstance(result, (Finished, TimedOut, Crashed)):
            result = Crashed("the worker sent something unexpected")
        if spent:
            self._kill(server)
        else:
            self._idle[server.slot] = server
        return self._keys.pop(server.slot), result, elapsed

    def close(self) -> None:
        """Stop every child (those running a job are killed)."""
        for server in list(self._live):
            self._kill(server)
        self._busy.clear()
        self._idle.clear()
        self._keys.clear()

    def __enter__(self) -> Servers[K, J]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fork(self, slot: int) -> _Server:
        _prctl()
        mine, theirs = self._context.Pipe(duplex=True)
        # The child closes this pipe's end and those of the other children (see _detach).
        inherited = [mine, *(server.conn for server in self._live)]
        process = self._context.Process(
            target=_serve, args=(theirs, self._handler, self._memory, os.getpid(), inherited), daemon=True
        )
        server = _Server(process, mine, slot)
        self._live.append(server)
        try:
            process.start()
        except BaseException:
            self._kill(server)  # closing our end lets a child that was forked read EOF
            raise
        finally:
            theirs.close()
        return server

    def _kill(self, server: _Server) -> None:
        if server.process.pid is not None:  # None: the fork itself failed
            if server.process.is_alive():
                server.process.kill()
            server.process.join()
        server.conn.close()
        if server in self._live:
            self._live.remove(server)
