"""A derivation printed as math for people: LaTeX (for Markdown) and MathML (for HTML), from the
SymPy expressions derivcheck parsed (never from eval), into a Document (derivcheck/document.py).

MathML is re-serialized here from SymPy's printer through a whitelist of elements and
attributes, its text escaped again: the HTML report embeds it as it is.
"""

from __future__ import annotations

import html
import re
from xml.dom import minidom

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter

from derivcheck import parse, source, vocabulary
from derivcheck.document import Document, Entry, Line, Math, StepView
from derivcheck.model import Claim, FileResult, Problem, StepResult
from derivcheck.parse import MatrixValue, ParseError
from derivcheck.prepare.claims import claims_of
from derivcheck.prepare.workspace import ONE_HOT, FileProblems, Workspace, build

__all__ = ["MAX_MATH_CHARS", "document_of", "math_of", "serialize"]

# Math longer than this (in LaTeX characters) is shown as the text it was written as.
MAX_MATH_CHARS = 20_000


def _simple(expr: sympy.Basic) -> bool:
    """Whether a derivative's function fits in the numerator: ∂L/∂z, not ∂/∂z (…)."""
    return isinstance(expr, (sympy.Symbol, sympy.Indexed))


class _Latex(LatexPrinter):  # type: ignore[misc]  # SymPy ships no types: its classes are Any to mypy
    def _print_Derivative(self, expr: sympy.Derivative) -> str:
        variables = " ".join(rf"\partial {self._print(v)}" for v in expr.variables)
        function = expr.expr
        if _simple(function):
            return rf"\frac{{\partial {self._print(function)}}}{{{variables}}}"
        return rf"\frac{{\partial}}{{{variables}}} \left({self._print(function)}\right)"

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        text = super()._print_Symbol(expr, style=style)
        # A name of several letters is one name, not a product: `Loss`, not L·o·s·s.
        return rf"\mathit{{{text}}}" if re.fullmatch(r"[A-Za-z]{2,}", text) else text

    def _print_sigmoid(self, expr: sympy.Function, exp: object = None) -> str:
        text = rf"\sigma\left({self._print(expr.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp is not None else text

    def _print_Dummy(self, expr: sympy.Dummy) -> str:
        return rf"\mathrm{{{expr.name}}}"

    def _print_KroneckerDelta(self, expr: sympy.KroneckerDelta, exp: object = None) -> str:
        first, second = (self._print(arg) for arg in expr.args)
        return rf"\delta_{{{first} {second}}}"


class _MathML(MathMLPresentationPrinter):  # type: ignore[misc]  # SymPy ships no types: its classes are Any to mypy
    def _element(self, tag: str, *children: minidom.Element, text: str | None = None) -> minidom.Element:
        element: minidom.Element = self.dom.createElement(tag)
        if text is not None:
            element.appendChild(self.dom.createTextNode(text))
        for child in children:
            element.appendChild(child)
        return element

    def _print_Derivative(self, expr: sympy.Derivative) -> minidom.Element:
        denominator = self._element("mrow")
        for variable in expr.variables:
            denominator.appendChild(self._element("mo", text="\u2202"))
            denominator.appendChild(self._print(variable))
        function = expr.expr
        if _simple(function):
            numerator = self._element("mrow", self._element("mo", text="\u2202"), self._print(function))
            return self._element("mfrac", numerator, denominator)
        fraction = self._element("mfrac", self._element("mo", text="\u2202"), denominator)
        group = self._element("mrow", self._element("mo", text="("), self._print(function), self._element("mo", text=")"))
        return self._element("mrow", fraction, group)

    def parenthesize(self, item: sympy.Basic, level: int, strict: bool = False) -> minidom.Element:
        # ∂L/∂a is a fraction, whole on its own: no parentheses around it in a product.
        printed: minidom.Element
        if isinstance(item, sympy.Derivative) and _simple(item.expr):
            printed = self._print(item)
        else:
            printed = super().parenthesize(item, level, strict)
        return printed

    def _print_Indexed(self, expr: sympy.Indexed) -> minidom.Element:
        indices = self._element("mrow")
        for position, index in enumerate(expr.indices):
            if position:
                indices.appendChild(self._element("mo", text=","))
            indices.appendChild(self._print(index))
        return self._element("msub", self._print(expr.base), indices)

    def _print_KroneckerDelta(self, expr: sympy.KroneckerDelta) -> minidom.Element:
        indices = self._element("mrow", *(self._print(arg) for arg in expr.args))
        return self._element("msub", self._element("mi", text="\u03b4"), indices)

    def _print_sigmoid(self, expr: sympy.Function) -> minidom.Element:
        argument = self._element("mrow", self._element("mo", text="("), self._print(expr.args[0]), self._element("mo", text=")"))
        return self._element("mrow", self._element("mi", text="\u03c3"), argument)

    def _print_Exp1(self, expr: sympy.Basic) -> minidom.Element:
        # A plain upright e: the double-struck ⅇ SymPy prints is missing from many fonts.
        element = self._element("mi", text="e")
        element.setAttribute("mathvariant", "normal")
        return element


# What the MathML may hold once re-serialized: the presentation elements SymPy's printer
# makes, and no attribute that could load or run anything.
_MATHML_TAGS = frozenset(
    {
        "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup",
        "mfrac", "msqrt", "mroot", "munder", "mover", "munderover", "mstyle", "mpadded",
        "mphantom", "mtable", "mtr", "mtd", "menclose", "mfenced",
    }
)
_MATHML_ATTRIBUTES = frozenset(
    {"mathvariant", "stretchy", "fence", "separator", "linethickness", "lspace", "rspace", "form",
     "accent", "accentunder", "open", "close", "separators", "displaystyle", "scriptlevel"}
)
_ATTRIBUTE_VALUE = re.compile(r"[A-Za-z0-9 .,()\[\]|#+-]*")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);")


def _unentity(text: str) -> str:
    """SymPy writes characters as entity references inside text nodes (`&dd;`): the characters."""
    return _ENTITY.sub(lambda match: html.unescape(match.group()), text)


def serialize(node: minidom.Node) -> str:
    """MathML text from SymPy's DOM, keeping only whitelisted elements and attributes."""
    if isinstance(node, minidom.Text):
        text = _unentity(node.data)
        parent = node.parentNode
        if text == "-" and isinstance(parent, minidom.Element) and parent.tagName == "mo":
            text = "\u2212"  # MathML shows a hyphen as a hyphen: the minus sign is its own character
        return html.escape(text, quote=False)
    if not isinstance(node, minidom.Element):
        raise TypeError(f"unexpected MathML node type {node.nodeType}")
    tag = node.tagName
    if tag not in _MATHML_TAGS:
        raise ValueError(f"unexpected MathML element <{tag}>")
    attributes = ""
    for name, value in sorted(node.attributes.items()) if node.attributes is not None else ():
        if name not in _MATHML_ATTRIBUTES or not _ATTRIBUTE_VALUE.fullmatch(value):
            raise ValueError(f"unexpected MathML attribute {name}")
        attributes += f' {name}="{html.escape(value, quote=True)}"'
    children = "".join(serialize(child) for child in node.childNodes)
    return f"<{tag}{attributes}>{children}</{tag}>"


# Signs between formulas: LaTeX, and the MathML character.
_RELATIONS = {"=": ("=", "="), ":=": (":=", "\u2254"), "!=": ("\\neq", "\u2260")}


def math_of(*parts: sympy.Basic | str) -> Math | None:
    """Formulas and relation signs ("=", ":=") side by side; None when SymPy cannot print them."""
    latex_parts: list[str] = []
    mathml_parts: list[str] = []
    try:
        for part in parts:
            if isinstance(part, str):
                latex_sign, mathml_sign = _RELATIONS[part]
                latex_parts.append(latex_sign)
                mathml_parts.append(f"<mo>{mathml_sign}</mo>")
                continue
            shown = vocabulary.shown(part)
            latex_parts.append(_Latex().doprint(shown))
            printer = _MathML()
            mathml_parts.append(serialize(printer._print(shown)))
    except (RecursionError, ValueError, TypeError, AttributeError, NotImplementedError):
        return None
    latex = " ".join(latex_parts)
    if len(latex) > MAX_MATH_CHARS or "$" in latex or "\n" in latex:
        return None
    return Math(latex, "".join(mathml_parts))


def document_of(derivation: source.Derivation, result: FileResult | None) -> Document:
    """What a document shows of a derivation, with the results of its check (None: not checked)."""
    try:
        workspace: Workspace | None = build(derivation)
    except FileProblems as exc:
        workspace = None
        build_problems: tuple[Problem, ...] = tuple(exc.problems)
    else:
        build_problems = ()
    by_number: dict[str, list[StepResult]] = {}
    for step_result in result.steps if result is not None else ():
        by_number.setdefault(step_result.number, []).append(step_result)
    return Document(
        path=derivation.path,
        title=derivation.title,
        source=derivation.source,
        description=derivation.description,
        declarations=_declarations(derivation),
        definitions=_definitions(derivation, workspace),
        assumptions=_assumptions(derivation, workspace),
        steps=tuple(_step_view(step, workspace, by_number, checked=result is not None) for step in derivation.steps),
        problems=result.problems if result is not None else build_problems,
        result=result,
        warnings=result.warnings if result is not None else (),
    )


def _declarations(derivation: source.Derivation) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str]] = []
    if derivation.sizes:
        rows.append(("sizes", ", ".join(size.value for size in derivation.sizes)))
    # Indices declared together (`i j k n: 1..N`) are read one by one: shown together again.
    groups: list[tuple[list[str], str]] = []
    for index in derivation.indices:
        span = f"{index.low.value}..{index.high.value}"
        if groups and groups[-1][1] == span:
            groups[-1][0].append(index.name.value)
        else:
            groups.append(([index.name.value], span))
    for names, span in groups:
        rows.append((f"{'index' if len(names) == 1 else 'indices'} {', '.join(names)}", span))
    for variable in derivation.variables:
        kind = f"[{', '.join(dim.value for dim in variable.shape)}]" if variable.shape else "scalar"
        words = [word for word in variable.assume if word != "real"]
        rows.append((f"variable {variable.name.value}", kind + (f", {', '.join(words)}" if words else "")))
    return tuple(rows)


def _definitions(derivation: source.Derivation, workspace: Workspace | None) -> tuple[Entry, ...]:
    entries: list[Entry] = []
    for definition in derivation.definitions:
        written = f"{definition.head.value} := {definition.body.value}"
        math: Math | None = None
        if workspace is not None:
            try:
                name, _ = parse.parse_head(definition.head.value)
            except ParseError:
                name = ""
            known = workspace.context.definitions.get(name)
            if known is not None:
                head = known.target[known.params] if known.params else known.target
                math = math_of(head, ":=", known.body)
        entries.append(Entry(definition.head.value, math, written))
    return tuple(entries)


def _assumptions(derivation: source.Derivation, workspace: Workspace | None) -> tuple[Entry, ...]:
    entries: list[Entry] = []
    for assumption in derivation.assumptions:
        text = assumption.statement.value
        match = ONE_HOT.match(text)
        if match:
            entries.append(Entry(assumption.name.value, None, text, words=f"{match.group(1)} is one-hot: one entry is 1, the others 0"))
            continue
        math: Math | None = None
        if workspace is not None:
            try:
                lhs, rhs = parse.parse_equation(text, workspace.scope)
            except ParseError:
                pass
            else:
                if not isinstance(lhs, MatrixValue) and not isinstance(rhs, MatrixValue):
                    math = math_of(lhs, "=", rhs)
        entries.append(Entry(assumption.name.value, math, text))
    return tuple(entries)


def _step_view(
    step: source.StepSpec,
    workspace: Workspace | None,
    by_number: dict[str, list[StepResult]],
    *,
    checked: bool,
) -> StepView:
    by = step.by.value if step.by else ", ".join(f"step {ref.value}" for ref in step.by_ids)
    claims: dict[str, Claim] = {}
    parse_errors: dict[str, list[StepResult]] = {}
    where: list[Math | str] = []
    if workspace is not None:
        found, errors = claims_of(step, workspace)
        claims = {claim.number: claim for claim in found}
        for error in errors:
            parse_errors.setdefault(error.number, []).append(error)
        for condition in step.where:
            try:
                first, second = parse.parse_condition(condition.value, workspace.scope)
            except ParseError:
                where.append(condition.value)
                continue
            where.append(math_of(first, "!=", second) or condition.value)
    else:
        where = [condition.value for condition in step.where]

    def results(number: str) -> tuple[StepResult, ...]:
        # Without a check, the parse errors are still known: they are shown as such.
        return tuple(by_number.get(number, []) if checked else parse_errors.get(number, []))

    step_id = step.id.value if step.id else None
    if step.claim is not None:
        number = str(step.number)
        claim = claims.get(number)
        math = math_of(claim.lhs, "=", claim.rhs) if claim is not None else None
        line = Line(math, step.claim.value, by, results(number), entry=bool(claim and claim.entry))
        return StepView(step.number, step_id, by, tuple(where), (line,))
    lines: list[Line] = []
    for position, link in enumerate(step.chain):
        # Link p is the right side of claim "n.p", and the left side of claim "n.(p+1)".
        before = claims.get(f"{step.number}.{position}")
        after = claims.get(f"{step.number}.{position + 1}")
        expr = before.rhs if before is not None else after.lhs if after is not None else None
        entry = bool((before and before.entry) or (after and after.entry))
        if position == 0:
            math = math_of(expr) if expr is not None else None
            lines.append(Line(math, link.expr.value, "", (), entry=entry))
            continue
        math = math_of("=", expr) if expr is not None else None
        link_by = link.by.value if link.by else ""
        lines.append(Line(math, link.expr.value, link_by, results(f"{step.number}.{position}"), link=True, entry=entry))
    step_results = tuple(by_number.get(str(step.number), [])) if checked else ()
    return StepView(step.number, step_id, by, tuple(where), tuple(lines), results=step_results)
