"""derivcheck/engine/fastpaths.py: SymPy's shortcuts keep every value and SymPy's rules where they act."""

from __future__ import annotations

import random

import pytest
import sympy
from sympy import I, IndexedBase, Integer, Rational, Sum, Symbol, exp, log, oo, pi

from derivcheck.engine import fastpaths

x, y = sympy.symbols("x y", positive=True)
k, n = sympy.symbols("k n", integer=True)
N = Symbol("N", integer=True, positive=True)
z = IndexedBase("z")


def test_the_engine_installs_the_shortcuts() -> None:
    import derivcheck.engine  # noqa: F401

    assert getattr(sympy.exp, "_derivcheck_fast", False)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (Integer(0), Integer(1)),
        (Integer(1), sympy.E),
        (log(x), x),
        (log(x) + y, x * exp(y)),
        (2 * log(x), x**2),
        (I * pi, Integer(-1)),
        (2 * I * pi, Integer(1)),
        (-oo, Integer(0)),
        (oo, oo),
        (Rational(3, 2) * I * pi, -I),
    ],
)
def test_sympys_rules_still_apply_where_they_act(argument: sympy.Expr, expected: sympy.Expr) -> None:
    assert exp(argument) == expected


def test_other_arguments_stay_as_written() -> None:
    argument = z[k] - Sum(z[n], (n, 1, N))
    built = exp(argument)
    assert isinstance(built, exp)
    assert built.args == (argument,)


def _random_argument(rng: random.Random, depth: int = 0) -> sympy.Expr:
    leaves = [x, y, z[k], Integer(rng.randint(-3, 3)), Rational(rng.randint(1, 5), rng.randint(1, 5))]
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(leaves)
    left, right = _random_argument(rng, depth + 1), _random_argument(rng, depth + 1)
    return rng.choice([left + right, left * right, left - right, log(1 + x**2) * right, Sum(left * z[n], (n, 1, 3))])


def test_every_exp_has_the_value_sympys_has() -> None:
    rng = random.Random(5)
    point = {x: Rational(7, 5), y: Rational(2, 3), k: 2}
    z_values = {z[i]: Rational(i + 1, 4) for i in range(1, 4)}
    for _ in range(150):
        argument = _random_argument(rng)
        fast = exp(argument)
        fastpaths.uninstall()
        try:
            slow = exp(argument)
        finally:
            fastpaths.install()

        def value(expr: sympy.Expr) -> sympy.Float:
            return expr.subs(point).doit().subs(z_values).evalf(30)

        assert abs(value(fast) - value(slow)) <= 1e-20 * max(1, abs(value(slow))), argument


def test_free_symbols_of_a_sum_are_sympys() -> None:
    rng = random.Random(9)
    for _ in range(60):
        body = _random_argument(rng) * z[n]
        expr = Sum(body, (n, 1, rng.choice([N, Integer(3), k])))
        fast = expr.free_symbols
        fastpaths.uninstall()
        try:
            slow = expr.free_symbols
        finally:
            fastpaths.install()
        assert fast == slow


def test_the_memo_hands_out_copies() -> None:
    expr = Sum(z[n] * x, (n, 1, N))
    first = expr.free_symbols
    first.add(Symbol("intruder"))
    assert Symbol("intruder") not in expr.free_symbols
    assert x in expr.free_symbols and N in expr.free_symbols


def test_the_assumption_system_keeps_its_order_and_its_answers() -> None:
    import sys

    assumptions = sys.modules["sympy.core.assumptions"]
    facts = ["a", "b", "c", "d"]
    assumptions.shuffle(facts)
    assert facts == ["a", "b", "c", "d"]

    def answers() -> list[object]:
        sympy.core.cache.clear_cache()  # fresh objects: their assumptions are asked again
        m = sympy.Symbol("m", integer=True, positive=True)
        return [
            (z[k] + Sum(z[n] * x, (n, 1, m))).is_zero,
            (x - y).is_positive,
            (x * y + 1).is_positive,
            (exp(z[k]) / Sum(exp(z[n]), (n, 1, m))).is_positive,
            (m - 1).is_nonnegative,
        ]

    fast = answers()
    fastpaths.uninstall()
    try:
        slow = answers()
    finally:
        fastpaths.install()
    assert fast == slow == [None, None, True, None, True]


DEFERRED_UNITS = """\
import sys
import sympy
from derivcheck.engine import fastpaths
fastpaths.defer_units()
x, y = sympy.symbols("x y")
printed = sympy.pretty(2 * x * y), sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
from sympy.physics.units import Quantity
from sympy.physics.units.quantities import Quantity as TheClass
assert Quantity is TheClass
assert "sympy.physics.units.systems" not in sys.modules, "the unit systems were loaded"
# Any other name: the whole package, as a plain import gives it.
from sympy.physics.units import meter, joule
import sympy.physics.units as units
assert "sympy.physics.units.systems" in sys.modules and units.Quantity is TheClass
assert isinstance(meter, TheClass) and units.convert_to(units.kilometer, meter) == 1000 * meter
assert callable(sympy.physics.mgamma)
print(printed)
"""


def test_deferred_units_give_the_real_quantity_class_and_the_whole_package_on_demand() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", DEFERRED_UNITS], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    plain = subprocess.run(
        [sys.executable, "-c", DEFERRED_UNITS.replace("fastpaths.defer_units()", "pass").split("from sympy.physics.units import Quantity")[0] + "print(printed)"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert done.stdout == plain.stdout  # the printer and simplify give what they give without it


def test_deferring_units_does_nothing_once_they_are_imported() -> None:
    import sys

    import sympy.physics.units

    module = sys.modules["sympy.physics.units"]
    fastpaths.defer_units()
    assert sys.modules["sympy.physics.units"] is module
