"""Checking many derivation files: the cache first, the rest in up to N worker processes, in order.

The unit of work is one step of one file: `checker.check_derivation` on the file with
that step alone (its declarations are built again, which costs milliseconds). A step's
results do not depend on the other steps, so the results of a file put together from
its steps are those of checking it whole, and they can be cached step by step.

With one job the units run here, one after the other. With N jobs each unit runs in a
forked process, N at a time; the checker inside it still runs each claim in its own
child with its time limit, so at most N claims are checked at once. Either way files are
reported in the order they were found, each as soon as it and those before it are done.

Nothing here imports SymPy: a run whose every step is in the cache never loads it.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from derivcheck import cache as caching
from derivcheck.model import FileResult, Problem, Span

if TYPE_CHECKING:  # imported when needed: a warm run reads no YAML, and forks nothing
    import multiprocessing.connection
    import multiprocessing.process

    from derivcheck.source import Derivation

DERIVATION_SUFFIXES = (".yaml", ".yml")

# A check of no step: made only to learn whether a file's declarations build.
NO_STEP = -1

# The largest derivation file, as in source.MAX_FILE_BYTES (a test keeps them equal): kept
# here so that a file served whole from the cache does not import source.py and PyYAML.
MAX_FILE_BYTES = 1_000_000


class FileCrashed(Exception):
    """Checking a file raised instead of returning a result: a bug, not bad input."""

    def __init__(self, path: Path, error: BaseException) -> None:
        super().__init__(f"{path}: {error}")
        self.path = path
        self.error = error


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileResult]]:
    """Files to check (directories expanded to their *.yaml / *.yml files, sorted), and
    a FileResult with a problem for each path that does not exist or cannot be read.

    The same as `checker.discover` (tested), without importing SymPy.
    """
    found: list[Path] = []
    missing: list[FileResult] = []

    def unreadable(where: str, why: str) -> None:
        problem = Problem(where, Span(1, 1), "unreadable", why)
        missing.append(FileResult(where, None, problems=(problem,)))

    for path in paths:
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:
            unreadable(str(path), f"cannot look at this path: {exc.strerror or exc}")
            continue
        if is_dir:
            inside: list[Path] = []
            # os.walk reports a folder it cannot enter, where rglob would skip it silently.
            for folder, _dirs, files in os.walk(
                path, onerror=lambda exc: unreadable(str(exc.filename), f"cannot read this folder: {exc.strerror}")
            ):
                inside.extend(Path(folder) / name for name in files if Path(name).suffix in DERIVATION_SUFFIXES)
            found.extend(sorted(inside))
        elif exists:
            found.append(path)
        else:
            problem = Problem(str(path), Span(1, 1), "not-found", "no such file or directory")
            missing.append(FileResult(str(path), None, problems=(problem,)))
    return found, missing


@dataclasses.dataclass
class _Plan:
    """One file: its result when known without checking, else the steps left to check."""

    path: Path
    result: FileResult | None = None
    derivation: Derivation | None = None
    keys: caching.FileKeys | None = None
    entries: list[caching.StepEntry | None] = dataclasses.field(default_factory=list)
    units: list[int] = dataclasses.field(default_factory=list)  # step positions, or NO_STEP
    checked: dict[int, FileResult] = dataclasses.field(default_factory=dict)
    content: str | None = None  # the key of the whole file's result, from its bytes


def _read(path: Path) -> bytes | None:
    """The bytes of a regular file of at most MAX_FILE_BYTES, or None for anything else
    (a FIFO, a device, a file too large or unreadable: source.load_derivation handles those)."""
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return None
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def _load(path: Path, data: bytes | None) -> tuple[Derivation | None, list[Problem]]:
    """source.load_derivation, from bytes already read when there are some (so that the
    result stored under their hash is the result of those very bytes)."""
    from derivcheck import source

    if data is None:
        return source.load_derivation(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return source.load_derivation(path)  # for the position of the bad byte
    try:
        root = source.compose(text)
    except source.SourceError as exc:
        return None, [Problem(str(path), exc.span, exc.code, exc.message)]
    return source.parse_document(root, str(path))


def _plan(path: Path, *, timeout: float, cache: caching.ResultCache | None) -> _Plan:
    data = _read(path) if cache is not None else None
    content = caching.content_key(data, timeout=timeout) if cache is not None and data is not None else None
    if cache is not None and content is not None:
        whole = caching.read_whole(cache, content, str(path))
        if whole is not None:
            return _Plan(path, whole)
    derivation, problems = _load(path, data)
    if derivation is None or problems:
        title = derivation.title if derivation is not None else None
        result = FileResult(str(path), title, problems=tuple(problems))
        if cache is not None and content is not None:
            caching.store_whole(cache, content, result)
        return _Plan(path, result)
    plan = _Plan(path, derivation=derivation, entries=[None] * len(derivation.steps), content=content)
    builds: bool | None = None
    if cache is not None:
        plan.keys = caching.file_keys(derivation, timeout=timeout)
        known, plan.entries, builds = caching.cached_file(cache, derivation, plan.keys)
        if known is not None:
            plan.result = known
            if content is not None:
                caching.store_whole(cache, content, known)
            return plan
    plan.units = [position for position, entry in enumerate(plan.entries) if entry is None]
    if not plan.units and not builds:
        plan.units = [NO_STEP]
    return plan


def _finish(plan: _Plan, cache: caching.ResultCache | None) -> FileResult:
    """A file's result from its cached and newly checked steps; what is new goes to the cache."""
    derivation = plan.derivation
    assert derivation is not None
    if cache is not None and plan.keys is not None:
        caching.store_file(cache, derivation, plan.keys, plan.checked)
    for result in plan.checked.values():
        if result.problems:  # the declarations do not build: no step was checked
            return FileResult(derivation.path, derivation.title, problems=result.problems)
    entries = list(plan.entries)
    for position, result in plan.checked.items():
        if position != NO_STEP:
            entries[position] = caching.StepEntry(result.steps, result.warnings)
    assert all(entry is not None for entry in entries)
    return caching.assemble(derivation, entries)  # type: ignore[arg-type]


def _unit(derivation: Derivation, position: int, timeout: float) -> Callable[[], FileResult]:
    """The check of one step of a file (or of none), to run here or in a worker."""
    from derivcheck import checker  # imports SymPy: only when there is work to do

    steps = () if position == NO_STEP else (derivation.steps[position],)
    alone = dataclasses.replace(derivation, steps=steps)
    return lambda: checker.check_derivation(alone, timeout=timeout)


def check_paths(
    paths: Sequence[Path],
    *,
    timeout: float,
    jobs: int = 1,
    cache: caching.ResultCache | None = None,
) -> Iterator[FileResult]:
    """Results for every derivation file under `paths`, yielded in order as they are done.

    Paths that do not exist come first, as results with a "not-found" problem. Raises
    FileCrashed when checking a file raises (after yielding the files before it).
    """
    files, missing = discover(paths)
    yield from missing
    plans = [_plan(path, timeout=timeout, cache=cache) for path in files]
    work = [(index, position) for index, plan in enumerate(plans) for position in plan.units]
    tasks = [_unit(plans[index].derivation, position, timeout) for index, position in work]  # type: ignore[arg-type]
    left = collections.Counter(index for index, _ in work)
    crashes: dict[int, BaseException] = {}
    outcomes = _run(tasks, jobs) if jobs > 1 and tasks else _run_here(tasks)
    next_file = 0
    try:
        for number, outcome in outcomes:
            index, position = work[number]
            if isinstance(outcome, BaseException):
                crashes.setdefault(index, outcome)
                left[index] = 0
            elif index not in crashes:
                plans[index].checked[position] = outcome
                left[index] -= 1
            # Files in order, each once it and those before it are done.
            while next_file < len(plans) and not left[next_file]:
                if next_file in crashes:
                    raise FileCrashed(plans[next_file].path, crashes[next_file])
                yield _result(plans[next_file], cache)
                next_file += 1
    finally:
        outcomes.close()  # stops the workers still running when the caller stops early
    while next_file < len(plans):
        yield _result(plans[next_file], cache)
        next_file += 1


def _result(plan: _Plan, cache: caching.ResultCache | None) -> FileResult:
    if plan.result is None:
        plan.result = _finish(plan, cache)
        if cache is not None and plan.content is not None:
            caching.store_whole(cache, plan.content, plan.result)
    return plan.result


def _run_here(tasks: Sequence[Callable[[], FileResult]]) -> Iterator[tuple[int, FileResult | BaseException]]:
    for number, task in enumerate(tasks):
        try:
            outcome: FileResult | BaseException = task()
        except Exception as error:
            outcome = error
        yield number, outcome


def _stop(signum: int, frame: FrameType | None) -> None:
    # In a worker: unwind, so that the checker's own cleanup kills the claim's child.
    raise SystemExit(128 + signum)


def _worker(conn: multiprocessing.connection.Connection, task: Callable[[], FileResult]) -> None:
    signal.signal(signal.SIGTERM, _stop)
    try:
        outcome: object = task()
    except BaseException as error:  # the parent decides what a failure means
        outcome = error
    try:
        conn.send(outcome)
    except Exception as error:  # an exception that does not pickle: send its text
        conn.send(RuntimeError(f"{type(outcome).__name__}: {outcome} ({error})"))
    finally:
        conn.close()


def _run(tasks: Sequence[Callable[[], FileResult]], jobs: int) -> Iterator[tuple[int, FileResult | BaseException]]:
    """Each task in a forked process, `jobs` at a time; (position, outcome) as each ends.

    Not multiprocessing.Pool: its workers are daemons, which may not fork the children
    that the checker runs each claim in.
    """
    import multiprocessing
    import multiprocessing.connection

    context = multiprocessing.get_context("fork")
    waiting = collections.deque(enumerate(tasks))
    running: dict[int, tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                number, task = waiting.popleft()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_worker, args=(send, task), daemon=False)
                process.start()
                send.close()
                running[number] = (process, receive)
            handles: list[object] = []
            for process, receive in running.values():
                handles.extend((receive, process.sentinel))
            ready = multiprocessing.connection.wait(handles)  # type: ignore[arg-type]
            for number, (process, receive) in list(running.items()):
                if receive not in ready and process.sentinel not in ready:
                    continue
                outcome: object
                if receive.poll():
                    try:
                        outcome = receive.recv()
                    except EOFError:
                        outcome = None
                else:
                    outcome = None
                process.join()
                receive.close()
                del running[number]
                if not isinstance(outcome, (FileResult, BaseException)):
                    outcome = RuntimeError(f"the worker process ended without a result ({_status(process.exitcode)})")
                yield number, outcome
    finally:
        for process, receive in running.values():
            process.terminate()
        for process, receive in running.values():
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
            receive.close()


def _status(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


__all__ = ["DERIVATION_SUFFIXES", "FileCrashed", "check_paths", "discover"]
