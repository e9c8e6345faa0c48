"""The soundness harness (scripts/soundness.py): its oracle, its mutants, and a small run."""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from pathlib import Path

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
    outcomes = soundness.run([ROOT / "derivations" / "softmax_ce.yaml"], max_mutants=6, seed=11, jobs=1, timeout=20)
    figures = soundness.summary(outcomes)
    assert figures["non_equivalent"] >= 1
    assert figures["false_passes"] == figures["non_equivalent"]
    lines: list[str] = []
    soundness.report(outcomes, 0.0, out=type("Out", (), {"write": lambda self, text: lines.append(text)})())
    assert "FALSE PASS:" in "".join(lines)


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
    # A LaTeX claim the mutations cannot parse, and no header to mutate: no mutant at all.
    path = tmp_path / "latex_only.yaml"
    path.write_text("variables:\n  t: real\nsteps:\n  - claim: '$t + t = 2 t$'\n")
    assert soundness.main(["--files", str(path), "--per-file", "3", "--jobs", "1"]) == 1
    assert "no mutant of" in capsys.readouterr().out


def test_the_harness_exits_non_zero_on_a_false_pass(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(claims, "check_file", _yes_man)
    path = ROOT / "derivations" / "softmax_ce.yaml"
    assert soundness.main(["--files", str(path), "--per-file", "4", "--jobs", "1", "--seed", "2"]) == 1
    out = capsys.readouterr().out
    assert "FALSE PASS:" in out and "false pass(es)" in out
    assert "softmax_ce.yaml" in out.split("\n\n")[1]  # the per-file table
