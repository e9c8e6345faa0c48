"""Issue 11's examples, each a file in tests/trust/ whose first line says what it must give:
step verdicts (`refuted proved`, `error:<code>` for a step that fails with that problem), or
`problem <code>` for a file whose declarations are refused. Run one with `pytest -k suffix`."""

from __future__ import annotations

from pathlib import Path

import pytest

from derivcheck.run.claims import check_file
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


# Cases whose expectation is the truth but not yet what derivcheck gives: strict xfails, so
# that the day one passes, the mark must go.
KNOWN_WRONG = {
    "size_gap_exact": "no size assignment has M = N + 2 exactly; the claim is checked, not refuted",
}


def _case(path: Path) -> object:
    reason = KNOWN_WRONG.get(path.stem)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_case(path) for path in sorted(CASES.glob("*.yaml"))])
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


def test_every_problem_code_the_package_gives_has_a_rule() -> None:
    # Every kebab-case code passed to Problem, ParseError or SourceError in the package is
    # described for SARIF and the other reports (a code with no rule would read as
    # "derivcheck problem 'x'").
    import re

    from derivcheck.report.diagnostics import PROBLEM_RULES

    package = Path(__file__).parent.parent / "derivcheck"
    calls = re.compile(r"(?:Problem|ParseError|SourceError|self\.error|self\.problem|problem)\((?:[^()]|\([^()]*\))*?\"([a-z]+(?:-[a-z]+)+|syntax|schema|arity)\"")
    constants = re.compile(r"^([A-Z_]+) = \"([a-z]+(?:-[a-z]+)+)\"", re.MULTILINE)  # AMBIGUOUS = "ambiguous-latex"
    texts = [path.read_text(encoding="utf-8") for path in package.rglob("*.py")]
    codes = {code for text in texts for code in calls.findall(text)}
    for text in texts:  # a constant counts when it is passed as a code in its own module
        codes |= {code for name, code in constants.findall(text) if re.search(rf"(?:Error|Problem|error)\((?:[^()]|\([^()]*\))*\b{name}\b", text)}
    assert {"bound-index-in-limits", "vacuous-condition", "inconsistent-assumptions", "ambiguous-latex"} <= codes  # the scan sees them
    assert sorted(codes - set(PROBLEM_RULES)) == []


@pytest.mark.parametrize("form", ["text", "json", "github", "junit", "sarif", "markdown"])
def test_no_report_claims_a_check_that_did_not_evaluate(form: str, tmp_path: Path) -> None:
    # The prover proves this claim, but no witness can unroll a billion terms: it is
    # undecided ("proof found, no witness"), and no report says a check agreed.
    from typer.testing import CliRunner

    from derivcheck.cli import app

    path = tmp_path / "unwitnessed.yaml"
    path.write_text(
        "indices:\n  k: 1..10**9\nvariables:\n  t: real\n  x: [10**9]\nsteps:\n"
        "  - claim: Sum(x[k]*(1 + t - t), (k, 1, 1000000000)) = Sum(x[k], (k, 1, 1000000000))\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.out"
    run = CliRunner().invoke(app, ["verify", str(path), "--no-cache", "-f", form, "-o", str(report)])
    assert run.exit_code == 1, run.output
    out = report.read_text(encoding="utf-8")
    assert "no witness" in out or "not witnessed" in out, out
    for claim in ("witness agrees", "agrees at 0", "spot check", "admissible points"):
        assert claim not in out, (claim, out)


def test_the_witness_shares_no_code_with_the_prover() -> None:
    # The witness may read the parsed claim (SymPy nodes, the Diff and sigmoid classes of the
    # vocabulary), the context's data and the model; never the prover's or the concrete
    # check's code, nor anything that imports them.
    import ast

    allowed = {"derivcheck.engine.context", "derivcheck.model", "derivcheck.vocabulary"}
    source = (Path(__file__).parent.parent / "derivcheck" / "engine" / "witness.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    ours = {name for name in imported if name.startswith("derivcheck")}
    assert {name.rsplit(".", 1)[0] if name.rsplit(".", 1)[0] in allowed else name for name in ours} <= allowed, ours
    for forbidden in ("symbolic", "concrete", "decide", "fastpaths"):
        assert not any(forbidden in name for name in ours)
