"""The result cache: what goes into a key, what is stored, and that a broken cache never
changes a verdict; and what the command imports at start-up and on a warm run."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from derivcheck import cli, source
from derivcheck import prepare as preparing
from derivcheck.run import cache as caching
from derivcheck.run import files as runner
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
    from derivcheck.run.claims import check_file

    return [check_file(path, timeout=timeout) for path in paths]


class StepChecked(BaseException):
    """Raised through the runner (which turns an Exception into a crash of its file)."""


class NoChecking:
    """Stands in for preparing.prepare: fails the test if any step would be checked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object) -> object:
        self.calls += 1
        raise StepChecked("a step was checked")


def count_checked_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The positions of the steps the runner reads into SymPy to check, as it goes."""
    checked: list[int] = []
    prepare = preparing.prepare

    def counting(derivation: source.Derivation, positions: list[int] | None = None) -> preparing.Prepared:
        if positions is not None:  # the runner's call (a check of the whole file passes none)
            checked.extend(positions)
        return prepare(derivation, positions)

    monkeypatch.setattr(preparing, "prepare", counting)
    return checked


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("v*/*/*.json"))


def this_key_file() -> Path:
    """The key of this "machine": in the test's own $XDG_CACHE_HOME (see conftest.py)."""
    path = caching.default_key_file(os.environ)
    assert path is not None and str(path).startswith(os.environ["XDG_CACHE_HOME"])
    return path


def sign(body: bytes, key: bytes) -> bytes:
    """An entry as the cache stores it, signed with `key`: written here from the format
    (a line with the HMAC-SHA256 of a context and the body, then the body), not with the
    module's own code, so that a test of a forgery forges as an outsider would."""
    mac = hmac.new(key, b"derivcheck cache entry\0" + body, hashlib.sha256).hexdigest()
    return mac.encode("ascii") + b"\n" + body


def read_entry(path: Path) -> dict[str, Any]:
    """The JSON of a stored entry (its MAC line left out)."""
    _mac, newline, body = path.read_bytes().partition(b"\n")
    assert newline, "an entry starts with its MAC on a line"
    entry: dict[str, Any] = json.loads(body)
    return entry


UNSIGNED = "ignored entries in the cache {} not signed with this user's key; checking those steps again"
UNREADABLE = "ignored unreadable entries in the cache {}; checking those steps again"


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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    assert check([path], cache_dir) == cold


def test_a_run_without_the_cache_checks_again(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    check([path], cache_dir)
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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

    compose, prepare = source.compose, preparing.prepare
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    monkeypatch.setattr(source, "compose", no_yaml)  # each file is served whole
    assert check(paths, cache_dir, timeout=11.0) == cold
    assert check(paths, cache_dir, timeout=0.5) == cold
    # Its twin: one more comment line, and the YAML is read again; the steps still come
    # from the cache, whatever the limit.
    paths[0].write_text("# a comment\n" + TINY, encoding="utf-8")
    with pytest.raises(AssertionError, match="the YAML was read"):
        check(paths, cache_dir, timeout=11.0)
    monkeypatch.setattr(source, "compose", compose)
    monkeypatch.setattr(preparing, "prepare", prepare)
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    assert check([path], cache_dir) == [cold]


def test_a_file_without_steps(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "empty.yaml", "variables:\n  t: real\nsteps: []\n")
    (cold,) = check([path], cache_dir)
    assert cold == fresh([path])[0]
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    assert check([path], cache_dir) == [cold]


def test_unreadable_files_and_schema_problems_need_no_checker(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = write(tmp_path, "a.yaml", "steps: [\n")
    schema = write(tmp_path, "b.yaml", "steps:\n  - claim: t = t\n    colour: red\n")
    monkeypatch.setattr(preparing, "prepare", NoChecking())
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
    assert second.steps[0].method == "time-out: not finished within 2 s of CPU time"
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
        "time-out: not finished within 2 s of CPU time",
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
    """Entries signed with this user's key but not what they should be (as a bug would
    write them): the checks behind the MAC still hold."""
    path = write(tmp_path, "tiny.yaml", TINY)
    cold = check([path], cache_dir)
    key = this_key_file().read_bytes()
    for entry_path in entries(cache_dir):
        broken = CORRUPTIONS[how](read_entry(entry_path))
        entry_path.write_bytes(sign(broken if isinstance(broken, bytes) else json.dumps(broken).encode(), key))
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == cold
    assert store.warnings == [UNREADABLE.format(cache_dir)]
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

    caching.load_key(this_key_file())  # the key is there: only the cache directory refuses
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
    key = this_key_file().read_bytes()
    for entry_path in entries(cache_dir):
        entry = read_entry(entry_path)
        assert entry["format"] == caching.CACHE_FORMAT and entry_path.stem == entry["key"]
        assert entry_path.read_bytes() == sign(json.dumps(entry, ensure_ascii=False).encode(), key)
    assert (cache_dir / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"


# -- an entry counts only when this user's key signed it --------------------------------------------

PAYLOAD = {"results": [{"verdict": "refuted"}], "warnings": []}
STEP_KEY = "ab" + "0" * 62


def _other_key(tmp_path: Path) -> bytes:
    return caching.load_key(tmp_path / "another machine" / "cache-key")


TAMPERINGS: dict[str, Callable[[bytes, bytes], bytes]] = {
    "payload edited, MAC kept": lambda data, other: data.replace(b'"refuted"', b'"proved"'),
    "MAC removed": lambda data, other: data.partition(b"\n")[2],
    "MAC emptied": lambda data, other: b"\n" + data.partition(b"\n")[2],
    "MAC of another key": lambda data, other: sign(data.partition(b"\n")[2], other),
    "MAC of another entry": lambda data, other: sign(b'{"other": 1}', b"k" * 32).partition(b"\n")[0]
    + b"\n"
    + data.partition(b"\n")[2],
    "truncated": lambda data, other: data[:-3],
    "a byte flipped in the MAC": lambda data, other: (b"1" if data[:1] == b"0" else b"0") + data[1:],
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_an_entry_tampered_with_is_a_miss(how: str, tmp_path: Path, cache_dir: Path) -> None:
    caching.ResultCache(cache_dir).put("step", STEP_KEY, PAYLOAD)
    (entry_path,) = entries(cache_dir)
    store = caching.ResultCache(cache_dir)
    assert store.get("step", STEP_KEY) == PAYLOAD  # the twin: as written, it is read
    entry_path.write_bytes(TAMPERINGS[how](entry_path.read_bytes(), _other_key(tmp_path)))
    store = caching.ResultCache(cache_dir)
    assert store.get("step", STEP_KEY) is None
    assert (store.hits, store.misses) == (0, 1)
    assert store.warnings == [UNSIGNED.format(cache_dir)]


def test_an_entry_signed_here_by_this_test_is_read(cache_dir: Path) -> None:
    """The twin of the forgeries: `sign` writes what the cache reads, so the entries that
    these tests forge are refused for their MAC alone."""
    body = json.dumps({"format": caching.CACHE_FORMAT, "kind": "step", "key": STEP_KEY, "data": PAYLOAD}).encode()
    caching.ResultCache(cache_dir).put("step", STEP_KEY, PAYLOAD)  # creates the key and the folders
    (entry_path,) = entries(cache_dir)
    entry_path.write_bytes(sign(body, this_key_file().read_bytes()))
    assert caching.ResultCache(cache_dir).get("step", STEP_KEY) == PAYLOAD


def test_an_entry_read_with_another_key_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    caching.ResultCache(cache_dir).put("step", STEP_KEY, PAYLOAD)
    elsewhere = caching.ResultCache(cache_dir, key_file=tmp_path / "another machine" / "cache-key")
    assert elsewhere.get("step", STEP_KEY) is None
    assert elsewhere.warnings == [UNSIGNED.format(cache_dir)]
    assert caching.ResultCache(cache_dir).get("step", STEP_KEY) == PAYLOAD


def test_a_signed_entry_under_another_key_or_kind_is_a_miss(cache_dir: Path) -> None:
    store = caching.ResultCache(cache_dir)
    store.put("step", STEP_KEY, PAYLOAD)
    (entry_path,) = entries(cache_dir)
    other = "ab" + "1" * 62
    (entry_path.parent / f"{other}.json").write_bytes(entry_path.read_bytes())  # a genuine entry, moved
    store = caching.ResultCache(cache_dir)
    assert store.get("step", other) is None
    assert store.get("file", STEP_KEY) is None
    assert store.warnings == [UNREADABLE.format(cache_dir)]
    assert store.get("step", STEP_KEY) == PAYLOAD


# A wrong step, marked as nothing: a run over it must fail.
FALSE = """\
variables:
  t: real
steps:
  - claim: t + 1 = t
"""


def forge(value: Any) -> Any:
    """`value` (an entry's JSON) with every refuted result made proved."""
    if isinstance(value, dict):
        if value.get("verdict") == "refuted":
            return {**{k: forge(v) for k, v in value.items()}, "verdict": "proved", "counterexample": None, "message": ""}
        return {k: forge(v) for k, v in value.items()}
    if isinstance(value, list):
        return [forge(item) for item in value]
    return value


def forge_entries(cache_dir: Path, key: bytes | None) -> None:
    """Make every entry say proved, signed with `key` (None: with no MAC at all)."""
    for entry_path in entries(cache_dir):
        body = json.dumps(forge(read_entry(entry_path))).encode()
        entry_path.write_bytes(sign(body, key) if key is not None else body)


@pytest.mark.parametrize("signed_by", ["another machine", "nobody"])
def test_a_forged_entry_never_makes_a_wrong_step_pass(
    signed_by: str, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "false.yaml", FALSE)
    other_file = tmp_path / "another machine" / "cache-key"
    (cold,) = runner.check_paths([path], timeout=20.0, cache=caching.ResultCache(cache_dir, key_file=other_file))
    assert [step.verdict for step in cold.steps] == [Verdict.REFUTED]
    forge_entries(cache_dir, caching.load_key(other_file) if signed_by == "another machine" else None)
    if signed_by == "another machine":  # the forgery is well made: the machine whose key signed it is fooled
        fooled = caching.ResultCache(cache_dir, key_file=other_file)
        (result,) = runner.check_paths([path], timeout=20.0, cache=fooled)
        assert [step.verdict for step in result.steps] == [Verdict.PROVED] and fooled.misses == 0
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == [cold]
    assert store.warnings == [UNSIGNED.format(cache_dir)]
    # The fresh result overwrote the forged entries: a warm run is served, and refutes.
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == [cold]
    assert store.warnings == [] and store.misses == 0


# -- the key ----------------------------------------------------------------------------------------


def test_the_key_is_made_once_in_the_users_cache_folder_with_mode_0600(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    key_file = Path(os.environ["XDG_CACHE_HOME"]) / "derivcheck" / "cache-key"
    assert this_key_file() == key_file and not key_file.exists()
    check([path], cache_dir)
    info = key_file.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_size == 32
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert os.listdir(key_file.parent) == ["cache-key"]  # no temporary file left
    key = key_file.read_bytes()
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert store.misses == 0 and key_file.read_bytes() == key
    assert not list(cache_dir.rglob("cache-key"))  # nothing of the key beside the entries


def test_where_the_key_lives() -> None:
    assert caching.default_key_file({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/derivcheck/cache-key")
    assert caching.default_key_file({"HOME": "/h"}) == Path("/h/.cache/derivcheck/cache-key")
    # The XDG spec: a relative $XDG_CACHE_HOME is ignored (it would be inside the current folder).
    assert caching.default_key_file({"XDG_CACHE_HOME": ".", "HOME": "/h"}) == Path("/h/.cache/derivcheck/cache-key")
    assert caching.default_key_file({"XDG_CACHE_HOME": "", "HOME": "relative"}) is None


def test_two_runs_that_create_the_key_at_once_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "cache-key"
    create = caching._create_key
    first: list[bytes] = []

    def racing(where: Path) -> None:
        create(where)  # another run puts its key there first ...
        first.append(where.read_bytes())
        create(where)  # ... then this one puts its own

    monkeypatch.setattr(caching, "_create_key", racing)
    key = caching.load_key(path)
    assert key == first[0] == path.read_bytes()
    assert os.listdir(path.parent) == ["cache-key"]


def test_many_threads_creating_the_key_agree(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "keys" / "cache-key"
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def load() -> None:
        start.wait()
        keys.append(caching.load_key(path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(keys) == 8 and set(keys) == {path.read_bytes()}


def _symlink_to_a_good_key(path: Path) -> None:
    target = path.parent / "elsewhere"
    target.write_bytes(b"k" * 32)
    target.chmod(0o600)
    path.symlink_to(target)


def _chmod(mode: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(b"k" * 32)
        path.chmod(mode)

    return make


def _sized(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(b"k" * size)
        path.chmod(0o600)

    return make


def _another_users(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    _chmod(0o600)(path)
    os.chown(path, 65534, 65534)


BAD_KEYS: dict[str, tuple[Callable[[Path], None], str]] = {
    "world-readable": (_chmod(0o644), "can be read or written by others (mode 0644; chmod 600 it)"),
    "group-readable": (_chmod(0o640), "can be read or written by others (mode 0640; chmod 600 it)"),
    "group-writable": (_chmod(0o620), "can be read or written by others (mode 0620; chmod 600 it)"),
    "a symbolic link": (_symlink_to_a_good_key, "is a symbolic link"),
    "a dangling symbolic link": (lambda path: path.symlink_to(path.parent / "nothing"), "is a symbolic link"),
    "too short": (_sized(16), "does not hold 32 bytes"),
    "too long": (_sized(33), "does not hold 32 bytes"),
    "empty": (_sized(0), "does not hold 32 bytes"),
    "a directory": (lambda path: path.mkdir(mode=0o700), "is not a regular file"),
    "a FIFO": (lambda path: os.mkfifo(path, 0o600), "is not a regular file"),
    "another user's": (_another_users, "belongs to another user"),
}


@pytest.mark.parametrize("what", sorted(BAD_KEYS))
def test_a_key_file_not_fit_to_be_one_turns_the_cache_off(what: str, tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    key_file = this_key_file()
    key_file.parent.mkdir(parents=True)
    make, why = BAD_KEYS[what]
    make(key_file)
    before = key_file.lstat()
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert store.warnings == [f"the cache key {key_file} {why}; the cache is not used"]
    assert not cache_dir.exists()  # nothing read, nothing written
    after = key_file.lstat()
    assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size)
    # The command line: one line on stderr, and the report of a run without the cache.
    code, out, err = invoke("verify", str(path), "--cache-dir", str(cache_dir), "--width", "100")
    assert (code, out) == invoke("verify", str(path), "--no-cache", "--width", "100")[:2]
    assert err == f"derivcheck: the cache key {key_file} {why}; the cache is not used\n"
    assert not cache_dir.exists()


def test_a_key_file_as_it_should_be_is_used(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin of the refused keys: a key put there by hand, 32 bytes, mode 0600."""
    path = write(tmp_path, "tiny.yaml", TINY)
    key_file = this_key_file()
    key_file.parent.mkdir(parents=True)
    _sized(32)(key_file)
    cold = check([path], cache_dir)
    assert key_file.read_bytes() == b"k" * 32
    for entry_path in entries(cache_dir):
        assert entry_path.read_bytes() == sign(json.dumps(read_entry(entry_path), ensure_ascii=False).encode(), b"k" * 32)
    monkeypatch.setattr(preparing, "prepare", NoChecking())
    assert check([path], cache_dir) == cold


def test_no_key_to_be_had_turns_the_cache_off_without_a_word(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "tiny.yaml", TINY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(write(tmp_path, "a file", "")))  # no folder can be made in it
    store = caching.ResultCache(cache_dir)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert store.warnings == [] and not cache_dir.exists()
    code, out, err = invoke("verify", str(path), "--cache-dir", str(cache_dir), "--width", "100")
    assert (code, out, err) == (0, invoke("verify", str(path), "--no-cache", "--width", "100")[1], "")
    assert not cache_dir.exists()


def test_a_key_inside_the_cache_folder_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    """Committed beside the entries, it would sign a forgery."""
    path = write(tmp_path, "tiny.yaml", TINY)
    key_file = cache_dir / "derivcheck" / "cache-key"
    store = caching.ResultCache(cache_dir, key_file=key_file)
    assert list(runner.check_paths([path], timeout=20.0, cache=store)) == fresh([path])
    assert store.warnings == [f"the cache key {key_file} is inside the cache directory {cache_dir}; the cache is not used"]
    assert not cache_dir.exists()


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
        or name.startswith(("derivcheck.prepare", "derivcheck.engine", "derivcheck.parse"))
    )
    print(json.dumps({"code": code, "heavy": heavy, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


def run_imports(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The exit code, the heavy modules and all the modules of a run in a fresh interpreter,
    and what it wrote to stdout."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False
    )
    report: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    report["stdout"] = done.stdout
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
    assert code == 1 and "sympy" in heavy and "derivcheck.prepare" in heavy
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


# -- end to end: a pull request that commits a forged cache -----------------------------------------


def _git(*args: str, cwd: Path) -> None:
    identity = ["-c", "user.name=Stranger", "-c", "user.email=stranger@example.invalid", "-c", "init.defaultBranch=main"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _machine(home: Path, *, xdg: bool) -> dict[str, str]:
    """The environment of a machine whose home is `home`, with the default cache folder
    (.derivcheck_cache in the current one), its key below $XDG_CACHE_HOME or ~/.cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("DERIVCHECK_CACHE_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    if xdg:
        env["XDG_CACHE_HOME"] = str(home / "xdg")
    return env


def _verify(folder: Path, env: dict[str, str]) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-m", "derivcheck", "verify", "false.yaml", "-f", "json"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    (report,) = json.loads(done.stdout)["files"]
    return done.returncode, [step["verdict"] for step in report["steps"]], done.stderr


@pytest.mark.skipif(subprocess.run(["git", "--version"], capture_output=True).returncode != 0, reason="no git")
def test_a_committed_forged_cache_does_not_pass_a_clone(tmp_path: Path) -> None:
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    write(origin, "false.yaml", FALSE)
    _git("init", "-q", cwd=origin)
    # The stranger's machine checks the file, then makes every entry say proved, signed
    # with its own key (in ~/.cache: no $XDG_CACHE_HOME there).
    stranger = _machine(tmp_path / "stranger", xdg=False)
    assert _verify(origin, stranger)[:2] == (1, ["refuted"])
    stranger_key = tmp_path / "stranger" / ".cache" / "derivcheck" / "cache-key"
    forge_entries(origin / ".derivcheck_cache", stranger_key.read_bytes())
    assert _verify(origin, stranger)[:2] == (0, ["proved"])  # the forgery fools the machine that signed it
    _git("add", "false.yaml", cwd=origin)
    _git("add", "-f", ".derivcheck_cache", cwd=origin)
    _git("commit", "-q", "-m", "a derivation, and its cache", cwd=origin)
    _git("clone", "-q", str(origin), str(clone), cwd=tmp_path)
    assert entries(clone / ".derivcheck_cache") and not (clone / ".derivcheck_cache" / "cache-key").exists()

    # CI: a fresh machine checks the clone.
    ci = _machine(tmp_path / "ci", xdg=True)
    code, verdicts, err = _verify(clone, ci)
    assert (code, verdicts) == (1, ["refuted"])
    assert err == f"derivcheck: {UNSIGNED.format('.derivcheck_cache')}\n"
    assert (tmp_path / "ci" / "xdg" / "derivcheck" / "cache-key").is_file()
    changed = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert ".derivcheck_cache/" in changed.stdout  # the forged entries were overwritten
    # The twin: what this machine wrote is trusted; a warm run gives the same verdicts
    # without SymPy.
    report = run_imports("verify", "false.yaml", "-f", "json", cwd=clone, env=ci)
    assert (report["code"], report["heavy"]) == (1, [])
    assert [step["verdict"] for step in json.loads(report["stdout"])["files"][0]["steps"]] == ["refuted"]
