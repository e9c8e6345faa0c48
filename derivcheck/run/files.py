"""Checking many derivation files: the cache first, the rest in up to N worker processes, in order.

The cache is read step by step: a step's results do not depend on the other steps, so
the results of a file put together from its steps are those of checking it whole. The
steps not in the cache are read into SymPy here (prepare.prepare), every file before any
claim is checked; then their claims, across all files, go to `jobs` server processes (0: one per CPU)
forked from this one (run/claims.py), which keep SymPy's caches from claim to
claim. Files are reported in the order they were found, each as soon as it and those
before it are done.

Nothing here imports SymPy: a run whose every step is in the cache never loads it.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from derivcheck.run import cache as caching
from derivcheck.run.discover import DERIVATION_SUFFIXES, discover
from derivcheck.model import FileResult, Problem, StepResult

if TYPE_CHECKING:  # imported when needed: a warm run reads no YAML, and forks nothing

    from derivcheck.prepare import Prepared
    from derivcheck.source import Derivation


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
    prepared: Prepared | None = None  # once the file is read into SymPy
    outcomes: dict[int, StepResult] = dataclasses.field(default_factory=dict)  # claim results
    left: int = 0  # claims not yet done
    crash: BaseException | None = None


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


def _plan(path: Path, *, cache: caching.ResultCache | None) -> _Plan:
    data = _read(path) if cache is not None else None
    content = caching.content_key(data) if cache is not None and data is not None else None
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
        plan.keys = caching.file_keys(derivation)
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
    complete = [entry for entry in entries if entry is not None]
    assert len(complete) == len(entries)
    return caching.assemble(derivation, complete)


def check_paths(
    paths: Sequence[Path],
    *,
    timeout: float,
    jobs: int = 1,
    cache: caching.ResultCache | None = None,
    file_budget: float | None = None,
) -> Iterator[FileResult]:
    """Results for every derivation file under `paths`, yielded in order as they are done.

    Paths that do not exist come first, as results with a "not-found" problem. Raises
    FileCrashed when checking a file raises (after yielding the files before it).
    """
    files, missing = discover(paths)
    yield from missing
    plans = [_plan(path, cache=cache) for path in files]
    next_file = 0

    def ready() -> Iterator[FileResult]:
        nonlocal next_file
        while next_file < len(plans) and plans[next_file].left == 0:
            yield _result(plans[next_file], cache)
            next_file += 1

    if not any(plan.units for plan in plans):
        yield from ready()
        return
    # Imported here, as SymPy is: only when there is work to do.
    from derivcheck.run import claims as checking

    prepared, owners = _prepare(plans)
    outcomes = checking.check_claims(prepared, timeout=timeout, jobs=jobs, file_budget=file_budget)
    try:
        yield from ready()
        for number, claim, result in outcomes:
            plan = plans[owners[number]]
            plan.outcomes[claim] = result
            plan.left -= 1
            if plan.left == 0:
                _settle(plan)
            yield from ready()
    finally:
        outcomes.close()  # stops the servers still running when the caller stops early
    yield from ready()


def _prepare(plans: list[_Plan]) -> tuple[list[Prepared], list[int]]:
    """The files with steps to check, read into SymPy, and the plan each belongs to. A file
    that cannot be read into SymPy keeps the error, for its turn; a file with no claim to
    check is settled at once."""
    from derivcheck import prepare as preparing

    prepared: list[Prepared] = []
    owners: list[int] = []
    for index, plan in enumerate(plans):
        if not plan.units:
            continue
        assert plan.derivation is not None
        try:
            made = preparing.prepare(plan.derivation, [position for position in plan.units if position != NO_STEP])
        except Exception as error:
            # A file the checker cannot even read into SymPy: a bug, reported at that file.
            plan.crash = error
            continue
        plan.prepared, plan.left = made, len(made.pending)
        prepared.append(made)
        owners.append(index)
    for plan in plans:
        if plan.prepared is not None and plan.left == 0:
            _settle(plan)
    return prepared, owners


def _settle(plan: _Plan) -> None:
    """Every claim of the plan is done: its steps' results, for the cache and the report."""
    from derivcheck import prepare as preparing

    assert isinstance(plan.prepared, preparing.Prepared)
    by_step = preparing.step_results(plan.prepared, plan.outcomes)
    if plan.prepared.problems:
        plan.checked[NO_STEP] = FileResult(plan.prepared.derivation.path, plan.prepared.derivation.title, problems=plan.prepared.problems)
        return
    for position in plan.units:
        if position == NO_STEP:
            plan.checked[NO_STEP] = FileResult(plan.prepared.derivation.path, plan.prepared.derivation.title)
        else:
            plan.checked[position] = by_step[position]


def _result(plan: _Plan, cache: caching.ResultCache | None) -> FileResult:
    if plan.crash is not None:
        raise FileCrashed(plan.path, plan.crash)
    if plan.result is None:
        plan.result = _finish(plan, cache)
        if cache is not None and plan.content is not None:
            caching.store_whole(cache, plan.content, plan.result)
    return plan.result


__all__ = ["DERIVATION_SUFFIXES", "FileCrashed", "check_paths", "discover"]
