"""The pytest plugin: with --derivcheck, derivation files are collected as tests, one per step.

    pytest --derivcheck derivations/

Installed with derivcheck (entry point `pytest11`), it does nothing unless --derivcheck is
given, so a project's other YAML files are never collected by surprise. With it, a *.yaml or
*.yml file named on the command line is a derivation; one found in a collected directory is
taken for a derivation when it has a top-level `steps:` or `derivcheck:` key (CI workflows,
configs and the like are left alone). Each step is one test item, `step-3-dL_dz` (number and
id), with a result of its own, so `-k`, `-x` and `--lf` work per step (only the steps selected
are checked; see DerivationFile for how). A failure shows the file, line and column, the
verdict, the method and the counterexample.

Importing this module is cheap: SymPy is only imported when the first step runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from derivcheck.model import FileResult, Problem

if TYPE_CHECKING:
    from derivcheck.source import Derivation, StepSpec

SUFFIXES = (".yaml", ".yml")
SNIFF_BYTES = 1_000_000
# A top-level key that only derivation files have (the loader requires `steps:`).
_DERIVATION_KEY = re.compile(r"^(steps|derivcheck)[ \t]*:", re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("derivcheck", "verify derivation files (derivcheck)")
    group.addoption(
        "--derivcheck",
        action="store_true",
        default=False,
        help="Collect derivation files (*.yaml, *.yml) as tests, one test per step.",
    )
    group.addoption(
        "--derivcheck-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="Time limit for each step of a derivation, in seconds (default: 10).",
    )
    group.addoption(
        "--derivcheck-jobs",
        type=int,
        default=0,
        metavar="N",
        help="Check up to N claims at once, in worker processes (default, or 0: one per CPU).",
    )
    group.addoption(
        "--derivcheck-accept-checked",
        action="store_false",
        dest="derivcheck_strict",
        default=True,
        help=(
            "Let derivation steps that were only checked at concrete sizes, not proved, pass "
            "(by default they fail: they may be wrong at a size not tried)."
        ),
    )
    group.addoption(
        "--derivcheck-strict",
        action="store_true",
        dest="derivcheck_strict",
        help="Fail derivation steps that were only checked at concrete sizes (the default).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "derivcheck: a step of a derivation file (derivcheck)")
    timeout = config.getoption("derivcheck_timeout")
    if not timeout > 0 or timeout == float("inf"):
        raise pytest.UsageError("--derivcheck-timeout must be a positive number of seconds")
    if config.getoption("derivcheck_jobs") < 0:
        raise pytest.UsageError("--derivcheck-jobs must be 0 (one per CPU) or a positive number")


def looks_like_derivation(path: Path) -> bool:
    """Whether a YAML file has a top-level `steps:` or `derivcheck:` key (read, not parsed)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return False
    return bool(_DERIVATION_KEY.search(head.decode("utf-8", errors="replace")))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> DerivationFile | None:
    if not parent.config.getoption("derivcheck") or file_path.suffix not in SUFFIXES:
        return None
    if not parent.session.isinitpath(file_path) and not looks_like_derivation(file_path):
        return None
    file: DerivationFile = DerivationFile.from_parent(parent, path=file_path)
    return file


def _shown(path: Path) -> Path:
    """The path as the user would write it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive, on Windows
        return path
    return path if relative.startswith("..") else Path(relative)


def item_name(step: StepSpec) -> str:
    """`step-3-dL_dz`, or `step-3` for a step without an id."""
    return f"step-{step.number}-{step.id.value}" if step.id else f"step-{step.number}"


class DerivcheckFailure(Exception):
    """A step (or a file) that does not hold; its message is the whole report."""


def _problems_text(problems: tuple[Problem, ...] | list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


class DerivationFile(pytest.File):
    """A derivation file: one item per step, or one failing item when the file can't be read.

    The file is read into SymPy once, when its first step runs. Then the claims of every
    step of it that this session runs go to server processes forked for the file
    (--derivcheck-jobs, one per CPU by default), which keep SymPy's caches from claim to
    claim, as the CLI's do: later steps are checked while earlier ones are reported. Under
    pytest-xdist, where a worker runs only some of the steps it collected, each step's
    claims go when the step runs. The servers stop when the file's last step has run."""

    file_problems: tuple[Problem, ...] | None = None  # found when a step first ran
    derivation: Derivation | None = None
    _prepared: Any = None  # prepare.Prepared
    _servers: Any = None  # run.worker.Servers
    _running: Any = None  # run.claims.check_claims of the claims sent to the servers
    _outcomes: dict[int, Any]  # claim results, by their place in the prepared file

    def collect(self) -> Iterator[pytest.Item]:
        from derivcheck import source

        derivation, problems = source.load_derivation(_shown(self.path))
        if derivation is None or problems:
            yield FileProblemsItem.from_parent(self, name="file", problems=tuple(problems))
            return
        self.derivation = derivation
        for position, step in enumerate(derivation.steps):
            yield StepItem.from_parent(self, name=item_name(step), derivation=derivation, step=step, position=position)

    def check_step(self, position: int, timeout: float) -> FileResult:
        """The result of the step at `position` (the file's problems, if it does not build)."""
        from derivcheck import prepare as preparing
        from derivcheck.run import claims as checking

        assert self.derivation is not None
        if self._prepared is None:
            self._prepared = preparing.prepare(self.derivation)
            self._outcomes = {}
        prepared = self._prepared
        wanted = [index for index, pending in enumerate(prepared.pending) if pending.position == position]
        while not prepared.problems and any(index not in self._outcomes for index in wanted):
            if self._running is None:
                if self._servers is None:
                    self._servers = checking.claim_servers([prepared], self.config.getoption("derivcheck_jobs"))
                steps = self._steps_to_run() | {position}
                places = [
                    (0, index)
                    for index, pending in enumerate(prepared.pending)
                    if pending.position in steps and index not in self._outcomes
                ]
                self._running = checking.check_claims([prepared], timeout=timeout, places=places, servers=self._servers)
            for _, index, result in self._running:
                self._outcomes[index] = result
                if all(claim in self._outcomes for claim in wanted):
                    break
            else:
                self._running = None  # every claim sent is done
        return preparing.step_results(prepared, self._outcomes, (position,))[position]

    def _steps_to_run(self) -> set[int]:
        """The positions of this file's steps that this session runs (after -k, --lf and
        the like); none under pytest-xdist, whose workers run only some of them."""
        if hasattr(self.config, "workerinput"):
            return set()
        return {item.position for item in self.session.items if isinstance(item, StepItem) and item.parent is self}

    def teardown(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None
        if self._servers is not None:
            self._servers.close()
            self._servers = None
        self._prepared = None


class FileProblemsItem(pytest.Item):
    """Stands for a derivation file that could not be read: it fails with the problems."""

    def __init__(self, *, problems: tuple[Problem, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems
        self.add_marker("derivcheck")

    def runtest(self) -> None:
        raise DerivcheckFailure(_problems_text(self.problems))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DerivcheckFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"{_shown(self.path)}: could not be read"


class StepItem(pytest.Item):
    """One step of a derivation: a claim, or a chain whose every link must hold."""

    def __init__(self, *, derivation: Derivation, step: StepSpec, position: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.derivation = derivation
        self.step = step
        self.position = position
        self.add_marker("derivcheck")

    def _check(self) -> FileResult:
        parent = self.parent
        assert isinstance(parent, DerivationFile)
        return parent.check_step(self.position, self.config.getoption("derivcheck_timeout"))

    def runtest(self) -> None:
        from derivcheck.report import step_holds
        from derivcheck.report.diagnostics import step_details, step_headline

        parent = self.parent
        assert isinstance(parent, DerivationFile)
        if parent.file_problems:
            raise DerivcheckFailure(
                "the file has problems, so no step was checked:\n"
                + _problems_text(parent.file_problems)
            )
        result = self._check()
        if result.problems:
            parent.file_problems = result.problems
            raise DerivcheckFailure(
                "the file has problems, so no step was checked:\n" + _problems_text(result.problems)
            )
        strict = bool(self.config.getoption("derivcheck_strict"))
        for link in result.steps:
            self.user_properties.append((f"step {link.number}", link.verdict.value))
        if all(step_holds(link, strict=strict) for link in result.steps):
            return
        blocks: list[str] = []
        for link in result.steps:
            head = f"{result.path}:{link.span}: {step_headline(link, strict=strict)}"
            if step_holds(link, strict=strict):
                blocks.append(head)
                continue
            lines = [head, *step_details(link, strict=strict)]
            lines.extend(str(problem) for problem in link.problems)
            blocks.append("\n    ".join(lines))
        raise DerivcheckFailure("\n".join(blocks))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DerivcheckFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        label = f"step {self.step.number}" + (f" ({self.step.id.value})" if self.step.id else "")
        return (
            self.path,
            self.step.span.line - 1,
            f"{_shown(self.path)}:{self.step.span.line}: {label}",
        )
