"""Running one check in a child process that can be killed: a wall-clock limit and a memory cap.

`signal.alarm` cannot interrupt SymPy inside a long big-integer operation, so each
check runs in a forked child; the parent waits, and kills the child when the time is
up. Forking shares the parsed derivation with the child without pickling it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Address-space cap for a child, in bytes: a runaway expansion gets MemoryError, not the machine.
MEMORY_LIMIT = 4 * 1024**3


@dataclass(frozen=True)
class Finished(Generic[T]):
    value: T


@dataclass(frozen=True)
class TimedOut:
    seconds: float


@dataclass(frozen=True)
class Crashed:
    reason: str


def _child(conn: "multiprocessing.connection.Connection", task: Callable[[], object], memory: int) -> None:
    try:
        if memory:
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
        result: object = Finished(task())
    except MemoryError:
        result = Crashed("ran out of memory (the cap is %d GiB)" % (memory // 1024**3))
    except RecursionError:
        result = Crashed("the expression is nested too deeply to check")
    except BaseException as exc:  # the child reports every failure; the parent decides
        result = Crashed(f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=3)[-600:])
    try:
        conn.send(result)
    except Exception as exc:  # an unpicklable result is a crash, not a hang
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
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, task, memory), daemon=True)
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
