"""Shortcuts in SymPy, measured as hot spots on the bundled derivations; none changes a value.

Profiling `check_file(derivations/softmax_ce.yaml)` in one process (cProfile, SymPy 1.14)
showed more than half the time in SymPy's assumption system, reached from two places:

- `exp.eval` asks `arg.is_zero` (and looks for log factors and multiples of i*pi) every
  time an `exp(...)` is built. On an argument made of indexed variables and sums the
  question walks the whole argument and cannot be answered anyway. `exp(arg)` is built
  thousands of times while the engine rebuilds expressions.
- `ExprWithLimits.free_symbols` (so `Sum.free_symbols`, and `Sum.is_number`, which SymPy's
  sign questions ask) is computed afresh on every call; SymPy does not cache it.

- `_ask`, the assumption system's inner loop, shuffles the facts it tries next with its
  own unseeded random generator (sympy.core.random._assumptions_rng), to shake out order
  bugs in SymPy's test suite. The shuffling alone was a tenth of the run time, and it
  makes a run differ from the next.

The shortcuts:

- `exp.eval` goes on to SymPy's own rules only when the argument is an atom or holds
  something those rules act on (log, pi, i, infinities, NaN, Order, a matrix). Otherwise
  `exp(arg)` stays as it is written: the same value, left unevaluated, which is what
  SymPy's rules give for such arguments but for an argument that is zero by assumptions
  alone (then `exp(arg)` stays instead of becoming 1: still the same value).
- `free_symbols` of a Sum/Integral/Product is remembered per expression. Expressions are
  immutable and equal expressions have the same free symbols, so the memo cannot be stale.
  The memo is emptied when it grows past MEMO_LIMIT entries.
- The assumption system tries facts in SymPy's fixed order instead of a shuffled one.
  Its answers are meant not to depend on the order; with a fixed order, the same
  derivation gets the same verdicts run after run, and a cached result is the one a
  fresh run would give.

One more, `defer_units`, is not installed on import: derivcheck's server processes call
it, so that SymPy's printer and simplify do not load every unit system to ask whether
something is a physical Quantity (see its docstring).

Installed once, by importing derivcheck.engine. tests/engine/test_fastpaths.py checks SymPy's
documented results for exp are unchanged, the memo agrees with SymPy's computation, and
assumption answers are SymPy's.
"""

from __future__ import annotations

import importlib.abc
import sys
import types
from collections.abc import Callable
from typing import Any

import sympy
from sympy.concrete.expr_with_limits import ExprWithLimits
from sympy.core import numbers

# The module, not the function `sympy.core.assumptions` that the package's namespace shadows it with.
# Any, as everything of SymPy's is to mypy (it ships no types): a ModuleType would not know `shuffle`.
_assumptions: Any = sys.modules["sympy.core.assumptions"]

MEMO_LIMIT = 200_000

# What exp's own rules act on; an argument holding none of these is left as it is.
_EXP_RULES_ACT_ON = (
    sympy.log,
    numbers.Pi,
    numbers.ImaginaryUnit,
    numbers.Infinity,
    numbers.NegativeInfinity,
    numbers.ComplexInfinity,
    numbers.NaN,
    sympy.Order,
)

_sympy_exp_eval = sympy.exp.eval.__func__
_sympy_free_symbols = ExprWithLimits.free_symbols.fget
_sympy_shuffle = _assumptions.shuffle
_free_symbols_memo: dict[sympy.Basic, set[sympy.Basic]] = {}


def _exp_eval(cls: type, arg: sympy.Basic) -> sympy.Basic | None:
    if arg.is_Atom or isinstance(arg, sympy.MatrixBase) or arg.has(*_EXP_RULES_ACT_ON):
        return _sympy_exp_eval(cls, arg)
    return None


def _free_symbols(self: ExprWithLimits) -> set[sympy.Basic]:
    try:
        return set(_free_symbols_memo[self])
    except KeyError:
        pass
    found = _sympy_free_symbols(self)
    if len(_free_symbols_memo) >= MEMO_LIMIT:
        _free_symbols_memo.clear()
    _free_symbols_memo[self] = frozenset(found)  # type: ignore[assignment]
    return set(found)


def _keep_order(items: list[object]) -> None:
    """In place of the assumption system's shuffle: the facts stay in SymPy's order."""


def install() -> None:
    """Install the shortcuts (idempotent)."""
    if getattr(sympy.exp, "_derivcheck_fast", False):
        return
    sympy.exp.eval = classmethod(_exp_eval)
    sympy.exp._derivcheck_fast = True
    ExprWithLimits.free_symbols = property(_free_symbols)
    _assumptions.shuffle = _keep_order


def uninstall() -> None:
    """SymPy's own behaviour back (for tests that compare)."""
    if not getattr(sympy.exp, "_derivcheck_fast", False):
        return
    sympy.exp.eval = classmethod(_sympy_exp_eval)
    sympy.exp._derivcheck_fast = False
    ExprWithLimits.free_symbols = property(_sympy_free_symbols)
    _assumptions.shuffle = _sympy_shuffle
    _free_symbols_memo.clear()


# -- sympy.physics.units, imported by SymPy's printer and simplify for one class ---------------

_DEFERRED_PACKAGES = ("sympy.physics", "sympy.physics.units")


def defer_units() -> None:
    """Make `from sympy.physics.units import Quantity` cheap in this process (idempotent).

    SymPy's pretty printer (`_print_Mul`) and `simplify` import `sympy.physics.units` to
    ask `isinstance(x, Quantity)`. Importing that package loads every unit system SymPy
    has: 0.17 s, paid by each server process on its first claim, of a cold run of
    1.5 s. Here the packages `sympy.physics` and `sympy.physics.units` are put in
    sys.modules without running their `__init__`, with the real `Quantity` class from
    its own module (0.03 s). Any other name asked of either package runs its
    `__init__` then, so the package is the whole one from then on.

    Called in derivcheck's server processes only, where no user code runs. Does
    nothing if the package is already imported.
    """
    if _DEFERRED_PACKAGES[0] in sys.modules:
        return
    import importlib.util

    for name in _DEFERRED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:  # pragma: no cover  # SymPy without the package
            return
        module = importlib.util.module_from_spec(spec)
        # The module's own __getattr__ (PEP 562): set in its namespace, as a def in it would be.
        module.__dict__["__getattr__"] = _completing(module, spec.loader)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, module)
    from sympy.physics.units.quantities import Quantity

    setattr(sys.modules["sympy.physics.units"], "Quantity", Quantity)


def _completing(module: types.ModuleType, loader: importlib.abc.Loader) -> Callable[[str], object]:
    """A module `__getattr__` that runs the package's `__init__` on the first name it lacks."""

    def __getattr__(name: str) -> object:
        del module.__dict__["__getattr__"]
        loader.exec_module(module)
        return getattr(module, name)

    return __getattr__
