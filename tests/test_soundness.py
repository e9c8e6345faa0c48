"""The soundness harness (scripts/soundness.py): its oracle, its mutants, and a small run."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from pathlib import Path

import mpmath
import pytest

from derivcheck import source
from derivcheck.run import claims
from derivcheck.run.claims import check_file
from derivcheck.model import FileResult, StepResult, Verdict

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("soundness", ROOT / "scripts" / "soundness.py")
assert _spec is not None and _spec.loader is not None
soundness = importlib.util.module_from_spec(_spec)
sys.modules["soundness"] = soundness
_spec.loader.exec_module(soundness)

SOFTMAX = """\
title: softmax and cross-entropy, for the oracle
sizes: [N, D]
indices:
  i j k n: 1..N
  d: 1..D
variables:
  x: [D]
  W: [N, D]
  b: [N]
  y: [N]
  t: real
definitions:
  z[i]: Sum(W[i, d]*x[d], (d, 1, D)) + b[i]
  a[k]: exp(z[k]) / Sum(exp(z[n]), (n, 1, N))
  L: -Sum(y[k]*log(a[k]), (k, 1, N))
{assumptions}
steps:
  - claim: {claim}
{where}
"""


def judge(claim: str, tmp_path: Path, *, one_hot: bool = True, where: str = "") -> str:
    text = SOFTMAX.format(
        claim=claim,
        assumptions="assumptions:\n  y_one_hot: one_hot(y)" if one_hot else "",
        where=f"    where: {where}" if where else "",
    )
    path = tmp_path / "d.yaml"
    path.write_text(text)
    judgements = soundness.judge_file(path, seed=3)
    assert list(judgements) == ["1"]
    return judgements["1"].status


@pytest.mark.parametrize(
    ("true_claim", "wrong_claim"),
    [
        ("Derivative(L, a[k]) = -y[k]/a[k]", "Derivative(L, a[k]) = y[k]/a[k]"),
        ("Derivative(L, z[j]) = a[j] - y[j]", "Derivative(L, z[j]) = y[j] - a[j]"),
        ("Derivative(L, W[i, d]) = (a[i] - y[i])*x[d]", "Derivative(L, W[i, d]) = (a[i] - y[i])*x[d]*a[i]"),
        ("Derivative(a[k], z[j]) = a[k]*(KroneckerDelta(k, j) - a[j])", "Derivative(a[k], z[j]) = a[k]*(KroneckerDelta(k, j) - a[k])"),
        ("Sum(a[k], (k, 1, N)) = 1", "Sum(a[k], (k, 2, N)) = 1"),
        ("Sum(x[d], (d, 1, D)) = x[1] + Sum(x[d], (d, 2, D))", "Sum(x[d], (d, 1, D)) = Sum(x[d], (d, 2, D))"),
        ("Sum(Sum(W[i, d], (d, 1, D)), (i, 1, N)) = Sum(W[i, d], (i, 1, N), (d, 1, D))", "Sum(Sum(W[i, d], (d, 1, D)), (i, 1, N)) = Sum(W[i, i], (i, 1, N))"),
        ("Derivative(t**3, t) = 3*t**2", "Derivative(t**3, t) = 3*t**2 + t/10**15"),
        ("Derivative(Derivative(L, a[k]), z[j]) = y[k]*(KroneckerDelta(k, j) - a[j])/a[k]",
         "Derivative(Derivative(L, a[k]), z[j]) = y[k]*(KroneckerDelta(k, j) + a[j])/a[k]"),
        ("sigmoid(t) = 1/(1 + exp(-t))", "sigmoid(t) = 1/(1 + exp(t))"),
        ("N*D = D*N", "D = N + 1"),
        # True at every size derivcheck tries (1 to 4), false beyond: the oracle also tries 5 to 7.
        ("(N - 1)*(N - 2) = N**2 - 3*N + 2", "(N - 1)*(N - 2)*(N - 3)*(N - 4) = 0"),
    ],
)
def test_the_oracle_accepts_the_true_claim_and_rejects_its_wrong_twin(true_claim: str, wrong_claim: str, tmp_path: Path) -> None:
    assert judge(true_claim, tmp_path) == "equivalent"
    assert judge(wrong_claim, tmp_path) == "different"


def test_the_oracle_honours_one_hot(tmp_path: Path) -> None:
    claim = "Sum(y[k], (k, 1, N)) = 1"
    assert judge(claim, tmp_path, one_hot=True) == "equivalent"
    assert judge(claim, tmp_path, one_hot=False) == "different"


def test_the_oracle_honours_where(tmp_path: Path) -> None:
    claim = "Derivative(a[k], z[j]) = -a[k]*a[j]"
    assert judge(claim, tmp_path, where="k != j") == "equivalent"
    assert judge(claim, tmp_path) == "different"


def test_the_oracle_does_not_judge_sides_with_different_free_indices(tmp_path: Path) -> None:
    assert judge("x[d] = x[1]", tmp_path) == "ill-formed"


def test_the_oracle_reads_matrix_notation(tmp_path: Path) -> None:
    text = (ROOT / "derivations" / "softmax_ce_batch.yaml").read_text()
    header, _ = soundness._header_and_steps(text)
    path = tmp_path / "m.yaml"
    for claim, status in (
        ("sum(A, axis=0) = ones(1, n)", "equivalent"),
        ("sum(A, axis=0) = 2*ones(1, n)", "different"),
        ("Derivative(Loss, Z) = (A - Y)/n", "equivalent"),
        ("Derivative(Loss, Z) = (A - Y)", "different"),
    ):
        path.write_text(header + f"steps:\n  - claim: {claim}\n")
        assert soundness.judge_file(path, seed=1)["1"].status == status, claim


def test_the_oracle_finds_every_claim_of_the_examples_true() -> None:
    for path in sorted((ROOT / "derivations").glob("*.yaml")):
        derivation, _ = source.load_derivation(path)
        assert derivation is not None
        expected = {str(s.number) for s in derivation.steps if s.expect_refuted}
        for number, judgement in soundness.judge_file(path, seed=1).items():
            wanted = "different" if number.split(".")[0] in expected else "equivalent"
            assert judgement.status == wanted, (path.name, number, judgement)


def test_mutants_of_every_kind_are_made() -> None:
    mutants = soundness.mutants_of(ROOT / "derivations" / "softmax_ce.yaml")
    descriptions = " | ".join(m.description for m in mutants)
    for kind in (
        "sign flipped",
        "'+' became '-'",
        "dropped the term",
        "dropped the factor /",
        "the constant 1 became 2",
        "exp became log",
        "log became exp",
        "k became j at one place",
        "dropped the assumption y_one_hot",
        "dropped where: k != j",
        "under the definition of a[k]",
    ):
        assert kind in descriptions, kind
    for mutant in random.Random(0).sample(mutants, 20):
        derivation, problems = source.load_derivation(_written(mutant))
        assert derivation is not None and len(derivation.steps) == 1, mutant.description


def _written(mutant: soundness.Mutant) -> Path:
    path = Path(__import__("tempfile").mkdtemp()) / "m.yaml"
    path.write_text(mutant.text)
    return path


def test_a_small_run_on_softmax_ce_has_no_false_pass_and_kills_every_wrong_mutant() -> None:
    start = time.monotonic()
    outcomes = soundness.run([ROOT / "derivations" / "softmax_ce.yaml"], max_mutants=12, seed=11, jobs=2, timeout=20)
    figures = soundness.summary(outcomes)
    assert time.monotonic() - start < 90
    assert figures["mutants"] == 12
    assert figures["false_passes"] == 0 and figures["claims_false_passes"] == 0
    assert figures["non_equivalent"] >= 3  # the run must be able to fail
    assert figures["killed"] == figures["non_equivalent"], [
        (o.mutant.description, o.verdicts) for o in outcomes if o.kind == "undecided"
    ]


def _yes_man(path: Path, *, timeout: float | None = None) -> FileResult:
    """A checker that says "proved" to every claim."""
    derivation, _ = source.load_derivation(path)
    assert derivation is not None
    numbers = [
        str(step.number) if step.claim is not None else f"{step.number}.{position}"
        for step in derivation.steps
        for position in (range(1, len(step.chain)) if step.claim is None else [0])
    ]
    steps = tuple(StepResult(n, None, source.Span(1, 1), "", Verdict.PROVED, "fake") for n in numbers)
    return FileResult(str(path), None, steps)


def test_the_harness_reports_a_checker_that_passes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rejects twin of the run above: a checker that says "proved" to every claim is caught.
    monkeypatch.setattr(claims, "check_file", _yes_man)
    outcomes = soundness.run([ROOT / "derivations" / "softmax_ce.yaml"], max_mutants=8, seed=11, jobs=1, timeout=20)
    figures = soundness.summary(outcomes)
    assert figures["non_equivalent"] >= 1 and figures["errors_missed"] >= 1
    assert figures["false_passes"] == figures["non_equivalent"]
    assert figures["required_errors"] == 0  # it never reports the errors the format requires
    lines: list[str] = []
    soundness.report(outcomes, 0.0, out=type("Out", (), {"write": lambda self, text: lines.append(text)})())
    assert "FALSE PASS:" in "".join(lines) and "ERROR MISSED:" in "".join(lines)


def test_derivcheck_does_not_pass_a_claim_the_oracle_refutes_for_correlated_sizes(tmp_path: Path) -> None:
    path = tmp_path / "sizes.yaml"
    path.write_text("sizes: [N, D]\nsteps:\n  - claim: D = N + 1\n")
    assert soundness.judge_file(path, seed=1)["1"].status == "different"
    verdict = check_file(path, timeout=20).steps[0].verdict
    assert verdict not in (Verdict.PROVED, Verdict.CHECKED)


def test_the_oracle_agrees_with_what_the_seeds_expect_of_each_step() -> None:
    # The seeds keep wrong steps as written (`expect: refuted`, a problem code): the oracle must
    # find the refuted ones different, not judge the ill-formed ones, and find the rest equal.
    for path in sorted((ROOT / "derivations" / "seeds").glob("*.yaml")):
        derivation, _ = source.load_derivation(path)
        assert derivation is not None
        header, _ = soundness._header_and_steps(path.read_text())
        for step in derivation.steps:
            written = _written(soundness.Mutant(str(path), "as written", header + soundness._original_step(step)))
            try:
                statuses = {j.status for j in soundness.judge_file(written, seed=1).values()}
            except Exception:  # noqa: BLE001 - the oracle cannot read a shape mismatch
                statuses = {"unreadable"}
            if step.expect_refuted:
                assert statuses == {"different"}, (path.name, step.number)
            elif step.expect_error:
                assert statuses <= {"ill-formed", "unreadable"}, (path.name, step.number, statuses)
            else:
                assert statuses == {"equivalent"}, (path.name, step.number, statuses)


def test_mutants_of_expect_steps_are_tagged_and_written_without_expect() -> None:
    mutants = soundness.mutants_of(ROOT / "derivations" / "seeds" / "003_as_written.yaml")
    tagged = {m.expect for m in mutants}
    assert {None, "refuted", "shape-mismatch", "free-index-mismatch"} <= tagged
    assert all("expect:" not in m.text.split("steps:")[1] for m in mutants)
    assert all(m.kind in soundness.KINDS for m in mutants)


def test_the_default_files_are_every_derivation_seeds_included() -> None:
    files = soundness.derivation_files([ROOT / "derivations"])
    assert {p.relative_to(ROOT / "derivations").as_posix() for p in files} == {
        p.relative_to(ROOT / "derivations").as_posix() for p in (ROOT / "derivations").rglob("*.yaml")
    }
    assert any(p.parent.name == "seeds" for p in files)


def test_per_file_draws_judgeable_mutants_of_every_file_spread_across_kinds() -> None:
    # The oracle alone, no derivcheck: fast. Each file gets its budget, from several kinds, and
    # the oracle judges at least one mutant of each file (so a run over every file is not vacuous).
    files = soundness.derivation_files([ROOT / "derivations"])
    chosen, _ = soundness.select(files, per_file=4, seed=1)
    again, _ = soundness.select(files, per_file=4, seed=1)
    assert [m.description for m in chosen] == [m.description for m in again]  # a fixed seed
    for path in files:
        mine = [m for m in chosen if m.file == str(path)]
        assert len(mine) == 4, path.name
        assert len({m.kind for m in mine}) >= 2, (path.name, [m.kind for m in mine])
        statuses = set().union(*(_oracle_statuses(mutant) for mutant in mine))
        assert statuses & {"equivalent", "different"}, (path.name, [m.description for m in mine])


def _oracle_statuses(mutant: soundness.Mutant) -> set[str]:
    try:
        return {j.status for j in soundness.judge_file(_written(mutant), seed=1).values()}
    except Exception:  # noqa: BLE001 - a mutant the oracle cannot read: no status
        return set()


def test_spread_takes_one_mutant_of_each_kind_before_a_second() -> None:
    mutants = [soundness.Mutant("f", f"{kind} {n}", "", kind) for kind in ("a", "b", "c") for n in range(5)]
    chosen, refused = soundness.spread(mutants, 3, random.Random(1))
    assert sorted(m.kind for m in chosen) == ["a", "b", "c"] and refused == 0
    chosen, refused = soundness.spread(mutants, 4, random.Random(1), accept=lambda m: m.kind != "b")
    assert [m.kind for m in chosen].count("b") == 0 and len(chosen) == 4 and refused >= 1


def test_the_harness_fails_a_file_with_no_judged_mutant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A LaTeX claim the mutations cannot parse, and no header to mutate (no variable, index,
    # definition or assumption): no mutant at all.
    path = tmp_path / "latex_only.yaml"
    path.write_text("sizes: [N]\nsteps:\n  - claim: '$N + N = 2 N$'\n")
    assert soundness.main(["--files", str(path), "--per-file", "3", "--jobs", "1"]) == 1
    assert "no mutant of" in capsys.readouterr().out


def test_the_harness_exits_non_zero_on_a_false_pass(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(claims, "check_file", _yes_man)
    path = ROOT / "derivations" / "softmax_ce.yaml"
    assert soundness.main(["--files", str(path), "--per-file", "4", "--jobs", "1", "--seed", "2"]) == 1
    out = capsys.readouterr().out
    assert "FALSE PASS:" in out and "false pass(es)" in out
    assert "softmax_ce.yaml" in out.split("\n\n")[1]  # the per-file table


# ---------------------------------------------------------------------------------------------
# Issue 11: empty sums, least sizes, combined facts, complex values, cancellation, and the steps
# the format makes errors


LIMITS = """\
sizes: {sizes}
indices:
  j k n m: 1..N
{more_indices}variables:
  x: [N]
  y: {y}
  t: real
  s: positive
{assumptions}steps:
  - claim: {claim}
{where}"""


def judge_text(tmp_path: Path, claim: str, *, sizes: str = "[N]", y: str = "[N]", assumptions: tuple[str, ...] = (),
               where: str = "", more_indices: str = "") -> soundness.Judgement:
    facts = "".join(f"  f{number}: {fact}\n" for number, fact in enumerate(assumptions))
    text = LIMITS.format(
        sizes=sizes, y=y, claim=json.dumps(claim), more_indices=more_indices,
        assumptions=f"assumptions:\n{facts}" if facts else "", where=f"    where: {json.dumps(where)}\n" if where else "",
    )
    path = tmp_path / "d.yaml"
    path.write_text(text)
    ((_, judgement),) = soundness.judge_file(path, seed=3).items()
    return judgement


@pytest.mark.parametrize(
    ("true_claim", "wrong_claim"),
    [
        # An upper limit below the lower one is an empty sum, 0; SymPy's Karr convention would
        # make Sum(f, (n, 3, 1)) = -f(2), and Sum(x[n], (n, N + 2, N)) = -x[N + 1] (outside x).
        ("Sum(x[n], (n, 3, 1)) = 0", "Sum(x[n], (n, 3, 1)) = -x[2]"),
        ("Sum(x[n], (n, N + 2, N)) + t = t", "Sum(x[n], (n, N + 2, N)) + t = t + x[N]"),
        ("Sum(x[n], (n, j + 1, j - 1)) + x[j] = x[j]", "Sum(x[n], (n, j + 1, j - 1)) + x[j] = 2*x[j]"),
        # Limits that mention an index, and an inner range that depends on the outer index.
        ("Sum(x[n], (n, j, N)) = Sum(x[n], (n, 1, N)) - Sum(x[n], (n, 1, j - 1))",
         "Sum(x[n], (n, j, N)) = Sum(x[n], (n, 1, N)) - Sum(x[n], (n, 1, j))"),
        ("Sum(Sum(x[m], (m, 1, n)), (n, 1, N)) = Sum((N - m + 1)*x[m], (m, 1, N))",
         "Sum(Sum(x[m], (m, 1, n)), (n, 1, N)) = Sum((N - m)*x[m], (m, 1, N))"),
        ("Sum(x[m]*x[n], (m, 1, n), (n, 1, N)) = Sum(Sum(x[m]*x[n], (n, m, N)), (m, 1, N))",
         "Sum(x[m]*x[n], (m, 1, n), (n, 1, N)) = Sum(Sum(x[m]*x[n], (n, m + 1, N)), (m, 1, N))"),
        # Sum(1, (n, j, k)) is k - j + 1 only where that is not negative.
        ("Sum(1, (n, j, k)) + k = k + Sum(KroneckerDelta(n, n), (n, j, k))", "Sum(1, (n, j, k)) = k - j + 1"),
        # Complex intermediates of real variables, on the principal branch (SymPy's).
        ("log(-s) = log(s) + log(-1)", "log(-x[j]) = log(x[j]) + log(-1)"),
        ("sqrt(t)**2 = t", "sqrt(t**2) = t"),
        ("log(t**2) = 2*log(Abs(t))", "log(t**2) = 2*log(t)"),
        ("sqrt(-s) = sqrt(s)*sqrt(-1)", "sqrt(-t) = sqrt(t)*sqrt(-1)"),
        # Fractional powers of exponentials: exp(u)**(1/2) = exp(u/2) needs Im(u) in (-pi, pi].
        ("exp(2*log(-s))**(1/2) = s", "exp(2*log(-s))**(1/2) = -s"),
        ("exp(log(-s))**(1/2) = exp(log(-s)/2)", "exp(t*log(-s))**(1/2) = exp(t*log(-s)/2)"),
        ("exp(3*t + log(-s))**(1/3) = exp(t)*(-s)**(1/3)", "exp(3*t + log(-s))**(1/3) = -exp(t)*s**(1/3)"),
        # Cancellation: terms of 1e228 and more that cancel exactly, to -1 or to 0.
        ("(exp(50*s) + 1)*(exp(50*s) - 1) - exp(100*s) = -1", "(exp(50*s) + 1)*(exp(50*s) - 1) - exp(100*s) = -2"),
        ("(exp(50*(s + 10)) + 1)*(exp(50*(s + 10)) - 1) - exp(100*(s + 10)) = -1",
         "(exp(50*(s + 10)) + 1)*(exp(50*(s + 10)) - 1) - exp(100*(s + 10)) = -1 + exp(-s)"),
        ("log(exp(80*s) + 1) - 80*s = log(1 + exp(-80*s))", "log(exp(80*s) + 1) - 80*s = 0"),
    ],
)
def test_the_oracle_on_limits_complex_values_and_cancellation(true_claim: str, wrong_claim: str, tmp_path: Path) -> None:
    assert judge_text(tmp_path, true_claim).status == "equivalent", true_claim
    assert judge_text(tmp_path, wrong_claim).status == "different", wrong_claim


def test_the_oracle_respects_a_least_size(tmp_path: Path) -> None:
    claim = "KroneckerDelta(N, 2)*x[1] = 0"  # false at N = 2 only
    assert judge_text(tmp_path, claim, sizes="{N: {min: 3}}").status == "equivalent"
    assert judge_text(tmp_path, claim, sizes="[{N: {min: 2}}]").status == "different"


@pytest.mark.parametrize(
    ("facts", "y", "true_claim", "wrong_claim"),
    [
        # One-hot and sum-to-one together: y is sampled one-hot (the sum fact must not override it).
        (("one_hot(y)", "Sum(y[k], (k, 1, N)) = 1"), "[N]", "y[j]**2 = y[j]", "y[j]**2 = y[j]/2"),
        # Two sums on parts of y: both hold, so y[1] = 1/2.
        (("Sum(y[k], (k, 1, N)) = 1", "Sum(y[k], (k, 2, N)) = 1/2"), "[N]", "y[1] = 1/2", "y[1] = 1/3"),
        (("Sum(y[k], (k, 1, N)) = 1", "Sum(y[k], (k, 2, N)) = 1/2"), "{shape: [N], assume: positive}",
         "log(2*y[1]) = 0", "log(y[1]) = 0"),
        # Disjoint parts (N >= 3, declared), with a sum of 0 over real y: not all zeros.
        (("Sum(y[k], (k, 1, 2)) = 0", "Sum(y[k], (k, 3, N)) = 2"), "[N]", "Sum(y[n], (n, 1, N)) = 2", "y[1] = 0"),
    ],
)
def test_the_oracle_honours_facts_together(facts: tuple[str, ...], y: str, true_claim: str, wrong_claim: str, tmp_path: Path) -> None:
    sizes = "{N: {min: 3}}"
    assert judge_text(tmp_path, true_claim, sizes=sizes, y=y, assumptions=facts).status == "equivalent", true_claim
    assert judge_text(tmp_path, wrong_claim, sizes=sizes, y=y, assumptions=facts).status == "different", wrong_claim


@pytest.mark.parametrize(
    ("facts", "y", "code"),
    [
        (("one_hot(y)", "Sum(y[k], (k, 1, N)) = 2"), "[N]", "inconsistent-assumptions"),
        (("Sum(y[k], (k, 1, N)) = 1", "Sum(y[k], (k, 1, N)) = 2"), "[N]", "inconsistent-assumptions"),
        (("one_hot(y)",), "{shape: [N], assume: negative}", "inconsistent-assumptions"),
        (("Sum(y[k], (k, 1, N)) = -1",), "{shape: [N], assume: positive}", "inconsistent-assumptions"),
        (("Sum(y[k], (k, 1, j)) = 1",), "[N]", "unsupported-assumption"),
        (("Sum(y[k], (k, 1, N)) = t",), "[N]", "unsupported-assumption"),
        ((), "{shape: [N], assume: [positive, negative]}", "contradictory-assumptions"),
    ],
)
def test_the_oracle_requires_an_error_for_facts_no_point_meets(facts: tuple[str, ...], y: str, code: str, tmp_path: Path) -> None:
    judgement = judge_text(tmp_path, "y[1] = y[1]*1", y=y, assumptions=facts)
    assert (judgement.status, judgement.code) == ("must-error", code), judgement


@pytest.mark.parametrize(
    ("claim", "where", "more", "twin"),
    [
        ("x[j] + x[k] = x[k] + x[j]", "k != k", "", "j != k"),
        ("x[j] = x[j]*1", "j != k", "", ""),  # k is not free in the claim
        ("x[p] + x[q] = x[q] + x[p]", "p != q", "  p q: 2..2\n", ""),  # met by no values
        ("x[p] + x[q] = x[q] + x[p]", "p != q", "  p: 1..N\n  q: N..N\n", "p != q"),  # met at N >= 2
        ("Sum(x[n], (n, n, N)) = 0", "", "", ""),  # a range naming its own index
    ],
)
def test_the_oracle_requires_an_error_for_a_vacuous_step(claim: str, where: str, more: str, twin: str, tmp_path: Path) -> None:
    judgement = judge_text(tmp_path, claim, where=where, more_indices=more)
    if twin and where == twin:  # the twin: a condition that some values meet is judged
        assert judgement.status == "equivalent", judgement
        return
    assert judgement.status == "must-error", judgement
    assert judgement.code == ("bound-index-in-limits" if "(n, n" in claim else "vacuous-condition")
    if twin:
        assert judge_text(tmp_path, claim, where=twin, more_indices=more).status == "equivalent"


def test_the_oracle_does_not_guess_a_branch_a_rounding_away() -> None:
    # exp(log(2) + i*pi) is -2, computed as -2 - 2e-51i: the principal square root of the value
    # computed would be -i*sqrt(2), of -2 itself i*sqrt(2). The oracle does not evaluate there.
    with mpmath.workdps(soundness.DIGITS):
        near = mpmath.exp(mpmath.log(2) + mpmath.pi * 1j)
        with pytest.raises(soundness.Unresolved):
            soundness.Evaluator._power(near, mpmath.mpf(1) / 2)
        assert soundness.Evaluator._power(mpmath.mpc(-2, 0), mpmath.mpf(1) / 2) == mpmath.sqrt(-2)


def test_a_claim_the_oracle_cannot_resolve_is_not_judged(tmp_path: Path) -> None:
    # Terms of e**5000: no precision up to MAX_DIGITS resolves the difference of the sides.
    claim = "(exp(5000*(s + 1)) + 1)*(exp(5000*(s + 1)) - 1) - exp(10000*(s + 1)) = -1"
    judgement = judge_text(tmp_path, claim)
    assert judgement.status == "ill-formed" and "unresolved" in judgement.detail, judgement


def test_a_refutation_the_oracle_checks_at_an_inadmissible_counterexample_is_false(tmp_path: Path) -> None:
    from derivcheck.model import Counterexample

    path = tmp_path / "f.yaml"
    path.write_text(LIMITS.format(sizes="[N]", y="{shape: [N], assume: positive}", claim='"y[1] = 1"', more_indices="",
                                  assumptions="", where=""))
    derivation, _ = source.load_derivation(path)
    model = soundness.build_model(derivation)
    ((_, lhs, rhs, _),) = soundness.claims_of(derivation, model)
    inadmissible = Counterexample(sizes=(("N", "2"),), indices=(), values=(("y[1]", "0"),), lhs="0", rhs="1")
    assert soundness.confirm_refutation(model, lhs, rhs, inadmissible, seed=1).status == "equivalent"
    real = Counterexample(sizes=(("N", "2"),), indices=(), values=(("y[1]", "2"),), lhs="2", rhs="1")
    assert soundness.confirm_refutation(model, lhs, rhs, real, seed=1).status == "different"


def test_mutants_of_the_new_kinds_are_made() -> None:
    mutants = soundness.mutants_of(ROOT / "derivations" / "softmax_ce.yaml")
    descriptions = " | ".join(m.description for m in mutants)
    for text in (
        "the range (k, 1, N) was reversed",
        "was emptied",
        "starts at k itself",
        "starts at the index",
        "became log(-(",
        "became exp(2*(",
        "times a 1 that cancels",
        "added where: k != k",
        "added the assumption Sum(y[n], (n, 1, N)) = 2 to one_hot(y)",
        "about the defined",
        "declared x positive and negative",
    ):
        assert text in descriptions, text
    kinds = {m.kind for m in mutants}
    assert {"limit", "negated-argument", "power", "cancellation", "vacuous-where", "contradictory-fact"} <= kinds
