"""Data-driven cases: each file in tests/cases/ says on its first line the verdicts it expects.

Run one with `pytest -k sums`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from derivcheck.run.claims import check_file
from derivcheck.model import Verdict

CASES = Path(__file__).parent / "cases"
DERIVATIONS = Path(__file__).parent.parent / "derivations"


def expected_verdicts(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name} must start with '# expect: <verdicts>'"
    return first.removeprefix("# expect:").split()


@pytest.mark.parametrize("path", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_case_verdicts(path: Path) -> None:
    result = check_file(path, timeout=60)
    assert not result.problems, result.problems
    got = [step.verdict.value for step in result.steps]
    assert got == expected_verdicts(path)
    for step in result.steps:
        if step.verdict is Verdict.REFUTED:
            # A refutation always shows the values that make the sides differ.
            assert step.counterexample is not None
            assert step.counterexample.lhs != step.counterexample.rhs
        if step.verdict is Verdict.UNDECIDED:
            assert step.tried, "an undecided step says what was tried"


@pytest.mark.parametrize("path", sorted(DERIVATIONS.rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_derivation_holds(path: Path) -> None:
    result = check_file(path, timeout=60)
    assert not result.problems, result.problems
    not_holding = [(s.number, s.verdict.value, s.message) for s in result.steps if not s.ok]
    assert not not_holding


def test_an_index_outside_its_range_names_the_sizes_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "sizes: [N]\nindices:\n  n: 1..N\nvariables:\n  x: [N]\nsteps:\n"
        "  - claim: x[1] + x[2] + Sum(x[n], (n, 3, N)) = Sum(x[n], (n, 1, N))\n",
        encoding="utf-8",
    )
    (step,) = check_file(path, timeout=60).steps
    assert step.verdict is Verdict.ERROR
    assert step.message == "the first subscript of x[2] is 2, outside 1..1 (at N=1)"
    # The problem points at the entry x[2] in the claim (line 7, from column 12), not at the claim's start.
    assert [(p.code, str(p.span)) for p in step.problems] == [("index-out-of-range", "7:19")]


@pytest.mark.parametrize(
    ("claim", "message", "column"),
    [
        ("w[d] + r[d] = r[d] + w[d]", "the first subscript of r[d] is 3, outside 1..2 (at N=2, D=3)", 19),
        ("W[n, d]  +  r[ d ] = W[n, d] + r[d]", "the first subscript of r[d] is 3, outside 1..2 (at N=2, D=3)", 24),
        ("W[d, n] = W[d, n]", "the first subscript of W[d, n] is 3, outside 1..2 (at N=2, D=3)", 12),
        ("W[n, d + 1] = W[n, d+1]", "the second subscript of W[n, d + 1] is 4, outside 1..3 (at N=2, D=3)", 12),
        ("Derivative(t, r[d]) + w[d] = w[d]", "the first subscript of r[d] is 3, outside 1..2 (at N=2, D=3)", 26),
        # The rejects twin: the entry is inside a definition's body, so the claim's start it is.
        ("s[d] = s[d]", "the first subscript of r[d] is 3, outside 1..2 (at N=2, D=3)", 12),
    ],
)
def test_an_entry_out_of_range_is_named_by_its_subscript_and_placed(tmp_path: Path, claim: str, message: str, column: int) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(
        "sizes: [N, D]\nindices:\n  n: 1..N\n  d: 1..D\nvariables:\n  r: [N]\n  w: [D]\n  W: [N, D]\n  t: real\n"
        f"definitions:\n  s[d]: r[d] + 1\nsteps:\n  - claim: {claim}\n",
        encoding="utf-8",
    )
    (step,) = check_file(path, timeout=60).steps
    assert (step.verdict, step.message) == (Verdict.ERROR, message)
    assert [(p.code, str(p.span)) for p in step.problems] == [("index-out-of-range", f"13:{column}")]


def test_a_refuted_derivative_with_one_sided_free_indices_says_so() -> None:
    steps = check_file(CASES / "free_indices.yaml", timeout=60).steps
    refuted = steps[3]
    assert refuted.verdict is Verdict.REFUTED
    assert "the two sides have different free indices: {d, i} and {} (the claim is checked for every value of each)" in refuted.message
    assert {name for name, _ in refuted.counterexample.indices} == {"d", "i"}  # type: ignore[union-attr]
    assert all("different free indices" not in step.message for step in steps[:3])
    assert [problem.code for step in steps[4:] for problem in step.problems] == ["free-index-mismatch"] * 2


def test_the_readme_says_how_counterexample_sides_are_written(tmp_path: Path) -> None:
    # README.md's JSON section: exact sides when they are rational, else 15 significant digits.
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "exact\n  too when they are rational" in readme and "decimals of 15 significant digits" in readme
    path = tmp_path / "d.yaml"
    path.write_text(
        "variables:\n  t: real\nsteps:\n  - claim: (t + 1)**2 = t**2 + 1\n    expect: refuted\n"
        "  - claim: exp(t) = exp(t) + t**2\n    expect: refuted\n",
        encoding="utf-8",
    )
    rational, irrational = (step.counterexample for step in check_file(path, timeout=60).steps)
    assert rational is not None and irrational is not None
    t = Fraction(dict(rational.values)["t"])
    assert (rational.lhs, rational.rhs) == (str((t + 1) ** 2), str(t**2 + 1))  # exact, as rationals
    for side in (irrational.lhs, irrational.rhs):
        digits = side.lstrip("-").replace(".", "").split("e")[0].lstrip("0")
        assert "/" not in side and len(digits) <= 15, side
    assert irrational.lhs != irrational.rhs
