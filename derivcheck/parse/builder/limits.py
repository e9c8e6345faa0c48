"""The bounds on what a little text may make SymPy build: literals, exponents, powers, roots, and the
size of every number in a result."""

from __future__ import annotations

import math

import sympy

MAX_FLOAT_EXPONENT = 1_000  # the e-part of a literal like 1e-3
MAX_EXPONENT = 1_000  # |n| in base**n when n is a number
MAX_POWER_DIGITS = (
    10_000  # |n| * log10(size of the numbers in base), checked before building base**n
)
# Any number anywhere in a result: Python refuses to print integers longer than 4300 digits,
# and every report prints expressions, so a longer number would only fail later and worse.
MAX_NUMBER_DIGITS = 4_000
# Numbers under a root (or any non-integer power) and inside function arguments: SymPy factors
# the base of a root when it builds it, which takes seconds for a few hundred digits.
MAX_RADICAND_DIGITS = 50

NUMBER_LIMIT = 10**MAX_NUMBER_DIGITS
RADICAND_LIMIT = 10**MAX_RADICAND_DIGITS


def max_log10(expr: sympy.Basic) -> float:
    """log10 of the largest numerator or denominator among the rational numbers in expr."""
    biggest = 1
    for number in expr.atoms(sympy.Rational):
        biggest = max(biggest, abs(int(number.p)), int(number.q))
    return math.log10(biggest)


def all_numbers_below(expr: sympy.Basic, limit: int) -> bool:
    return all(
        abs(int(n.p)) < limit and int(n.q) < limit for n in expr.atoms(sympy.Rational)
    )

