"""prepare/ on its own: a derivation's declarations into a Workspace, its steps into claims,
and the problems that stop a file or a step, each at its position. No claim is checked here."""

from __future__ import annotations

import pytest
import sympy

from derivcheck import source
from derivcheck.model import Verdict
from derivcheck.prepare import FileProblems, build, prepare


def derivation(text: str) -> source.Derivation:
    parsed, problems = source.parse_document(source.compose(text), "<test>")
    assert parsed is not None and not problems, problems
    return parsed


NETWORK = """\
sizes: [N, {D: {min: 2}}]
indices:
  i j: 1..N
  d: 1..D
variables:
  x: [D]
  W: [N, D]
  t: positive
definitions:
  a[i]: sigmoid(z[i])
  z[i]: Sum(W[i, d]*x[d], (d, 1, D))
  L: Sum(a[i], (i, 1, N))
steps:
  - claim: Derivative(L, z[j]) = a[j]*(1 - a[j])
  - chain:
      - t*(t + 1)
      - t**2 + t
      - t + t**2
  - claim: W.T @ W = (W.T @ W).T
"""


def test_declarations_become_sizes_ranges_families_and_definitions() -> None:
    workspace = build(derivation(NETWORK))
    ctx = workspace.context
    N, D = sympy.Symbol("N", integer=True, positive=True), sympy.Symbol("D", integer=True, positive=True)
    assert [s.name for s in ctx.sizes] == ["N", "D"]
    assert {s.name: m for s, m in ctx.minima.items()} == {"D": 2}
    assert {s.name: (low, high) for s, (low, high) in ctx.ranges.items()} == {"i": (1, N), "j": (1, N), "d": (1, D)}
    assert ctx.families["W"].shape == (N, D) and ctx.families["x"].shape == (D,)
    # Definitions in any order: a uses z, declared after it.
    assert set(ctx.definitions) == {"a", "z", "L"}
    assert ctx.definitions["a"].body.has(ctx.families["z"].base)
    assert "t" in ctx.positive and workspace.scope.names["t"].is_positive


def test_a_defined_name_is_typed_only_as_its_body_is() -> None:
    workspace = build(derivation(NETWORK))
    # sigmoid of a real is positive, and so is a Sum of those; a Sum of reals is real, and
    # nothing more.
    definitions = workspace.context.definitions
    assert definitions["a"].target.is_positive and definitions["L"].target.is_positive
    z = definitions["z"].target[sympy.Symbol("j", integer=True)]
    assert z.is_real and z.is_positive is None
    # sqrt of a real leaves the reals: such a name is not declared real.
    text = "variables:\n  u: real\ndefinitions:\n  r: sqrt(u)\nsteps:\n  - claim: r = r\n"
    assert build(derivation(text)).context.definitions["r"].target.is_real is None


def test_steps_become_claims_one_per_link_with_matrices_compared_at_an_entry() -> None:
    prepared = prepare(derivation(NETWORK))
    assert not prepared.problems
    assert [p.claim.number for p in prepared.pending] == ["1", "2.1", "2.2", "3"]
    assert [p.position for p in prepared.pending] == [0, 1, 1, 2]
    link = prepared.pending[1].claim
    assert link.written == "t*(t + 1) = t**2 + t" and link.text.span.line == 17
    matrix = prepared.pending[3].claim
    assert len(matrix.entry) == 2 and all(isinstance(e, sympy.Dummy) for e in matrix.entry)
    assert matrix.lhs.free_symbols >= set(matrix.entry)


def test_only_the_chosen_steps_are_prepared() -> None:
    prepared = prepare(derivation(NETWORK), positions=[2])
    assert [p.claim.number for p in prepared.pending] == ["3"]


@pytest.mark.parametrize(
    ("yaml", "code", "line"),
    [
        ("variables:\n  t: {assume: [positive, negative]}\nsteps:\n  - claim: t = t\n", "contradictory-assumptions", 2),
        ("sizes: [N]\nindices:\n  k: 1..N\nvariables:\n  y: [N]\nassumptions:\n  h: one_hot(y)\n  s: Sum(y[k], (k, 1, N)) = 2\nsteps:\n  - claim: y[1] = y[1]\n", "inconsistent-assumptions", 7),
        ("sizes: [N]\nindices:\n  e: 2..1\nsteps:\n  - claim: N = N\n", "empty-range", 3),
        ("definitions:\n  a: b + 1\n  b: a + 1\nsteps:\n  - claim: a = a\n", "cyclic-definition", 2),
        ("sizes: [N]\nindices:\n  k: 0..N\nvariables:\n  x: [N]\ndefinitions:\n  s[k]: x[k]\nsteps:\n  - claim: N = N\n", "index-range", 7),
    ],
    ids=["contradictory", "inconsistent", "empty-range", "cycle", "index-range"],
)
def test_declarations_that_cannot_hold_stop_the_file_at_their_line(yaml: str, code: str, line: int) -> None:
    with pytest.raises(FileProblems) as raised:
        build(derivation(yaml))
    assert [(p.code, p.span.line) for p in raised.value.problems] == [(code, line)]
    # prepare() reports them, and makes no claim of the file's steps.
    prepared = prepare(derivation(yaml))
    assert [p.code for p in prepared.problems] == [code] and prepared.pending == []


def test_a_step_that_cannot_be_read_is_an_error_result_and_the_others_go_on() -> None:
    text = """\
sizes: [N]
indices:
  i j: 1..N
variables:
  x: [N]
  W: [N, N]
steps:
  - claim: x[i] + = x[i]
  - claim: W @ W = W
  - claim: x[i] = x[i]
    where: [i != i]
  - claim: x[i] = x[i]
"""
    prepared = prepare(derivation(text))
    errors = {position: [(r.verdict, r.problems[0].code, r.problems[0].span.line) for r in results] for position, results in prepared.known.items() if results}
    assert errors == {0: [(Verdict.ERROR, "syntax", 8)], 2: [(Verdict.ERROR, "vacuous-condition", 11)]}
    # W @ W = W is well formed (both N x N): a claim for the engine, not an error here.
    assert [p.position for p in prepared.pending] == [1, 3]


def test_a_shape_mismatch_between_the_sides_is_an_error_before_the_engine() -> None:
    text = "sizes: [N, D]\nvariables:\n  W: [N, D]\nsteps:\n  - claim: W = W.T\n"
    prepared = prepare(derivation(text))
    ((result,),) = [r for r in prepared.known.values() if r]
    assert result.problems[0].code == "shape-mismatch" and "different shapes" in result.message
    assert prepared.pending == []
