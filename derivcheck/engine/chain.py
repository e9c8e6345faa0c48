"""Derivatives through the definitions: the chain rule over a derivation's definition graph, in
reverse mode, with every defined quantity kept as a named intermediate.

`Derivative(F, v)` is taken the way a person takes it layer by layer. Each definition's partial
derivatives by its direct inputs are taken once (memoised in the context, so shared by every
claim of a file), and combined from F down to v, each adjoint normalised as it is made (its
Kronecker deltas collapsed). The cost is proportional to the size of the definition graph, not
to the size of F with every definition substituted.

Why this is sound. Write s for the entries of the defined quantities. Each definition is an
equation d(p) = B_d(p, s, variables). The derivative of F by v, with v's family held
independent and every other definition a function of the variables (docs/format.md), is by the
chain rule the sum over paths of the products of partial derivatives ∂B_d/∂e, each evaluated
at the actual values of s; reverse accumulation computes exactly that sum. So the result R(s)
is an expression in s whose value, at the actual values of the intermediates, is the
derivative. Hence if lhs(s) - rhs(s) normalises to 0 as an expression in independent symbols s,
it is 0 at the actual values: a proof. Where it does not, symbolic.py substitutes definitions
(an identity), one layer at a time, and tries again; the last layer is full substitution.

A local derivative is folded where its definition's own body reappears in it literally:
d/dz sigmoid(z[q]) = sigmoid(z[q])*(1 - sigmoid(z[q])), with a[q] := sigmoid(z[q]), is kept as
a[q]*(1 - a[q]), the form authors write. Replacing a body by its name is an identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy
from sympy import Indexed, Sum, Symbol

from derivcheck.engine.context import Context
from derivcheck.vocabulary import Diff

Ranges = dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]


@dataclass(frozen=True)
class Tools:
    """The prover's own operations this module uses (symbolic.py passes them in; it imports
    this module, so the other way round would be a circle)."""

    normalise: Callable[[sympy.Expr, Ranges], sympy.Expr]  # sum rules, deltas collapsed
    freshen: Callable[[sympy.Basic], sympy.Basic]  # bound variables renamed fresh
    canonical: Callable[[sympy.Basic], sympy.Basic]  # bound variables named by depth


class ChainError(ValueError):
    """The derivative cannot be taken this way (an unsupported variable); the caller falls back."""


def names_used(expr: sympy.Basic) -> set[str]:
    """The names of the families and scalars an expression mentions."""
    return {str(a.base.label) for a in expr.atoms(Indexed)} | {s.name for s in expr.atoms(Symbol) if not isinstance(s, sympy.Dummy)}


def reaching(ctx: Context, name: str) -> frozenset[str]:
    """The definitions whose value depends on `name`, through any number of definitions (not
    `name` itself: a derivative by a defined quantity holds it independent)."""
    remembered = ctx.derived.reaching
    if name not in remembered:
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for other, definition in ctx.definitions.items():
                if other in found or other == name:
                    continue
                used = names_used(definition.body)
                if name in used or used & found:
                    found.add(other)
                    changed = True
        remembered[name] = frozenset(found)
    return remembered[name]


def heights(ctx: Context) -> dict[str, int]:
    """Each definition's height: 1 above the highest definition its body uses (variables are 0)."""
    if ctx.derived.heights is None:
        found: dict[str, int] = {}

        def height(name: str) -> int:
            if name not in found:
                found[name] = 0  # a guard; cycles are refused when the file is read
                used = names_used(ctx.definitions[name].body) & set(ctx.definitions)
                found[name] = 1 + max((height(u) for u in used), default=0)
            return found[name]

        for name in ctx.definitions:
            height(name)
        ctx.derived.heights = found
    return ctx.derived.heights


def params(ctx: Context, name: str) -> tuple[sympy.Dummy, ...]:
    """The index symbols an adjoint of family `name` is written in (one per index; none for a scalar)."""
    remembered = ctx.derived.params
    if name not in remembered:
        family = ctx.families.get(name)
        count = len(family.shape) if family is not None else 0
        # Named as the report shows them: a definition's own index names (k for a[k]), else p, q.
        definition = ctx.definitions.get(name)
        names = [param.name for param in definition.params] if definition is not None and len(definition.params) == count else ["p", "q", "u", "v"][:count]
        remembered[name] = tuple(sympy.Dummy(label, integer=True) for label in names)
    return remembered[name]


def param_ranges(ctx: Context, name: str) -> Ranges:
    family = ctx.families.get(name)
    if family is None:
        return {}
    return {symbol: (sympy.Integer(1), dim) for symbol, dim in zip(params(ctx, name), family.shape)}


def entry(ctx: Context, name: str) -> sympy.Basic:
    """The generic entry of a family in its adjoint's symbols (the scalar itself for a scalar)."""
    definition = ctx.definitions.get(name)
    if name in ctx.families:
        base = ctx.families[name].base
        indices = params(ctx, name)
        return base[indices] if len(indices) > 1 else base[indices[0]]
    if definition is not None:
        return definition.target
    return ctx.scalars[name]


def local_derivative(ctx: Context, name: str, used: str, tools: Tools) -> sympy.Expr:
    """∂B(p)/∂e[m] for the definition `name` (body B at its adjoint's symbols p) by the entry
    e[m] of its direct input `used` (m: `used`'s adjoint symbols); folded, normalised, and
    remembered for the file. For a positive product (softmax: exp(z[p])/Sum(exp(z[n]))), also
    as B(p) * ∂log B(p)/∂e[m], whose folded form (a[p]*(δ(p, m) - a[m])) is kept when it holds
    fewer of the input's entries."""
    key = ("local", name + "\0" + used)
    if key not in ctx.memo:
        definition = ctx.definitions[name]
        body = tools.freshen(definition.body).xreplace(dict(zip(definition.params, params(ctx, name))))
        ranges = {**ctx.ranges, **param_ranges(ctx, name), **param_ranges(ctx, used)}
        plain = fold(tools.normalise(sympy.diff(body, entry(ctx, used)), ranges), ctx, name)
        found = plain
        if isinstance(body, sympy.Mul) and all(factor.is_positive for factor in body.args):
            # log(B) is the sum of the logs of B's positive factors: an identity.
            logarithm = sympy.expand_log(sympy.log(body), force=True)
            inner = tools.normalise(sympy.diff(logarithm, entry(ctx, used)), ranges)
            logged = entry(ctx, name) * fold_product(inner, ctx, name, tools)
            if _count(logged, used) < _count(plain, used):
                found = logged
        ctx.memo[key] = found
    return ctx.memo[key]


def _count(expr: sympy.Basic, name: str) -> int:
    return sum(1 for node in sympy.preorder_traversal(expr) if isinstance(node, Indexed) and node.base.label.name == name or isinstance(node, Symbol) and node.name == name)


def fold_product(expr: sympy.Expr, ctx: Context, name: str, tools: Tools) -> sympy.Expr:
    """Each product holding, among its factors, every factor of the definition's body (a
    product) at some indices, with that instance replaced by the defined entry:
    -exp(z[m])/S becomes -a[m] when a[k] := exp(z[k])/S."""
    definition = ctx.definitions[name]
    factors = definition.body.args
    if not factors:
        return expr
    wilds = {param: sympy.Wild(f"w{position}") for position, param in enumerate(definition.params)}
    key_factor = next((f for f in factors if f.free_symbols & set(definition.params)), None)
    if key_factor is None:
        return expr
    pattern = key_factor.xreplace(wilds)

    def folded(node: sympy.Basic) -> sympy.Basic:
        if not isinstance(node, sympy.Mul):
            return node
        have = list(node.args)
        for candidate in have:
            match = candidate.match(pattern)
            if match is None:
                continue
            indices = tuple(match.get(wilds[p], p) for p in definition.params)
            if not all(getattr(index, "is_integer", False) for index in indices):
                continue
            instance = [tools.canonical(f.xreplace(dict(zip(definition.params, indices)))) for f in factors]
            shapes = [tools.canonical(f) for f in have]
            if all(shapes.count(f) >= instance.count(f) for f in instance):
                rest = list(have)
                for f in instance:
                    rest.pop([tools.canonical(r) for r in rest].index(f))
                target = definition.target
                named = target[indices] if len(indices) > 1 else target[indices[0]]
                return sympy.Mul(named, *rest)
        return node

    return expr.replace(lambda node: isinstance(node, sympy.Mul), folded)


def fold(expr: sympy.Expr, ctx: Context, name: str) -> sympy.Expr:
    """Each literal instance of the definition's body, at any indices, replaced by the defined
    entry (sigmoid(z[q]) by a[q] when a[k] := sigmoid(z[k])). Only bodies that are one function
    call are folded: their instances are found by the call's head."""
    definition = ctx.definitions[name]
    body = definition.body
    if not isinstance(body, sympy.Function) or isinstance(body, (Diff, sympy.KroneckerDelta)):
        return expr
    wilds = {param: sympy.Wild(f"w{position}") for position, param in enumerate(definition.params)}
    pattern = body.xreplace(wilds)

    def instance(node: sympy.Basic) -> bool:
        return isinstance(node, type(body)) and node.match(pattern) is not None

    def named(node: sympy.Basic) -> sympy.Basic:
        found = node.match(pattern) or {}
        indices = tuple(found.get(wilds[param], param) for param in definition.params)
        if any(not getattr(index, "is_integer", False) for index in indices):
            return node
        target = definition.target
        if not indices:
            return target
        return target[indices] if len(indices) > 1 else target[indices[0]]

    return expr.replace(instance, named)


def derivative(function: sympy.Expr, variable: sympy.Basic, ctx: Context, tools: Tools) -> sympy.Expr:
    """∂function/∂variable by the chain rule over the definitions, in reverse mode: the adjoint
    of each definition on a path from `function` to the variable's family, from the top down,
    each the sum over its users of (the user's adjoint) * (the user's local derivative)."""
    if isinstance(variable, Indexed):
        target, indices = str(variable.base.label), tuple(variable.indices)
    elif isinstance(variable, Symbol):
        target, indices = variable.name, ()
    else:
        raise ChainError(f"cannot differentiate with respect to {variable}")
    on_path = reaching(ctx, target)
    inputs = (names_used(function) & on_path) | ({target} & names_used(function))
    if not inputs:
        return sympy.Integer(0)
    adjoints: dict[str, sympy.Expr] = {}
    ranges = dict(ctx.ranges)
    for used in inputs:  # the root's own local derivatives
        ranges.update(param_ranges(ctx, used))
        adjoints[used] = tools.normalise(sympy.diff(function, entry(ctx, used)), ranges)
    height = heights(ctx)
    for name in sorted(on_path & set(adjoints) | _below(on_path, inputs, ctx), key=lambda n: -height[n]):
        adjoint = adjoints.pop(name, None)
        if adjoint is None or adjoint == 0:
            continue
        limits = [(symbol, low, high) for symbol, (low, high) in param_ranges(ctx, name).items()]
        for used in names_used(ctx.definitions[name].body) & (on_path | {target}):
            local = local_derivative(ctx, name, used, tools)
            term = adjoint * local
            if limits:
                term = Sum(term, *limits)
            ranges.update(param_ranges(ctx, name))
            ranges.update(param_ranges(ctx, used))
            adjoints[used] = tools.normalise(adjoints.get(used, sympy.Integer(0)) + term, ranges)
    result = adjoints.get(target, sympy.Integer(0))
    return result.xreplace(dict(zip(params(ctx, target), indices)))


def _below(on_path: frozenset[str], start: set[str], ctx: Context) -> set[str]:
    """The definitions on the path reached from `start` through definition bodies."""
    found: set[str] = set()
    stack = [name for name in start if name in on_path]
    while stack:
        name = stack.pop()
        if name in found:
            continue
        found.add(name)
        stack.extend(used for used in names_used(ctx.definitions[name].body) if used in on_path)
    return found
