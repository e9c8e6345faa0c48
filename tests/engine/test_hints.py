"""The hints of a refuted step: a constant factor between the sides (a sign, a dropped 2) is
named only when lhs = c*rhs is proved for general sizes and the witness agrees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivcheck.cli import app

HEADER = """\
sizes: [N, D]
indices:
  i: 1..N
  d e: 1..D
variables:
  W: [N, D]
  x: [D]
  y: [N]
  t: real
definitions:
  r[i]: Sum(W[i, e]*x[e], (e, 1, D)) - y[i]
  L: Sum(r[i]**2, (i, 1, N))
steps:
"""


def message(tmp_path: Path, claim: str) -> str:
    path = tmp_path / "hint.yaml"
    path.write_text(HEADER + f"  - claim: {claim}\n", encoding="utf-8")
    run = CliRunner().invoke(app, ["verify", "--format", "json", "--no-cache", str(path)])
    (step,) = json.loads(run.output)["files"][0]["steps"]
    assert step["verdict"] == "refuted", step
    return str(step["message"])


@pytest.mark.parametrize(
    ("claim", "words"),
    [
        ("Derivative(L, W[i, d]) = r[i]*x[d]", "the left side is 2 times the right side"),  # the 2 of the square dropped
        ("Derivative(L, W[i, d]) = 4*r[i]*x[d]", "the left side is 1/2 times the right side"),
        ("Derivative(t**2, t) = -2*t", "the sides differ only in sign: lhs = -rhs"),
        # proved only with tanh and the sigmoid written out (the prover's "exp" pass)
        ("Derivative(tanh(t), t) = 2*sigmoid(2*t)*(1 - sigmoid(2*t))", "the left side is 2 times the right side"),
    ],
)
def test_a_constant_factor_between_the_sides_is_named(tmp_path: Path, claim: str, words: str) -> None:
    assert words in message(tmp_path, claim)


@pytest.mark.parametrize(
    "claim",
    [
        "Derivative(L, W[i, d]) = 2*r[i]*x[d] + 1",  # off by a term, not a factor
        "Derivative(L, W[i, d]) = 3*r[i]*x[d]",  # a factor, but not one of the slips named
        "Derivative(t**3, t) = 2*t**2",  # 3/2 times: not named
    ],
)
def test_no_factor_is_named_when_none_holds(tmp_path: Path, claim: str) -> None:
    text = message(tmp_path, claim)
    assert "times the right side" not in text and "differ only in sign" not in text, text
