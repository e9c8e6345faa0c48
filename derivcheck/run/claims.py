"""Claims through the engine: in server processes with a limit each (run/worker.py), a file's
claims within their budget, in the order they end; and the checking of one derivation file.

Nothing here touches SymPy objects itself: a claim goes to the engine whole (engine/check.py),
and comes back as a StepResult.
"""

from __future__ import annotations

import collections
from collections.abc import Generator, Iterator, Sequence
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

# A claim's place: (file, claim) by position. A job is what a server is asked about a place,
# and its outcome comes back with the job itself as its key.
Place = tuple[int, int]
Job = tuple[str, Place]
ClaimServers = worker.Servers[Job, Job]


def _pending(files: Sequence[Prepared], place: Place) -> Pending:
    """The claim at a (file, claim) place."""
    return files[place[0]].pending[place[1]]


def claim_servers(files: Sequence[Prepared], jobs: int) -> ClaimServers:
    """Up to `jobs` server processes for the claims of `files` (forked when first needed),
    to give to check_claims as `servers`: they can serve several calls in turn, keeping
    SymPy's caches from one to the next. The caller closes them."""

    def handle(job: Job) -> StepResult | list[str]:
        fastpaths.defer_units()  # in a server process: ours, with no user code in it
        kind, place = job
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
    places: Sequence[Place] | None = None,
    servers: ClaimServers | None = None,
) -> Generator[tuple[int, int, StepResult], None, None]:
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
    everything: list[Place],
    servers: ClaimServers,
    timeout: float,
    file_budget: float | None,
) -> Iterator[tuple[int, int, StepResult]]:
    """check_claims with servers: the claims at `everything`, in as many servers as there are."""
    serving = _Serving(files, everything, servers, timeout, file_budget)
    while True:
        yield from serving.start()
        if not servers.busy():
            break
        ended = serving.receive()
        if ended is not None:
            yield ended


class _Serving:
    """The claims of one check_claims call going through servers: each server's run of
    claims, the refutations waiting for their hints, and the CPU time each file has spent."""

    def __init__(self, files: Sequence[Prepared], everything: list[Place], servers: ClaimServers, timeout: float, file_budget: float | None) -> None:
        self.files, self.servers, self.timeout, self.file_budget = files, servers, timeout, file_budget
        # Each server starts on its own run of consecutive claims: the links of a chain share
        # their sides, and a server that prepared a side keeps it for the next link. A server
        # whose run is done takes claims from the end of the longest run left.
        self.blocks = _blocks(everything, servers.size)
        self.hints: dict[int, collections.deque[Place]] = collections.defaultdict(collections.deque)
        self.spent: dict[int, float] = collections.defaultdict(float)  # CPU seconds, by file
        self.refuted: dict[Place, StepResult] = {}
        self.running: dict[Job, int] = {}  # each running job's slot

    def take(self, slot: int) -> Job | None:
        """The next job for the server in `slot`, if any is left."""
        if self.hints[slot]:
            return HINT, self.hints[slot].popleft()  # in the server that has the claim's sides
        if self.blocks[slot]:
            return CHECK, self.blocks[slot].popleft()
        longest = max(self.blocks, key=len)
        return (CHECK, longest.pop()) if longest else None

    def start(self) -> Iterator[tuple[int, int, StepResult]]:
        """A job for each free server; a claim of a file whose budget is spent is undecided
        without being checked."""
        for slot in self.servers.free_slots():
            while (job := self.take(slot)) is not None:
                kind, place = job
                if kind == CHECK and self.file_budget is not None and self.spent[place[0]] >= self.file_budget:
                    yield (*place, _unfinished(
                        _pending(self.files, place).claim,
                        f"time-out: not checked, the file's time budget of {self.file_budget:g} s of CPU time was spent",
                        (f"the file's claims took {self.spent[place[0]]:.0f} s of CPU time in all (raise the budget with --file-budget)",),
                    ))
                    continue
                self.servers.submit(job, job, self.timeout if kind == CHECK else min(self.timeout, HINT_SECONDS), slot)
                self.running[job] = slot
                break

    def receive(self) -> tuple[int, int, StepResult] | None:
        """The next job to end, as a claim's result; None for a refutation whose hints are
        looked for next (a hint is a bonus with its own short limit)."""
        key, outcome, elapsed = self.servers.next()
        kind, place = key
        slot = self.running.pop(key)
        self.spent[place[0]] += elapsed
        if kind == HINT:
            result = self.refuted.pop(place)
            if isinstance(outcome, worker.Finished):
                found = outcome.value
                assert isinstance(found, list)  # what a HINT job's handler returns
                result = check.with_hints(result, found)
            return (*place, result)  # a hint that fails or times out is no hint: the verdict stands
        claim = _pending(self.files, place).claim
        if isinstance(outcome, worker.Finished):
            checked = outcome.value
            assert isinstance(checked, StepResult)  # what a CHECK job's handler returns
            result = checked
            if check.wants_hints(claim, result):
                self.refuted[place] = result
                self.hints[slot].append(place)
                return None
        elif isinstance(outcome, worker.TimedOut):
            result = _unfinished(claim, *_time_out(outcome, self.timeout))
        else:
            result = _unfinished(claim, "the check crashed", (outcome.reason.splitlines()[0],))
        return (*place, result)


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
