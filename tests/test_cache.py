"""The result cache: what goes into a key, what is stored, and that a broken cache never
changes a verdict; and what the command imports at start-up and on a warm run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from derivcheck import cache as caching
from derivcheck import checker, cli, runner, source
from derivcheck.model import (
    Counterexample,
    FileResult,
    Problem,
    Span,
    StepResult,
    Verdict,
)

TINY = """\
title: Tiny
sizes: [N]
indices:
  k: 1..N
variables:
  t: real
  y: [N]
definitions:
  f: (t + 1)**2
assumptions:
  y_sums: Sum(y[k], (k, 1, N)) = 1
steps:
  - id: square
    claim: f = t**2 + 2*t + 1
    by: expand the square
  - chain:
      - (t + 1)*(t - 1)
      - t**2 - 1
  - claim: t + 1 = t
    expect: refuted
"""

# The same file with f defined otherwise: its first step no longer holds.
TINY_OTHER_F = TINY.replace("f: (t + 1)**2", "f: (t + 1)**2 + 1")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check(paths: list[Path], cache_dir: Path | None, *, timeout: float = 20.0, jobs: int = 1) -> list[FileResult]:
    store = caching.ResultCache(cache_dir) if cache_dir is not None else None
    return list(runner.check_paths(paths, timeout=timeout, jobs=jobs, cache=store))


def fresh(paths: list[Path], *, timeout: float = 20.0) -> list[FileResult]:
    """Results of the checker itself, file by file, no cache."""
    from derivcheck import checker

    return [checker.check_file(path, timeout=timeout) for path in paths]


class StepChecked(BaseException):
    """Raised through the runner (which turns an Exception into a crash of its file)."""


class NoChecking:
    """Stands in for checker.prepare: fails the test if any step would be checked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object) -> object:
        self.calls += 1
        raise StepChecked("a step was checked")


def count_checked_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The positions of the steps the runner reads into SymPy to check, as it goes."""
    checked: list[int] = []
    prepare = checker.prepare

    def counting(derivation: source.Derivation, positions: list[int] | None = None) -> checker.Prepared:
        if positions is not None:  # the runner's call (a check of the whole file passes none)
            checked.extend(positions)
        return prepare(derivation, positions)

    monkeypatch.setattr(checker, "prepare", counting)
    return checked


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("v*/*/*.json"))


# -- warm runs --------------------------------------------------------------------------------------


def test_cold_run_gives_the_checkers_results_and_fills_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    assert check([path], cache_dir) == fresh([path])
    assert len(entries(cache_dir)) == 5  # the whole file, that the declarations build, three steps


def test_warm_run_checks_nothing_and_gives_the_same_results(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    cold = check([path], cache_dir)
    monkeypatch.setattr(checker, "prepare", NoChecking())
    assert check([path], cache_dir) == cold


def test_a_run_without_the_cache_checks_again(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    monkeypatch.setattr(checker, "prepare", NoChecking())
    with pytest.raises(StepChecked, match="a step was checked"):
        check([path], None, jobs=2)


def test_changing_a_definition_invalidates_the_cached_result(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    (first,) = check([path], cache_dir)
    assert first.steps[0].verdict is Verdict.PROVED
    path.write_text(TINY_OTHER_F, encoding="utf-8")
    (second,) = check([path], cache_dir)
    assert second.steps[0].verdict is Verdict.REFUTED
    assert second == fresh([path])[0]


def test_changing_a_definition_back_is_served_from_the_cache(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    path.write_text(TINY_OTHER_F, encoding="utf-8")
    check([path], cache_dir)
    path.write_text(TINY, encoding="utf-8")
    monkeypatch.setattr(checker, "prepare", NoChecking())
    (again,) = check([path], cache_dir)
    assert again.steps[0].verdict is Verdict.PROVED


def test_an_unchanged_file_is_served_whole_without_reading_its_yaml(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    cold = check([path], cache_dir)
    copy = write(tmp_path, "elsewhere/copy.yaml", TINY)

    def no_yaml(text: str) -> None:
        raise AssertionError("the YAML was read")

    monkeypatch.setattr(source, "compose", no_yaml)
    monkeypatch.setattr(checker, "prepare", NoChecking())
    assert check([path], cache_dir) == cold
    (moved,) = check([copy], cache_dir)
    assert moved == dataclasses.replace(cold[0], path=str(copy))
    # Its twin: one more comment line, and the YAML is read again (the steps come from the cache).
    path.write_text("# a comment\n" + TINY, encoding="utf-8")
    with pytest.raises(AssertionError, match="the YAML was read"):
        check([path], cache_dir)


EDITS_THAT_DECIDE = {
    "claim": ("claim: f = t**2 + 2*t + 1", "claim: f = t**2 + 2*t + 2"),
    "chain item": ("- t**2 - 1", "- t**2 + 1"),
    "sizes": ("sizes: [N]", "sizes: [N, M]"),
    "indices": ("k: 1..N", "k: 0..N"),
    "variables": ("t: real", "t: positive"),
    "definitions": ("f: (t + 1)**2", "f: (1 + t)**2"),
    "assumptions": ("Sum(y[k], (k, 1, N)) = 1", "Sum(y[k], (k, 1, N)) = 2"),
    "layout": ("title: Tiny\n", "title: Tiny\nlayout: numerator\n"),
}


@pytest.mark.parametrize("what", sorted(EDITS_THAT_DECIDE))
def test_an_edit_to_what_decides_a_step_checks_again(
    what: str, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    before, after = EDITS_THAT_DECIDE[what]
    assert before in TINY
    path.write_text(TINY.replace(before, after), encoding="utf-8")
    monkeypatch.setattr(checker, "prepare", NoChecking())
    with pytest.raises(StepChecked, match="a step was checked"):
        check([path], cache_dir)


def test_decisive_verdicts_are_kept_across_time_limits(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [write(tmp_path, "tiny.yaml", TINY), write(tmp_path, "other.yaml", TINY_OTHER_F)]
    cold = check(paths, cache_dir, timeout=10.0)
    verdicts = {step.verdict for result in cold for step in result.steps}
    assert verdicts == {Verdict.PROVED, Verdict.REFUTED}
    assert any(step.verdict is Verdict.REFUTED and not step.expect_refuted for step in cold[1].steps)

    def no_yaml(text: str) -> None:
        raise AssertionError("the YAML was read")

    compose, prepare = source.compose, checker.prepare
    monkeypatch.setattr(checker, "prepare", NoChecking())
    monkeypatch.setattr(source, "compose", no_yaml)  # each file is served whole
    assert check(paths, cache_dir, timeout=11.0) == cold
    assert check(paths, cache_dir, timeout=0.5) == cold
    # Its twin: one more comment line, and the YAML is read again; the steps still come
    # from the cache, whatever the limit.
    paths[0].write_text("# a comment\n" + TINY, encoding="utf-8")
    with pytest.raises(AssertionError, match="the YAML was read"):
        check(paths, cache_dir, timeout=11.0)
    monkeypatch.setattr(source, "compose", compose)
    monkeypatch.setattr(checker, "prepare", prepare)
    checked = count_checked_steps(monkeypatch)
    assert check(paths, cache_dir, timeout=12.0) == fresh(paths)
    assert checked == []


def test_a_run_with_another_time_limit_neither_imports_sympy_nor_forks(tmp_path: Path) -> None:
    write(tmp_path, "folder/tiny.yaml", TINY)
    write(tmp_path, "folder/other.yaml", TINY_OTHER_F)  # a step refuted
    args = ["verify", str(tmp_path / "folder"), "--cache-dir", str(tmp_path / "c")]
    code, heavy = imported(*args, "--timeout", "10")
    assert code == 1 and "sympy" in heavy and "multiprocessing" in heavy
    assert imported(*args, "--timeout", "11") == (1, [])
    # Its twin: without the cache, the same run at 11 s checks every step again.
    assert "sympy" in imported(*args, "--timeout", "11", "--no-cache")[1]


def test_the_checking_code_is_part_of_the_key(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    monkeypatch.setattr(caching, "_fingerprint", "another version of the engine")
    monkeypatch.setattr(checker, "prepare", NoChecking())
    with pytest.raises(StepChecked, match="a step was checked"):
        check([path], cache_dir)


def test_only_the_edited_step_is_checked_again(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    path.write_text(TINY.replace("- t**2 - 1", "- t**2 - 1 + 0"), encoding="utf-8")
    checked = count_checked_steps(monkeypatch)
    assert check([path], cache_dir) == fresh([path])
    assert checked == [1]


def test_words_for_people_are_not_part_of_the_key(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    edited = TINY.replace("title: Tiny", "title: Tinier\ndescription: the same steps")
    path.write_text(edited, encoding="utf-8")
    monkeypatch.setattr(checker, "prepare", NoChecking())
    (result,) = check([path], cache_dir)
    assert result.title == "Tinier"


def test_a_step_that_moves_keeps_its_results_with_new_lines_and_numbers(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    # Two comment lines on top, and a new first step: every old step moves down and is renumbered.
    moved = "# a comment\n# another\n" + TINY.replace(
        "steps:\n", "steps:\n  - claim: t = t\n"
    )
    path.write_text(moved, encoding="utf-8")
    expected = fresh([path])
    checked = count_checked_steps(monkeypatch)
    assert check([path], cache_dir) == expected
    assert checked == [0]  # only the new step
    assert [step.number for step in expected[0].steps] == ["1", "2", "3.1", "4"]


def test_a_file_moved_elsewhere_gets_its_own_path(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = TINY.replace("claim: t + 1 = t", "claim: t + 1 = t +")  # a parse error: a problem with a path
    first = write(tmp_path, "a.yaml", text)
    check([first], cache_dir)
    second = write(tmp_path, "sub/b.yaml", text)
    monkeypatch.setattr(checker, "prepare", NoChecking())
    (result,) = check([second], cache_dir)
    assert result.path == str(second)
    assert {problem.path for step in result.steps for problem in step.problems} == {str(second)}


def test_declarations_that_do_not_build_are_cached_with_their_problems(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "bad.yaml", TINY.replace("f: (t + 1)**2", "f: (t + 1)**2 + g"))
    (cold,) = check([path], cache_dir)
    assert cold.problems and cold.problems[0].code == "undeclared-symbol"
    assert cold == fresh([path])[0]
    monkeypatch.setattr(checker, "prepare", NoChecking())
    assert check([path], cache_dir) == [cold]


def test_a_file_without_steps(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "empty.yaml", "variables:\n  t: real\nsteps: []\n")
    (cold,) = check([path], cache_dir)
    assert cold == fresh([path])[0]
    monkeypatch.setattr(checker, "prepare", NoChecking())
    assert check([path], cache_dir) == [cold]


def test_unreadable_files_and_schema_problems_need_no_checker(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = write(tmp_path, "a.yaml", "steps: [\n")
    schema = write(tmp_path, "b.yaml", "steps:\n  - claim: t = t\n    colour: red\n")
    monkeypatch.setattr(checker, "prepare", NoChecking())
    results = check([broken, schema, tmp_path / "missing.yaml"], cache_dir)
    assert [result.path for result in results] == [str(tmp_path / "missing.yaml"), str(broken), str(schema)]
    assert [result.problems[0].code for result in results] == ["not-found", "yaml-syntax", "schema"]


# -- what is not stored -----------------------------------------------------------------------------


# True, and quick to check at numbers, but a proof expands a power with tens of thousands of terms.
SLOW = """\
variables:
  t: real
  s: real
  u: real
  v: real
steps:
  - claim: (t + s + u + v + 1)**30 = (t + s + u + v + 1)**28*(t**2 + s**2 + u**2 + v**2 + 1 + 2*t*s + 2*t*u + 2*t*v + 2*t + 2*s*u + 2*s*v + 2*s + 2*u*v + 2*u + 2*v)
  - claim: t + t = 2*t
"""


def test_time_outs_are_not_stored(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "slow.yaml", SLOW)
    (result,) = check([path], cache_dir, timeout=1.0)
    assert [step.method.startswith("time-out") for step in result.steps] == [True, False]
    assert len(entries(cache_dir)) == 2  # that the declarations build, and the quick step


def test_a_time_out_is_checked_again_with_a_larger_limit(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "slow.yaml", SLOW)
    (first,) = check([path], cache_dir, timeout=1.0)
    assert [step.method.startswith("time-out") for step in first.steps] == [True, False]
    checked = count_checked_steps(monkeypatch)
    (second,) = check([path], cache_dir, timeout=2.0)
    assert checked == [0]  # the step that timed out, and not the quick one
    assert second.steps[0].method == "time-out: not finished within 2 s"
    assert second.steps[1] == first.steps[1]


def test_claims_left_by_a_spent_file_budget_are_checked_again(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "slow.yaml", SLOW)
    store = caching.ResultCache(cache_dir)
    (first,) = runner.check_paths([path], timeout=1.0, jobs=1, cache=store, file_budget=0.5)
    assert first.steps[0].method.startswith("time-out: not finished")
    assert first.steps[1].method.startswith("time-out: not checked, the file's time budget")
    assert len(entries(cache_dir)) == 1  # only that the declarations build
    checked = count_checked_steps(monkeypatch)
    (second,) = check([path], cache_dir, timeout=1.0)
    assert checked == [0, 1]
    assert second.steps[1].verdict is Verdict.PROVED


@pytest.mark.parametrize(
    "method",
    [
        "time-out: not finished within 2 s",
        "time-out: not checked, the file's time budget of 600 s was spent",
        "time-out: not started, the numbers are too large to compute within the limits",
        "the check crashed",
    ],
)
def test_unfinished_checks_are_not_stored(method: str, tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    derivation, _ = source.load_derivation(path)
    assert derivation is not None
    step = derivation.steps[0]
    undecided = StepResult("1", "square", step.claim.span, "f = t**2 + 2*t + 1", Verdict.UNDECIDED, method)  # type: ignore[union-attr]
    assert caching.step_payload(step, caching.StepEntry((undecided,), ()), path=str(path)) is None
    # Its twin: an undecided step whose check finished is stored.
    finished = dataclasses.replace(undecided, method="no proof, no counterexample")
    payload: Any = caching.step_payload(step, caching.StepEntry((finished,), ()), path=str(path))
    assert payload is not None
    assert caching.read_step(step, payload, path=str(path)).results == (finished,)
    # And one that holds it anyway is not read: no key holds the limit it had.
    payload["results"][0]["method"] = method
    with pytest.raises(caching.CacheEntryError, match="did not finish"):
        caching.read_step(step, payload, path=str(path))


# -- what is stored reads back as it was ------------------------------------------------------------


def _every_field_set(path: str, step: source.StepSpec) -> StepResult:
    span = step.claim.span if step.claim is not None else step.span
    problem = Problem(path, Span(span.line, span.col + 3), "refuted", "a message", severity="warning")
    example = Counterexample((("N", "2"),), (("k", "1"),), (("y[1]", "1/2"), ("t", "-3")), "1.5", "2.0")
    return StepResult(
        number=str(step.number),
        id="square",
        span=span,
        written="f = t**2 + 2*t + 1",
        verdict=Verdict.REFUTED,
        method="counterexample",
        message="the two sides differ",
        pretty_written="pretty",
        pretty_simplified="simpler",
        justification="by hand",
        assumptions_used=("y_sums",),
        counterexample=example,
        tried=("one thing", "another"),
        expect_refuted=True,
        problems=(problem,),
        expect_error="shape-mismatch",
    )


def test_a_result_with_every_field_set_reads_back_equal(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    derivation, _ = source.load_derivation(path)
    assert derivation is not None
    step = derivation.steps[0]
    result = _every_field_set(str(path), step)
    defaults = {f.name: f.default for f in dataclasses.fields(StepResult) if f.default is not dataclasses.MISSING}
    assert all(getattr(result, name) != default for name, default in defaults.items())  # none left out
    entry = caching.StepEntry((result,), result.problems)
    payload = caching.step_payload(step, entry, path=str(path))
    assert payload is not None
    assert caching.read_step(step, json.loads(json.dumps(payload)), path=str(path)) == entry


def test_a_result_pointing_outside_its_step_is_not_stored(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    derivation, _ = source.load_derivation(path)
    assert derivation is not None
    step = derivation.steps[0]
    result = _every_field_set(str(path), step)
    outside = dataclasses.replace(result, problems=(dataclasses.replace(result.problems[0], span=Span(1, 1)),))
    assert caching.step_payload(step, caching.StepEntry((outside,), ()), path=str(path)) is None
    assert caching.step_payload(step, caching.StepEntry((result,), ()), path=str(path)) is not None


# -- a broken cache never changes a verdict ---------------------------------------------------------


CORRUPTIONS: dict[str, Callable[[dict[str, object]], object]] = {
    "not JSON": lambda entry: b"\x00{garbage",
    "not UTF-8": lambda entry: b'{"format": 1, "data": "\xff"}',
    "empty": lambda entry: b"",
    "a list": lambda entry: [1, 2, 3],
    "wrong format": lambda entry: {**entry, "format": 99},
    "wrong key": lambda entry: {**entry, "key": "0" * 64},
    "no data": lambda entry: {k: v for k, v in entry.items() if k != "data"},
    "data null": lambda entry: {**entry, "data": None},
    "data a string": lambda entry: {**entry, "data": "proved"},
    "verdict unknown": lambda entry: _edit_results(entry, "verdict", "maybe"),
    "line a string": lambda entry: _edit_results(entry, "span", {"line": "x", "col": 1}),
    "line a boolean": lambda entry: _edit_results(entry, "span", {"line": True, "col": 1}),
    "tried not a list": lambda entry: _edit_results(entry, "tried", "nothing"),
    "a field missing": lambda entry: _edit_results(entry, "method", None, drop=True),
    "an extra field": lambda entry: _edit_results(entry, "colour", "red"),
    "number not a suffix": lambda entry: _edit_results(entry, "number", "x"),
    "a time-out": lambda entry: _edit_results(
        _edit_results(entry, "verdict", "undecided"), "method", "time-out: not finished within 1 s"
    ),
    "deeply nested": lambda entry: b"[" * 100_000 + b"]" * 100_000,
}


def _edit_results(entry: dict[str, object], name: str, value: object, *, drop: bool = False) -> object:
    data = entry["data"]
    if isinstance(data, dict):  # the results of a step, or the steps of a whole file
        for result in data.get("results", data.get("steps", [])):  # type: ignore[union-attr]
            if drop:
                del result[name]
            else:
                result[name] = value
    return entry


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_a_corrupt_entry_is_checked_again(how: str, tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    cold = check([path], cache_dir)
    for entry_path in entries(cache_dir):
        broken = CORRUPTIONS[how](json.loads(entry_path.read_text(encoding="utf-8")))
        entry_path.write_bytes(broken if isinstance(broken, bytes) else json.dumps(broken).encode())
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == cold
    assert store.warnings == [f"ignored unreadable entries in the cache {cache_dir}; checking those steps again"]
    # ... and repaired: the next run is served from the cache.
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == cold
    assert store.warnings == [] and store.misses == 0


def test_a_cache_directory_that_is_a_file_is_not_used(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    blocker = write(tmp_path, "blocker", "not a directory")
    store = caching.ResultCache(blocker / "cache")
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert len(store.warnings) == 1
    assert store.warnings[0].startswith(f"cannot write to the cache {blocker / 'cache'} (")


def test_an_unwritable_cache_directory_is_not_used(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert store.warnings == [f"cannot write to the cache {cache_dir} (Permission denied); results are not cached"]
    assert entries(cache_dir) == []


def _set_modes(root: Path, *, directories: int, files: int) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(directories if path.is_dir() else files)


def test_a_read_only_cache_directory_is_read_but_not_written(tmp_path: Path, unprivileged: list[str]) -> None:
    folder, cache_dir = tmp_path / "folder", tmp_path / "cache"
    write(folder, "a.yaml", TINY)
    # The child must reach tmp_path itself (pytest makes its base directory 0700).
    parents = [p for p in tmp_path.parents if p != Path("/") and str(p).startswith(tempfile.gettempdir())]
    modes = {p: p.stat().st_mode for p in [tmp_path, *parents]}
    for path in modes:
        path.chmod(0o755)

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*unprivileged, sys.executable, "-m", "derivcheck", "verify", str(folder), "-f", "json", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)

    try:
        cold = verify("--cache-dir", str(cache_dir))
        write(folder, "b.yaml", TINY_OTHER_F)  # not in the cache
        uncached = verify("--no-cache")
        _set_modes(cache_dir, directories=0o555, files=0o444)
        next(iter(entries(cache_dir))).chmod(0)  # and one entry cannot even be read
        read_only = verify("--cache-dir", str(cache_dir))
    finally:
        _set_modes(cache_dir, directories=0o755, files=0o644)
        for path, mode in modes.items():
            path.chmod(mode)
    assert cold.returncode == 0 and cold.stderr == ""
    assert (read_only.returncode, read_only.stdout) == (uncached.returncode, uncached.stdout) == (1, uncached.stdout)
    assert read_only.stderr.startswith(f"derivcheck: cannot write to the cache {cache_dir} (Permission denied)")
    assert read_only.stderr.count("\n") == 1


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    check([path], cache_dir, timeout=30.0)
    assert not list(cache_dir.rglob(".tmp-*"))
    for entry_path in entries(cache_dir):
        entry = json.loads(entry_path.read_text(encoding="utf-8"))
        assert entry["format"] == caching.CACHE_FORMAT and entry_path.stem == entry["key"]
    assert (cache_dir / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"


# -- the command line -------------------------------------------------------------------------------

cli_runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = cli_runner.invoke(cli.app, list(args), prog_name="derivcheck")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_cache_dir_option(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    code, _, err = invoke("verify", str(path), "--cache-dir", str(tmp_path / "here"), "-f", "json")
    assert code == 0 and err == ""
    assert len(entries(tmp_path / "here")) == 5


def test_cli_cache_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(tmp_path / "from_env"))
    code, _, _ = invoke("verify", str(path), "-f", "json")
    assert code == 0
    assert len(entries(tmp_path / "from_env")) == 5


def test_cli_default_cache_dir_is_in_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    monkeypatch.delenv("DERIVCHECK_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    code, _, _ = invoke("verify", "tiny.yaml", "-f", "json")
    assert code == 0
    assert len(entries(tmp_path / ".derivcheck_cache")) == 5
    assert path.exists()


def test_cli_no_cache_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    monkeypatch.chdir(tmp_path)
    code, _, _ = invoke("verify", str(path), "--no-cache", "--cache-dir", str(tmp_path / "c"), "-f", "json")
    assert code == 0
    assert not (tmp_path / "c").exists()
    assert not (tmp_path / ".derivcheck_cache").exists()


def test_cli_warm_and_cold_reports_are_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    cold = invoke("verify", str(path), "--cache-dir", str(tmp_path / "c"), "--width", "100")
    warm = invoke("verify", str(path), "--cache-dir", str(tmp_path / "c"), "--width", "100")
    uncached = invoke("verify", str(path), "--no-cache", "--width", "100")
    assert cold == warm == uncached
    assert cold[0] == 0 and "1 file, 3 steps" in cold[1]


def test_cli_unusable_cache_is_one_line_on_stderr_and_the_same_report(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    blocked = write(tmp_path, "blocker", "") / "cache"
    code, out, err = invoke("verify", str(path), "--cache-dir", str(blocked), "--width", "100")
    assert (code, out) == invoke("verify", str(path), "--no-cache", "--width", "100")[:2]
    assert err.count("\n") == 1 and err.startswith(f"derivcheck: cannot write to the cache {blocked} (")


def test_cli_cache_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    blocker = write(tmp_path, "blocker", "")
    code, _, err = invoke("verify", str(path), "--cache-dir", str(blocker))
    assert code == 2 and "--cache-dir" in err


# -- what is imported: start-up and warm runs (in a fresh interpreter) ------------------------------
# pydantic too: typer would import it (120 ms) to read the options; cli.py reads them itself.
# And a file served whole from the cache is not read as YAML: PyYAML is not imported either.

IMPORTS = textwrap.dedent(
    """
    import json, sys
    from derivcheck import cli
    try:
        cli.app(args=sys.argv[1:], prog_name="derivcheck")
    except SystemExit as exit:
        code = exit.code
    heavy = sorted(
        name for name in sys.modules
        if name in ("sympy", "pydantic", "yaml", "multiprocessing")
        or name.startswith(("derivcheck.checker", "derivcheck.engine", "derivcheck.exprparse"))
    )
    print(json.dumps({"code": code, "heavy": heavy, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


def run_imports(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    """The exit code, the heavy modules and all the modules of a run in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )
    report: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return report


def imported(*args: str, cwd: Path | None = None) -> tuple[object, list[str]]:
    report = run_imports(*args, cwd=cwd)
    return report["code"], report["heavy"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["verify", "--help"]])
def test_start_up_imports_neither_sympy_nor_the_engine(args: list[str]) -> None:
    assert imported(*args) == (0, [])


def test_a_warm_run_imports_neither_sympy_nor_the_engine(tmp_path: Path) -> None:
    write(tmp_path, "folder/tiny.yaml", TINY)
    write(tmp_path, "folder/sub/other.yaml", TINY_OTHER_F)
    write(tmp_path, "folder/broken.yaml", "steps: [\n")
    args = ["verify", str(tmp_path / "folder"), "--cache-dir", str(tmp_path / "c")]
    code, heavy = imported(*args)  # cold: the twin, which needs SymPy
    assert code == 1 and "sympy" in heavy and "derivcheck.checker" in heavy
    assert imported(*args) == (1, [])
    assert imported(*args, "-f", "json", "-j", "2") == (1, [])


# The text report's share of a warm run is rich: only rich.console and rich.text (and what they
# need) always; a counterexample's table only when one is printed; never the parts of rich that
# print other things (syntax, markdown, pretty-printing, tracebacks) nor typer's rich help.
NOT_IN_A_TEXT_REPORT = (
    "pygments",
    "markdown_it",
    "rich.syntax",
    "rich.markdown",
    "rich.pretty",
    "rich.traceback",
    "rich.progress",
    "rich.live",
    "typer.rich_utils",
)
ONLY_FOR_A_TABLE = ("rich.table", "rich.padding", "rich.box")


def _imported_from(report: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [name for name in report["modules"] if name in names or name.startswith(tuple(f"{n}." for n in names))]


def test_a_warm_text_report_imports_only_the_rich_it_prints_with(tmp_path: Path) -> None:
    write(tmp_path, "holds/tiny.yaml", TINY.split("  - claim: t + 1 = t")[0])
    write(tmp_path, "refuted/tiny.yaml", TINY)  # its last step is shown with a counterexample
    for folder, table in (("holds", False), ("refuted", True)):
        args = ["verify", str(tmp_path / folder), "-f", "text", "--cache-dir", str(tmp_path / "c"), "--width", "100"]
        assert imported(*args)[1]  # cold: fills the cache
        report = run_imports(*args)
        assert (report["code"], report["heavy"]) == (0, [])
        assert "rich.console" in report["modules"]
        assert _imported_from(report, NOT_IN_A_TEXT_REPORT) == []
        assert bool(_imported_from(report, ONLY_FOR_A_TABLE)) is table, folder


def test_the_runner_reads_files_up_to_the_size_that_source_accepts() -> None:
    assert runner.MAX_FILE_BYTES == source.MAX_FILE_BYTES
