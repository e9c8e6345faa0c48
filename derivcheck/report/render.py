"""Rendering a derivation for people: a Markdown (LaTeX math) or HTML (MathML) document, with each step's verdict.

The math is printed from the SymPy expressions derivcheck parsed (through derivcheck.parse, never
eval), so the document shows exactly what was checked. Markdown carries LaTeX in `$$`
blocks, as GitHub renders them. HTML is one self-contained file: MathML, which browsers
render natively and offline (MathML Core in Chromium 109+, Firefox, Safari), and inline
CSS; its Content-Security-Policy forbids scripts and every network load. MathML was
chosen over a bundled KaTeX because it needs nothing bundled (KaTeX is ~280 kB of
JavaScript plus fonts to vendor and keep up to date, and would need scripts enabled).

Everything written by the file's author (title, source, description, justifications,
names, expressions shown as text) is escaped; the MathML is re-serialized here from
SymPy's printer through a whitelist of elements and attributes, its text escaped again.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.dom import minidom

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter

from derivcheck import __version__, parse, prepare, source
from derivcheck.model import Claim
from derivcheck.parse import MatrixValue, ParseError
from derivcheck.run.claims import check_derivation
from derivcheck.vocabulary import Diff
from derivcheck.model import FATAL_CODES, FileResult, Problem, StepResult, Verdict
from derivcheck.report import step_holds, summary_line
from derivcheck.report.diagnostics import counterexample_summary, one_line
from derivcheck.report.markdown import ICON_BY_VERDICT
from derivcheck.report.markdown import escape as markdown_escape

__all__ = ["RENDERER_BY_NAME", "Document", "RenderError", "build_document", "render_file", "to_html", "to_markdown"]

# Math longer than this (in LaTeX characters) is shown as the text it was written as.
MAX_MATH_CHARS = 20_000


class RenderError(Exception):
    """The file could not be read into a derivation: nothing to render."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = tuple(problems)

    @property
    def fatal(self) -> bool:
        """Whether the file could not be read at all (missing, unreadable), as for `verify`."""
        return any(problem.code in FATAL_CODES for problem in self.problems)


# ---------------------------------------------------------------------------------------------
# The document: what to show, in order, with no format in it


@dataclass(frozen=True)
class Math:
    """One formula, in both notations: LaTeX (for Markdown) and MathML (for HTML, no <math> wrapper)."""

    latex: str
    mathml: str


@dataclass(frozen=True)
class Line:
    """A displayed formula: a claim, a chain's first expression, or one link of a chain (`= expr`)."""

    math: Math | None  # None: shown as written, it did not parse
    written: str
    by: str = ""
    results: tuple[StepResult, ...] = ()
    link: bool = False  # a chain link: shown as `= expr`
    entry: bool = False  # a matrix claim, compared at a generic entry (row, col)


@dataclass(frozen=True)
class StepView:
    number: int
    id: str | None
    by: str
    where: tuple[Math | str, ...]
    lines: tuple[Line, ...]
    results: tuple[StepResult, ...] = ()  # results about the whole step (a `where` that does not parse)
    note: str = ""


@dataclass(frozen=True)
class Entry:
    """A definition or an assumption: its name, its math (or its text as written)."""

    name: str
    math: Math | None
    written: str
    words: str = ""  # said in words instead of math (one_hot)


@dataclass(frozen=True)
class Document:
    path: str
    title: str | None
    source: str | None
    description: str | None
    declarations: tuple[tuple[str, str], ...]
    definitions: tuple[Entry, ...]
    assumptions: tuple[Entry, ...]
    steps: tuple[StepView, ...]
    problems: tuple[Problem, ...] = ()
    result: FileResult | None = None  # None: rendered with --no-check
    warnings: tuple[Problem, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# Printing SymPy: partial derivatives as fractions, Kronecker deltas as deltas


def _shown(expr: sympy.Basic) -> sympy.Basic:
    """Diff markers as SymPy Derivatives, for printing (as checker._shown)."""
    return expr.replace(lambda e: isinstance(e, Diff), lambda e: sympy.Derivative(e.args[0], e.args[1], evaluate=False))


def _simple(expr: sympy.Basic) -> bool:
    """Whether a derivative's function fits in the numerator: ∂L/∂z, not ∂/∂z (…)."""
    return isinstance(expr, (sympy.Symbol, sympy.Indexed))


class _Latex(LatexPrinter):
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


class _MathML(MathMLPresentationPrinter):
    def _element(self, tag: str, *children: minidom.Element, text: str | None = None) -> minidom.Element:
        element = self.dom.createElement(tag)
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
        if isinstance(item, sympy.Derivative) and _simple(item.expr):
            return self._print(item)
        return super().parenthesize(item, level, strict)

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


def _serialize(node: minidom.Node) -> str:
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
    children = "".join(_serialize(child) for child in node.childNodes)
    return f"<{tag}{attributes}>{children}</{tag}>"


# Signs between formulas: LaTeX, and the MathML character.
_RELATIONS = {"=": ("=", "="), ":=": (":=", "\u2254"), "!=": ("\\neq", "\u2260")}


def _math(*parts: sympy.Basic | str) -> Math | None:
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
            shown = _shown(part)
            latex_parts.append(_Latex().doprint(shown))
            printer = _MathML()
            mathml_parts.append(_serialize(printer._print(shown)))
    except (RecursionError, ValueError, TypeError, AttributeError, NotImplementedError):
        return None
    latex = " ".join(latex_parts)
    if len(latex) > MAX_MATH_CHARS or "$" in latex or "\n" in latex:
        return None
    return Math(latex, "".join(mathml_parts))


# ---------------------------------------------------------------------------------------------
# From a file to a Document


def render_file(path: Path, *, to: str, check: bool = True, timeout: float | None = 10.0) -> str:
    """The document for one derivation file, in the format named `to`; RenderError if it cannot be read."""
    renderer = RENDERER_BY_NAME[to]
    return renderer(build_document(path, check=check, timeout=timeout))


def build_document(path: Path, *, check: bool = True, timeout: float | None = 10.0) -> Document:
    """Read, check (unless `check` is false) and parse a derivation into what a document shows."""
    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        raise RenderError(problems)
    result = check_derivation(derivation, timeout=timeout) if check else None
    try:
        workspace: prepare.Workspace | None = prepare.build(derivation)
    except prepare.FileProblems as exc:
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


def _definitions(derivation: source.Derivation, workspace: prepare.Workspace | None) -> tuple[Entry, ...]:
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
                math = _math(head, ":=", known.body)
        entries.append(Entry(definition.head.value, math, written))
    return tuple(entries)


def _assumptions(derivation: source.Derivation, workspace: prepare.Workspace | None) -> tuple[Entry, ...]:
    entries: list[Entry] = []
    for assumption in derivation.assumptions:
        text = assumption.statement.value
        match = prepare.ONE_HOT.match(text)
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
                    math = _math(lhs, "=", rhs)
        entries.append(Entry(assumption.name.value, math, text))
    return tuple(entries)


def _step_view(
    step: source.StepSpec,
    workspace: prepare.Workspace | None,
    by_number: dict[str, list[StepResult]],
    *,
    checked: bool,
) -> StepView:
    by = step.by.value if step.by else ", ".join(f"step {ref.value}" for ref in step.by_ids)
    claims: dict[str, Claim] = {}
    parse_errors: dict[str, list[StepResult]] = {}
    where: list[Math | str] = []
    if workspace is not None:
        found, errors = prepare.claims_of(step, workspace)
        claims = {claim.number: claim for claim in found}
        for error in errors:
            parse_errors.setdefault(error.number, []).append(error)
        for condition in step.where:
            try:
                first, second = parse.parse_condition(condition.value, workspace.scope)
            except ParseError:
                where.append(condition.value)
                continue
            where.append(_math(first, "!=", second) or condition.value)
    else:
        where = [condition.value for condition in step.where]

    def results(number: str) -> tuple[StepResult, ...]:
        # Without a check, the parse errors are still known: they are shown as such.
        return tuple(by_number.get(number, []) if checked else parse_errors.get(number, []))

    step_id = step.id.value if step.id else None
    if step.claim is not None:
        number = str(step.number)
        claim = claims.get(number)
        math = _math(claim.lhs, "=", claim.rhs) if claim is not None else None
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
            math = _math(expr) if expr is not None else None
            lines.append(Line(math, link.expr.value, "", (), entry=entry))
            continue
        math = _math("=", expr) if expr is not None else None
        link_by = link.by.value if link.by else ""
        lines.append(Line(math, link.expr.value, link_by, results(f"{step.number}.{position}"), link=True, entry=entry))
    step_results = tuple(by_number.get(str(step.number), [])) if checked else ()
    return StepView(step.number, step_id, by, tuple(where), tuple(lines), results=step_results)


# ---------------------------------------------------------------------------------------------
# Verdicts in words


_ENTRY_NOTE = "Matrices: both sides are shown, and compared, at a generic entry (row, col)."


def badge(step: StepResult) -> str:
    """The verdict, with how it counts when that is not plain: `refuted (expected)`."""
    word = step.verdict.value
    if step.expect_refuted:
        return f"{word} (expected)" if step.verdict is Verdict.REFUTED else f"{word} (expected refuted)"
    if step.expect_error is not None and step.ok:
        return f"{word} (expected {step.expect_error})"
    return word


def _details(step: StepResult) -> list[str]:
    """Why a step does not hold (or is refuted as expected), in plain lines."""
    lines: list[str] = []
    problems = {problem.message for problem in step.problems}
    if step.message and step.message not in problems:
        lines.append(one_line(step.message))
    lines.extend(f"{problem.code}: {one_line(problem.message)}" for problem in step.problems)
    if step.counterexample is not None:
        lines.append("counterexample: " + counterexample_summary(step.counterexample))
    lines.extend(f"tried: {one_line(attempt)}" for attempt in step.tried)
    return lines


# ---------------------------------------------------------------------------------------------
# Markdown: LaTeX math in $$ blocks


def to_markdown(document: Document) -> str:
    esc = markdown_escape
    out: list[str] = [f"# {esc(document.title or Path(document.path).name)}", ""]
    if document.source:
        out += [f"**Source:** {esc(document.source)}", ""]
    if document.description:
        out += [esc(document.description), ""]
    if document.result is not None:
        out += [f"**Verdict:** {esc(summary_line([document.result]))}", ""]
    else:
        out += ["*Rendered without checking (`--no-check`): no verdicts.*", ""]
    for problem in (*document.problems, *document.warnings):
        out.append(f"- **{problem.severity}** `{problem.span}` `{problem.code}`: {esc(problem.message)}")
    if document.problems or document.warnings:
        out.append("")

    def block(math: Math | None, written: str) -> list[str]:
        if math is None:
            return [_fenced(written), ""]
        return ["$$", math.latex, "$$", ""]

    if document.declarations:
        out += ["## Declarations", ""]
        out += [f"- {esc(name)}: {_code(value)}" for name, value in document.declarations]
        out.append("")
    if document.definitions:
        out += ["## Definitions", ""]
        for entry in document.definitions:
            out += block(entry.math, entry.written)
    if document.assumptions:
        out += ["## Assumptions", ""]
        for entry in document.assumptions:
            if entry.words:
                out += [f"{_code(entry.name)}: {esc(entry.words)}", ""]
            else:
                out += [f"{_code(entry.name)}:", ""] + block(entry.math, entry.written)
    if document.steps:
        out += ["## Steps", ""]
    for step in document.steps:
        heading = f"### Step {step.number}" + (f": {_code(step.id)}" if step.id else "")
        out += [heading, ""]
        if step.where:
            shown = [f"${item.latex}$" if isinstance(item, Math) else _code(item) for item in step.where]
            out += [f"*where* {', '.join(shown)}", ""]
        for step_result in step.results:
            out += _markdown_verdict(step_result)
        if any(line.entry for line in step.lines):
            out += [f"*{esc(_ENTRY_NOTE)}*", ""]
        for line in step.lines:
            out += block(line.math, ("= " if line.link and line.math is None else "") + line.written)
            for step_result in line.results:
                out += _markdown_verdict(step_result)
            if line.by:
                out += [f"*by* {esc(line.by)}", ""]
        if step.by and (len(step.lines) > 1 or not step.lines[0].by):
            out += [f"*by* {esc(step.by)}", ""]
    out.append(f"<sub>Rendered by derivcheck {__version__} from {_code(document.path)}.</sub>")
    return "\n".join(out).rstrip("\n") + "\n"


def _markdown_verdict(step: StepResult) -> list[str]:
    icon = ("✅" if step.ok else "❌") if step.expect_refuted else ICON_BY_VERDICT[step.verdict]
    lines = [f"**{icon} {markdown_escape(badge(step))}** — {markdown_escape(step.method)}"]
    lines += [f"  - {markdown_escape(detail)}" for detail in _details(step)] if not step_holds(step) or step.expect_refuted else []
    return lines + [""]


def _code(text: str) -> str:
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


# ---------------------------------------------------------------------------------------------
# HTML: one self-contained file, MathML, no scripts, no network

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0;
       color: #1f2328; background: #ffffff; line-height: 1.5; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.9rem; margin: 0 0 .5rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em; }
pre { background: #f6f8fa; padding: .6rem .8rem; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; }
.source, .muted { color: var(--muted); }
.summary { padding: .5rem .8rem; border-radius: 6px; border: 1px solid var(--line); }
.summary.ok { border-color: var(--ok); } .summary.bad { border-color: var(--bad); }
dl.declarations { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.declarations dt { color: var(--muted); } dl.declarations dd { margin: 0; }
.formula { display: grid; grid-template-columns: minmax(0, 1fr) minmax(12rem, 18rem); gap: .2rem 1.5rem;
           align-items: center; padding: .3rem 0; }
.formula.plain { grid-template-columns: minmax(0, 1fr); }
.math { overflow-x: auto; overflow-y: hidden; }
/* Display style, but aligned left (block math is centred), so a chain's = signs start one column. */
.math math { display: inline math; math-style: normal; font-size: 1.15rem; margin: .4rem 0; }
.link .math { padding-left: 2.5rem; }
.step { border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1.1rem; margin: 1rem 0; }
.note { color: var(--muted); font-size: .9rem; }
.by { color: var(--muted); font-size: .92rem; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 1rem; font-size: .85rem;
         font-weight: 600; color: #fff; background: var(--muted); white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
.method { color: var(--muted); font-size: .8rem; }
.details { margin: .2rem 0 0; padding-left: 1.1rem; font-size: .85rem; color: var(--muted); }
.details.bad { color: var(--bad); }
.problems li { color: var(--bad); }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; }
"""


def to_html(document: Document) -> str:
    esc = _escape
    title = document.title or Path(document.path).name
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="derivcheck {esc(__version__)}">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{esc(title)}</h1>",
    ]
    if document.source:
        out.append(f'<p class="source">Source: {esc(document.source)}</p>')
    if document.description:
        out.append(f'<p class="description">{esc(document.description)}</p>')
    if document.result is not None:
        holds = document.result.ok
        out.append(f'<p class="summary {"ok" if holds else "bad"}">{esc(summary_line([document.result]))}</p>')
    else:
        out.append('<p class="summary">Rendered without checking (<code>--no-check</code>): no verdicts.</p>')
    out.append("</header>")
    if document.problems or document.warnings:
        out.append('<ul class="problems">')
        for problem in (*document.problems, *document.warnings):
            out.append(
                f"<li><strong>{esc(problem.severity)}</strong> <code>{esc(str(problem.span))}</code> "
                f"<code>{esc(problem.code)}</code>: {esc(problem.message)}</li>"
            )
        out.append("</ul>")
    if document.declarations:
        out += ['<section id="declarations">', "<h2>Declarations</h2>", '<dl class="declarations">']
        for name, value in document.declarations:
            out.append(f"<dt>{esc(name)}</dt><dd><code>{esc(value)}</code></dd>")
        out += ["</dl>", "</section>"]
    if document.definitions:
        out += ['<section id="definitions">', "<h2>Definitions</h2>"]
        for entry in document.definitions:
            out.append(f'<div class="formula plain">{_html_math(entry.math, entry.written)}</div>')
        out.append("</section>")
    if document.assumptions:
        out += ['<section id="assumptions">', "<h2>Assumptions</h2>"]
        for entry in document.assumptions:
            if entry.words:
                out.append(f"<p><code>{esc(entry.name)}</code>: {esc(entry.words)}</p>")
            else:
                out.append(f"<p><code>{esc(entry.name)}</code>:</p>")
                out.append(f'<div class="formula plain">{_html_math(entry.math, entry.written)}</div>')
        out.append("</section>")
    if document.steps:
        out += ['<section id="steps">', "<h2>Steps</h2>"]
    for step in document.steps:
        out.append(f'<article class="step" id="step-{step.number}">')
        heading = f"Step {step.number}" + (f" <code>{esc(step.id)}</code>" if step.id else "")
        out.append(f"<h3>{heading}</h3>")
        if step.where:
            shown = [
                f'<math>{item.mathml}</math>' if isinstance(item, Math) else f"<code>{esc(item)}</code>"
                for item in step.where
            ]
            out.append(f'<p class="note">where {", ".join(shown)}</p>')
        if any(line.entry for line in step.lines):
            out.append(f'<p class="note">{esc(_ENTRY_NOTE)}</p>')
        for step_result in step.results:
            out.append(f'<div class="verdict">{_html_verdict(step_result)}</div>')
        for line in step.lines:
            side: list[str] = [_html_verdict(step_result) for step_result in line.results]
            by = line.by or (step.by if len(step.lines) == 1 else "")
            if by:
                side.append(f'<div class="by">by {esc(by)}</div>')
            written = ("= " if line.link and line.math is None else "") + line.written
            classes = "formula link" if line.link else "formula"
            out.append(f'<div class="{classes}">{_html_math(line.math, written)}<div class="side">{"".join(side)}</div></div>')
        if step.by and len(step.lines) > 1:
            out.append(f'<p class="by">by {esc(step.by)}</p>')
        out.append("</article>")
    if document.steps:
        out.append("</section>")
    out += [
        f"<footer>Rendered by derivcheck {esc(__version__)} from <code>{esc(document.path)}</code>.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _html_math(math: Math | None, written: str) -> str:
    if math is None:
        return f'<div class="math"><pre><code>{_escape(written)}</code></pre></div>'
    return f'<div class="math"><math display="block">{math.mathml}</math></div>'


def _html_verdict(step: StepResult) -> str:
    holds = step_holds(step)
    parts = [f'<span class="badge {"ok" if holds else "bad"}">{_escape(badge(step))}</span>']
    if step.method:
        parts.append(f' <span class="method">{_escape(step.method)}</span>')
    details = _details(step) if not holds or step.expect_refuted else []
    if details:
        parts.append(f'<ul class="details {"ok" if holds else "bad"}">' + "".join(f"<li>{_escape(line)}</li>" for line in details) + "</ul>")
    return f'<div class="verdict">{"".join(parts)}</div>'


# Renderers by name, as the reporters are (report.REPORTER_BY_NAME).
RENDERER_BY_NAME: dict[str, Callable[[Document], str]] = {
    "markdown": to_markdown,
    "html": to_html,
}
