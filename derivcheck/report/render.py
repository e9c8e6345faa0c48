"""A derivation's document (derivcheck/document.py) as Markdown (LaTeX math in $$ blocks, as
GitHub renders them) or as HTML (one self-contained file: MathML, which browsers render natively
and offline, and inline CSS; its Content-Security-Policy forbids scripts and every network load).

MathML was chosen over a bundled KaTeX because it needs nothing bundled (KaTeX is ~280 kB of
JavaScript plus fonts to vendor and keep up to date, and would need scripts enabled). This module
reads the document and the results only: the math in it was printed by prepare/printing.py.
Everything written by the file's author (title, source, description, justifications, names,
expressions shown as text) is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from derivcheck import __version__
from derivcheck.document import Document, Math, StepView
from derivcheck.model import StepResult, Verdict
from derivcheck.report import step_holds, summary_line
from derivcheck.report.diagnostics import counterexample_summary, one_line
from derivcheck.report.markdown import ICON_BY_VERDICT
from derivcheck.report.markdown import escape as markdown_escape

__all__ = ["RENDERER_BY_NAME", "badge", "to_html", "to_markdown"]


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
    """The document as GitHub Markdown: its head, its declarations, definitions and
    assumptions, then each step with its verdicts."""
    out = _markdown_head(document) + _markdown_givens(document)
    if document.steps:
        out += ["## Steps", ""]
    for step in document.steps:
        out += _markdown_step(step)
    out.append(f"<sub>Rendered by derivcheck {__version__} from {_code(document.path)}.</sub>")
    return "\n".join(out).rstrip("\n") + "\n"


def _markdown_head(document: Document) -> list[str]:
    """The title, source, description, the verdict of the file, and its problems."""
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
        where = f"`{problem.span}` " if problem.span.known else ""
        out.append(f"- **{problem.severity}** {where}`{problem.code}`: {esc(problem.message)}")
    if document.problems or document.warnings:
        out.append("")
    return out


def _markdown_givens(document: Document) -> list[str]:
    """The declarations, definitions and assumptions, each under its heading when there are any."""
    esc = markdown_escape
    out: list[str] = []
    if document.declarations:
        out += ["## Declarations", ""]
        out += [f"- {esc(name)}: {_code(value)}" for name, value in document.declarations]
        out.append("")
    if document.definitions:
        out += ["## Definitions", ""]
        for entry in document.definitions:
            out += _markdown_math(entry.math, entry.written)
    if document.assumptions:
        out += ["## Assumptions", ""]
        for entry in document.assumptions:
            if entry.words:
                out += [f"{_code(entry.name)}: {esc(entry.words)}", ""]
            else:
                out += [f"{_code(entry.name)}:", ""] + _markdown_math(entry.math, entry.written)
    return out


def _markdown_step(step: StepView) -> list[str]:
    """One step: its heading, `where`, verdicts, and each line of math with its own verdicts
    and justification."""
    esc = markdown_escape
    heading = f"### Step {step.number}" + (f": {_code(step.id)}" if step.id else "")
    out = [heading, ""]
    if step.where:
        shown = [f"${item.latex}$" if isinstance(item, Math) else _code(item) for item in step.where]
        out += [f"*where* {', '.join(shown)}", ""]
    for step_result in step.results:
        out += _markdown_verdict(step_result)
    if any(line.entry for line in step.lines):
        out += [f"*{esc(_ENTRY_NOTE)}*", ""]
    for line in step.lines:
        out += _markdown_math(line.math, ("= " if line.link and line.math is None else "") + line.written)
        for step_result in line.results:
            out += _markdown_verdict(step_result)
        if line.by:
            out += [f"*by* {esc(line.by)}", ""]
    if step.by and (len(step.lines) > 1 or not step.lines[0].by):
        out += [f"*by* {esc(step.by)}", ""]
    return out


def _markdown_math(math: Math | None, written: str) -> list[str]:
    """Math as a $$ block, or the text as written, fenced, where it has no math."""
    if math is None:
        return [_fenced(written), ""]
    return ["$$", math.latex, "$$", ""]


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
        *_html_header(document, title),
        *_html_declarations(document),
    ]
    if document.steps:
        out += ['<section id="steps">', "<h2>Steps</h2>"]
        for step in document.steps:
            out += _html_step(step)
        out.append("</section>")
    out += [
        f"<footer>Rendered by derivcheck {esc(__version__)} from <code>{esc(document.path)}</code>.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def _html_header(document: Document, title: str) -> list[str]:
    """The title, source, description, the verdict of the file and its problems."""
    esc = _escape
    out = ["<header>", f"<h1>{esc(title)}</h1>"]
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
                f"<li><strong>{esc(problem.severity)}</strong> "
                + (f"<code>{esc(str(problem.span))}</code> " if problem.span.known else "")
                + f"<code>{esc(problem.code)}</code>: {esc(problem.message)}</li>"
            )
        out.append("</ul>")
    return out


def _html_declarations(document: Document) -> list[str]:
    """The declarations, the definitions and the assumptions, each a section when there are some."""
    esc = _escape
    out: list[str] = []
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
    return out


def _html_step(step: StepView) -> list[str]:
    """One step as an article: its formulas, each with its verdict and justification."""
    esc = _escape
    out = [f'<article class="step" id="step-{step.number}">']
    heading = f"Step {step.number}" + (f" <code>{esc(step.id)}</code>" if step.id else "")
    out.append(f"<h3>{heading}</h3>")
    if step.where:
        shown = [f"<math>{item.mathml}</math>" if isinstance(item, Math) else f"<code>{esc(item)}</code>" for item in step.where]
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
    return out


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
