"""What the engine knows about a derivation: symbols, index ranges, definitions and facts."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy


@dataclass(frozen=True)
class Family:
    """An indexed quantity, `z[k]` or `W[i, d]`: a variable, or a defined quantity."""

    name: str
    base: sympy.IndexedBase
    shape: tuple[sympy.Expr, ...]  # each index runs over 1..shape[i]


@dataclass(frozen=True)
class Definition:
    """`a[k] := body`: `params` are the index symbols of the head, free in `body`."""

    name: str
    params: tuple[sympy.Symbol, ...]
    body: sympy.Expr
    target: sympy.Basic  # the Symbol (scalar) or IndexedBase (family) being defined


@dataclass(frozen=True)
class Fact:
    """An assumption the engine can use.

    kind "one_hot": `family` holds one 1 and zeros elsewhere (a vector), or each
    column does (a matrix: one-hot along index `position` = 0).
    kind "sum": Sum(family[.., v, ..], (v, low, high)) = value, v at index `position`,
    for every value of the family's other index.
    """

    name: str
    kind: str
    family: str
    low: sympy.Expr = sympy.Integer(1)
    high: sympy.Expr = sympy.Integer(1)
    value: sympy.Expr = sympy.Integer(1)
    position: int = 0


@dataclass
class Derived:
    """What engine/chain.py derives from the definitions alone, remembered for the file: the
    definitions each name reaches, each definition's height, each family's adjoint symbols."""

    reaching: dict[str, frozenset[str]] = field(default_factory=dict)
    heights: dict[str, int] | None = None
    params: dict[str, tuple[sympy.Dummy, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    sizes: tuple[sympy.Symbol, ...]
    ranges: dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]  # declared index symbols
    families: dict[str, Family]
    scalars: dict[str, sympy.Symbol]  # variables without indices
    definitions: dict[str, Definition]  # by name, every defined quantity
    facts: tuple[Fact, ...] = ()
    positive: frozenset[str] = field(default_factory=frozenset)  # variables assumed positive
    nonnegative: frozenset[str] = field(default_factory=frozenset)
    negative: frozenset[str] = field(default_factory=frozenset)
    # The least value of a size with a declared minimum (N: {min: 3}); others are at least 1.
    minima: dict[sympy.Symbol, int] = field(default_factory=dict)
    # Sides already prepared or simplified in this context, by expression: the links of a
    # chain share their sides, and a process checks claim after claim of one file.
    memo: dict[tuple[str, sympy.Basic], sympy.Basic] = field(default_factory=dict, compare=False, repr=False)
    # What the chain rule derives from the definitions (facts play no part: a Context replaced
    # with more facts shares it, as it shares `memo`).
    derived: Derived = field(default_factory=Derived, compare=False, repr=False)

    def free_indices(self, expr: sympy.Basic) -> set[sympy.Symbol]:
        """The declared indices (and generic-entry Dummies) free in an expression."""
        return {symbol for symbol in expr.free_symbols if symbol in self.ranges}

    def family_of(self, atom: sympy.Basic) -> str | None:
        """The name of the variable or definition an atom (z[k], L) stands for."""
        if isinstance(atom, sympy.Indexed):
            return str(atom.base.label)
        if isinstance(atom, sympy.Symbol):
            return str(atom.name)
        return None
