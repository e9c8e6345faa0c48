"""The witness: both sides of a claim evaluated at concrete sizes and admissible points by an
evaluator of its own, so that no proof counts until numbers agree with it.

It shares no code with the prover (engine/symbolic.py) or with the exact concrete check
(engine/concrete.py). It reads the claim as the parser built it, and

- unrolls every Sum and evaluates every Kronecker delta at concrete sizes (a sum whose upper
  limit is below its lower limit is empty, so 0);
- computes each entry of a definition once per point: the expression is a DAG, not a tree;
- takes `Derivative(F, v)` by forward-mode automatic differentiation: the entry v carries a
  dual part, v's family is held as independent inputs at its current values, and every other
  definition is recomputed from them, as docs/format.md defines the derivative;
- computes exactly (fractions) where a claim is rational, and otherwise in interval
  arithmetic (mpmath.iv), complex wherever a real variable's expression leaves the reals (the
  principal branches of log, sqrt and powers, as SymPy's);
- decides at each point: the sides differ when their enclosures are disjoint, at two
  precisions; they agree when the difference is below half the working digits of the sides
  (or of the terms that cancelled, when one side is exactly 0); otherwise the precision is
  raised, up to MAX_DIGITS, and a point still unresolved is not evaluated.

A point where a side has no value (a division by zero, log 0, a point not differentiable) is
not evaluated, and counted so; it never counts as agreement.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeAlias

import mpmath
import sympy
from mpmath import iv

from derivcheck.engine.context import Context, Fact
from derivcheck.vocabulary import FUNCTIONS, Diff, sigmoid
from derivcheck.model import Counterexample

# An mpmath interval, real (iv.mpf) or complex (iv.mpc). mpmath ships no types, so to mypy it is
# Any; the name says which values a function takes. Values that may also be exact or Dual are
# `object`, and are told apart at run time.
IntervalNumber: TypeAlias = Any
# A linear equation of a fact: the entries on one line, and what they sum to.
Equation: TypeAlias = tuple[list[tuple[int, ...]], Fraction]

# Precision: the first digits, and the most digits tried before a point is left unresolved.
FIRST_DIGITS = 40
MAX_DIGITS = 640
# An unrolled sum longer than this, or an evaluation of more nodes, is not attempted.
MAX_TERMS = 5_000
MAX_NODES = 2_000_000
# Below this many evaluated points (or at fewer than two size assignments), a proof is not
# witnessed, and so is not `proved`.
MIN_POINTS = 4
MIN_SIZES = 2
# Points tried at the first size assignment in the first look, and at every assignment in all.
LOOK_POINTS = 3
POINTS_PER_SIZE = 5
# A claim whose points cost more than LARGE_CLAIM_NODES evaluations each (a deep network) gets
# this many points per size assignment instead: at 5 assignments still three times MIN_POINTS.
POINTS_PER_SIZE_LARGE = 3
LARGE_CLAIM_NODES = 500
# A claim without sizes has one assignment: more points at it.
POINTS_WITHOUT_SIZES = 16
KINDS = ("simple", "mixed", "wide")
# Tries at simple values for a counterexample first found at other values.
SIMPLER_TRIES = 8


class Undefined(ArithmeticError):
    """A side has no value at this point (certainly: a division by an exact 0, log 0)."""


class Imprecise(ArithmeticError):
    """This precision cannot decide (the sign of an interval around 0, an infinite bound)."""


class NotRational(Exception):
    """The exact evaluation met something irrational."""


class WitnessError(ValueError):
    """The claim cannot be evaluated as written at these sizes (an index outside its range)."""


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def subscript_name(position: int) -> str:
    """'the first subscript' for position 0."""
    return f"the {ORDINALS[position]} subscript" if position < len(ORDINALS) else f"subscript {position + 1}"


class OutOfRange(WitnessError):
    """An entry outside its family's shape: which subscript (0-based), its value and range,
    the sizes, and the entry as the claim writes it (r[d]), once the evaluator knows it."""

    def __init__(self, name: str, position: int, value: int, dim: int, at: str) -> None:
        super().__init__(name)
        self.name, self.position, self.value, self.dim, self.at = name, position, value, dim, at
        self.entry: str | None = None

    def __str__(self) -> str:
        return f"{subscript_name(self.position)} of {self.entry or self.name} is {self.value}, outside 1..{self.dim}" + (
            f" (at {self.at})" if self.at else ""
        )


class Unsupported(ValueError):
    """Something the witness cannot evaluate."""


class TooLarge(Unsupported):
    """Too much to evaluate at these sizes (a sum too long to unroll, too many nodes)."""


# -- numbers with dual parts ------------------------------------------------------------------


class Dual:
    """re + ep*ε, ε**2 = 0, for the derivative tagged `tag`; re and ep may be Duals of lower
    tags (nested derivatives). A tag is a derivative's depth, so no two live ones are equal."""

    __slots__ = ("re", "ep", "tag")

    def __init__(self, re: object, ep: object, tag: int) -> None:
        self.re, self.ep, self.tag = re, ep, tag


def _tag(x: object) -> int:
    return x.tag if type(x) is Dual else -1


def _parts(x: object, tag: int) -> tuple[object, object]:
    if type(x) is Dual and x.tag == tag:
        return x.re, x.ep
    return x, 0


def _dual(re: object, ep: object, tag: int) -> object:
    return re if type(ep) is not Dual and ep == 0 else Dual(re, ep, tag)


def plain(x: object) -> object:
    """The value with every dual part dropped."""
    while type(x) is Dual:
        x = x.re
    return x


def add(x: object, y: object) -> object:
    if type(x) is int and x == 0:  # the dual parts' exact zeros: no conversion to an interval
        return y
    if type(y) is int and y == 0:
        return x
    tag = max(_tag(x), _tag(y))
    if tag < 0:
        return x + y  # type: ignore[operator]
    (xr, xe), (yr, ye) = _parts(x, tag), _parts(y, tag)
    return _dual(add(xr, yr), add(xe, ye), tag)


def neg(x: object) -> object:
    return Dual(neg(x.re), neg(x.ep), x.tag) if type(x) is Dual else -x  # type: ignore[operator]


def mul(x: object, y: object) -> object:
    tag = max(_tag(x), _tag(y))
    if tag < 0:
        return x * y  # type: ignore[operator]
    (xr, xe), (yr, ye) = _parts(x, tag), _parts(y, tag)
    ep = add(mul(xr, ye) if not _zero(ye) else 0, mul(xe, yr) if not _zero(xe) else 0)
    return _dual(mul(xr, yr), ep, tag)


def _zero(x: object) -> bool:
    """Certainly zero: an exact 0, or the interval [0, 0]."""
    return type(x) is not Dual and x == 0


def div(x: object, y: object) -> object:
    if _zero(plain(y)):
        raise Undefined("division by zero")
    tag = max(_tag(x), _tag(y))
    if tag < 0:
        return x / y  # type: ignore[operator]
    (xr, xe), (yr, ye) = _parts(x, tag), _parts(y, tag)
    quotient = div(xr, yr)
    ep = div(add(xe, neg(mul(quotient, ye))), yr) if not _zero(ye) else div(xe, yr)
    return _dual(quotient, ep, tag)


def int_power(x: object, n: int) -> object:
    if n < 0:
        return div(1, int_power(x, -n))
    if n == 0:
        return 1
    result: object = None
    while n:
        if n & 1:
            result = x if result is None else mul(result, x)
        n >>= 1
        if n:
            x = mul(x, x)
    return result


# -- the two kinds of numbers: exact fractions, and mpmath intervals -----------------------------


class Exact:
    """Fractions; anything irrational raises NotRational."""

    exact = True

    def number(self, value: Fraction) -> object:
        return value

    def constant(self, name: str) -> object:
        raise NotRational(name)

    def function(self, name: str, x: object) -> object:
        known = FUNCTIONS[name].exact if name in FUNCTIONS else {}
        if x in known:  # the few rational values of the vocabulary's functions
            return known[x]  # type: ignore[index]
        if name == "Abs":
            return abs(x)  # type: ignore[arg-type]
        if name == "sign":
            return Fraction((x > 0) - (x < 0))  # type: ignore[operator]
        if name == "re":
            return x
        if name == "im":
            return Fraction(0)
        raise NotRational(name)

    def power(self, base: object, exponent: object) -> object:
        raise NotRational("power")


class Interval:
    """mpmath intervals at the precision in force (iv.dps): real, or complex where a value
    leaves the reals. Every result encloses the true value."""

    exact = False

    def __init__(self) -> None:
        self._numbers: dict[Fraction, object] = {}  # converted once per precision: 0, 1, the inputs

    def number(self, value: Fraction) -> object:
        found = self._numbers.get(value)
        if found is None:
            found = self._numbers[value] = iv.mpf(value.numerator) / value.denominator
        return found

    def constant(self, name: str) -> object:
        return {"pi": iv.mpf(iv.pi), "E": iv.mpf(iv.e), "I": iv.mpc(0, 1)}[name]

    def function(self, name: str, x: IntervalNumber) -> object:
        complex_ = isinstance(x, iv.mpc)
        if name == "log" and _zero(x):
            raise Undefined("log of 0")
        interval = FUNCTIONS[name].interval if name in FUNCTIONS else None
        if interval is not None:
            return interval(x)
        if name == "Abs":
            return abs(x)
        if name == "re":
            return x.real if complex_ else x
        if name == "im":
            return x.imag if complex_ else iv.mpf(0)
        if name == "sign":
            if complex_:
                return x / abs(x)
            if _zero(x):
                return iv.mpf(0)
            low, high = ends(x)
            if low > 0 or high < 0:
                return iv.mpf(1 if low > 0 else -1)
            raise Imprecise("the sign of an interval around 0")
        raise Unsupported(f"the witness cannot evaluate {name}")

    def power(self, base: IntervalNumber, exponent: IntervalNumber) -> object:
        try:
            return base ** exponent
        except mpmath.libmp.ComplexResult:
            return iv.mpc(base) ** exponent


def conjugate(x: object) -> object:
    if type(x) is Dual:
        return Dual(conjugate(x.re), conjugate(x.ep), x.tag)
    return iv.mpc(x.real, -x.imag) if isinstance(x, iv.mpc) else x


class Ops:
    """The witness's arithmetic, as the vocabulary's derivatives are written against it."""

    def __init__(self, numbers: Exact | Interval) -> None:
        self.numbers = numbers

    add, neg, mul, div = staticmethod(add), staticmethod(neg), staticmethod(mul), staticmethod(div)

    def apply(self, name: str, x: object) -> object:
        return apply(self.numbers, name, x)


def apply(numbers: Exact | Interval, name: str, x: object) -> object:
    """f(x) for a function of the format, x possibly dual. A holomorphic function's derivative
    is the vocabulary's; Abs, re, im and sign are not holomorphic, and their derivatives
    along a real variable are taken apart here."""
    if type(x) is not Dual:
        return numbers.function(name, x)
    re, ep, tag = x.re, x.ep, x.tag
    value = apply(numbers, name, re)
    derivative = FUNCTIONS[name].derivative if name in FUNCTIONS else None
    if derivative is not None:
        return _dual(value, mul(derivative(Ops(numbers), re, value), ep), tag)
    if name == "re":
        return _dual(value, apply(numbers, "re", ep), tag)
    if name == "im":
        return _dual(value, apply(numbers, "im", ep), tag)
    if name == "Abs":  # d|f| = Re(conj(f) df)/|f|, for f of a real variable
        if _zero(plain(value)):
            raise Undefined("|x| is not differentiable at 0")
        return _dual(value, div(apply(numbers, "re", mul(conjugate(re), ep)), value), tag)
    if name == "sign":  # x/|x| away from 0
        if _zero(plain(re)):
            raise Undefined("sign is not differentiable at 0")
        return div(x, apply(numbers, "Abs", x))
    raise Unsupported(f"the witness cannot differentiate {name}")


def power(numbers: Exact | Interval, base: object, exponent: object) -> object:
    """base**exponent for an exponent that is not an integer: exp(exponent*log(base)), the
    principal branch."""
    if _zero(plain(base)):
        real = apply(numbers, "re", plain(exponent))
        if numbers.exact:
            assert isinstance(real, (int, Fraction))  # exact numbers: Fractions, or a dual part's 0 or 1
            positive = real > 0
        else:
            positive = ends(real)[0] > 0
        if type(base) is Dual or type(exponent) is Dual or not positive:
            raise Undefined("0 to this power")
        return numbers.number(Fraction(0))
    if type(base) is not Dual and type(exponent) is not Dual:
        return numbers.power(base, exponent)
    return apply(numbers, "exp", mul(exponent, apply(numbers, "log", base)))


# -- evaluation ---------------------------------------------------------------------------------

_FUNCTIONS = frozenset(FUNCTIONS) | {"re", "im"}  # re and im come from SymPy's own evaluation
_CONSTANTS = {sympy.pi: "pi", sympy.E: "E", sympy.I: "I"}


@dataclass
class Frame:
    """Where a derivative is being taken: `override` (a family's or a scalar's name) is held as
    independent inputs at its values in the parent frame, and its entry `seed` is dual."""

    parent: Frame | None = None
    override: str | None = None
    seed: tuple[int, ...] = ()
    tag: int = -1
    memo: dict[object, object] = field(default_factory=dict)


class Point:
    """Exact values for variable entries, drawn when first asked for and then kept."""

    def __init__(self, draw: Callable[[str], Fraction] | None, fixed: dict[tuple[str, tuple[int, ...]], Fraction]) -> None:
        self.values: dict[tuple[str, tuple[int, ...]], Fraction] = dict(fixed)
        self.draw = draw
        self.used: list[tuple[str, tuple[int, ...]]] = []

    def value(self, name: str, indices: tuple[int, ...]) -> Fraction:
        key = (name, indices)
        if key not in self.values:
            if self.draw is None:
                raise Unsupported(f"'{name}' has no value here")
            self.values[key] = self.draw(name)
        if key not in self.used:
            self.used.append(key)
        return self.values[key]


Env = Mapping[sympy.Symbol, int]


class Evaluator:
    """Evaluates the expressions of one claim at one size assignment, one point, and one kind
    of number (exact, or intervals at the precision in force)."""

    def __init__(self, ctx: Context, sizes: Mapping[sympy.Symbol, int], point: Point, numbers: Exact | Interval, shared: Shared) -> None:
        self.ctx, self.point, self.numbers, self.shared = ctx, point, numbers, shared
        self.sizes: dict[sympy.Symbol, int] = dict(sizes)
        self.root = Frame()
        self.nodes = 0

    def integer(self, expr: sympy.Basic, env: Env) -> int:
        """An index expression, a limit or a size expression: always exact."""
        if expr.is_Integer:
            return int(expr)
        if isinstance(expr, sympy.Symbol):
            if expr in env:
                return env[expr]
            if expr in self.sizes:
                return self.sizes[expr]
            raise WitnessError(f"{expr} has no value here")
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            parts = [self.integer(arg, env) for arg in expr.args]
            total = 0 if isinstance(expr, sympy.Add) else 1
            for part in parts:
                total = total + part if isinstance(expr, sympy.Add) else total * part
            return total
        raise WitnessError(f"{expr} is not an integer expression")

    def value(self, node: sympy.Basic, env: Env, frame: Frame) -> object:
        free = self.shared.free(node)
        key = (node, tuple(env[s] for s in free if s in env)) if free else node
        memo = frame.memo
        if key in memo:
            return memo[key]
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise TooLarge("the claim is too large to evaluate here")
        result = self._evaluate(node, env, frame)
        memo[key] = result
        return result

    def _evaluate(self, node: sympy.Basic, env: Env, frame: Frame) -> object:
        """A node's value, by the method for its kind of node (see _method_for)."""
        return _method_for(type(node))(self, node, env, frame)

    def _rational(self, node: sympy.Rational, env: Env, frame: Frame) -> object:
        return self.numbers.number(Fraction(int(node.p), int(node.q)) if node.q != 1 else Fraction(int(node.p)))

    def _symbol(self, node: sympy.Symbol, env: Env, frame: Frame) -> object:
        if node in env or node in self.sizes:
            return self.numbers.number(Fraction(self.integer(node, env)))
        return self.entry(node.name, (), frame)

    def _indexed(self, node: sympy.Indexed, env: Env, frame: Frame) -> object:
        try:
            return self.entry(node.base.label.name, tuple(self.integer(i, env) for i in node.indices), frame)
        except OutOfRange as exc:
            if exc.entry is None and exc.name == node.base.label.name:
                exc.entry = str(node)  # the innermost entry out of range, as written
            raise

    def _plus(self, node: sympy.Add, env: Env, frame: Frame) -> object:
        return self._add([self.value(arg, env, frame) for arg in node.args])

    def _times(self, node: sympy.Mul, env: Env, frame: Frame) -> object:
        values = [self.value(arg, env, frame) for arg in node.args]
        product = values[0]
        for value in values[1:]:
            product = mul(product, value)
        return product

    def _power(self, node: sympy.Pow, env: Env, frame: Frame) -> object:
        base = self.value(node.base, env, frame)
        if node.exp.is_Integer:
            return int_power(base, int(node.exp))
        return power(self.numbers, base, self.value(node.exp, env, frame))

    def _sum(self, node: sympy.Sum, env: Env, frame: Frame) -> object:
        return self._add(list(self._terms(node.function, list(node.limits), env, frame)))

    def _delta(self, node: sympy.KroneckerDelta, env: Env, frame: Frame) -> object:
        first, second = (self.integer(arg, env) for arg in node.args)
        return self.numbers.number(Fraction(int(first == second)))

    def _other(self, node: sympy.Basic, env: Env, frame: Frame) -> object:
        """A constant, a function of the vocabulary, or what the witness cannot evaluate."""
        if node in _CONSTANTS:
            return self.numbers.constant(_CONSTANTS[node])
        name = "sigmoid" if isinstance(node, sigmoid) else type(node).__name__
        if name in _FUNCTIONS and len(node.args) == 1:
            return apply(self.numbers, name, self.value(node.args[0], env, frame))
        if node in (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise Undefined("not a finite number")
        raise Unsupported(f"the witness cannot evaluate {name}")

    def _add(self, terms: list[object]) -> object:
        if not terms:
            return self.numbers.number(Fraction(0))
        total = terms[0]
        for term in terms[1:]:
            total = add(total, term)
        return total

    def entry(self, name: str, indices: tuple[int, ...], frame: Frame) -> object:
        """An entry of a variable or a definition (a scalar has indices ()) in a frame."""
        key = (name, indices)
        if key in frame.memo:
            return frame.memo[key]
        if frame.override == name:
            value = self.entry(name, indices, frame.parent)  # type: ignore[arg-type]
            if indices == frame.seed:
                value = Dual(value, self.numbers.number(Fraction(1)), frame.tag)
        elif name in self.ctx.definitions and (frame.parent is None or frame.override in self.shared.uses(name)):
            definition = self.ctx.definitions[name]
            self._check_range(name, indices)
            value = self.value(definition.body, dict(zip(definition.params, indices)), frame)
        elif frame.parent is not None:
            value = self.entry(name, indices, frame.parent)  # a variable, or a definition the override does not reach
        else:
            if name not in self.ctx.families and name not in self.ctx.scalars:
                raise Unsupported(f"'{name}' is neither a variable nor a definition")
            self._check_range(name, indices)
            value = self.numbers.number(self.point.value(name, indices))
        frame.memo[key] = value
        return value

    def _check_range(self, name: str, indices: tuple[int, ...]) -> None:
        family = self.ctx.families.get(name)
        if family is None:
            return
        for position, (value, dim) in enumerate(zip(indices, self.shared.shape(name, self.sizes))):
            if not 1 <= value <= dim:
                at = ", ".join(f"{size}={number}" for size, number in self.sizes.items())
                raise OutOfRange(name, position, value, dim, at)

    def _terms(self, function: sympy.Basic, limits: list[tuple[sympy.Symbol, sympy.Expr, sympy.Expr]], env: Env, frame: Frame) -> Iterator[object]:
        """The terms of a Sum; the last limit is the outermost, and a range whose upper limit
        is below its lower one has no terms."""
        if not limits:
            yield self.value(function, env, frame)
            return
        var, low, high = limits[-1]
        first, last = self.integer(low, env), self.integer(high, env)
        if last - first + 1 > MAX_TERMS:
            raise TooLarge(f"a sum of {last - first + 1} terms is too long to unroll")
        for value in range(first, last + 1):
            yield from self._terms(function, limits[:-1], {**env, var: value}, frame)

    def _derivative(self, node: Diff, env: Env, frame: Frame) -> object:
        function, variable = node.args
        if isinstance(variable, sympy.Indexed):
            name, seed = variable.base.label.name, tuple(self.integer(i, env) for i in variable.indices)
            try:
                self._check_range(name, seed)  # the entry differentiated by must exist, as any other
            except OutOfRange as exc:
                exc.entry = str(variable)
                raise
        elif isinstance(variable, sympy.Symbol):
            name, seed = variable.name, ()
        else:
            raise Unsupported(f"cannot differentiate by {variable}")
        depth, above = 0, frame
        while above.parent is not None:
            depth, above = depth + 1, above.parent
        child = Frame(parent=frame, override=name, seed=seed, tag=depth + 1)
        result = self.value(function, env, child)
        if type(result) is Dual and result.tag == child.tag:
            return result.ep
        return self.numbers.number(Fraction(0))


# How each kind of node is evaluated: the method of the first class here that the node is an
# instance of, else Evaluator._other (constants, functions, infinities). A table, not a chain of
# isinstance tests, and found once per class: the witness evaluates millions of nodes.
_Method = Callable[[Evaluator, Any, Env, Frame], object]
_KINDS: tuple[tuple[type, _Method], ...] = (
    (sympy.Rational, Evaluator._rational),
    (sympy.Symbol, Evaluator._symbol),
    (sympy.Indexed, Evaluator._indexed),
    (sympy.Add, Evaluator._plus),
    (sympy.Mul, Evaluator._times),
    (sympy.Pow, Evaluator._power),
    (sympy.Sum, Evaluator._sum),
    (sympy.KroneckerDelta, Evaluator._delta),
    (Diff, Evaluator._derivative),
)
_METHODS: dict[type, _Method] = {}  # by the node's own class, found once


def _method_for(cls: type) -> _Method:
    """The Evaluator method for nodes of class `cls`."""
    found = _METHODS.get(cls)
    if found is None:
        found = next((method for kind, method in _KINDS if issubclass(cls, kind)), Evaluator._other)
        _METHODS[cls] = found
    return found


def ends(x: IntervalNumber) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The bounds of a real interval as plain mpf numbers."""
    low, high = x._mpi_
    return mpmath.mpf(low), mpmath.mpf(high)


def magnitude(x: object) -> mpmath.mpf:
    """An upper bound of |x|."""
    if isinstance(x, iv.mpf):
        return max(abs(bound) for bound in ends(x))
    if isinstance(x, iv.mpc):
        return ends(abs(x))[1]
    return mpmath.mpf(abs(x))  # type: ignore[arg-type]


class Shared:
    """What does not change from point to point: each node's free indices, which names each
    definition depends on, whether the claim is rational, and the shapes at each assignment."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._free: dict[sympy.Basic, tuple[sympy.Symbol, ...]] = {}
        self._sizes = frozenset(ctx.sizes)
        self._uses: dict[str, frozenset[str]] = {}
        self._shapes: dict[tuple[str, tuple[int, ...]], tuple[int, ...]] = {}

    def free(self, node: sympy.Basic) -> tuple[sympy.Symbol, ...]:
        """The index symbols (declared indices, Dummies) a node's value may depend on; not the
        sizes, which are fixed for an evaluator. A Sum's limits are outside its binding: in
        Sum(f, (k, a, b)), a and b may use an outer k."""
        found = self._free.get(node)
        if found is None:
            if isinstance(node, sympy.Symbol):
                found = (node,) if node.is_integer and node not in self._sizes else ()
            elif isinstance(node, sympy.Sum):
                limits = list(node.limits)
                names = set(self.free(node.function)) - {var for var, _, _ in limits}
                for position, (_var, low, high) in enumerate(limits):
                    outer = {var for var, _, _ in limits[position + 1 :]}  # the outer limits bind the inner ones
                    names |= (set(self.free(low)) | set(self.free(high))) - outer
                found = _sorted(names)
            elif not node.args:
                found = ()
            else:
                found = _sorted({s for arg in node.args for s in self.free(arg)})
            self._free[node] = found
        return found

    def uses(self, name: str) -> frozenset[str]:
        """The variables and definitions a definition's value depends on, through every level."""
        if name not in self._uses:
            self._uses[name] = frozenset()  # cycles are refused earlier; this guards recursion
            body = self.ctx.definitions[name].body
            direct = {str(a.base.label) for a in body.atoms(sympy.Indexed)} | {s.name for s in body.atoms(sympy.Symbol)}
            found = set(direct)
            for used in direct & set(self.ctx.definitions):
                found |= self.uses(used)
            self._uses[name] = frozenset(found)
        return self._uses[name]

    def rational(self, *exprs: sympy.Basic) -> bool:
        """Whether these expressions, with every definition they use, are rational functions
        of the variables (then they are evaluated exactly)."""
        seen: set[str] = set()
        stack = list(exprs)
        while stack:
            node = stack.pop()
            if isinstance(node, sympy.Function) and not isinstance(node, (sympy.KroneckerDelta, Diff)) or node in _CONSTANTS:
                return False
            if isinstance(node, sympy.Pow) and not node.exp.is_Integer:
                return False
            name = node.base.label.name if isinstance(node, sympy.Indexed) else node.name if isinstance(node, sympy.Symbol) else None
            if name in self.ctx.definitions and name not in seen:
                seen.add(name)
                stack.append(self.ctx.definitions[name].body)
            stack.extend(node.args)
        return True

    def shape(self, name: str, sizes: Mapping[sympy.Symbol, int]) -> tuple[int, ...]:
        key = (name, tuple(sizes.values()))
        if key not in self._shapes:
            evaluator = Evaluator(self.ctx, sizes, Point(None, {}), Exact(), self)
            self._shapes[key] = tuple(evaluator.integer(dim, {}) for dim in self.ctx.families[name].shape)
        return self._shapes[key]


def _sorted(names: set[sympy.Symbol]) -> tuple[sympy.Symbol, ...]:
    return tuple(sorted(names, key=lambda s: (s.name, getattr(s, "dummy_index", 0))))
# -- sizes, index patterns and points -------------------------------------------------------------


def claim_constants(ctx: Context, *exprs: sympy.Basic) -> set[int]:
    """Integers the claim uses where a size or an index could meet them: in index expressions,
    Kronecker deltas, Sum limits, and sums or products with a size (N - 4, 2*N, and both
    parts of a rational, N/4 - 1), in the claim and every definition it uses."""
    sizes = set(ctx.sizes)
    found: set[int] = set()
    seen: set[str] = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        places: tuple[sympy.Basic, ...] = ()
        if isinstance(node, sympy.Indexed):
            places = node.indices
            name = node.base.label.name
            if name in ctx.definitions and name not in seen:
                seen.add(name)
                stack.append(ctx.definitions[name].body)
        elif isinstance(node, sympy.Symbol) and node.name in ctx.definitions and node.name not in seen:
            seen.add(node.name)
            stack.append(ctx.definitions[node.name].body)
        elif isinstance(node, sympy.KroneckerDelta):
            places = node.args
        elif isinstance(node, sympy.Sum):
            places = tuple(bound for limit in node.limits for bound in limit[1:])
        elif isinstance(node, (sympy.Add, sympy.Mul)) and node.free_symbols & sizes:
            places = tuple(arg for arg in node.args if arg.is_Rational)
        for place in places:
            for atom in place.atoms(sympy.Rational):
                found.update((abs(int(atom.p)), int(atom.q)))
        stack.extend(node.args)
    return found


def largest_number_digits(ctx: Context, *exprs: sympy.Basic) -> int:
    """The most decimal digits of any number in the claim and the definitions it uses: a
    difference of 10**-60 needs more than 60 digits to be seen."""
    digits = 0
    seen: set[str] = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if node.is_Rational:
            digits = max(digits, len(str(abs(int(node.p)))), len(str(int(node.q))))
        name = node.base.label.name if isinstance(node, sympy.Indexed) else node.name if isinstance(node, sympy.Symbol) else None
        if name in ctx.definitions and name not in seen:
            seen.add(name)
            stack.append(ctx.definitions[name].body)
        stack.extend(node.args)
    return digits


def relates_sizes(ctx: Context, *exprs: sympy.Basic) -> bool:
    """Whether the claim, or a definition it uses, or the range of one of its free indices,
    puts a size where it can meet another size or an index: as a value (N - M, N*c), in an
    index (x[N]), in a Kronecker delta, or in a Sum's lower limit (Sum(c, (k, M, N)), empty
    where M > N); or makes indices that range over different sizes meet, in a delta or in an
    index expression (KroneckerDelta(j, k + 2) with j in 1..M, k in 1..N: 0 for every k only
    where j > N + 2). Sums over 1..N and entries at indices alone never do."""
    nodes = _nodes_used(ctx, exprs)
    sizes = set(ctx.sizes)
    over = _sizes_of_indices(ctx, nodes, sizes)
    for node in nodes:
        if isinstance(node, sympy.Indexed):
            places: tuple[sympy.Basic, ...] = node.indices
            meeting: tuple[sympy.Basic, ...] = tuple(i for i in node.indices if not isinstance(i, sympy.Symbol))
        elif isinstance(node, sympy.KroneckerDelta):
            places = meeting = node.args
        elif isinstance(node, sympy.Sum):
            places, meeting = tuple(limit[1] for limit in node.limits), ()
        elif isinstance(node, (sympy.Add, sympy.Mul, sympy.Pow)):
            places, meeting = tuple(arg for arg in node.args if arg in sizes), ()
        else:
            places = meeting = ()
        if any(place.free_symbols & sizes for place in places):
            return True
        if len({size for place in meeting for symbol in place.free_symbols for size in over.get(symbol, ())}) > 1:
            return True
    return False


def _nodes_used(ctx: Context, exprs: tuple[sympy.Basic, ...]) -> list[sympy.Basic]:
    """Every node of the claim, of the definitions it uses (at any depth), and of its free
    indices' ranges."""
    seen: set[str] = set()
    stack = list(exprs) + [bound for symbol in _free_symbols_of(exprs) if symbol in ctx.ranges for bound in ctx.ranges[symbol]]
    nodes: list[sympy.Basic] = []
    while stack:
        node = stack.pop()
        nodes.append(node)
        name = node.base.label.name if isinstance(node, sympy.Indexed) else node.name if isinstance(node, sympy.Symbol) else None
        if name in ctx.definitions and name not in seen:
            seen.add(name)
            stack.append(ctx.definitions[name].body)
        stack.extend(node.args)
    return nodes


def _sizes_of_indices(ctx: Context, nodes: list[sympy.Basic], sizes: set[sympy.Symbol]) -> dict[sympy.Basic, set[sympy.Symbol]]:
    """The sizes each index ranges over: its declared range, and the limits of every Sum over it."""
    over: dict[sympy.Basic, set[sympy.Symbol]] = {
        symbol: {size for bound in bounds for size in bound.free_symbols & sizes} for symbol, bounds in ctx.ranges.items()
    }
    for node in nodes:
        if isinstance(node, sympy.Sum):
            for var, low, high in node.limits:
                over.setdefault(var, set()).update((low.free_symbols | high.free_symbols) & sizes)
    return over


def _free_symbols_of(exprs: tuple[sympy.Basic, ...]) -> set[sympy.Basic]:
    return {symbol for expr in exprs for symbol in expr.free_symbols}


def size_assignments(ctx: Context, constants: set[int], minima: Mapping[sympy.Symbol, int], *, spread: bool = False) -> list[dict[sympy.Symbol, int]]:
    """Every size takes its least value m (1 unless declared), m + 1, m + 2, m + 3, and one
    past every constant of the claim, where two constants may combine (k + 2 against N - 1):
    past the sum of the two largest, at least m + 3. The sizes stand in different orders to
    each other across the assignments (a transpose or a swapped size cannot agree by
    accident). The first assignment is the cheapest generic one. No size is dropped for being
    large: the evaluation's own limits say when one is too large to evaluate. With `spread`
    (a claim that `relates_sizes`), also rows that set every two sizes far apart in both
    orders (`_spread_rows`)."""
    count = len(ctx.sizes)
    if not count:
        return [{}]
    largest = sorted(constants, reverse=True)[:2]
    big = max(4, sum(largest) + 2)
    # m + 1, m + 2, m + 3 in turn along the sizes, from a different start in each row: every
    # size takes each value once, neighbours always differ and stand in both orders, and a
    # network of many layers is not evaluated at ever larger sizes.
    rows: list[list[int | None]] = [[(position + shift) % 3 + 1 for position in range(count)] for shift in range(3)]
    rows.insert(1, [0] * count)
    found: list[dict[sympy.Symbol, int]] = []
    for row in rows + [[None] * count] + (_spread_rows([minima.get(size, 1) for size in ctx.sizes], big) if spread else []):
        assignment = {}
        for position, (size, offset) in enumerate(zip(ctx.sizes, row)):
            least = minima.get(size, 1)
            # Past the constants: big and big + 1 in turn, so neighbours differ, and a network
            # of many layers is not evaluated at ever larger sizes.
            assignment[size] = max(big, least + 3) + position % 2 if offset is None else least + offset
        if assignment not in found:
            found.append(assignment)
    return found


def _spread_rows(leasts: list[int], big: int) -> list[list[int | None]]:
    """Rows that set every two sizes far apart, in both orders: for each bit of the sizes'
    positions, the sizes with the bit set at big past the largest least value and the others
    at their least, then the other way round (as offsets from each size's least). The rows
    above keep neighbours within 1 to 3 of each other (M - N is 1, 0, 1 or -2 for the first
    two sizes), so a claim false only where M >= N + 2, such as Sum(c, (k, M, N)) =
    (N - M + 1)*c (an empty sum against -c), agreed at all of them; big is past the claim's
    constants, so the gap is past any offset its limits can give."""
    top = max(leasts) + big
    rows: list[list[int | None]] = []
    for bit in range((len(leasts) - 1).bit_length()):
        high = [position >> bit & 1 for position in range(len(leasts))]
        for side in (1, 0):
            rows.append([top - least if chosen == side else 0 for chosen, least in zip(high, leasts)])
    return rows


def index_patterns(free: list[sympy.Symbol], ctx: Context, sizes: Mapping[sympy.Symbol, int], unequal: list[tuple[sympy.Symbol, sympy.Symbol]], shared: Shared) -> list[dict[sympy.Symbol, int]]:
    """Every assignment of the free indices within their ranges that meets the `where`s."""
    spans = []
    evaluator = Evaluator(ctx, sizes, Point(None, {}), Exact(), shared)
    for symbol in free:
        low, high = ctx.ranges[symbol]
        spans.append(range(evaluator.integer(low, {}), evaluator.integer(high, {}) + 1))
    found = []
    for values in itertools.islice(itertools.product(*spans), 20_000):
        pattern = dict(zip(free, values))
        if all(pattern[a] != pattern[b] for a, b in unequal if a in pattern and b in pattern):
            found.append(pattern)
    return found


def _pools(sign: str) -> list[Fraction]:
    small = [Fraction(n, d) for n in (1, 2, 3) for d in (1, 2)]
    return {
        "positive": small,
        "nonnegative": [Fraction(0)] + small,
        "negative": [-v for v in small],
        "real": [Fraction(n, d) for n in (-2, -1, 1, 2) for d in (1, 2)],
    }[sign]


def draw(sign: str, kind: str, rng: random.Random) -> Fraction:
    """One exact value of a variable's entry: `simple` (small, as a person would pick),
    `mixed` (rationals up to 40), `wide` (near zero, or up to about 1e3, or beyond)."""
    if kind == "simple":
        return rng.choice(_pools(sign))
    if kind == "mixed":
        value = Fraction(rng.randint(1, 40), rng.randint(1, 16))
    else:
        scale = rng.choice(["tiny", "small", "large", "huge"])
        value = {
            "tiny": Fraction(rng.randint(1, 9), 10 ** rng.randint(3, 8)),
            "small": Fraction(rng.randint(1, 40), rng.randint(1, 16)),
            "large": Fraction(rng.randint(100, 1000), rng.randint(1, 3)),
            "huge": Fraction(rng.randint(1, 9) * 10 ** rng.randint(3, 5)),
        }[scale]
    if sign == "negative" or (sign == "real" and rng.random() < 0.5):
        value = -value
    if sign == "nonnegative" and rng.random() < 0.1:
        value = Fraction(0)
    return value


def sign_of(ctx: Context, name: str) -> str:
    for word in ("positive", "nonnegative", "negative"):
        if name in getattr(ctx, word):
            return word
    return "real"


class Inconsistent(ValueError):
    """No point satisfies the facts at these sizes (shown, not merely not found)."""


class NoSample(ValueError):
    """No point satisfying the facts was found at these sizes (none may exist)."""


def _lines(fact: Fact, shape: tuple[int, ...], low: int, high: int) -> list[list[tuple[int, ...]]]:
    """The entries a fact constrains, one list per value of the family's other index."""
    if len(shape) == 1:
        return [[(i,) for i in range(low, high + 1)]]
    other = 1 - fact.position
    lines = []
    for fixed in range(1, shape[other] + 1):
        line = []
        for i in range(low, high + 1):
            index = [0, 0]
            index[fact.position], index[other] = i, fixed
            line.append(tuple(index))
        lines.append(line)
    return lines


def fact_values(ctx: Context, sizes: Mapping[sympy.Symbol, int], shared: Shared, rng: random.Random, kind: str) -> dict[tuple[str, tuple[int, ...]], Fraction]:
    """Values for every entry a fact constrains, meeting all the facts at once (one-hot and
    sums combine; neither overrides the other). Raises Inconsistent or NoSample."""
    fixed: dict[tuple[str, tuple[int, ...]], Fraction] = {}
    evaluator = Evaluator(ctx, sizes, Point(None, {}), Exact(), shared)
    for family in sorted({fact.family for fact in ctx.facts}):
        facts = [fact for fact in ctx.facts if fact.family == family]
        shape = shared.shape(family, sizes)
        equations: list[tuple[list[tuple[int, ...]], Fraction]] = []
        for fact in facts:
            if fact.kind != "sum":
                continue
            low, high = evaluator.integer(fact.low, {}), evaluator.integer(fact.high, {})
            if low < 1 or high > shape[fact.position]:
                raise Inconsistent(f"{fact.name} names entries of {family} outside its shape")
            value = evaluator.value(fact.value, {}, evaluator.root)
            if not isinstance(value, (int, Fraction)):
                raise NoSample(f"the value of {fact.name} is not rational")
            equations.extend((line, Fraction(value)) for line in _lines(fact, shape, low, high))
        sign = sign_of(ctx, family)
        if any(fact.kind == "one_hot" for fact in facts):
            found = _one_hot(family, shape, equations, sign, rng)
        else:
            found = _solve(family, shape, equations, sign, rng, kind)
        fixed.update(((family, index), value) for index, value in found.items())
    return fixed


def _one_hot(family: str, shape: tuple[int, ...], equations: list[Equation], sign: str, rng: random.Random) -> dict[tuple[int, ...], Fraction]:
    """A one-hot vector (or matrix, one-hot down each column) that meets the sum equations."""
    if sign == "negative" or sign == "positive" and shape[0] > 1:
        raise Inconsistent(f"{family} cannot be one-hot and {sign}: its other entries are 0")
    columns = [()] if len(shape) == 1 else [(c,) for c in range(1, shape[1] + 1)]
    tries = 1 if len(shape) == 1 else 64
    for _ in range(tries):
        values: dict[tuple[int, ...], Fraction] = {}
        for column in columns:
            hot_rows = list(range(1, shape[0] + 1))
            rng.shuffle(hot_rows)
            values.update({(row, *column): Fraction(0) for row in hot_rows})
            hot_entry = (hot_rows[0], *column)
            values[hot_entry] = Fraction(1)
        if len(shape) == 1:
            for hot in hot_rows:
                values = {(row,): Fraction(1 if row == hot else 0) for row in range(1, shape[0] + 1)}
                if all(sum(values[i] for i in line) == value for line, value in equations):
                    return values
            raise Inconsistent(f"no one-hot {family} meets its sums")
        if all(sum(values[i] for i in line) == value for line, value in equations):
            return values
    raise NoSample(f"no one-hot {family} meeting its sums was found")


def _solve(family: str, shape: tuple[int, ...], equations: list[Equation], sign: str, rng: random.Random, kind: str) -> dict[tuple[int, ...], Fraction]:
    """Values meeting linear sum equations: one equation on a line by positive weights, more by
    elimination with the free entries drawn at random (then signs are checked)."""
    entries = sorted({index for line, _ in equations for index in line})
    if len(equations) == 1 or all(not set(a) & set(b) for (a, _), (b, _) in itertools.combinations(equations, 2)):
        values = {}
        for line, value in equations:
            if not line:
                if value != 0:
                    raise Inconsistent(f"an empty sum of {family} cannot be {value}")
                continue
            values.update(_one_sum(family, line, value, sign, rng, kind))
        if _signs_hold(values.values(), sign):
            return values
        raise NoSample(f"no values of {family} with its sign meet its sums")
    for _ in range(20):
        values = _eliminate(family, entries, equations, sign, rng, kind)
        if _signs_hold(values.values(), sign):
            return values
    raise NoSample(f"no values of {family} with its sign meet its sums")


def _one_sum(family: str, line: list[tuple[int, ...]], value: Fraction, sign: str, rng: random.Random, kind: str) -> dict[tuple[int, ...], Fraction]:
    """Entries of one line that sum to `value`: of the family's sign (positive weights scaled to
    the sum, which must then have that sign too), or, for a real family, of mixed signs."""
    if sign == "real":
        drawn = [draw("real", kind, rng) for _ in line[:-1]]
        return dict(zip(line, [*drawn, value - sum(drawn)]))
    feasible = {"positive": value > 0, "nonnegative": value >= 0, "negative": value < 0}[sign]
    if not feasible:
        raise Inconsistent(f"entries of {family} that are {sign} cannot sum to {value}")
    if value == 0:  # nonnegative entries summing to 0 are all 0
        return {index: Fraction(0) for index in line}
    weights = [Fraction(rng.randint(1, 9)) for _ in line]
    total = sum(weights)
    return {index: weight * value / total for index, weight in zip(line, weights)}


def _signs_hold(values: Iterable[Fraction], sign: str) -> bool:
    tests: dict[str, Callable[[Fraction], bool]] = {"positive": lambda v: v > 0, "nonnegative": lambda v: v >= 0, "negative": lambda v: v < 0}
    test = tests.get(sign)  # a real family: any sign
    return test is None or all(test(v) for v in values)


def _eliminate(family: str, entries: list[tuple[int, ...]], equations: list[Equation], sign: str, rng: random.Random, kind: str) -> dict[tuple[int, ...], Fraction]:
    rows = [[Fraction(1 if entry in line else 0) for entry in entries] + [value] for line, value in equations]
    pivots: list[int] = []
    row = 0
    for column in range(len(entries)):
        found = next((r for r in range(row, len(rows)) if rows[r][column] != 0), None)
        if found is None:
            continue
        rows[row], rows[found] = rows[found], rows[row]
        lead = rows[row][column]
        rows[row] = [v / lead for v in rows[row]]
        for other in range(len(rows)):
            if other != row and rows[other][column] != 0:
                factor = rows[other][column]
                rows[other] = [a - factor * b for a, b in zip(rows[other], rows[row])]
        pivots.append(column)
        row += 1
    if any(all(v == 0 for v in r[:-1]) and r[-1] != 0 for r in rows):
        raise Inconsistent(f"the sums of {family} contradict each other")
    values = {entries[c]: draw(sign, kind, rng) for c in range(len(entries)) if c not in pivots}
    for r, column in enumerate(pivots):
        values[entries[column]] = rows[r][-1] - sum(rows[r][c] * values[entries[c]] for c in range(len(entries)) if c not in pivots)
    return values




# -- deciding at a point, and the testimony ----------------------------------------------------------


def _contains_zero(x: IntervalNumber) -> bool:
    if isinstance(x, iv.mpc):
        return _contains_zero(x.real) and _contains_zero(x.imag)
    low, high = ends(x)
    return bool(low <= 0 <= high)


def _width(x: IntervalNumber) -> mpmath.mpf:
    if isinstance(x, iv.mpc):
        return max(_width(x.real), _width(x.imag))
    low, high = ends(x)
    return high - low


def _finite(x: IntervalNumber) -> bool:
    if isinstance(x, iv.mpc):
        return _finite(x.real) and _finite(x.imag)
    return all(mpmath.isfinite(bound) for bound in ends(x))


Sides = Callable[[object], tuple[object, object]]


def resolve(sides: Sides, *, rational: bool, digits: int = FIRST_DIGITS) -> tuple[str, object, object, int]:
    """'agree', 'differ' or 'unresolved' at a point, with the two sides' values and the
    digits they were last computed with (0: exactly).

    Exact when the claim is rational. Otherwise in intervals: the sides differ when their
    enclosures are disjoint at two precisions in a row; they agree when the enclosure of the
    difference holds 0 and is narrower than 10**(-digits/2) times the larger side, or than
    10**(-digits/2) itself where the sides are smaller than 1: equal to half the working
    digits, absolutely or relatively. Never relative to the terms that cancelled on the way:
    sides of 1 that differ by exactly 1, out of terms of 1e86, would agree so at 80 digits.
    Anything else raises the precision, up to MAX_DIGITS.
    """
    if rational:
        try:
            left, right = sides(Exact())
            return ("agree" if left == right else "differ"), left, right, 0
        except NotRational:
            pass
    first, disjoint = digits, False
    left = right = None
    saved = iv.prec
    try:
        while digits <= max(MAX_DIGITS, 4 * first):
            iv.dps = digits
            try:
                left, right = sides(Interval())
                difference = left - right  # type: ignore[operator]
                if not (_finite(left) and _finite(right)):
                    raise Imprecise("an infinite bound")
            except Imprecise:
                digits, disjoint = digits * 2, False
                continue
            if not _contains_zero(difference):
                if disjoint:
                    return "differ", left, right, digits
                disjoint = True
            else:
                disjoint = False
                size = max(magnitude(left), magnitude(right), mpmath.mpf(1))
                if _width(difference) <= size * mpmath.mpf(10) ** (-(digits // 2)):
                    return "agree", left, right, digits
            digits *= 2
    finally:
        iv.prec = saved
    return "unresolved", left, right, digits // 2


def show_pair(left: object, right: object) -> tuple[str, str]:
    """The two sides as text, with enough digits that they read differently (15 at least):
    sides that differ by 10**-60 are shown to 62 digits."""
    digits = 15
    while True:
        shown = show(left, digits), show(right, digits)
        if shown[0] != shown[1] or digits >= 400:
            return shown
        digits *= 2


def show(value: object, digits: int = 15) -> str:
    if isinstance(value, (int, Fraction)):
        return str(value)
    if isinstance(value, iv.mpc):
        with mpmath.workdps(digits + 10):
            real, imag = (sum(ends(part)) / 2 for part in (value.real, value.imag))
            return str(mpmath.nstr(mpmath.mpc(real, imag), digits))
    if isinstance(value, iv.mpf):
        with mpmath.workdps(digits + 10):
            return str(mpmath.nstr(sum(ends(value)) / 2, digits))
    return str(mpmath.nstr(value, digits))


def sizes_text(sizes: Mapping[sympy.Symbol, int]) -> str:
    return ", ".join(f"{s}={v}" for s, v in sizes.items()) or "no sizes"


@dataclass
class Testimony:
    """What the witness saw: points evaluated at each size assignment, points it could not
    evaluate and why, and a counterexample if the sides differed somewhere."""

    evaluated: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    counterexample: Counterexample | None = None
    digits: int = 0  # the counterexample's sides differ in intervals at digits/2 and digits (0: exactly)
    error: str | None = None  # the claim is ill-formed at some size (an index out of range)
    error_entry: str | None = None  # the entry out of range, as written (r[d]), when known
    unsupported: str | None = None
    has_sizes: bool = True

    @property
    def points(self) -> int:
        return sum(self.evaluated.values())

    def witnessed(self) -> bool:
        """Enough agreement for a proof to count: MIN_POINTS points, at MIN_SIZES size
        assignments (when the claim has sizes), and no disagreement."""
        places = sum(1 for count in self.evaluated.values() if count)
        enough = self.points >= MIN_POINTS and (places >= MIN_SIZES or not self.has_sizes)
        return enough and self.counterexample is None and self.error is None and self.unsupported is None

    def describe(self) -> str:
        """'witness agrees at 12 points (N=2: 4; N=1: 2; ...)', and what it could not evaluate."""
        where = "; ".join(f"{sizes}: {count}" for sizes, count in self.evaluated.items() if count)
        if self.points:
            text = f"witness agrees at {self.points} point{'s' if self.points != 1 else ''} ({where})"
        else:
            text = "the witness evaluated no point"
        if self.skipped:
            text += "; not evaluated: " + "; ".join(f"{count} ({why})" for why, count in self.skipped.items())
        return text

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


class Witness:
    """The witness of one claim. `look()` is the first look at the cheapest sizes; `testify()`
    goes through every size assignment. Both add to one Testimony."""

    def __init__(self, lhs: sympy.Expr, rhs: sympy.Expr, ctx: Context, *, unequal: Iterable[tuple[sympy.Symbol, sympy.Symbol]] = (), seed: int = 0, minima: Mapping[sympy.Symbol, int] | None = None) -> None:
        self.lhs, self.rhs, self.ctx = lhs, rhs, ctx
        self.shared = Shared(ctx)
        self.free = sorted((set(self.shared.free(lhs)) | set(self.shared.free(rhs))) & set(ctx.ranges), key=lambda s: s.name)
        self.unequal = [(a, b) for a, b in unequal if a in self.free and b in self.free]
        self.assignments = size_assignments(ctx, claim_constants(ctx, lhs, rhs), minima or {}, spread=relates_sizes(ctx, lhs, rhs))
        self.rational = self.shared.rational(lhs, rhs)
        self.rng = random.Random(seed)
        self.testimony = Testimony(has_sizes=bool(ctx.sizes))
        self._tried: dict[int, int] = {}
        self.too_large: set[str] = set()  # size assignments found too large to evaluate
        self.nodes = 0  # evaluations of nodes so far, over every point
        # Enough digits to see the claim's smallest and largest numbers (10**-60 needs 60).
        self.digits = min(MAX_DIGITS, max(FIRST_DIGITS, 2 * largest_number_digits(ctx, lhs, rhs) + 20))
        self.points = POINTS_PER_SIZE if ctx.sizes else POINTS_WITHOUT_SIZES

    def look(self) -> Testimony:
        self._run([0], points=LOOK_POINTS)
        return self.testimony

    def testify(self) -> Testimony:
        """Every size assignment: POINTS_PER_SIZE points at each, or POINTS_PER_SIZE_LARGE for
        a claim whose first look found each point costly (a count of nodes, not of time, so
        the same claim always gets the same points)."""
        looked = self._tried.get(0, 0)
        if self.testimony.counterexample is None and looked and self.nodes / looked > LARGE_CLAIM_NODES and self.points == POINTS_PER_SIZE:
            self.points = POINTS_PER_SIZE_LARGE
        self._run(range(len(self.assignments)), points=self.points)
        return self.testimony

    def _stopped(self) -> bool:
        t = self.testimony
        return t.counterexample is not None or t.error is not None or t.unsupported is not None

    def _run(self, positions: object, *, points: int) -> None:
        """Up to `points` points at each size assignment (in all, with those already tried),
        cycling through index patterns and kinds of values: simple ones first."""
        for position in positions:  # type: ignore[attr-defined]
            sizes = self.assignments[position]
            label = sizes_text(sizes)
            self.testimony.evaluated.setdefault(label, 0)
            try:
                every = index_patterns(self.free, self.ctx, sizes, self.unequal, self.shared)
            except (WitnessError, Unsupported) as exc:
                self.testimony.skip(str(exc))
                continue
            if not every:
                continue
            patterns = every if len(every) <= points else self.rng.sample(every, points)
            while self._tried.get(position, 0) < points and not self._stopped() and label not in self.too_large:
                count = self._tried.get(position, 0)
                self._tried[position] = count + 1
                self._point(sizes, label, patterns[count % len(patterns)], KINDS[count % len(KINDS)])

    def _judge(self, sizes: dict[sympy.Symbol, int], pattern: dict[sympy.Symbol, int], kind: str) -> tuple[str, object, object, int, Point]:
        """The outcome at one new point of this kind; raises what `_point` sorts out."""
        fixed = fact_values(self.ctx, sizes, self.shared, self.rng, kind)
        point = Point(lambda name: draw(sign_of(self.ctx, name), kind, self.rng), fixed)

        def sides(numbers: object) -> tuple[object, object]:
            evaluator = Evaluator(self.ctx, sizes, point, numbers, self.shared)  # type: ignore[arg-type]
            try:
                left = evaluator.value(self.lhs, pattern, evaluator.root)
                right = evaluator.value(self.rhs, pattern, evaluator.root)
            finally:
                self.nodes += evaluator.nodes
            if type(left) is Dual or type(right) is Dual:
                raise Unsupported("a dual part was left over")
            return left, right

        return (*resolve(sides, rational=self.rational, digits=self.digits), point)

    def _point(self, sizes: dict[sympy.Symbol, int], label: str, pattern: dict[sympy.Symbol, int], kind: str) -> None:
        try:
            outcome, left, right, digits, point = self._judge(sizes, pattern, kind)
        except (Inconsistent, NoSample) as exc:
            self.testimony.skip(f"the assumptions: {exc}")
            return
        except WitnessError as exc:
            self.testimony.error = str(exc)
            self.testimony.error_entry = exc.entry if isinstance(exc, OutOfRange) else None
            return
        except TooLarge as exc:
            self.testimony.skip(f"{exc} at {label}")
            self.too_large.add(label)
            return
        except Unsupported as exc:
            self.testimony.unsupported = str(exc)
            return
        except (Undefined, ZeroDivisionError, OverflowError, ValueError):
            self.testimony.skip("a side has no value there")
            return
        if outcome == "agree":
            self.testimony.evaluated[label] += 1
        elif outcome == "unresolved":
            self.testimony.skip(f"the sides could not be told apart or equal within {MAX_DIGITS} digits")
        else:
            if kind != "simple":
                outcome, left, right, digits, point = self._simpler(sizes, pattern, (outcome, left, right, digits, point))
            self.testimony.counterexample = self._example(sizes, pattern, point, left, right)
            self.testimony.digits = digits

    def _simpler(self, sizes: dict[sympy.Symbol, int], pattern: dict[sympy.Symbol, int], found: tuple[str, object, object, int, Point]) -> tuple[str, object, object, int, Point]:
        """A counterexample at simple values, where a few tries find one: a person reads
        z[1] = 2 more easily than z[1] = -8437/3."""
        for _ in range(SIMPLER_TRIES):
            try:
                tried = self._judge(sizes, pattern, "simple")
            except (ArithmeticError, ValueError, NoSample):
                continue
            if tried[0] == "differ":
                return tried
        return found

    def _example(self, sizes: dict[sympy.Symbol, int], pattern: dict[sympy.Symbol, int], point: Point, left: object, right: object) -> Counterexample:
        families = {name for name, _ in point.used}
        shown = list(point.used) + [key for key in point.values if key[0] in families and key not in point.used]
        shown.sort(key=lambda key: (key[0], key[1]))
        return Counterexample(
            sizes=tuple((str(s), str(v)) for s, v in sizes.items()),
            indices=tuple((s.name, str(v)) for s, v in pattern.items()),
            values=tuple(((f"{name}[{', '.join(map(str, idx))}]" if idx else name), str(point.values[(name, idx)])) for name, idx in shown),
            lhs=show_pair(left, right)[0],
            rhs=show_pair(left, right)[1],
        )
