"""Tests for derivcheck.latex: LaTeX steps translated into derivcheck syntax, safely, with positions."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import pkgutil
import time
from pathlib import Path
from types import ModuleType

import pytest
import sympy
from typer.testing import CliRunner

from derivcheck import cli, parse
from derivcheck.parse import ParseError, Scope, latex, tex
from derivcheck.run.claims import check_file
from derivcheck.model import Verdict

N = sympy.Symbol("N", integer=True, positive=True)
D = sympy.Symbol("D", integer=True, positive=True)
i, j, k, n, d = (sympy.Symbol(name, integer=True) for name in "ijknd")
t = sympy.Symbol("t", real=True)
L = sympy.Symbol("L", real=True)
x_1 = sympy.Symbol("x_1", real=True)
theta = sympy.Symbol("theta", real=True)
Loss = sympy.Symbol("Loss", real=True)
z, y, a = (sympy.IndexedBase(name, real=True) for name in "zya")
W = sympy.IndexedBase("W", real=True)


@pytest.fixture
def scope() -> Scope:
    names = {"N": N, "D": D, "i": i, "j": j, "k": k, "n": n, "d": d, "t": t, "L": L, "x_1": x_1, "theta": theta, "Loss": Loss}
    families = {"z": (z, 1), "y": (y, 1), "a": (a, 1), "W": (W, 2)}
    return Scope(names=names, families=families, indices=frozenset("ijknd"))


def same(text: str, expected: str, scope: Scope) -> None:
    """The LaTeX means exactly what the derivcheck text means (the SymPy objects are equal)."""
    got = parse.parse_expression(text, scope)
    assert got == parse.parse_expression(expected, scope), (text, latex.translate(text, scope, equation=False).text)


def rejects(text: str, scope: Scope, code: str, at: str | None = None, *, equation: bool = False) -> ParseError:
    """A ParseError with `code`, pointing at the first occurrence of `at` in the text."""
    reader = parse.parse_equation if equation else parse.parse_expression
    with pytest.raises(ParseError) as info:
        reader(text, scope)
    assert info.value.code == code, info.value
    if at is not None:
        assert info.value.offset == text.index(at), (info.value.offset, info.value)
    return info.value


# -- the translation table: each construct, and a near twin that is refused --------------------

TABLE = [
    # (LaTeX, derivcheck syntax it means)
    (r"$a_k$", "a[k]"),
    (r"$a_{k}$", "a[k]"),
    (r"$a_{k+1}$", "a[k+1]"),
    (r"$W_{ij}$", "W[i, j]"),
    (r"$W_{i,j}$", "W[i, j]"),
    (r"$W_{i, d+1}$", "W[i, d+1]"),
    (r"$x_1$", "x_1"),
    (r"$\theta + \mathrm{Loss}$", "theta + Loss"),
    (r"$\frac{a_k}{2}$", "a[k]/2"),
    (r"$\dfrac{1}{1 + t}$", "1/(1 + t)"),
    (r"$t^2$", "t**2"),
    (r"$t^{-1}$", "t**(-1)"),
    (r"$t^{12}$", "t**12"),
    (r"$-t^2$", "-(t**2)"),
    (r"$a_k^2$", "a[k]**2"),
    (r"$e^{z_k}$", "exp(z[k])"),
    (r"$e^t$", "exp(t)"),
    (r"$\log \sum_{k=1}^{N} a_k t$", "log(Sum(a[k]*t, (k, 1, N)))"),  # the sum takes the product that follows
    (r"$e$", "E"),
    (r"$\exp(z_k)$", "exp(z[k])"),
    (r"$\exp\left(-z_k\right)$", "exp(-z[k])"),
    (r"$\log a_k$", "log(a[k])"),
    (r"$\ln(a_k)$", "log(a[k])"),
    (r"$\log(t)^2$", "log(t)**2"),
    (r"$\log t^2$", "log(t**2)"),
    (r"$\tanh t + \sin t \cos t$", "tanh(t) + sin(t)*cos(t)"),
    (r"$\sqrt{t}$", "sqrt(t)"),
    (r"$\sin 2t$", "sin(2*t)"),  # an argument led by a number takes the factors after it
    (r"$\log 2 \theta t + 1$", "log(2*theta*t) + 1"),
    (r"$\exp 2t \cdot t$", "exp(2*t)*t"),
    (r"$\sin 2t \cos t$", "sin(2*t)*cos(t)"),
    (r"$\sin(2)t$", "sin(2)*t"),  # brackets end the argument
    (r"$\sin t\, \sqrt{t}$", "sin(t)*sqrt(t)"),
    (r"$\sqrt 2t$", "sqrt(2)*t"),  # as TeX draws it: the radical covers one token
    (r"$\sqrt t^2$", "sqrt(t)**2"),
    (r"$\sigma(t)$", "sigmoid(t)"),
    (r"$\operatorname{sigmoid}(t)$", "sigmoid(t)"),
    (r"$\delta_{kj}$", "KroneckerDelta(k, j)"),
    (r"$\delta_{k,j}$", "KroneckerDelta(k, j)"),
    (r"$\sum_{k=1}^{N} a_k$", "Sum(a[k], (k, 1, N))"),
    (r"$\sum\limits_{k=1}^N a_k$", "Sum(a[k], (k, 1, N))"),
    (r"$\sum^{N}_{k=1} a_k$", "Sum(a[k], (k, 1, N))"),
    (r"$\sum_{k=1}^{N} y_k \log a_k + t$", "Sum(y[k]*log(a[k]), (k, 1, N)) + t"),
    (r"$\sum_{j=1}^{N} \sum_{k=1}^{N} W_{jk}$", "Sum(Sum(W[j, k], (k, 1, N)), (j, 1, N))"),
    (r"$\frac{\partial L}{\partial z_j}$", "Derivative(L, z[j])"),
    (r"$\frac{\partial a_k}{\partial z_j}$", "Derivative(a[k], z[j])"),
    (r"$\frac{\partial L}{\partial W_{ij}}$", "Derivative(L, W[i, j])"),
    (r"$\frac{\mathrm{d} L}{\mathrm{d} t}$", "Derivative(L, t)"),
    (r"$\frac{\partial}{\partial z_j} \left(a_k + t\right)$", "Derivative(a[k] + t, z[j])"),
    (r"$\frac{\partial}{\partial z_j} a_k$", "Derivative(a[k], z[j])"),
    (r"$\frac{\partial}{\partial z_j} \left(a_k\right) + t$", "Derivative(a[k], z[j]) + t"),
    (r"$t \frac{\partial}{\partial z_j} a_k^2$", "t*Derivative(a[k]**2, z[j])"),
    (r"$(\frac{\partial}{\partial z_j} a_k) t$", "Derivative(a[k], z[j])*t"),
    (r"$a_k \cdot t$", "a[k]*t"),
    (r"$a_k \times t$", "a[k]*t"),
    (r"$2 a_k (1 - a_k)$", "2*a[k]*(1 - a[k])"),
    (r"$a_k [1 - a_k]$", "a[k]*(1 - a[k])"),
    (r"$\left\{ t \right\}$", "t"),
    (r"$\frac{t}{2} / 3$", "t/2/3"),
    (r"$t / (2 t)$", "t/(2*t)"),
    (r"$t / 2 \cdot t$", "t/2*t"),
    (r"$0.5 t$", "t/2"),
    (r"$t\,t\;t\!t\quad t$", "t**5"),
    (r"$$t + 1$$", "t + 1"),
    (r"  $t$  ", "t"),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_translation_table(text: str, expected: str, scope: Scope) -> None:
    same(text, expected, scope)


# Each accepted construct above has twins that are refused, with the code and where.
REJECTED = [
    (r"$a_{k,j}$", "arity", "{"),
    (r"$W_{i}$", "arity", "{"),
    (r"$W_{ijk}$", "arity", "{"),
    (r"$W_i$", "arity", "i$"),
    (r"$a_12$", "syntax", "12"),
    (r"$t_k$", "arity", "_"),
    (r"$q_k$", "undeclared-symbol", "q"),
    (r"$q$", "undeclared-symbol", "q"),
    (r"$t^12$", "syntax", "12"),
    (r"$t^{2}^{3}$", "syntax", "^{3}"),
    (r"$t^2_k$", "syntax", "_"),
    (r"$t^{(2)}$", "ambiguous-latex", "2)"),  # a label (layer 2, a second derivative) or a power
    (r"$t^{[L]}$", "ambiguous-latex", "L]"),
    (r"$t^{(\theta)}$", "ambiguous-latex", "\\theta"),
    (r"$e^{t}^{2}$", "syntax", "^{2}"),
    (r"$\log_2 t$", "syntax", "_"),
    (r"$\log^2 t$", "syntax", "^"),
    (r"$\log$", "syntax", "$", ),
    (r"$\sqrt[3]{t}$", "syntax", "["),
    (r"$\cos t \theta$", "ambiguous-latex", "\\cos"),
    (r"$t / 2 t$", "ambiguous-latex", "/"),  # (t/2) t or t/(2 t)
    (r"$t \div L t$", "ambiguous-latex", "\\div"),
    (r"$\log a_k t$", "ambiguous-latex", "\\log"),
    (r"$\sin 2 3$", "syntax", "3"),
    (r"$\exp \sum_{k=1}^{N} a_k \cdot t$", "ambiguous-latex", "\\exp"),  # \cdot ends \exp's argument, not the sum's body
    (r"$\log \sum_{k=1}^{N} a_k / t$", "ambiguous-latex", "\\log"),
    (r"$\sqrt 16$", "syntax", "16"),
    (r"$\sqrt \frac{1}{2}$", "syntax", "\\frac"),
    (r"$\sigma$", "syntax", "$"),
    (r"$\delta_k$", "arity", "k"),
    (r"$\delta$", "syntax", "\\delta"),
    (r"$\sum_k a_k$", "syntax", "k"),
    (r"$\sum_{k} a_k$", "syntax", "}"),
    (r"$\sum_{k=1} a_k$", "syntax", "\\sum"),
    (r"$\sum_{k=1}^{N}$", "syntax", "$"),
    (r"$\sum_{2=1}^{N} a_k$", "syntax", "2"),
    (r"$\frac{\partial^2 L}{\partial z_j^2}$", "syntax", "^"),
    (r"$\frac{\partial L}{z_j}$", "syntax", "z_j}"),
    (r"$\frac{\partial L}{\partial z_j + t}$", "syntax", "+"),
    (r"$\frac{\partial}{\partial z_j}$", "syntax", "$"),
    (r"$\frac{\partial}{\partial z_j} a_k t$", "ambiguous-latex", "\\frac"),  # d(a t) or (da) t
    (r"$\frac{\partial}{\partial z_j} a_k + t$", "ambiguous-latex", "\\frac"),  # d(a + t) or da + t
    (r"$\frac{\partial}{\partial z_j} a_k \cdot t$", "ambiguous-latex", "\\frac"),
    (r"$\frac{\partial}{\partial z_j} (a_k) (t)$", "ambiguous-latex", "\\frac"),
    (r"$\frac{\partial}{\partial z_j} (a_k)^2 - t$", "ambiguous-latex", "\\frac"),
    # Braces print nothing: a brace group holds one name, never a silent grouping of more.
    (r"${t + 1} L$", "ambiguous-latex", "{"),  # prints t + 1 L
    (r"$-{t + 1}$", "ambiguous-latex", "{"),  # prints -t + 1
    (r"${-t}^2$", "ambiguous-latex", "{"),  # prints -t^2
    (r"${t L}^2$", "ambiguous-latex", "{"),
    (r"${\sum_{k=1}^{N} a_k} t$", "ambiguous-latex", "{"),  # prints the sum of a_k t
    (r"$\log{t + 1}$", "ambiguous-latex", "{"),  # prints log t + 1
    (r"$\cos{t} L$", "ambiguous-latex", "\\cos"),  # prints cos t L
    (r"$t / {2 t}$", "ambiguous-latex", "{"),  # prints t / 2t
    (r"$\frac{\partial}{\partial z_j}{a_k} + t$", "ambiguous-latex", "\\frac"),  # prints d/dz a_k + t
    (r"$\frac{\partial L}{\partial 2}$", "syntax", "2"),
    (r"$\partial L$", "syntax", "\\partial"),
    (r"$\frac12$", "syntax", "12"),
    (r"$\frac{1}$", "syntax", "$"),
    (r"$a_k 2$", "syntax", "2"),
    (r"$1\,000$", "syntax", "000"),
    (r"$\left(t\right]$", "syntax", "]"),
    (r"$(t$", "syntax", "$"),
    (r"$t)$", "syntax", ")"),
    (r"$t = t$", "syntax", "="),
    (r"$t'$", "syntax", "'"),
    (r"$|t|$", "syntax", "|"),
    (r"$t & t$", "syntax", "&"),
    (r"$t % comment$", "syntax", "%"),
    (r"$t $ t$", "syntax", "$ t"),
    (r"$.5$", "syntax", "."),
    (r"$t \cdot$", "syntax", "$"),
    (r"$\cdot t$", "syntax", "\\cdot"),
    (r"$\prod_{k=1}^{N} a_k$", "syntax", "\\prod"),
    (r"$\int t$", "syntax", "\\int"),
    (r"$\mathbf{W}$", "syntax", "\\mathbf"),
    (r"$\foo t$", "syntax", "\\foo"),
    (r"$\mathrm{a b+}$", "syntax", "+"),
    (r"$t \\ t$", "syntax", "\\\\"),
    (r"$t ÷ t$", "syntax", "÷"),
    (r"$t", "syntax", None),
    (r"$$", "syntax", None),
    (r"$ $", "syntax", "$", ),
]


@pytest.mark.parametrize(("text", "code", "at"), REJECTED, ids=[row[0] for row in REJECTED])
def test_rejected_twins(text: str, code: str, at: str | None, scope: Scope) -> None:
    if at == "$":
        # "At the end": the closing dollar.
        with pytest.raises(ParseError) as info:
            parse.parse_expression(text, scope)
        assert info.value.code == code
        assert info.value.offset == len(text) - 1, info.value
        return
    rejects(text, scope, code, at)


def test_the_end_of_the_latex_is_pointed_at_when_a_dollar_is_missing(scope: Scope) -> None:
    error = rejects("$t + 1", scope, "syntax")
    assert error.offset == len("$t + 1")
    assert "does not end with $" in error.message


# -- Leibniz's d: a derivative by its shape, whatever names are declared --------------------------
# The scope fixture declares d (an index, d: 1..D, as in docs/format.md). Without the Leibniz rule,
# \frac{dL}{dz_j} was the quotient (d L)/(d z_j) = L/z_j there.


def without_d(scope: Scope) -> Scope:
    return dataclasses.replace(scope, names={name: s for name, s in scope.names.items() if name != "d"})


def declaring(scope: Scope, *names: str, families: dict[str, int] | None = None) -> Scope:
    """The scope with more real scalars, and families of the given arity."""
    more = {name: sympy.Symbol(name, real=True) for name in names}
    bases = {name: (sympy.IndexedBase(name, real=True), arity) for name, arity in (families or {}).items()}
    return dataclasses.replace(scope, names={**scope.names, **more}, families={**scope.families, **bases})


LEIBNIZ = [
    # (LaTeX, what it means with d declared, and with d undeclared)
    (r"$\frac{dL}{dz_j}$", "Derivative(L, z[j])"),
    (r"$\frac{d L}{d z_j}$", "Derivative(L, z[j])"),
    (r"$\dfrac{dL}{dz_j}$", "Derivative(L, z[j])"),
    (r"$\tfrac{d a_k}{d z_j}$", "Derivative(a[k], z[j])"),
    (r"$\frac{d\, \log a_k}{d z_j}$", "Derivative(log(a[k]), z[j])"),
    (r"$\frac{d (a_k + t)}{d t}$", "Derivative(a[k] + t, t)"),
    (r"$\frac{dL}{dW_{ij}}$", "Derivative(L, W[i, j])"),
    (r"$\frac{dL}{dx_1}$", "Derivative(L, x_1)"),
    (r"$\frac{dL}{d\theta}$", "Derivative(L, theta)"),
    (r"$\frac{dL}{d\mathrm{Loss}}$", "Derivative(L, Loss)"),
    (r"$\frac{d}{dz_j} \left(a_k + t\right)$", "Derivative(a[k] + t, z[j])"),
    (r"$t \frac{d}{dz_j} a_k$", "t*Derivative(a[k], z[j])"),
    (r"$\frac{\mathrm{d} L}{\mathrm{d} z_j}$", "Derivative(L, z[j])"),
    (r"$\frac{\partial L}{\partial z_j}$", "Derivative(L, z[j])"),
    (r"$\frac{\partial L + t}{\partial z_j}$", "Derivative(L + t, z[j])"),  # the whole numerator
]


@pytest.mark.parametrize(("text", "expected"), LEIBNIZ, ids=[row[0] for row in LEIBNIZ])
def test_leibniz_d_is_a_derivative_whether_or_not_d_is_declared(text: str, expected: str, scope: Scope) -> None:
    assert "d" in scope.names
    same(text, expected, scope)
    same(text, expected, without_d(scope))


def test_the_partial_derivative_translates_as_before(scope: Scope) -> None:
    assert latex.translate(r"$\frac{\partial L}{\partial z_j}$", scope, equation=False).text == "Derivative((L), z[j])"
    assert latex.translate(r"$\frac{dL}{dz_j}$", scope, equation=False).text == "Derivative((L), z[j])"


# The twins: fractions with a declared d that are quotients, because they are not Leibniz's shape.
QUOTIENTS = [
    (r"$\frac{d \cdot L}{d \cdot z_j}$", "(d*L)/(d*z[j])"),  # the explicit product says so
    (r"$\frac{d \cdot L}{d z_j}$", "(d*L)/(d*z[j])"),
    (r"$\frac{dL}{d \cdot z_j}$", "(d*L)/(d*z[j])"),
    (r"$\frac{(d L)}{d z_j}$", "(d*L)/(d*z[j])"),
    (r"$\frac{{d} L}{d z_j}$", "(d*L)/(d*z[j])"),  # a d in brackets is never a differential
    (r"$\frac{dL}{d}$", "d*L/d"),  # no variable after the d: no derivative
    (r"$\frac{d}{d}$", "d/d"),
    (r"$\frac{L}{d z_j}$", "L/(d*z[j])"),
    (r"$\frac{d}{D}$", "d/D"),
    (r"$\frac{d^2}{D}$", "d**2/D"),
    (r"$\frac{L}{z_j}$", "L/z[j]"),
    (r"$\frac{a_k}{y_j}$", "a[k]/y[j]"),
    (r"$\frac{d L}{d} \cdot \frac{1}{z_j}$", "L/z[j]"),
]


@pytest.mark.parametrize(("text", "expected"), QUOTIENTS, ids=[row[0] for row in QUOTIENTS])
def test_a_fraction_not_in_leibniz_shape_is_a_quotient(text: str, expected: str, scope: Scope) -> None:
    same(text, expected, scope)
    assert "Derivative" not in latex.translate(text, scope, equation=False).text


# Near the Leibniz shape, with d declared: a quotient or a derivative, so neither is chosen.
AMBIGUOUS_D = [
    (r"$\frac{d^2 L}{d z_j^2}$", "d^2"),
    (r"$\frac{dL}{dz_j dz_k}$", "dL"),
    (r"$\frac{dL}{dz_j^2}$", "dL"),
    (r"$\frac{dL}{dz_j \cdot t}$", "dL"),
    (r"$\frac{dL + t}{dz_j}$", "dL"),
    (r"$\frac{dL - t}{dz_j}$", "dL"),
    (r"$\frac{dL}{d(z_j)}$", "dL"),
    (r"$\frac{dL}{d \log t}$", "dL"),
    (r"$\frac{d}{dz_j + t} L$", "d}"),
    (r"$dL / dz_j$", "dz_j"),  # ((d L)/d) z_j, written like a derivative
    (r"$L \div d t$", "d t"),
]


@pytest.mark.parametrize(("text", "at"), AMBIGUOUS_D, ids=[row[0] for row in AMBIGUOUS_D])
def test_a_near_leibniz_form_with_a_declared_d_is_ambiguous(text: str, at: str, scope: Scope) -> None:
    error = rejects(text, scope, "ambiguous-latex", at)
    assert "'d' is a declared name" in error.message
    assert "\\partial" in error.message or "\\frac{d F}" in error.message


def test_the_ambiguity_hint_names_both_ways_out(scope: Scope) -> None:
    error = rejects(r"$\frac{dL}{dz_j dz_k}$", scope, "ambiguous-latex", "dL")
    for way in ("\\partial", "\\mathrm{d}", "d \\cdot L", "(d L)"):
        assert way in error.message, way
    # Each way out parses: the derivative (here refused only as a second derivative) and the product.
    rejects(r"$\frac{\partial L}{\partial z_j \partial z_k}$", scope, "syntax", "\\partial z_k")
    same(r"$\frac{d \cdot L}{dz_j dz_k}$", "L/(d*z[j]*z[k])", scope)
    same(r"$\frac{(d L)}{d z_j^2}$", "L/z[j]**2", scope)


UNDECLARED_D = [
    # d undeclared: no quotient reading, so a near form is a derivative or a derivative's error.
    (r"$\frac{d^2 L}{d z_j^2}$", "syntax", "^2 L"),
    (r"$\frac{dL}{dz_j dz_k}$", "syntax", "dz_k"),
    (r"$\frac{dL}{d(z_j)}$", "syntax", "(z_j"),
    (r"$\frac{dL}{d}$", "undeclared-symbol", "dL"),
    (r"$\frac{d \cdot L}{d \cdot z_j}$", "undeclared-symbol", "d \\cdot L"),
    (r"$dL / dz_j$", "ambiguous-latex", "/"),  # (dL/d) z_j or dL/(d z_j), whatever d is
    (r"$\frac{d}{dz_j}$", "syntax", "$"),
]


@pytest.mark.parametrize(("text", "code", "at"), UNDECLARED_D, ids=[row[0] for row in UNDECLARED_D])
def test_without_a_declared_d_a_near_form_is_an_error(text: str, code: str, at: str, scope: Scope) -> None:
    unscoped = without_d(scope)
    if at == "$":
        with pytest.raises(ParseError) as info:
            parse.parse_expression(text, unscoped)
        assert (info.value.code, info.value.offset) == (code, len(text) - 1)
        return
    rejects(text, unscoped, code, at)


def test_an_undeclared_d_in_a_sum_inside_the_numerator_is_still_a_derivative(scope: Scope) -> None:
    same(r"$\frac{dL + t}{dz_j}$", "Derivative(L + t, z[j])", without_d(scope))  # as with \partial
    rejects(r"$\frac{dL + t}{dz_j}$", scope, "ambiguous-latex", "dL")  # declared: (d L + t)/(d z_j) too


def test_mathrm_d_is_only_ever_the_differential(scope: Scope) -> None:
    same(r"$\frac{\mathrm{d} L}{\mathrm{d} t}$", "Derivative(L, t)", scope)
    for text in (r"$\mathrm{d} L$", r"$t \mathrm{d} L$", r"$L / \mathrm{d} t$", r"$\operatorname{d}$"):
        error = rejects(text, scope, "syntax", "\\")
        assert "differential" in error.message
    same("$d L$", "d*L", scope)  # the declared d itself, written as a letter


# -- other readings that depend on the declarations ---------------------------------------------


def test_e_is_eulers_number_even_when_a_name_e_is_declared(scope: Scope) -> None:
    big_e = declaring(scope, "E")
    same("$e$", "exp(1)", big_e)
    same("$e t$", "exp(1)*t", big_e)
    same("$t^e$", "t**exp(1)", big_e)
    same("$E$", "E", big_e)  # the declared E
    assert parse.parse_expression("$e$", big_e) != big_e.names["E"]


def test_an_undeclared_capital_e_is_not_eulers_number(scope: Scope) -> None:
    for text, at in (("$E$", "E"), ("$t^E$", "E"), (r"$\mathrm{E} t$", "\\mathrm")):
        error = rejects(text, scope, "undeclared-symbol", at)
        assert "written e" in error.message


def test_a_power_of_a_declared_e_is_ambiguous(scope: Scope) -> None:
    small_e = declaring(scope, "e")
    e = small_e.names["e"]
    for text in ("$e^{t}$", "$e^2$", r"$\mathrm{e}^{t}$", "$t + e^{z_k}$"):
        error = rejects(text, small_e, "ambiguous-latex", "e^" if "mathrm" not in text else "\\mathrm")
        assert "\\exp(x)" in error.message
    assert parse.parse_expression("${e}^{2}$", small_e) == e**2
    assert parse.parse_expression("$(e)^2$", small_e) == e**2
    assert parse.parse_expression("$e t$", small_e) == e * t
    same(r"$\exp(t)$", "exp(t)", small_e)
    same("$e^{t}$", "exp(t)", scope)  # the twin: e undeclared


def test_sigma_next_to_a_factor_is_ambiguous_when_sigma_is_declared(scope: Scope) -> None:
    with_sigma = declaring(scope, "sigma")
    sigma = with_sigma.names["sigma"]
    for text in (r"$\sigma(t)$", r"$\sigma \left( t \right)$", r"$\sigma t$", r"$\sigma z_k$", r"$2 \sigma [t]$"):
        error = rejects(text, with_sigma, "ambiguous-latex", "\\sigma")
        assert "\\operatorname{sigmoid}" in error.message
    assert parse.parse_expression(r"$\sigma \cdot t$", with_sigma) == sigma * t
    assert parse.parse_expression(r"$\sigma^2 + t \sigma$", with_sigma) == sigma**2 + t * sigma
    same(r"$\operatorname{sigmoid}(t)$", "sigmoid(t)", with_sigma)
    same(r"$\sigma t$", "sigmoid(t)", scope)  # the twin: sigma undeclared


def test_a_kronecker_shaped_delta_is_ambiguous_when_delta_is_declared(scope: Scope) -> None:
    for declared in (declaring(scope, families={"delta": 2}), declaring(scope, families={"delta": 1}), declaring(scope, "delta")):
        for text in (r"$\delta_{kj}$", r"$\delta_{k,j}$", r"$\delta_{k, j+1}$"):
            error = rejects(text, declared, "ambiguous-latex", "\\delta")
            assert "Kronecker" in error.message
    matrix = declaring(scope, families={"delta": 2})
    same(r"$\mathrm{delta}_{kj}$", "delta[k, j]", matrix)
    vector = declaring(scope, families={"delta": 1})
    same(r"$\delta_k + \delta_{k+1}$", "delta[k] + delta[k+1]", vector)
    same(r"$\delta_{kj}$", "KroneckerDelta(k, j)", scope)  # the twin: delta undeclared


def test_a_subscript_that_names_two_declared_things_is_ambiguous(scope: Scope) -> None:
    both = declaring(scope, "x1")  # the fixture declares x_1
    error = rejects("$x_1$", both, "ambiguous-latex", "x_1")
    assert "x_1 or x1" in error.message
    rejects("$x_{1}$", both, "ambiguous-latex", "x_{1}")
    entry_or_scalar = declaring(scope, "a1")  # a is a family: a_1 is a[1] or a1
    error = rejects("$a_1$", entry_or_scalar, "ambiguous-latex", "a_1")
    assert "a[1] or a1" in error.message
    same("$a_k$", "a[k]", entry_or_scalar)
    same("$a_1$", "a[1]", scope)  # the twins: one reading each
    same("$x_1$", "x_1", scope)
    same("$x_1$", "x1", declaring(dataclasses.replace(scope, names={n: v for n, v in scope.names.items() if n != "x_1"}), "x1"))


def test_a_declared_name_spelled_like_a_function_is_ambiguous_before_a_factor(scope: Scope) -> None:
    with_log = declaring(scope, "log")
    log = with_log.names["log"]
    for text in (r"$\mathrm{log}(t)$", r"$\operatorname{log} t$"):
        error = rejects(text, with_log, "ambiguous-latex", "\\")
        assert "log(x) or log times x" in error.message
    assert parse.parse_expression(r"$\mathrm{log} \cdot t + \mathrm{log}$", with_log) == log * t + log
    same(r"$\log t$", "log(t)", with_log)  # \log is always the function
    same(r"$\mathrm{log}(t)$", "log(t)", scope)  # the twin: log undeclared


def test_pi_is_the_number_unless_declared(scope: Scope) -> None:
    assert parse.parse_expression(r"$\pi$", scope) == sympy.pi
    with_pi = declaring(scope, "pi")
    assert parse.parse_expression(r"$\pi$", with_pi) == with_pi.names["pi"]


# -- equations ----------------------------------------------------------------------------------


def test_a_claim_in_latex_has_two_sides(scope: Scope) -> None:
    lhs, rhs = parse.parse_equation(r"$\frac{\partial L}{\partial z_j} = a_j - y_j$", scope)
    assert lhs == parse.parse_expression("Derivative(L, z[j])", scope)
    assert rhs == a[j] - y[j]


def test_a_claim_needs_exactly_one_equals_sign(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse.parse_equation("$t + 1$", scope)
    assert info.value.offset == len("$t + 1")  # the closing dollar: the '=' is missing there
    error = rejects("$t = 1 = t$", scope, "syntax", "= t", equation=True)
    assert "second '='" in error.message


def test_an_equals_sign_inside_brackets_is_not_a_side(scope: Scope) -> None:
    rejects("$(t = 1)$", scope, "syntax", "=", equation=True)


def test_an_error_found_by_the_expression_parser_points_into_the_latex(scope: Scope) -> None:
    # parse/expr.py finds these on the translation; the offset is mapped back onto the LaTeX.
    text = r"$\frac{\partial L}{\partial z_j} = a_j - q_j$"
    rejects(text, scope, "undeclared-symbol", "q_j", equation=True)
    rejects(r"$t^{100000}$", scope, "too-large-to-evaluate", "t")
    rejects(r"$\sum_{k=1}^{t} a_k$", scope, "syntax", "t}")


def test_plain_text_is_not_latex(scope: Scope) -> None:
    assert not latex.is_latex("a[k] - y[k]")
    assert latex.is_latex("  $a_k$")
    assert parse.parse_expression("a[k]", scope) == a[k]


# -- hostile LaTeX: clear errors, nothing run --------------------------------------------------

HOSTILE = [
    (r"$\input{/etc/passwd}$", "\\input"),
    (r"$\include{x}$", "\\include"),
    (r"$\def\x{1} \x$", "\\def"),
    (r"$\newcommand{\x}{1}$", "\\newcommand"),
    (r"$\csname input\endcsname{/etc/passwd}$", "\\csname"),
    (r"$\catcode`\^=7$", "\\catcode"),
    (r"$\immediate\write18{rm -rf /}$", "\\immediate"),
    (r"$\write18{id}$", "\\write"),
    (r"$\openout1=x.tex$", "\\openout"),
    (r"$\usepackage{shellesc}$", "\\usepackage"),
    (r"$\begin{aligned} t \end{aligned}$", "\\begin"),
    (r"$t + \expandafter\x$", "\\expandafter"),
    (r"$\directlua{os.execute('id')}$", "\\directlua"),
]


@pytest.mark.parametrize(("text", "command"), HOSTILE, ids=[row[1] for row in HOSTILE])
def test_tex_machinery_is_refused_by_name(text: str, command: str, scope: Scope) -> None:
    error = rejects(text, scope, "unsafe-expression", command)
    assert command in error.message
    assert "never runs TeX" in error.message


@pytest.mark.parametrize(
    "text",
    [
        r"$^^5cinput{x}$",  # TeX's ^^ notation for a backslash
        "$\\\u0069nput{x}$",
        r"$t \relax$",
        r"$\expandafter$",
        "$\\x00$",
    ],
)
def test_other_tex_tricks_are_refused(text: str, scope: Scope) -> None:
    with pytest.raises(ParseError):
        parse.parse_expression(text, scope)


def test_deeply_nested_braces_are_refused_quickly(scope: Scope) -> None:
    for depth in (100, 4_900):
        text = "$" + "{" * depth + "t" + "}" * depth + "$"
        start = time.perf_counter()
        error = rejects(text, scope, "too-large")
        assert time.perf_counter() - start < 1
        assert "nested too deeply" in error.message
        assert text[error.offset] == "{"


def test_nesting_of_fractions_and_signs_is_bounded(scope: Scope) -> None:
    rejects("$" + r"\frac{1}{" * 200 + "t" + "}" * 200 + "$", scope, "too-large")
    rejects("$" + "-" * 3_000 + "t$", scope, "too-large")
    rejects("$" + r"\sqrt{" * 500 + "t" + "}" * 500 + "$", scope, "too-large")


def test_moderate_nesting_is_fine(scope: Scope) -> None:
    same("$" + "{" * 15 + "t" + "}" * 15 + "$", "t", scope)


def test_huge_numbers_are_refused(scope: Scope) -> None:
    error = rejects("$t + " + "9" * 51 + "$", scope, "too-large", "9")
    assert "at most 50 digits" in error.message
    rejects("$t^{" + "9" * 40 + "}$", scope, "too-large-to-evaluate")
    rejects("$10^{10^{10}}$", scope, "too-large-to-evaluate")
    same("$" + "9" * 50 + "$", "9" * 50, scope)


def test_long_latex_is_refused_by_length(scope: Scope) -> None:
    rejects("$" + "t + " * 3_000 + "t$", scope, "too-large")
    # Within the length limit but longer once translated: refused with a LaTeX message.
    text = "$" + " + ".join(["a_k"] * 1_600) + "$"
    assert len(text) < parse.MAX_TEXT_LENGTH
    error = rejects(text, scope, "too-large")
    assert "translates to" in error.message


def test_non_ascii_is_refused_with_a_hint(scope: Scope) -> None:
    error = rejects("$α + t$", scope, "syntax", "α")
    assert "\\alpha" in error.message


def translator_modules() -> list[ModuleType]:
    """latex.py and the parts of its parser (parse/tex/), found on disk, so that a new part is checked too."""
    parts = [importlib.import_module(info.name) for info in pkgutil.iter_modules(tex.__path__, "derivcheck.parse.tex.")]
    assert {"derivcheck.parse.tex.grammar", "derivcheck.parse.tex.parser"} <= {module.__name__ for module in parts}
    return [latex, tex, *parts]


def test_the_translator_runs_nothing() -> None:
    """latex.py and its parser's parts build text only: no eval, exec, import machinery, SymPy parsing or processes."""
    imported = set()
    for module in translator_modules():
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"eval", "exec", "compile", "__import__", "open", "getattr"}, (module.__name__, node.func.id)
            elif isinstance(node, ast.Attribute):
                assert node.attr not in {"sympify", "parse_expr", "system", "popen", "run"}, (module.__name__, node.attr)
    own = {name for name in imported if name.startswith("derivcheck.parse.tex")}
    assert own <= {module.__name__ for module in translator_modules()}
    # Beyond its own parts the translator imports the standard library's text tools (abc for the
    # grammar's two abstract hooks) and the scope: never SymPy, parse/expr.py or the builder.
    assert imported - own == {"__future__", "abc", "re", "collections.abc", "contextlib", "dataclasses", "derivcheck.parse.scope"}
    # The translation is plain text that parse/expr.py then vets: names come only from the scope's
    # letters, Greek commands and \mathrm{...}, and the only calls are from a fixed table.
    translation = latex.translate(r"$\mathrm{Sum}(t) + \mathrm{exec}(t)$", Scope(names={}, families={}), equation=False)
    assert translation.text == "Sum@(t) + exec@(t)"


def test_a_name_from_mathrm_never_becomes_a_call(scope: Scope) -> None:
    rejects(r"$\mathrm{Derivative}(L, t)$", scope, "syntax")
    rejects(r"$\mathrm{lambda}$", scope, "syntax")
    rejects(r"$\mathrm{\_\_import\_\_}$", scope, "syntax")


# -- through the checker -------------------------------------------------------------------------

HEADER = """\
sizes: [N]
indices:
  j k n: 1..N
variables:
  z: [N]
  y: [N]
  t: real
definitions:
  a[k]: exp(z[k]) / Sum(exp(z[n]), (n, 1, N))
  L: -Sum(y[k]*log(a[k]), (k, 1, N))
assumptions:
  y_one_hot: one_hot(y)
steps:
"""


def check(tmp_path: Path, steps: str) -> list[tuple[str, str, str]]:
    path = tmp_path / "latex.yaml"
    path.write_text(HEADER + steps, encoding="utf-8")
    result = check_file(path, timeout=None)
    assert not result.problems, result.problems
    return [(step.number, step.verdict.value, step.message) for step in result.steps]


def test_a_latex_claim_is_proved_and_its_wrong_twin_refuted(tmp_path: Path) -> None:
    steps = """\
  - claim: '$\\frac{\\partial L}{\\partial z_j} = a_j - y_j$'
  - claim: '$\\frac{\\partial L}{\\partial z_j} = y_j - a_j$'
  - claim: '$e^{t} e^{-t} = 1$'
  - claim: '$e^{t} e^{t} = 1$'
"""
    got = [(number, verdict) for number, verdict, _ in check(tmp_path, steps)]
    assert got == [("1", "proved"), ("2", "refuted"), ("3", "proved"), ("4", "refuted")]


def test_latex_and_derivcheck_syntax_mix_in_one_chain(tmp_path: Path) -> None:
    steps = """\
  - chain:
      - Derivative(L, z[j])
      - '$\\sum_{k=1}^{N} \\frac{\\partial L}{\\partial a_k} \\frac{\\partial a_k}{\\partial z_j}$'
      - -Sum(y[k]*(KroneckerDelta(k, j) - a[j]), (k, 1, N))
      - '$a_j - y_j$'
"""
    assert [verdict for _, verdict, _ in check(tmp_path, steps)] == ["proved"] * 3


def test_a_latex_error_is_a_problem_at_its_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + "  - claim: '$\\frac{\\partial L}{\\partial z_j} = a_j \\input{x}$'\n", encoding="utf-8")
    result = check_file(path, timeout=None)
    (step,) = result.steps
    assert step.verdict is Verdict.ERROR
    (problem,) = step.problems
    line = path.read_text(encoding="utf-8").splitlines()[problem.span.line - 1]
    assert line[problem.span.col - 1 :].startswith("\\input")
    assert problem.code == "unsafe-expression"


def test_the_latex_example_derivation_holds() -> None:
    path = Path(__file__).parents[2] / "derivations" / "softmax_ce_latex.yaml"
    result = check_file(path, timeout=60)
    assert result.ok, [(s.number, s.verdict.value, s.message) for s in result.steps if not s.ok]
    assert sum(step.verdict is Verdict.REFUTED for step in result.steps) == 1


def test_latex_definitions_are_ordered_by_the_names_they_use(tmp_path: Path) -> None:
    # a uses b, which is defined after it (and sorts after it): the order comes from the LaTeX.
    path = tmp_path / "defs.yaml"
    path.write_text(
        """\
sizes: [N]
indices:
  k n: 1..N
variables:
  x: [N]
definitions:
  a[k]: '$\\frac{e^{b_k}}{\\sum_{n=1}^{N} e^{b_n}}$'
  b[k]: '$2 x_k$'
  c: '$\\mathrm{Loss} + 1$'
  Loss: '$\\sum_{k=1}^{N} a_k$'
assumptions:
  sums: '$\\sum_{k=1}^{N} x_k = 1$'
steps:
  - claim: '$\\sum_{k=1}^{N} a_k = 1$'
  - claim: '$c = 2$'
  - claim: '$\\sum_{n=1}^{N} b_n = 2$'
  - claim: '$\\sum_{n=1}^{N} b_n = 1$'
""",
        encoding="utf-8",
    )
    result = check_file(path, timeout=None)
    assert not result.problems, result.problems
    assert [step.verdict.value for step in result.steps] == ["proved", "proved", "proved", "refuted"]
    assert result.steps[2].assumptions_used == ("sums",)


def test_a_scalar_subscript_of_several_digits_needs_braces(scope: Scope) -> None:
    # TeX subscripts one character: x_12 prints x₁2, so it is never the declared x_12 silently.
    both = declaring(scope, "x_12")
    error = rejects(r"$x_12$", both, "syntax", "12")
    assert "x_{12}" in error.message, error.message
    same(r"$x_{12}$", "x_12", both)


def test_names_in_latex() -> None:
    assert latex.names_in(r"$\frac{e^{b_k}}{\mathrm{Loss}_1} + \theta x_{12}$") == [
        "e", "b", "b_k", "bk", "k", "Loss", "theta", "x",
    ]
    assert latex.names_in("Sum(b[k], (k, 1, N))") == []
    assert latex.names_in(r"$\input{x}$") == []


# -- the file, through the whole pipeline --------------------------------------------------

LEIBNIZ_FILE = """\
sizes: [N, D]
indices:
  j k n: 1..N
  d: 1..D
variables:
  z: [N]
  y: [N]
definitions:
  a[k]: exp(z[k]) / Sum(exp(z[n]), (n, 1, N))
  L: -Sum(y[k]*log(a[k]), (k, 1, N))
assumptions:
  oh: one_hot(y)
steps:
  - claim: $\\frac{dL}{dz_j} = a_j - y_j$          # true: must be proved
  - claim: $\\frac{dL}{dz_j} = \\frac{L}{z_j}$      # false: was proved (both were quotients)
"""


def test_leibniz_steps_with_a_declared_index_d_are_proved_and_refuted_rightly(tmp_path: Path) -> None:
    path = tmp_path / "leibniz.yaml"
    path.write_text(LEIBNIZ_FILE, encoding="utf-8")
    # A time limit, not None: in-process, the engine's hint search for the refuted step raises
    # SymPy's KeyError (zoo) in logcombine, for the same claim in plain syntax too (an engine bug).
    result = check_file(path, timeout=60)
    assert not result.problems, result.problems
    assert [step.verdict for step in result.steps] == [Verdict.PROVED, Verdict.REFUTED]
    assert result.steps[1].counterexample is not None


def test_the_cli_reports_the_leibniz_steps_rightly(tmp_path: Path) -> None:
    path = tmp_path / "leibniz.yaml"
    path.write_text(LEIBNIZ_FILE, encoding="utf-8")
    run = CliRunner().invoke(cli.app, ["verify", "--no-cache", "--format", "json", str(path)], prog_name="derivcheck")
    assert run.exit_code == 1, run.output  # the false step does not hold
    (report,) = json.loads(run.output)["files"]
    assert [step["verdict"] for step in report["steps"]] == ["proved", "refuted"]


def test_an_ambiguous_leibniz_step_is_an_error_at_the_column_of_its_d(tmp_path: Path) -> None:
    path = tmp_path / "near.yaml"
    text = LEIBNIZ_FILE.replace("$\\frac{dL}{dz_j} = \\frac{L}{z_j}$", "$\\frac{dL}{dz_j dz_k} = \\frac{L}{z_j}$")
    path.write_text(text, encoding="utf-8")
    result = check_file(path, timeout=60)
    assert result.steps[0].verdict is Verdict.PROVED
    step = result.steps[1]
    assert step.verdict is Verdict.ERROR
    (problem,) = step.problems
    assert problem.code == "ambiguous-latex"
    line = text.splitlines()[problem.span.line - 1]
    assert line[problem.span.col - 1 :].startswith("dL}{dz_j dz_k}")


def test_an_undeclared_latex_name_suggests_the_closest_declared_one(scope: Scope) -> None:
    assert rejects(r"$\mathrm{Los} + 1$", scope, "undeclared-symbol").message == "undeclared name 'Los'; did you mean 'Loss'?"
    assert rejects(r"$b_{k}$", scope, "undeclared-symbol").message == "undeclared name 'b'"


# -- matrices in LaTeX: side by side is the matrix product, ^\top the transpose --------------------


def matrix_scope(*, with_T: bool = False) -> Scope:
    P = sympy.Symbol("P", integer=True, positive=True)
    c = sympy.Symbol("c", real=True)
    names: dict[str, sympy.Symbol] = {"N": N, "P": P, "c": c}
    if with_T:
        names["T"] = sympy.Symbol("T", integer=True, positive=True)
    bases = {name: sympy.IndexedBase(name, real=True) for name in ("A", "B", "M", "v", "u")}
    shapes = {"A": (N, N), "B": (N, N), "M": (N, P), "v": (P,), "u": (N,)}
    families = {name: (base, len(shapes[name])) for name, base in bases.items()}
    return Scope(names=names, families=families, shapes=shapes)


def entries(value: object) -> tuple[object, object, sympy.Basic]:
    """A matrix's shape and its generic entry, with the bound dummies named in order."""
    assert isinstance(value, parse.MatrixValue), value
    row, col = sympy.symbols("row col", integer=True)
    entry = value.at(row, col)
    dummies = sorted(entry.atoms(sympy.Dummy), key=lambda s: s.dummy_index)
    return value.rows, value.cols, entry.xreplace({s: sympy.Symbol(f"bound{n}") for n, s in enumerate(dummies)})


MATRIX_TABLE = [
    (r"$M v$", "M @ v"),
    (r"$M \, v$", "M @ v"),
    (r"$A B$", "A @ B"),
    (r"$A B u$", "A @ B @ u"),
    (r"$c A$", "c * A"),
    (r"$A c$", "A * c"),
    (r"$2 A u$", "(2 * A) @ u"),
    (r"$A^\top$", "A.T"),
    (r"$A^{\top}$", "A.T"),
    (r"$A^\intercal$", "A.T"),
    (r"$A^T$", "A.T"),  # no T declared
    (r"$A^{T} B$", "A.T @ B"),
    (r"$u^\top A u \, B$", "(u.T @ A @ u) * B"),  # a 1 x 1 product scales
    (r"$A \odot B$", "hadamard(A, B)"),
    (r"$\exp(A) B$", "exp(A) @ B"),
    (r"$A + c$", "A + c"),
    (r"$c \cdot A B$", "c * (A @ B)"),
    (r"$A B \odot B$", "hadamard(A @ B, B)"),
]


@pytest.mark.parametrize(("text", "expected"), MATRIX_TABLE, ids=[row[0] for row in MATRIX_TABLE])
def test_matrices_side_by_side_are_a_matrix_product(text: str, expected: str) -> None:
    scope = matrix_scope()
    assert entries(parse.parse_expression(text, scope)) == entries(parse.parse_expression(expected, scope))


def test_a_product_of_scalars_side_by_side_is_a_product(scope: Scope) -> None:
    same(r"$2 t L$", "2*t*L", scope)
    same(r"$a_{2k} W_{i, 2 j + 1}$", "a[2*k]*W[i, 2*j + 1]", scope)  # side by side in an index too


MATRIX_REJECTED = [
    (r"$A \cdot B$", "ambiguous-latex", "A"),  # matrix product or entry-wise
    (r"$A \times B$", "ambiguous-latex", "A"),
    (r"$A * B$", "ambiguous-latex", "A"),
    (r"$\frac{A}{B}$", "ambiguous-latex", "{A}"),
    (r"$A^2$", "ambiguous-latex", "2"),  # matrix power or entry-wise
    (r"$A^{-1}$", "ambiguous-latex", "-1"),
    (r"$u u$", "shape-mismatch", "u"),  # two columns do not fit
    (r"$M A$", "shape-mismatch", "M"),
    (r"$c^T$", "shape-mismatch", "c"),  # a scalar has no transpose
    (r"$A^\top^2$", "syntax", "^2"),
    (r"$\top$", "syntax", "\\top"),
    (r"$c \odot A$", "shape-mismatch", "c"),
    (r"$A \cdot c B$", "ambiguous-latex", "A"),  # A \cdot (c B): matrix product or entry-wise
    (r"$A \times 2 B$", "ambiguous-latex", "A"),
    (r"$A \odot B A$", "ambiguous-latex", "\\odot"),  # (A ⊙ B) A or A ⊙ (B A)
]


@pytest.mark.parametrize(("text", "code", "at"), MATRIX_REJECTED, ids=[row[0] for row in MATRIX_REJECTED])
def test_matrix_readings_that_are_refused(text: str, code: str, at: str) -> None:
    rejects(text, matrix_scope(), code, at)


def test_a_declared_T_makes_A_to_the_T_ambiguous_never_a_power() -> None:
    scope = matrix_scope(with_T=True)
    for text in (r"$A^T$", r"$A^{T}$", r"$u^T A u$", r"$A^{(T)}$"):
        error = rejects(text, scope, "ambiguous-latex", "T")
        assert "transpose" in error.message and "\\top" in error.message, error.message
    assert entries(parse.parse_expression(r"$A^\top$", scope)) == entries(parse.parse_expression("A.T", scope))
    T = scope.names["T"]
    assert parse.parse_expression(r"$c^T$", scope) == scope.names["c"] ** T  # a scalar's ^T: the power
