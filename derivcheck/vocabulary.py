"""The math vocabulary, in one table: every function a derivation may call, with its SymPy form,
its value on an interval, and its derivative.

The parser builds a call from `sympy_form`; the prover differentiates it with SymPy's own rules;
the witness (engine/witness.py) evaluates it with `interval` and differentiates it with
`derivative`, which is written against the witness's own arithmetic (`ops`), so that the two
never share the code that decides a claim. Adding a function is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
from mpmath import iv


class sigmoid(sympy.Function):  # type: ignore[misc]  # noqa: N801 - named as it prints; SymPy ships no types (Any to mypy)
    """The logistic function 1/(1 + exp(-x)), kept as one function so that its derivative
    is sigmoid(x)*(1 - sigmoid(x)) (the form authors write) rather than exp(-x)/(1 + exp(-x))**2."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self * (1 - self)

    def _eval_is_real(self) -> bool | None:
        # Real for a real argument; unknown otherwise (sigmoid(log(-2)) = 2 is real).
        return True if self.args[0].is_real else None

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-arg))


class Diff(sympy.Function):  # type: ignore[misc]  # SymPy ships no types: its classes are Any to mypy
    """Unevaluated marker for Derivative(F, v): it has no eval, so it survives .doit() and .subs()."""

    nargs = 2


def _complex_log(x: Any) -> Any:
    import mpmath

    try:
        return iv.log(x)
    except mpmath.libmp.ComplexResult:  # a negative real: the principal branch
        return iv.log(iv.mpc(x))


@dataclass(frozen=True)
class Function:
    """One function of the format.

    `interval(x)` encloses f(x) for an mpmath interval x (real, or complex where the value
    leaves the reals). `exact` gives exact values at the rational points where f is rational.
    `derivative(ops, x, fx)` is f'(x), from x and f(x), with ops.add/.neg/.mul/.div/.apply
    (the witness's arithmetic, which works on dual numbers); None for the functions that are
    not holomorphic (Abs, sign), whose derivatives along a real variable the witness takes apart.
    """

    name: str
    sympy_form: Callable[[sympy.Expr], sympy.Expr]
    node: type  # the SymPy class of a call's node
    interval: Callable[[Any], Any] | None  # None: not holomorphic, taken apart by the witness
    derivative: Callable[[Any, Any, Any], Any] | None
    exact: dict[Fraction, Fraction]


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("exp", sympy.exp, sympy.exp, iv.exp, lambda ops, x, fx: fx, {Fraction(0): Fraction(1)}),
        Function("log", sympy.log, sympy.log, _complex_log, lambda ops, x, fx: ops.div(1, x), {Fraction(1): Fraction(0)}),
        Function("sin", sympy.sin, sympy.sin, iv.sin, lambda ops, x, fx: ops.apply("cos", x), {Fraction(0): Fraction(0)}),
        Function("cos", sympy.cos, sympy.cos, iv.cos, lambda ops, x, fx: ops.neg(ops.apply("sin", x)), {Fraction(0): Fraction(1)}),
        Function(
            "tanh", sympy.tanh, sympy.tanh, lambda x: 1 - 2 / (iv.exp(2 * x) + 1),
            lambda ops, x, fx: ops.add(1, ops.neg(ops.mul(fx, fx))), {Fraction(0): Fraction(0)},
        ),
        Function(
            "sigmoid", sigmoid, sigmoid, lambda x: 1 / (1 + iv.exp(-x)),
            lambda ops, x, fx: ops.mul(fx, ops.add(1, ops.neg(fx))), {Fraction(0): Fraction(1, 2)},
        ),
        Function("Abs", sympy.Abs, sympy.Abs, None, None, {}),
        Function("sign", sympy.sign, sympy.sign, None, None, {}),
    )
}

# The other calls of the format, which the parser builds itself: sqrt (a power), the Kronecker
# delta, Sum and Derivative; and matrix notation (parse/matrices.py).
SPECIAL_FUNCTIONS = frozenset({"sqrt", "KroneckerDelta", "Sum", "Derivative"})


def shown(expr: sympy.Basic) -> sympy.Basic:
    """An expression as it prints: each Diff marker as SymPy's unevaluated Derivative."""
    return expr.replace(lambda e: isinstance(e, Diff), lambda e: sympy.Derivative(e.args[0], e.args[1], evaluate=False))
