"""Hostile input: code injection, huge numbers, deep nesting, YAML bombs, bad bytes and wrong types.

Each file in tests/hostile/ has its expected outcome in EXPECTED: the file-level problems
(code and line:col), or the verdict of every step (and, for an error, its code and
position). Every file is checked through `run.claims.check_file` and through the CLI, in a
temporary directory where the corpus' `touch SENTINEL` payloads point at a sentinel file
that must never appear. Big files are made in the test, not kept in the repository.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivcheck import source
from derivcheck.run.claims import check_file
from derivcheck.cli import app
from derivcheck.model import EXIT_ERROR, EXIT_FAIL, EXIT_OK, FATAL_CODES, FileResult, Verdict

CORPUS = Path(__file__).parent / "hostile"
TIMEOUT = 2.0  # per step; the slow steps of the corpus are stopped by it
TOKEN = b"SENTINEL"
PAYLOAD = "__import__('os').system('touch SENTINEL')"

runner = CliRunner()


@dataclass(frozen=True)
class Expected:
    """File-level problems as "code line:col" (sorted by position), or one entry per step:
    "number verdict", or "number error code line:col" for a step that could not be checked."""

    problems: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if any(item.split()[0] in FATAL_CODES for item in self.problems):
            return EXIT_ERROR
        if self.problems or any(item.split()[1] not in ("proved", "checked") for item in self.steps):
            return EXIT_FAIL
        return EXIT_OK


def problems(*items: str) -> Expected:
    return Expected(problems=items)


def steps(*items: str) -> Expected:
    return Expected(steps=items)


EXPECTED: dict[str, Expected] = {
    "huge_decimal_5000_digits.yaml": steps("1 proved", "2 error too-large 14:16", "3 proved"),
    "huge_exp_tower.yaml": steps("1 proved", "2 undecided", "3 proved"),
    "huge_factorial.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "huge_float_exponent.yaml": steps("1 proved", "2 error too-large 14:16", "3 proved"),
    "huge_index_range_used.yaml": steps("1 proved", "2 undecided", "3 proved"),
    "huge_index_value.yaml": steps("1 proved", "2 error syntax 14:14", "3 proved"),
    "huge_literal_5000_digits.yaml": steps("1 proved", "2 error too-large 14:16", "3 proved"),
    "huge_long_sum.yaml": steps("1 proved", "2 error too-large 14:16", "3 proved"),
    "huge_negative_exponent.yaml": steps("1 proved", "2 undecided too-large-to-evaluate 14:16", "3 proved"),
    "huge_nested_calls.yaml": steps("1 proved", "2 error too-large 14:259", "3 proved"),
    "huge_nested_parens.yaml": steps("1 proved", "2 error too-large 14:76", "3 proved"),
    "huge_power_of_big.yaml": steps("1 proved", "2 undecided too-large-to-evaluate 14:16", "3 proved"),
    "huge_product_of_powers.yaml": steps("1 proved", "2 undecided too-large-to-evaluate 14:16", "3 proved"),
    "huge_root_of_big.yaml": steps("1 proved", "2 error too-large 14:21", "3 proved"),
    "huge_shape.yaml": steps("1 proved", "2 undecided"),  # proved, but no witness can unroll 10**12 terms
    "huge_size_range.yaml": steps("1 proved"),
    "huge_sum_range.yaml": steps("1 proved", "2 undecided", "3 proved"),  # proved, but no witness can unroll 10**9 terms
    "huge_too_long_text.yaml": steps("1 proved", "2 error too-large 14:10012", "3 proved"),
    "huge_tower.yaml": steps("1 proved", "2 undecided too-large-to-evaluate 14:19", "3 proved"),
    "huge_unary_chain.yaml": steps("1 proved", "2 error too-large 14:16", "3 proved"),
    "inject_assumption_one_hot.yaml": problems("syntax 8:8"),
    "inject_assumption_sum.yaml": problems("unsafe-expression 10:34"),
    "inject_by_ids.yaml": problems("unknown-reference 15:18"),
    "inject_by_words.yaml": steps("1 proved", "2 proved", "3 proved"),
    "inject_chain_expr.yaml": steps("1 proved", "2.1 error unsafe-expression 16:15", "3 proved"),
    "inject_chain_item.yaml": steps("1 proved", "2.1 error unsafe-expression 16:9", "3 proved"),
    "inject_claim_attribute.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_builtins_name.yaml": steps("1 proved", "2 error undeclared-symbol 14:16", "3 proved"),
    "inject_claim_bytes.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_call_result.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_comment.yaml": steps("1 proved", "2 error syntax 14:19", "3 proved"),
    "inject_claim_dunder_subclasses.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_eval.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_exec.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_fstring.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_fullwidth_exec.yaml": steps("1 proved", "2 error confusable-name 14:16", "3 proved"),
    "inject_claim_genexp.yaml": steps("1 proved", "2 error unsafe-expression 14:20", "3 proved"),
    "inject_claim_getattr_builtins.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_ifexp.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_import.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_in_derivative.yaml": steps("1 proved", "2 error unsafe-expression 14:31", "3 proved"),
    "inject_claim_in_index.yaml": steps("1 proved", "2 error unsafe-expression 14:19", "3 proved"),
    "inject_claim_in_sum.yaml": steps("1 proved", "2 error unsafe-expression 14:21", "3 proved"),
    "inject_claim_in_sum_bound.yaml": steps("1 proved", "2 error unsafe-expression 14:34", "3 proved"),
    "inject_claim_keyword.yaml": steps("1 proved", "2 error unsafe-expression 14:24", "3 proved"),
    "inject_claim_lambda.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_lhs.yaml": steps("1 proved", "2 error unsafe-expression 14:12", "3 proved"),
    "inject_claim_listcomp.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_open.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_semicolon.yaml": steps("1 proved", "2 error syntax 14:17", "3 proved"),
    "inject_claim_slice.yaml": steps("1 proved", "2 error unsafe-expression 14:19", "3 proved"),
    "inject_claim_starred.yaml": steps("1 proved", "2 error unsafe-expression 14:21", "3 proved"),
    "inject_claim_string_arg.yaml": steps("1 proved", "2 error unsafe-expression 14:20", "3 proved"),
    "inject_claim_sympify.yaml": steps("1 proved", "2 error unsafe-expression 14:16", "3 proved"),
    "inject_claim_walrus.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_claim_yield.yaml": steps("1 proved", "2 error unsafe-expression 14:17", "3 proved"),
    "inject_definition_body.yaml": problems("unsafe-expression 9:6"),
    "inject_definition_head.yaml": problems("syntax 9:3"),
    "inject_definition_head_index.yaml": problems("syntax 9:6"),
    "inject_expect.yaml": problems("schema 15:13"),
    "inject_format_version.yaml": problems("schema 3:13"),
    "inject_index_name.yaml": problems("schema 5:3", "schema 5:34"),
    "inject_index_range_high.yaml": problems("unsafe-expression 5:9"),
    "inject_index_range_list.yaml": problems("unsafe-expression 5:7"),
    "inject_size_name.yaml": problems("schema 3:12", "schema 3:43"),
    "inject_step_id.yaml": problems("schema 14:9"),
    "inject_top_level_key.yaml": problems("schema 5:1"),
    "inject_variable_assume.yaml": problems("schema 4:6"),
    "inject_variable_name.yaml": problems("schema 5:3"),
    "inject_variable_shape.yaml": problems("unsafe-expression 6:7"),
    "inject_variable_shape_mapping.yaml": problems("unsafe-expression 6:18"),
    "inject_where.yaml": steps("1 proved", "2 error unsafe-expression 15:12", "3 proved"),
    "inject_where_list.yaml": steps("1 proved", "2 error unsafe-expression 15:21", "3 proved"),
    "inject_yaml_tag.yaml": problems("schema 14:5", "schema 14:12"),
    "inject_yaml_tag_scalar.yaml": steps("1 proved", "2 proved", "3 proved"),
    "markup_in_text.yaml": steps("1 proved", "2 proved", "3 proved"),
    "names_cyclic_definitions.yaml": problems("cyclic-definition 8:3"),
    "names_duplicate_declarations.yaml": problems("duplicate-name 2:12", "duplicate-name 4:3", "duplicate-name 5:5", "duplicate-name 7:3", "duplicate-name 8:3", "duplicate-name 10:3"),
    "names_duplicate_ids.yaml": problems("duplicate-id 7:9"),
    "names_duplicate_keys.yaml": problems("duplicate-key 2:1", "duplicate-key 5:3", "duplicate-key 8:5"),
    "names_free_index_in_definition.yaml": problems("free-index 8:6", "free-index 9:9"),
    "names_free_index_mismatch.yaml": steps("1 proved", "2 error free-index-mismatch 11:12", "3 error free-index-mismatch 12:12", "4 error free-index-mismatch 13:12", "5.1 error free-index-mismatch 16:9", "5.2 error free-index-mismatch 17:9", "6 proved"),
    "names_missing_reference.yaml": problems("unknown-reference 7:10", "unknown-reference 9:17"),
    "names_self_definition.yaml": problems("cyclic-definition 8:3"),
    "names_undeclared.yaml": steps("1 proved", "2 error undeclared-symbol 11:16", "3 error unsafe-expression 12:16", "4 error shape-mismatch 13:14", "5 error unsafe-expression 14:12", "6 error arity 15:12", "7 error syntax 16:23", "8 error syntax 17:26", "9 error syntax 18:14", "10 error syntax 19:18", "11 error syntax 20:12", "12 error syntax 21:12", "13 error syntax 23:12", "14 error syntax 25:17", "15 proved"),
    "types_declarations.yaml": problems("schema 1:1", "schema 2:12", "schema 2:21", "schema 4:6", "schema 5:6", "schema 6:6", "schema 7:5", "schema 10:7", "schema 11:14", "schema 12:38", "schema 13:19", "schema 14:6", "schema 15:10", "schema 17:6", "schema 18:6", "schema 19:5", "schema 22:6", "schema 23:6"),
    "types_no_steps.yaml": problems("schema 1:1"),
    "types_null_values.yaml": problems("schema 3:9", "schema 4:11", "schema 5:13", "schema 6:13", "schema 7:7"),
    "types_steps.yaml": problems("schema 5:5", "schema 6:5", "schema 7:5", "schema 7:12", "schema 8:5", "schema 8:12", "schema 9:5", "schema 9:12", "schema 10:5", "schema 13:9", "schema 14:9", "schema 15:16", "schema 16:23", "schema 17:19", "schema 18:5", "schema 20:9", "schema 22:9", "schema 25:9", "schema 27:12", "schema 29:13", "schema 31:13", "schema 35:5", "schema 36:5", "schema 37:5", "schema 38:5"),
    "types_top_level.yaml": problems("schema 2:13", "schema 3:8", "schema 4:9", "schema 5:14", "schema 6:12", "schema 7:10", "schema 8:12", "schema 9:14", "schema 10:14", "schema 11:8"),
    "types_version.yaml": problems("schema 1:13"),
    "yaml_alias_in_steps.yaml": problems("yaml-alias 8:5"),
    "yaml_bidi_override.yaml": problems("control-character 7:9", "control-character 8:12"),
    "yaml_billion_laughs.yaml": problems("yaml-alias 3:12"),
    "yaml_control_key.yaml": problems("control-character 5:1"),
    "yaml_deep_mappings.yaml": problems("yaml-syntax 1:1"),
    "yaml_deep_nesting.yaml": problems("yaml-syntax 1:1"),
    "yaml_empty.yaml": problems("schema 1:1"),
    "yaml_escape_chars.yaml": problems("control-character 2:8", "control-character 7:9"),
    "yaml_github_workflow.yaml": problems("schema 1:1", "schema 1:1", "schema 2:1", "schema 5:1"),
    "yaml_merge_key.yaml": problems("yaml-alias 7:9"),
    "yaml_not_utf8.yaml": problems("unreadable 7:16"),
    "yaml_nul_byte.yaml": problems("yaml-syntax 5:17"),
    "yaml_only_comments.yaml": problems("schema 1:1"),
    "yaml_root_list.yaml": problems("schema 1:1"),
    "yaml_root_scalar.yaml": problems("schema 1:1"),
    "yaml_syntax.yaml": problems("yaml-syntax 4:2"),
    "yaml_tab_indent.yaml": problems("yaml-syntax 3:1"),
    "yaml_two_documents.yaml": problems("yaml-syntax 4:1"),
    "yaml_utf16.yaml": problems("unreadable 1:1"),
}

# Wrong outcomes of code owned elsewhere, reported to its owner: each is an expected failure
# until fixed (strict, so the fix shows up as an unexpected pass to remove from here).
KNOWN_BUGS: dict[str, str] = {}


def _outcome(result: FileResult) -> Expected:
    if result.problems:
        found = sorted(result.problems, key=lambda p: (p.span.line, p.span.col, p.code))
        # A problem of the path as a whole has no position: its code alone.
        return Expected(problems=tuple(f"{p.code} {p.span}".rstrip() for p in found))
    items = []
    for step in result.steps:
        item = f"{step.number} {step.verdict.value}"
        if step.problems:
            item += f" {step.problems[0].code} {step.problems[0].span}"
        items.append(item)
    return Expected(steps=tuple(items))


def _json_outcome(entry: dict) -> Expected:
    if entry["problems"]:
        found = sorted(entry["problems"], key=lambda p: (p["line"], p["col"], p["code"]))
        return Expected(problems=tuple(f"{p['code']} {p['line']}:{p['col']}" for p in found))
    items = []
    for step in entry["steps"]:
        item = f"{step['number']} {step['verdict']}"
        if step["problems"]:
            first = step["problems"][0]
            item += f" {first['code']} {first['line']}:{first['col']}"
        items.append(item)
    return Expected(steps=tuple(items))


def _place(name: str, directory: Path, sentinel: Path) -> Path:
    """The corpus file copied into `directory`, its payloads aimed at `sentinel`."""
    target = directory / name
    target.write_bytes((CORPUS / name).read_bytes().replace(TOKEN, str(sentinel).encode()))
    return target


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory for one test; a payload that ran would leave tmp_path/SENTINEL."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a relative `touch SENTINEL` would land here, and be caught too
    return tmp_path


def _no_sentinel(root: Path) -> None:
    assert not list(root.rglob("SENTINEL")), "a payload in the corpus was executed"


def _params() -> list:
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
        if name in KNOWN_BUGS
        else name
        for name in sorted(EXPECTED)
    ]


def test_every_corpus_file_has_an_expected_outcome() -> None:
    on_disk = {path.name for path in CORPUS.glob("*.yaml")}
    assert on_disk == set(EXPECTED)


def test_the_positions_in_the_table_are_not_moved_by_the_sentinel_path() -> None:
    # The sentinel's absolute path is longer than the token: a position after the token on
    # its line would shift. None is.
    for name, expected in EXPECTED.items():
        lines = (CORPUS / name).read_bytes().split(b"\n")
        for item in expected.problems + expected.steps:
            place = item.split()[-1]
            if ":" not in place:
                continue
            line, col = (int(part) for part in place.split(":"))
            token_at = lines[line - 1].find(TOKEN) if line <= len(lines) else -1
            assert token_at == -1 or col <= token_at + 1, (name, item)


@pytest.mark.parametrize("name", _params())
def test_hostile_file_through_check_file(name: str, sandbox: Path) -> None:
    path = _place(name, sandbox / "work", sandbox / "SENTINEL")
    result = check_file(path, timeout=TIMEOUT)
    assert _outcome(result) == EXPECTED[name]
    for problem in result.problems + tuple(p for step in result.steps for p in step.problems):
        assert problem.span.line >= 1 and problem.span.col >= 1
        assert problem.message and "Traceback" not in problem.message
    for step in result.steps:
        assert "Traceback" not in step.message and not any("Traceback" in t for t in step.tried)
    _no_sentinel(sandbox)


def test_the_sentinel_detector_works(sandbox: Path) -> None:
    # The rejects twin of every test above: run by Python, a corpus payload does leave the
    # sentinel, so its absence above means something.
    sentinel = sandbox / "SENTINEL"
    code = PAYLOAD.replace("SENTINEL", str(sentinel))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert sentinel.exists()
    with pytest.raises(AssertionError):
        _no_sentinel(sandbox)


def test_the_whole_corpus_through_the_cli(sandbox: Path) -> None:
    """One run over every file (JSON report): the same outcomes as check_file, in one
    process that goes on after each hostile file; exit 2 because some files are unreadable."""
    corpus = sandbox / "corpus"
    corpus.mkdir()
    for name in EXPECTED:
        _place(name, corpus, sandbox / "SENTINEL")
    result = runner.invoke(app, ["verify", str(corpus), "--format", "json", "--timeout", str(TIMEOUT)])
    assert "Traceback" not in result.output
    assert result.exit_code == EXIT_ERROR
    report = json.loads(result.stdout)
    outcomes = {Path(entry["path"]).name: _json_outcome(entry) for entry in report["files"]}
    assert set(outcomes) == set(EXPECTED)
    wrong = {name: outcomes[name] for name in EXPECTED if outcomes[name] != EXPECTED[name] and name not in KNOWN_BUGS}
    assert wrong == {}
    _no_sentinel(sandbox)


# The corpus's time budget, as a hang guard (not a speed goal: it ran in about 4 s with 2
# workers on the 2-core machine). A hang, or a worker never stopped, fails here instead of
# holding CI until its own limit.
CORPUS_BUDGET = 300


def test_the_whole_corpus_in_a_fresh_process_ends_within_its_budget(sandbox: Path) -> None:
    corpus = sandbox / "corpus"
    corpus.mkdir()
    for name in EXPECTED:
        _place(name, corpus, sandbox / "SENTINEL")
    done = subprocess.run(
        [sys.executable, "-m", "derivcheck", "verify", str(corpus), "-f", "json", "--no-cache", "--timeout", str(TIMEOUT), "--file-budget", "30"],
        capture_output=True,
        text=True,
        timeout=CORPUS_BUDGET,
    )
    assert done.returncode == EXIT_ERROR, done.stderr
    assert "Traceback" not in done.stderr
    assert {Path(entry["path"]).name for entry in json.loads(done.stdout)["files"]} == set(EXPECTED)
    _no_sentinel(sandbox)


def test_the_problem_files_through_the_cli_text_report(sandbox: Path) -> None:
    """The text report of every file that stops before its steps: each problem shown with
    its position and code, nothing raw from the file acting on the terminal."""
    corpus = sandbox / "corpus"
    corpus.mkdir()
    names = sorted(name for name, expected in EXPECTED.items() if expected.problems)
    for name in names:
        _place(name, corpus, sandbox / "SENTINEL")
    result = runner.invoke(app, ["verify", str(corpus), "--no-color", "--width", "120"])
    assert result.exit_code == EXIT_ERROR
    assert "Traceback" not in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    for name in names:
        assert name in result.output
        for item in EXPECTED[name].problems:
            code, place = item.split()
            assert f"{place}" in result.output and code in result.output, (name, item)
    _no_sentinel(sandbox)


@pytest.mark.parametrize(
    "names",
    [
        ["inject_by_words.yaml"],
        ["markup_in_text.yaml", "inject_yaml_tag_scalar.yaml"],
        ["inject_claim_import.yaml"],
        ["inject_definition_body.yaml", "markup_in_text.yaml"],
        ["yaml_not_utf8.yaml", "inject_by_words.yaml"],
        ["yaml_billion_laughs.yaml"],
    ],
    ids=lambda names: "+".join(Path(n).stem for n in names),
)
def test_cli_exit_codes(names: list[str], sandbox: Path) -> None:
    paths = [str(_place(name, sandbox / "work", sandbox / "SENTINEL")) for name in names]
    result = runner.invoke(app, ["verify", *paths, "--no-color", "--timeout", str(TIMEOUT)])
    assert "Traceback" not in result.output
    assert result.exit_code == max(EXPECTED[name].exit_code for name in names)
    _no_sentinel(sandbox)


def test_markup_in_the_file_is_shown_as_text(sandbox: Path) -> None:
    path = _place("markup_in_text.yaml", sandbox / "work", sandbox / "SENTINEL")
    result = runner.invoke(app, ["verify", str(path), "--no-color", "--width", "200"])
    assert result.exit_code == EXIT_OK
    assert "[bold red]not markup[/bold red] [link=file:///etc/passwd]x[/link]" in result.output


def test_a_missing_file_exits_2_and_the_others_are_still_checked(sandbox: Path) -> None:
    good = _place("inject_by_words.yaml", sandbox / "work", sandbox / "SENTINEL")
    result = runner.invoke(app, ["verify", str(sandbox / "nope.yaml"), str(good), "--format", "json"])
    assert result.exit_code == EXIT_ERROR
    report = json.loads(result.stdout)
    assert [entry["ok"] for entry in report["files"]] == [False, True]


# -- big files, made here ------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_file_over_the_size_limit_is_refused_unread(sandbox: Path) -> None:
    lines = ["title: big", "variables:", "  t: real", "steps:"]
    lines += ["  - claim: t = t"] * (source.MAX_FILE_BYTES // 16 + 10)
    path = _write(sandbox / "work" / "over.yaml", lines)
    assert path.stat().st_size > source.MAX_FILE_BYTES
    result = check_file(path)
    assert _outcome(result) == problems("too-large 1:1")
    cli = runner.invoke(app, ["verify", str(path), "--no-color"])
    assert cli.exit_code == EXIT_FAIL and "too-large" in cli.output and "Traceback" not in cli.output


def test_a_900_kb_file_of_long_broken_claims(sandbox: Path) -> None:
    """Just under the limit, each claim just under the expression length limit; every one
    refused by the parser, at its own line, in one pass."""
    claim = "t + " * 2200 + ")"
    lines = ["title: long claims", "variables:", "  t: real", "steps:", "  - claim: t = t"]
    count = 0
    while sum(len(line) + 1 for line in lines) < 900_000:
        lines.append(f"  - claim: {claim} = t")
        count += 1
    path = _write(sandbox / "work" / "long.yaml", lines)
    assert 850_000 < path.stat().st_size < source.MAX_FILE_BYTES
    result = check_file(path, timeout=TIMEOUT)
    assert len(result.steps) == count + 1
    assert result.steps[0].verdict.value == "proved"
    for number, step in enumerate(result.steps[1:], start=2):
        assert step.verdict.value == "error"
        assert step.span.line == number + 4
        assert step.problems[0].span.line == number + 4
    cli = runner.invoke(app, ["verify", str(path), "--format", "json"])
    assert cli.exit_code == EXIT_FAIL and "Traceback" not in cli.output
    assert json.loads(cli.stdout)["summary"]["error"] == count


def test_thousands_of_steps(sandbox: Path) -> None:
    lines = ["title: many steps", "variables:", "  t: real", "steps:"]
    lines += [f"  - {{id: s{n}, claim: 't = )'}}" for n in range(3000)]
    lines += ["  - id: last", "    claim: t + t = 2*t"]
    path = _write(sandbox / "work" / "many.yaml", lines)
    result = check_file(path, timeout=TIMEOUT)
    assert len(result.steps) == 3001
    assert {step.verdict.value for step in result.steps[:-1]} == {"error"}
    assert result.steps[-1].verdict.value == "proved"
    assert result.steps[-1].span.line == 3006


def test_a_wide_yaml_bomb_without_aliases_is_bounded_by_the_size_limit(sandbox: Path) -> None:
    # Without aliases the only way to make a big document is a big file, which is refused.
    path = _write(sandbox / "work" / "wide.yaml", ["steps: [" + "a, " * 400_000 + "a]"])
    assert _outcome(check_file(path)) == problems("too-large 1:1")


# -- faults: files that cannot be read, YAML that is not a derivation, Ctrl-C ----------------

GOOD_FILE = """\
title: quick and true
variables:
  t: real
steps:
  - claim: t + t = 2*t
  - claim: t - t = 0
"""


def _run(args: list[str], tmp_path: Path, *, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(prefix or []), sys.executable, "-m", "derivcheck", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/noperm.yaml (mode 000), tmp_path/good.yaml, tmp_path/tree/{good.yaml, locked/} and
    tmp_path/closed/f.yaml in a directory of mode 000; the modes are put back afterwards."""
    (tmp_path / "good.yaml").write_text(GOOD_FILE)
    (tmp_path / "noperm.yaml").write_text(GOOD_FILE)
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "good.yaml").write_text(GOOD_FILE)
    (tree / "locked" / "hidden.yaml").write_text(GOOD_FILE.replace("2*t", "3*t"))
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "f.yaml").write_text(GOOD_FILE)
    restore = [tmp_path / "noperm.yaml", tree / "locked", tmp_path / "closed"]
    for path in restore:
        path.chmod(0)
    # The child must reach tmp_path itself (pytest makes its base directory 0700).
    parents = [p for p in tmp_path.parents if p != Path("/") and str(p).startswith(tempfile.gettempdir())]
    modes = {p: p.stat().st_mode for p in [tmp_path, *parents]}
    for path in modes:
        path.chmod(0o755)
    yield tmp_path
    for path in restore:
        path.chmod(0o755)
    for path, mode in modes.items():
        path.chmod(mode)


def test_an_unreadable_file_is_an_unreadable_problem(locked: Path, unprivileged: list[str]) -> None:
    code = (
        "from pathlib import Path; from derivcheck.run.claims import check_file; "
        "r = check_file(Path('noperm.yaml')); print([(p.code, str(p.span), p.message) for p in r.problems])"
    )
    command = [*unprivileged, sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=locked)
    assert done.stdout.strip() == "[('unreadable', '', 'cannot read the file: Permission denied')]"


def test_the_unprivileged_prefix_really_drops_the_override(locked: Path, unprivileged: list[str]) -> None:
    # The rejects twin: with the prefix a mode-000 file cannot be read, without it (as root) it can.
    probe = [sys.executable, "-c", "open('noperm.yaml').read()"]
    assert subprocess.run([*unprivileged, *probe], capture_output=True, cwd=locked).returncode != 0
    if os.geteuid() == 0:
        assert subprocess.run(probe, capture_output=True, cwd=locked).returncode == 0


def test_an_unreadable_file_through_the_cli_exits_2_and_the_run_goes_on(locked: Path, unprivileged: list[str]) -> None:
    done = _run(["verify", "noperm.yaml", "good.yaml", "--no-color"], locked, prefix=unprivileged)
    assert done.returncode == EXIT_ERROR
    assert "unreadable" in done.stdout and "Permission denied" in done.stdout
    assert "2 proved" in done.stdout  # good.yaml was checked
    assert "Traceback" not in done.stdout + done.stderr


def test_a_file_in_a_closed_directory_is_unreadable_and_the_run_goes_on(locked: Path, unprivileged: list[str]) -> None:
    done = _run(["verify", "closed/f.yaml", "good.yaml", "--no-color"], locked, prefix=unprivileged)
    assert done.returncode == EXIT_ERROR
    assert "unreadable" in done.stdout and "2 proved" in done.stdout
    assert "internal error" not in done.stderr


def test_an_unreadable_directory_in_a_tree_is_not_skipped_silently(locked: Path, unprivileged: list[str]) -> None:
    done = _run(["verify", "tree", "--no-color"], locked, prefix=unprivileged)
    assert done.returncode != EXIT_OK
    assert "locked" in done.stdout + done.stderr


def test_a_directory_named_like_a_derivation(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").mkdir()
    assert _outcome(check_file(tmp_path / "x.yaml")) == problems("unreadable")
    # Named on the command line it is a directory to search; inside a tree it is not a file.
    (tmp_path / "x.yaml" / "good.yaml").write_text(GOOD_FILE)
    result = runner.invoke(app, ["verify", str(tmp_path), "--format", "json"])
    assert result.exit_code == EXIT_OK
    assert [Path(entry["path"]).name for entry in json.loads(result.stdout)["files"]] == ["good.yaml"]


def test_a_fifo_without_a_writer_does_not_hang_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "PIPE_WAIT_SECONDS", 0.5)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (tmp_path / "good.yaml").write_text(GOOD_FILE)
    result = runner.invoke(app, ["verify", str(fifo), str(tmp_path / "good.yaml"), "--format", "json"])
    assert result.exit_code == EXIT_ERROR
    files = json.loads(result.stdout)["files"]
    assert files[0]["problems"][0]["code"] == "unreadable"
    assert files[1]["ok"] is True


def test_an_endless_device_is_too_large_not_a_hang() -> None:
    result = runner.invoke(app, ["verify", "/dev/zero", "--format", "json"])
    assert result.exit_code == EXIT_FAIL
    assert json.loads(result.stdout)["files"][0]["problems"][0]["code"] == "too-large"


WORKFLOW = """\
name: CI
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -e . && pytest
"""


def test_a_tree_with_a_github_workflow(tmp_path: Path) -> None:
    """Non-derivation YAML found in a directory is reported as a schema problem; the
    derivation beside it is still checked."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    (tmp_path / "k8s.yaml").write_text("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Service\n")
    (tmp_path / "good.yaml").write_text(GOOD_FILE)
    result = runner.invoke(app, ["verify", str(tmp_path), "--format", "json"])
    assert result.exit_code == EXIT_FAIL
    assert "Traceback" not in result.output
    files = {Path(entry["path"]).name: entry for entry in json.loads(result.stdout)["files"]}
    assert files["good.yaml"]["ok"] is True
    assert _json_outcome(files["ci.yml"]) == problems("schema 1:1", "schema 1:1", "schema 2:1", "schema 5:1")
    assert "unknown key 'jobs'" in json.dumps(files["ci.yml"])
    assert _json_outcome(files["k8s.yaml"]) == problems("yaml-syntax 3:1")


def test_ctrl_c_reports_what_was_finished_and_exits_130(tmp_path: Path) -> None:
    """SIGINT while the second file's slow step runs: the first file's report and a summary
    are shown, the exit code is 130, no traceback, and the step's worker is gone."""
    (tmp_path / "first.yaml").write_text(GOOD_FILE)
    slow = tmp_path / "second-slow.yaml"
    slow.write_text(
        "title: slow\nvariables:\n  t: real\n  s: real\n  u: real\n  v: real\nsteps:\n"
        "  - claim: (t + s + u + v + 1)**30 = (t + s + u + v + 1)**29*(t + s + u + v) + (t + s + u + v + 1)**29\n"
    )
    command = [sys.executable, "-m", "derivcheck", "verify", "first.yaml", slow.name, "--no-color", "--timeout", "120"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    os.set_blocking(process.stdout.fileno(), False)
    while b"first.yaml" not in seen or b"PROVED" not in seen:  # the first file is reported
        assert time.monotonic() < deadline, seen
        seen += process.stdout.read() or b""
        time.sleep(0.05)
    time.sleep(1.0)  # into the slow step of the second file
    process.send_signal(signal.SIGINT)
    try:
        rest, err = process.communicate(timeout=30)
    finally:
        process.kill()
    out = (seen + (rest or b"")).decode()
    errors = err.decode()
    assert process.returncode == 130
    assert "first.yaml" in out and "2 proved" in out
    assert "interrupted" in errors
    assert "Traceback" not in out + errors and "KeyboardInterrupt" not in out + errors
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if slow.name in line], "a worker outlived the run"


def test_a_power_tower_is_undecided_at_once_and_the_steps_after_it_are_verified() -> None:
    # Issue 4: `2**2**2**30` in one step, correct steps around it. Its numbers cannot be
    # computed within any limit, so the step is undecided as a time-out, without spending it.
    result = check_file(CORPUS / "huge_tower.yaml", timeout=10.0)
    before, tower, after = result.steps
    assert before.verdict is after.verdict is Verdict.PROVED
    assert tower.verdict is Verdict.UNDECIDED
    assert tower.method.startswith("time-out")
    (problem,) = tower.problems
    assert (problem.code, problem.span.line, problem.span.col) == ("too-large-to-evaluate", 14, 19)
    assert "exponent too large" in problem.message
