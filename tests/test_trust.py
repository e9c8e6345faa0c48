"""Issue 11's examples, each a file in tests/trust/ whose first line says what it must give:
step verdicts (`refuted proved`, `error:<code>` for a step that fails with that problem), or
`problem <code>` for a file whose declarations are refused. Run one with `pytest -k suffix`."""

from __future__ import annotations

from pathlib import Path

import pytest

from derivcheck.checker import check_file
from derivcheck.model import Verdict

CASES = Path(__file__).parent / "trust"


def expectation(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name} must start with '# expect: ...'"
    return first.removeprefix("# expect:").split()


def _shown(step: object) -> str:
    if step.verdict is Verdict.ERROR:  # type: ignore[attr-defined]
        return "error:" + ",".join(p.code for p in step.problems)  # type: ignore[attr-defined]
    return step.verdict.value  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_example_of_issue_11(path: Path) -> None:
    expected = expectation(path)
    result = check_file(path, timeout=60)
    if expected[0] == "problem":
        assert [problem.code for problem in result.problems] == expected[1:], result.problems
        assert all(problem.span.line > 1 for problem in result.problems), "the problem has a position"
        return
    assert not result.problems, result.problems
    assert [_shown(step) for step in result.steps] == expected, [(s.number, s.method, s.message) for s in result.steps]
    for step in result.steps:
        if step.verdict is Verdict.REFUTED:
            assert step.counterexample is not None and step.counterexample.lhs != step.counterexample.rhs
        if step.verdict is Verdict.PROVED:
            assert "witness agrees at" in step.method, step.method
