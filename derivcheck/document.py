"""A derivation as a document to render: its declarations, definitions, assumptions and steps as
math in two notations, with the results of its check. Frozen data, filled by prepare/printing.py
and formatted by report/render.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from derivcheck.model import FileResult, Problem, StepResult


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
