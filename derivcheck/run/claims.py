"""Claims through the engine: in server processes with a limit each (run/worker.py), a file's
claims within their budget, in the order they end; and the checking of one derivation file.

Nothing here touches SymPy objects itself: a claim goes to the engine whole (engine/check.py),
and comes back as a StepResult.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from derivcheck import source
from derivcheck.engine import check, fastpaths
from derivcheck.model import Claim, FileResult, StepResult, Verdict
from derivcheck.prepare import Pending, Prepared, prepare, whole
from derivcheck.run import worker
from derivcheck.source import Derivation

T = TypeVar("T")

# The time a refuted step's hints (residual, a fact that would make it hold) may take.
HINT_SECONDS = 5.0


def _time_out(outcome: worker.TimedOut, timeout: float) -> tuple[str, tuple[str, ...]]:
    """The method and what was tried of a claim stopped by its limit, naming the clock."""
    if outcome.clock == "CPU":
        return (
            f"time-out: not finished within {timeout:g} s of CPU time",
            (f"the check was stopped after {timeout:g} s of CPU time (raise the limit with --timeout)",),
        )
    backstop = timeout * worker.WALL_FACTOR
    return (
        f"time-out: not finished within {backstop:g} s of wall-clock time (the backstop of the {timeout:g} s CPU limit)",
        (f"the check was stopped after {backstop:g} s by the clock, before it had used {timeout:g} s of CPU time: the machine was too busy, or the check was waiting",),
    )


def _unfinished(claim: Claim, method: str, tried: tuple[str, ...]) -> StepResult:
    """A claim with no verdict from the engine: stopped, crashed, or never started."""
    return StepResult(
        number=claim.number,
        id=claim.id,
        span=claim.text.span,
        written=claim.written,
        verdict=Verdict.UNDECIDED,
        method=method,
        justification=claim.justification,
        tried=tried,
        expect_refuted=claim.expect_refuted,
        expect_error=claim.expect_error,
    )


# What a server is asked: check a claim, or find hints for a refuted one.
CHECK, HINT = "check", "hint"


def _pending(files: Sequence[Prepared], place: tuple[int, int]) -> Pending:
    """The claim at a (file, claim) place."""
    return files[place[0]].pending[place[1]]


def claim_servers(files: Sequence[Prepared], jobs: int) -> worker.Servers:
    """Up to `jobs` server processes for the claims of `files` (forked when first needed),
    to give to check_claims as `servers`: they can serve several calls in turn, keeping
    SymPy's caches from one to the next. The caller closes them."""

    def handle(job: object) -> object:
        fastpaths.defer_units()  # in a server process: ours, with no user code in it
        kind, place = job  # type: ignore[misc]
        item = _pending(files, place)
        if kind == CHECK:
            return check.check_claim(item.claim, item.workspace.context, item.unequal, path=item.workspace.derivation.path)
        return check.hints(item.claim, item.workspace.context, item.unequal)

    return worker.Servers(handle, jobs)


def check_claims(
    files: Sequence[Prepared],
    *,
    timeout: float | None = 10.0,
    jobs: int = 1,
    file_budget: float | None = None,
    places: Sequence[tuple[int, int]] | None = None,
    servers: worker.Servers | None = None,
) -> Iterator[tuple[int, int, StepResult]]:
    """The result of every pending claim of `files` (or of those at `places` only), as
    (file, claim) places with it, in the order they end.

    With a timeout, claims run in up to `jobs` server processes (worker.Servers) that keep
    SymPy's caches from claim to claim; a claim past `timeout` seconds is undecided and its
    server replaced. `servers` from claim_servers(files, ...) are used instead of new ones,
    and left running. Once the claims of a file have taken `file_budget` seconds in all, its
    claims not yet started are undecided without being checked. Without a timeout, claims
    run here, one after another, without limits.
    """
    everything = list(places) if places is not None else [
        (number, index) for number, prepared in enumerate(files) for index in range(len(prepared.pending))
    ]

    if timeout is None:
        for place in everything:
            item = _pending(files, place)
            result = check.check_claim(item.claim, item.workspace.context, item.unequal, path=item.workspace.derivation.path)
            if check.wants_hints(item.claim, result):
                result = check.with_hints(result, check.hints(item.claim, item.workspace.context, item.unequal))
            yield (*place, result)
        return

    if servers is None:
        with claim_servers(files, jobs) as owned:
            yield from _serve(files, everything, owned, timeout, file_budget)
        return
    try:
        yield from _serve(files, everything, servers, timeout, file_budget)
    except BaseException:
        servers.close()  # jobs still running would answer the next call: stop them
        raise


def _serve(
    files: Sequence[Prepared],
    everything: list[tuple[int, int]],
    servers: worker.Servers,
    timeout: float,
    file_budget: float | None,
) -> Iterator[tuple[int, int, StepResult]]:
    """check_claims with servers: the claims at `everything`, in as many servers as there are."""

    # Each server starts on its own run of consecutive claims: the links of a chain share
    # their sides, and a server that prepared a side keeps it for the next link. A server
    # whose run is done takes claims from the end of the longest run left.
    blocks = _blocks(everything, servers.size)
    hints: dict[int, collections.deque[tuple[int, int]]] = collections.defaultdict(collections.deque)

    def take(slot: int) -> tuple[str, tuple[int, int]] | None:
        if hints[slot]:
            return HINT, hints[slot].popleft()  # in the server that has the claim's sides
        if blocks[slot]:
            return CHECK, blocks[slot].popleft()
        longest = max(blocks, key=len)
        return (CHECK, longest.pop()) if longest else None

    spent: collections.Counter[int] = collections.Counter()
    refuted: dict[tuple[int, int], StepResult] = {}
    running: dict[tuple[str, tuple[int, int]], int] = {}
    while True:
        for slot in servers.free_slots():
            while (job := take(slot)) is not None:
                kind, place = job
                if kind == CHECK and file_budget is not None and spent[place[0]] >= file_budget:
                    yield (*place, _unfinished(
                        _pending(files, place).claim,
                        f"time-out: not checked, the file's time budget of {file_budget:g} s of CPU time was spent",
                        (f"the file's claims took {spent[place[0]]:.0f} s of CPU time in all (raise the budget with --file-budget)",),
                    ))
                    continue
                servers.submit(job, job, timeout if kind == CHECK else min(timeout, HINT_SECONDS), slot)
                running[job] = slot
                break
        if not servers.busy():
            break
        key, outcome, elapsed = servers.next()
        kind, place = key  # type: ignore[misc]
        slot = running.pop(key)  # type: ignore[arg-type]
        spent[place[0]] += elapsed
        claim = _pending(files, place).claim
        if kind == HINT:
            result = refuted.pop(place)
            if isinstance(outcome, worker.Finished):
                result = check.with_hints(result, outcome.value)  # type: ignore[arg-type]
            yield (*place, result)  # a hint that fails or times out is no hint: the verdict stands
            continue
        if isinstance(outcome, worker.Finished):
            result = outcome.value  # type: ignore[assignment]
            if check.wants_hints(claim, result):
                refuted[place] = result
                hints[slot].append(place)  # a hint is a bonus with its own short limit
                continue
        elif isinstance(outcome, worker.TimedOut):
            result = _unfinished(claim, *_time_out(outcome, timeout))
        else:
            result = _unfinished(claim, "the check crashed", (outcome.reason.splitlines()[0],))
        yield (*place, result)


def _blocks(items: Sequence[T], count: int) -> list[collections.deque[T]]:
    """`items` cut into `count` runs of consecutive items, as equal in length as can be."""
    size, extra = divmod(len(items), count)
    runs: list[collections.deque[T]] = []
    start = 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        runs.append(collections.deque(items[start:end]))
        start = end
    return runs


def check_derivation(
    derivation: Derivation,
    *,
    timeout: float | None = 10.0,
    jobs: int = 1,
    file_budget: float | None = None,
) -> FileResult:
    """Check every step of a loaded derivation (see check_claims for the limits)."""
    prepared = prepare(derivation)
    outcomes = {index: result for _, index, result in check_claims([prepared], timeout=timeout, jobs=jobs, file_budget=file_budget)}
    return whole(prepared, outcomes)


def check_file(path: Path, *, timeout: float | None = 10.0, jobs: int = 1, file_budget: float | None = None) -> FileResult:
    """Check one derivation file. Never raises for bad input. Each claim runs in a server
    process and is stopped after `timeout` seconds (None: in this process, without a limit)."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        title = derivation.title if derivation is not None else None
        return FileResult(str(path), title, problems=tuple(problems))
    return check_derivation(derivation, timeout=timeout, jobs=jobs, file_budget=file_budget)
