"""Non-equivalent edits of softmax_ce steps are refuted with a counterexample; the originals hold.

Each case is one step of derivations/softmax_ce.yaml, with the file's own declarations,
definitions and assumptions, checked through the CLI as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivcheck.cli import app

SOFTMAX_CE = Path(__file__).parent.parent / "derivations" / "softmax_ce.yaml"

# (name, the step as the seed has it, the mutated step, whether to drop the assumptions)
MUTANTS = [
    ("sign-flipped", "Derivative(L, z[j]) = a[j] - y[j]", "Derivative(L, z[j]) = y[j] - a[j]", False),
    (
        "index-swapped",
        "Derivative(a[k], z[j]) = a[k]*(KroneckerDelta(k, j) - a[j])",
        "Derivative(a[k], z[j]) = a[k]*(KroneckerDelta(k, j) - a[k])",
        False,
    ),
    ("term-dropped", "Derivative(L, b[i]) = a[i] - y[i]", "Derivative(L, b[i]) = a[i]", False),
    ("constant-changed", "Derivative(a[j], z[j]) = a[j]*(1 - a[j])", "Derivative(a[j], z[j]) = a[j]*(2 - a[j])", False),
    ("factor-dropped", "Derivative(a[j], z[j]) = a[j]*(1 - a[j])", "Derivative(a[j], z[j]) = 1 - a[j]", False),
    (
        "fact-removed",
        "-(y[j] - a[j]*Sum(y[k], (k, 1, N))) = a[j] - y[j]",
        "-(y[j] - a[j]*Sum(y[k], (k, 1, N))) = a[j] - y[j]",
        True,
    ),
]


def single_step_file(tmp_path: Path, claim: str, *, drop_assumptions: bool) -> Path:
    header = SOFTMAX_CE.read_text(encoding="utf-8").split("\nsteps:")[0]
    if drop_assumptions:
        header = header.split("\nassumptions:")[0]
    path = tmp_path / "step.yaml"
    path.write_text(f"{header}\nsteps:\n  - claim: {claim}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "original", "mutant", "drop"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_is_refuted_with_a_counterexample(tmp_path: Path, name: str, original: str, mutant: str, drop: bool) -> None:
    path = single_step_file(tmp_path, mutant, drop_assumptions=drop)
    result = CliRunner().invoke(app, ["verify", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    step = json.loads(result.output)["files"][0]["steps"][0]
    assert step["verdict"] == "refuted"
    example = step["counterexample"]
    assert example["values"], "the counterexample gives the variables' values"
    assert example["lhs"] != example["rhs"]


@pytest.mark.parametrize(("name", "original", "mutant", "drop"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_original_step_holds(tmp_path: Path, name: str, original: str, mutant: str, drop: bool) -> None:
    path = single_step_file(tmp_path, original, drop_assumptions=False)
    result = CliRunner().invoke(app, ["verify", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"][0]["steps"][0]["verdict"] == "proved"


def test_text_report_shows_the_counterexample(tmp_path: Path) -> None:
    path = single_step_file(tmp_path, MUTANTS[0][2], drop_assumptions=False)
    result = CliRunner().invoke(app, ["verify", "--width", "100", "--no-color", str(path)])
    assert result.exit_code == 1
    assert "REFUTED" in result.output
    for name in ("N", "D", "j", "W[1, 1]", "y[1]"):
        assert name in result.output


def test_refutation_says_which_missing_fact_would_make_it_hold(tmp_path: Path) -> None:
    path = single_step_file(tmp_path, MUTANTS[-1][2], drop_assumptions=True)
    result = CliRunner().invoke(app, ["verify", "--format", "json", "--no-cache", str(path)])
    step = json.loads(result.output)["files"][0]["steps"][0]
    assert step["verdict"] == "refuted"
    assert "holds if Sum(y[k], (k, 1, N)) = 1" in step["message"]
    assert "residual lhs - rhs:" in step["message"]


def test_no_fact_is_suggested_when_none_would_help(tmp_path: Path) -> None:
    path = single_step_file(tmp_path, MUTANTS[0][2], drop_assumptions=True)
    result = CliRunner().invoke(app, ["verify", "--format", "json", "--no-cache", str(path)])
    step = json.loads(result.output)["files"][0]["steps"][0]
    assert step["verdict"] == "refuted"
    assert "holds if" not in step["message"]
