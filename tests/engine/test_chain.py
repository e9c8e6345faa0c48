"""engine/chain.py: derivatives through the definitions, with the intermediates kept by name.

The proof at that stage is sound only if nothing else is lost: a claim equal to the chain
rule's result only after the definitions are substituted must still be proved, its wrong twin
refuted, and every equation of backpropagation through four layers proved while each of its
wrong twins (a sign, a transposed weight, a dropped activation derivative) is refuted."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy

from derivcheck import prepare, source
from derivcheck.engine import chain, symbolic
from derivcheck.model import Verdict
from derivcheck.run.claims import check_file

ACTIVATIONS = ("sigmoid", "tanh", "sigmoid", "tanh")  # layers 1 to 4
HEADER = """\
sizes: [D, H, N]
indices:
  i: 1..N
variables:
  x: [D]
  W1: [H, D]
  b1: [H]
  W2: [H, H]
  b2: [H]
  W3: [H, H]
  b3: [H]
  W4: [H, H]
  b4: [H]
  W5: [N, H]
  b5: [N]
  y: [N]
definitions:
  z1: W1 @ x + b1
  a1: sigmoid(z1)
  z2: W2 @ a1 + b2
  a2: tanh(z2)
  z3: W3 @ a2 + b3
  a3: sigmoid(z3)
  z4: W4 @ a3 + b4
  a4: tanh(z4)
  z5: W5 @ a4 + b5
  a5: softmax(z5)
  C: -Sum(y[i]*log(a5[i]), (i, 1, N))
assumptions:
  y_one_hot: one_hot(y)
steps:
"""


def derivative_factor(layer: int, *, dropped: int | None = None) -> str:
    """The activation's derivative at a layer, as authors write it ('' where dropped)."""
    if layer == dropped:
        return ""
    a = f"a{layer}"
    return f" * {a} * (1 - {a})" if ACTIVATIONS[layer - 1] == "sigmoid" else f" * (1 - {a} * {a})"


def delta(layer: int, *, sign: bool = False, transposed: int | None = None, dropped: int | None = None) -> str:
    """delta^layer written out through every layer above, with at most one slip in it."""
    text = "(y - a5)" if sign else "(a5 - y)"
    for below in range(4, layer - 1, -1):
        weight = f"W{below + 1}" if transposed == below + 1 else f"W{below + 1}.T"
        text = f"(({weight} @ {text}){derivative_factor(below, dropped=dropped)})"
    return text


def claims(*, sign: bool = False, transposed: int | None = None, dropped: int | None = None, layer: int | None = None) -> list[str]:
    """BP1, then BP2, BP3 and BP4 at every layer (or at `layer` only), as claims."""
    slip = {"sign": sign, "transposed": transposed, "dropped": dropped}
    found = [] if layer not in (None, 5) else [f"Derivative(C, z5) = {delta(5, **slip)}", f"Derivative(C, b5) = {delta(5, **slip)}", f"Derivative(C, W5) = {delta(5, **slip)} @ a4.T"]
    for at in range(1, 5) if layer is None else [layer] if layer < 5 else []:
        before = "x" if at == 1 else f"a{at - 1}"
        found += [f"Derivative(C, z{at}) = {delta(at, **slip)}", f"Derivative(C, b{at}) = {delta(at, **slip)}", f"Derivative(C, W{at}) = {delta(at, **slip)} @ {before}.T"]
    return found


def verdicts(tmp_path: Path, written: list[str], name: str, *, expect_refuted: bool = False) -> list[tuple[str, Verdict, str]]:
    path = tmp_path / f"{name}.yaml"
    expect = "    expect: refuted\n" if expect_refuted else ""  # known slips: no hints looked for
    path.write_text(HEADER + "".join(f"  - claim: {claim}\n{expect}" for claim in written), encoding="utf-8")
    result = check_file(path, timeout=60, jobs=2)
    assert not result.problems, result.problems
    return [(claim, step.verdict, step.method) for claim, step in zip(written, result.steps)]


def test_every_backpropagation_equation_through_four_layers_is_proved(tmp_path: Path) -> None:
    found = verdicts(tmp_path, claims(), "right")
    assert [verdict for _, verdict, _ in found] == [Verdict.PROVED] * 15, [(c, v.value, m) for c, v, m in found if v is not Verdict.PROVED]


# Each slip, at every layer it can be made: the sign of the output error; a weight not
# transposed (the hidden weights are square, so the slip fits the shapes); an activation's
# derivative dropped.
SLIPS = [{"sign": True}] + [{"transposed": weight} for weight in (2, 3, 4)] + [{"dropped": layer} for layer in (1, 2, 3, 4)]


@pytest.mark.parametrize("slip", SLIPS, ids=lambda slip: "-".join(f"{k}{'' if v is True else v}" for k, v in slip.items()))
def test_every_wrong_twin_through_four_layers_is_refuted(slip: dict[str, object], tmp_path: Path) -> None:
    right = claims()
    wrong = claims(**slip)  # type: ignore[arg-type]
    changed = [twin for claim, twin in zip(right, wrong) if claim != twin]
    assert changed, slip  # the slip reaches some equation
    found = verdicts(tmp_path, changed, "wrong", expect_refuted=True)
    assert [verdict for _, verdict, _ in found] == [Verdict.REFUTED] * len(changed), [(c, v.value, m) for c, v, m in found]


def _workspace(tmp_path: Path, steps: str) -> prepare.Workspace:
    path = tmp_path / "d.yaml"
    path.write_text(HEADER + steps, encoding="utf-8")
    derivation, problems = source.load_derivation(path)
    assert derivation is not None and not problems
    return prepare.build(derivation)


def test_the_chain_rule_keeps_the_intermediates_and_folds_their_derivatives(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, "  - claim: t = t\n".replace("t", "x[1]"))
    ctx = workspace.context
    # d/dz1 of a1 := sigmoid(z1) is a1*(1 - a1) by name; softmax's is a5*(δ - a5) by name.
    local = chain.local_derivative(ctx, "a1", "z1", _tools(ctx))
    assert {str(atom.base.label) for atom in local.atoms(sympy.Indexed)} == {"a1"}
    local = chain.local_derivative(ctx, "a5", "z5", _tools(ctx))
    assert {str(atom.base.label) for atom in local.atoms(sympy.Indexed)} == {"a5"}
    # The gradient by the first bias holds the activations by name, never the variables below z1.
    gradient = symbolic._kept(sympy.Symbol("C", real=True) * 0 + ctx.definitions["C"].target, ctx)  # C itself
    assert gradient == ctx.definitions["C"].target


def _tools(ctx: object) -> chain.Tools:
    def normalise(expr: sympy.Expr, ranges: dict) -> sympy.Expr:
        return symbolic.Collapser(ctx, ()).run(expr, {**ctx.ranges, **ranges})  # type: ignore[attr-defined]

    return chain.Tools(normalise, symbolic.freshen, symbolic.canonical)


TWINS = """\
  - claim: Derivative(C, b4) = ((W5.T @ (a5 - y)) * (1 - tanh(z4) * tanh(z4)))
  - claim: Derivative(C, b4) = ((W5.T @ (a5 - y)) * (1 + tanh(z4) * tanh(z4)))
  - claim: Derivative(C, b5) = exp(z5) / sum(exp(z5)) - y
  - claim: Derivative(C, b5) = exp(z5) / sum(exp(z5)) + y
"""


def test_a_twin_equal_only_after_substitution_is_proved_and_its_wrong_twin_refuted(tmp_path: Path) -> None:
    # tanh(z4) is a4 and exp(z5)/sum(exp(z5)) is a5 only once the definitions are substituted:
    # the stage with the intermediates by name cannot prove these, a later stage must.
    path = tmp_path / "twins.yaml"
    path.write_text(HEADER + TWINS, encoding="utf-8")
    derivation, _ = source.load_derivation(path)
    prepared = prepare.prepare(derivation)  # type: ignore[arg-type]
    first = prepared.pending[0]
    stages = list(symbolic.stages(first.claim.lhs, first.claim.rhs, first.workspace.context))
    facts = first.workspace.context.facts
    assert not any(symbolic.prove(stages[0], first.workspace.context, subset, (), mode) for mode in symbolic.PASSES for subset in symbolic.fact_subsets(facts))
    result = check_file(path, timeout=60)
    assert [step.verdict for step in result.steps] == [Verdict.PROVED, Verdict.REFUTED, Verdict.PROVED, Verdict.REFUTED]
