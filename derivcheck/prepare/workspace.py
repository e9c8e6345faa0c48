"""A derivation's declarations read into math: sizes, indices, variables, definitions and facts,
as the Scope to parse its steps in and the engine's Context (or the problems that stop it)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from derivcheck import parse
from derivcheck.engine import witness
from derivcheck.engine.context import Context, Definition, Fact, Family
from derivcheck.model import Problem, Span, Text, suggestion
from derivcheck.parse import MatrixValue, ParseError, Scope
from derivcheck.source import Derivation
from derivcheck.source import Definition as DefinitionText
from derivcheck.vocabulary import Diff

ONE_HOT = re.compile(r"^\s*one_hot\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*$")
# Sizes at which a declaration is tried for being empty or inconsistent: 1 to this many.
PROBE_SIZES = 6
Ranges = dict[sympy.Symbol, tuple[sympy.Expr, sympy.Expr]]


class FileProblems(Exception):
    """Problems that stop the checking of a file before its steps."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Workspace:
    """A derivation read into SymPy: the scope to parse steps in and the engine's context."""

    derivation: Derivation
    scope: Scope
    context: Context
    problems: list[Problem] = field(default_factory=list)


def parse_problem(path: str, text: Text, exc: ParseError) -> Problem:
    """A ParseError in `text` as a Problem at its position in the file."""
    return Problem(path, text.at(exc.offset), exc.code, str(exc.args[0]) if exc.args else str(exc))


def build(derivation: Derivation) -> Workspace:
    """Declarations, definitions and assumptions into SymPy, or FileProblems."""
    reader = _Declarations(derivation)
    reader.sizes()
    reader.indices()
    reader.variables()
    reader.definitions()
    facts = reader.facts()
    reader.stop_on_problems()
    reader.problems.extend(_empty_ranges(derivation, reader.ranges, reader.size_symbols, reader.minima))
    reader.stop_on_problems()
    context = Context(
        sizes=tuple(reader.size_symbols),
        ranges=reader.ranges,
        families=reader.ctx_families,
        scalars=reader.scalars,
        definitions=reader.defined,
        facts=tuple(facts),
        positive=frozenset(reader.signs["positive"]),
        nonnegative=frozenset(reader.signs["nonnegative"]),
        negative=frozenset(reader.signs["negative"]),
        minima=reader.minima,
    )
    reader.problems.extend(_inconsistent_facts(derivation, context))
    reader.stop_on_problems()
    return Workspace(derivation, reader.scope(), context)


class _Declarations:
    """Reads a derivation's declarations in order, each kind by its own method, keeping the
    names declared so far and every problem found."""

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self.path = derivation.path
        self.problems: list[Problem] = []
        self.names: dict[str, sympy.Symbol] = {}
        self.families: dict[str, tuple[sympy.IndexedBase, int]] = {}
        self.declared_at: dict[str, Span] = {}
        self.size_symbols: list[sympy.Symbol] = []
        self.minima: dict[sympy.Symbol, int] = {}
        self.ranges: Ranges = {}
        self.index_names: set[str] = set()
        self.ctx_families: dict[str, Family] = {}
        self.scalars: dict[str, sympy.Symbol] = {}
        self.signs: dict[str, set[str]] = {"positive": set(), "nonnegative": set(), "negative": set()}
        self.shapes: dict[str, tuple[sympy.Expr, ...]] = {}
        self.defined: dict[str, Definition] = {}

    def problem(self, span: Span, code: str, message: str) -> None:
        self.problems.append(Problem(self.path, span, code, message))

    def stop_on_problems(self) -> None:
        if self.problems:
            raise FileProblems(self.problems)

    def scope(self) -> Scope:
        return Scope(names=self.names, families=self.families, indices=frozenset(self.index_names), shapes=self.shapes, layout=self.derivation.layout, ranges=self.ranges)

    def claim_name(self, text: Text) -> bool:
        """Whether `text` is a valid name not declared before (else a problem at it)."""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text.value):
            self.problem(text.span, "schema", f"'{text.value}' is not a valid name")
            return False
        if text.value in self.declared_at:
            self.problem(text.span, "duplicate-name", f"'{text.value}' is already declared at line {self.declared_at[text.value].line}")
            return False
        self.declared_at[text.value] = text.span
        return True

    def size_expression(self, text: Text) -> sympy.Expr | None:
        """A bound or a dimension: an expression of the sizes."""
        size_scope = Scope(names={s.name: s for s in self.size_symbols}, families={}, indices=frozenset())
        try:
            return parse.parse_expression(text.value, size_scope)
        except ParseError as exc:
            self.problems.append(parse_problem(self.path, text, exc))
            return None

    def sizes(self) -> None:
        for text in self.derivation.sizes:
            if self.claim_name(text):
                symbol = sympy.Symbol(text.value, integer=True, positive=True)
                self.names[text.value] = symbol
                self.size_symbols.append(symbol)
        self.minima = {self.names[name]: int(least.value) for name, least in self.derivation.minima if name in self.names}

    def indices(self) -> None:
        for decl in self.derivation.indices:
            if not self.claim_name(decl.name):
                continue
            low, high = self.size_expression(decl.low), self.size_expression(decl.high)
            if low is None or high is None:
                continue
            symbol = sympy.Symbol(decl.name.value, integer=True)
            self.names[decl.name.value] = symbol
            self.ranges[symbol] = (low, high)
            self.index_names.add(decl.name.value)

    def variables(self) -> None:
        for var in self.derivation.variables:
            if not self.claim_name(var.name):
                continue
            clash = _sign_clash(var.assume)
            if clash:
                self.problem(var.name.span, "contradictory-assumptions", f"{var.name.value} cannot be both {clash[0]} and {clash[1]}")
                continue
            assume = {word: True for word in var.assume if word != "real"}
            for word in var.assume:
                if word in self.signs:
                    self.signs[word].add(var.name.value)
            if var.shape:
                shape = tuple(self.size_expression(dim) for dim in var.shape)
                base = sympy.IndexedBase(var.name.value, real=True, **assume)
                self.families[var.name.value] = (base, len(var.shape))
                self.ctx_families[var.name.value] = Family(var.name.value, base, tuple(d for d in shape if d is not None))
                self.shapes[var.name.value] = self.ctx_families[var.name.value].shape
            else:
                symbol = sympy.Symbol(var.name.value, real=True, **assume)
                self.names[var.name.value] = symbol
                self.scalars[var.name.value] = symbol

    def definitions(self) -> None:
        """Definitions may come in any order: the heads are read, ordered by what each body
        uses (a cycle is an error), and each body parsed once what it uses is known, so a
        matrix-valued body (Z: theta @ X) makes its name a family with a shape."""
        heads: dict[str, tuple[DefinitionText, tuple[str, ...]]] = {}
        for definition in self.derivation.definitions:
            head = self._head(definition)
            if head is not None:
                heads[head[0]] = (definition, head[1])
        uses = {
            name: {word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", definition.body.value) + parse.names_in(definition.body.value) if word in heads}
            for name, (definition, _) in heads.items()
        }
        cycle = _find_cycle(uses)
        if cycle:
            self.problem(heads[cycle[0]][0].head.span, "cyclic-definition", "definitions form a cycle: " + " -> ".join(cycle + [cycle[0]]))
            raise FileProblems(self.problems)
        for name in _topological(uses):
            self._body(name, *heads[name])

    def _head(self, definition: DefinitionText) -> tuple[str, tuple[str, ...]] | None:
        try:
            name, params = parse.parse_head(definition.head.value)
        except ParseError as exc:
            self.problems.append(parse_problem(self.path, definition.head, exc))
            return None
        if not self.claim_name(Text(name, definition.head.span, definition.head.exact)):
            return None
        bad = [p for p in params if p not in self.index_names]
        if bad:
            self.problem(definition.head.span, "undeclared-symbol", f"'{bad[0]}' in {definition.head.value} is not a declared index{suggestion(bad[0], self.index_names)}")
            return None
        return name, params

    def _body(self, name: str, definition: DefinitionText, params: tuple[str, ...]) -> None:
        try:
            body = parse.parse_expression(definition.body.value, self.scope())
        except ParseError as exc:
            self.problems.append(parse_problem(self.path, definition.body, exc))
            return
        if isinstance(body, MatrixValue):
            self._matrix_body(name, definition, params, body)
            return
        symbols = tuple(self.names[p] for p in params)
        stray = sorted(s.name for s in body.free_symbols if s in self.ranges and s not in symbols)
        if stray:
            self.problem(
                definition.body.span,
                "free-index",
                f"the definition of {definition.head.value} uses the index {stray[0]}, which is neither a parameter nor bound by a Sum",
            )
        elif body.has(Diff):
            self.problem(definition.body.span, "schema", "a definition cannot contain a Derivative")
        elif self._from_one(definition, symbols):
            shape = tuple(self.ranges[s][1] for s in symbols)
            self._family(name, shape, Definition(name, symbols, body, sympy.IndexedBase(name, **_known(body))))
        elif not params:
            symbol = sympy.Symbol(name, **_known(body))
            self.names[name] = symbol
            self.defined[name] = Definition(name, (), body, symbol)

    def _from_one(self, definition: DefinitionText, symbols: tuple[sympy.Symbol, ...]) -> bool:
        """Whether a family's indices run from 1, as every family's do (x[1], ..., x[N]): its
        shape is the upper limits. False (and a problem) for a head over a range from 0."""
        if not symbols:
            return False
        for symbol in symbols:
            low = self.ranges[symbol][0]
            if low != 1:
                self.problem(definition.head.span, "index-range", f"the entries of {definition.head.value} are numbered from 1, but {symbol} runs from {low}: declare an index over 1..{self.ranges[symbol][1]} for its head")
                return False
        return True

    def _matrix_body(self, name: str, definition: DefinitionText, params: tuple[str, ...], body: MatrixValue) -> None:
        """A matrix (or column vector) definition: a family whose entries are the body's."""
        if params:
            self.problem(definition.body.span, "shape-mismatch", f"{definition.head.value} is one entry, but its body is a {body.shape} matrix")
            return
        row, col = sympy.Dummy("r", integer=True), sympy.Dummy("c", integer=True)
        column = body.is_column()
        symbols = (row,) if column else (row, col)
        shape = (body.rows,) if column else (body.rows, body.cols)
        entry = body.at(row, col)
        self._family(name, shape, Definition(name, symbols, entry, sympy.IndexedBase(name, **_known(entry))))

    def _family(self, name: str, shape: tuple[sympy.Expr, ...], definition: Definition) -> None:
        base = definition.target
        self.families[name] = (base, len(shape))
        self.shapes[name] = shape
        self.ctx_families[name] = Family(name, base, shape)
        self.defined[name] = definition

    def facts(self) -> list[Fact]:
        scope = self.scope()
        found = []
        for assumption in self.derivation.assumptions:
            fact = _fact(assumption.name.value, assumption.statement, scope, self.ctx_families, set(self.defined), set(self.size_symbols), self)
            if fact is not None:
                found.append(fact)
        return found


def _known(body: sympy.Expr) -> dict[str, bool]:
    """What SymPy may assume of a defined name: only what it knows of the body. A definition
    is not real unless its body is (sqrt(t) and log(x) leave the reals): were r := sqrt(t) a
    real name, SymPy would rewrite Abs(r)**2 to r**2 as it reads the claim, before any check."""
    if body.is_positive:
        return {"positive": True}
    if body.is_nonnegative:
        return {"nonnegative": True}
    if body.is_negative:
        return {"negative": True}
    return {"real": True} if body.is_extended_real and body.is_finite else {}


def _fact(name: str, text: Text, scope: Scope, families: dict[str, Family], defined: set[str], sizes: set[sympy.Symbol], reader: _Declarations) -> Fact | None:
    """An assumption read into a Fact, or a problem at its position. A fact is about a
    variable (not a defined quantity, which its definition already fixes), and a Sum fact's
    limits and value are numbers and sizes only."""
    unsupported = "unsupported-assumption"
    about_definition = "'{}' is defined, so a fact about it could contradict its definition; state facts about variables"
    match = ONE_HOT.match(text.value)
    if match:
        family = match.group(1)
        if family in defined:
            reader.problem(text.span, unsupported, about_definition.format(family))
        elif family not in families or len(families[family].shape) not in (1, 2):
            reader.problem(text.span, unsupported, f"one_hot needs a vector or matrix variable, and '{family}' is not one")
        else:
            return Fact(name, "one_hot", family)
        return None
    try:
        lhs, rhs = parse.parse_equation(text.value, scope)
    except ParseError as exc:
        reader.problems.append(parse_problem(reader.path, text, exc))
        return None
    if isinstance(lhs, sympy.Sum) and len(lhs.limits) == 1 and not isinstance(rhs, MatrixValue):
        var, low, high = lhs.limits[0]
        summand = lhs.function
        if isinstance(summand, sympy.Indexed) and str(summand.base.label) in defined:
            reader.problem(text.span, unsupported, about_definition.format(summand.base.label))
            return None
        loose = sorted(s.name for s in (low.free_symbols | high.free_symbols | rhs.free_symbols) - sizes)
        if loose:
            reader.problem(text.span, unsupported, f"the limits and the value of a Sum assumption are numbers and sizes only, and '{loose[0]}' is neither")
            return None
        if isinstance(summand, sympy.Indexed) and str(summand.base.label) in families and var in summand.indices:
            position = summand.indices.index(var)
            others = [index for i, index in enumerate(summand.indices) if i != position]
            # The other index (of a matrix) is free: the fact holds for each of its values.
            distinct = all(isinstance(o, sympy.Symbol) and o != var for o in others) and len(set(others)) == len(others)
            if distinct and len(summand.indices) <= 2:
                return Fact(name, "sum", str(summand.base.label), low, high, rhs, position=position)
    reader.problem(
        text.span,
        unsupported,
        "derivcheck understands two kinds of assumption: one_hot(y) (a vector, or each column of a matrix), "
        "and Sum(y[k], (k, 1, N)) = value (also Sum(Y[l, i], (l, 1, L)) = value for every column i)",
    )
    return None


def _sign_clash(words: Sequence[str]) -> tuple[str, str] | None:
    """Two sign assumptions on one variable that no number meets together."""
    for first, second in (("positive", "negative"), ("nonnegative", "negative")):
        if first in words and second in words:
            return first, second
    return None


def probe_assignments(sizes: Sequence[sympy.Symbol], minima: dict[sympy.Symbol, int]) -> list[dict[sympy.Symbol, int]]:
    """Every size at the same value v, for v from 1 to PROBE_SIZES (at least its minimum), and
    the sizes at distinct values: enough to see a range or a set of facts that is never met."""
    found = []
    for value in range(1, PROBE_SIZES + 1):
        for offset in (0, 1):
            assignment = {size: max(value + offset * position, minima.get(size, 1)) for position, size in enumerate(sizes)}
            if assignment not in found:
                found.append(assignment)
    return found


def _empty_ranges(derivation: Derivation, ranges: Ranges, sizes: Sequence[sympy.Symbol], minima: dict[sympy.Symbol, int]) -> list[Problem]:
    """An index whose range is empty at every size tried (`e: 2..1`): a claim about it would
    hold vacuously, so it is an error at its declaration."""
    problems = []
    for decl in derivation.indices:
        symbol = next((s for s in ranges if s.name == decl.name.value), None)
        if symbol is None:
            continue
        low, high = ranges[symbol]
        counts = []
        for assignment in probe_assignments(sizes, minima):
            width = (high - low + 1).xreplace({s: sympy.Integer(v) for s, v in assignment.items()})
            counts.append(int(width) if width.is_Integer else 1)
        if all(count <= 0 for count in counts):
            problems.append(Problem(derivation.path, decl.low.span, "empty-range", f"the range {decl.low.value}..{decl.high.value} of {decl.name.value} is empty at every size"))
    return problems


def _inconsistent_facts(derivation: Derivation, ctx: Context) -> list[Problem]:
    """Assumptions that no point meets together (one_hot(y) with Sum(y[k], (k, 1, N)) = 2) at
    any size tried, or only where every size is at its least (a positive one-hot y of one
    entry): an error naming them, at the first one's position."""
    if not ctx.facts:
        return []
    shared = witness.Shared(ctx)
    rng = random.Random(0)
    least = {size: ctx.minima.get(size, 1) for size in ctx.sizes}
    probes = probe_assignments(ctx.sizes, ctx.minima)
    met = []
    for assignment in probes:
        try:
            witness.fact_values(ctx, assignment, shared, rng, "simple")
        except witness.NoSample:
            return []  # not shown to be inconsistent
        except (witness.Inconsistent, witness.WitnessError, witness.Unsupported):
            continue
        met.append(assignment)
    if met and (len(probes) == 1 or any(assignment != least for assignment in met)):
        return []
    named = ", ".join(fact.name for fact in ctx.facts)
    where = f"at any size tried (1 to {PROBE_SIZES})" if not met else "at any size tried but the least (every size at its least value)"
    first = derivation.assumptions[0]
    return [Problem(derivation.path, first.statement.span, "inconsistent-assumptions", f"no values meet the assumptions {named} together, {where}")]


def _topological(uses: dict[str, set[str]]) -> list[str]:
    """Names in an order where each comes after the names it uses (no cycles here)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        done.add(node)
        for used in sorted(uses[node]):
            visit(used)
        order.append(node)

    for node in sorted(uses):
        visit(node)
    return order


def _find_cycle(uses: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(uses.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(uses):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
