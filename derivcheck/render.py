"""The render face: a derivation file checked (run/), printed as math (prepare/printing.py) and
formatted as Markdown or HTML (report/render.py), as the CLI's `render` command gives it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from derivcheck import source
from derivcheck.document import Document
from derivcheck.model import FATAL_CODES, Problem

__all__ = ["RenderError", "build_document", "render_file"]


class RenderError(Exception):
    """The file could not be read into a derivation: nothing to render."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = tuple(problems)

    @property
    def fatal(self) -> bool:
        """Whether the file could not be read at all (missing, unreadable), as for `verify`."""
        return any(problem.code in FATAL_CODES for problem in self.problems)


def render_file(path: Path, *, to: str, check: bool = True, timeout: float | None = 10.0) -> str:
    """The document for one derivation file, in the format named `to`; RenderError if it cannot be read."""
    from derivcheck.report.render import RENDERER_BY_NAME

    return RENDERER_BY_NAME[to](build_document(path, check=check, timeout=timeout))


def build_document(path: Path, *, check: bool = True, timeout: float | None = 10.0) -> Document:
    """Read, check (unless `check` is false) and print a derivation into what a document shows."""
    from derivcheck.prepare.printing import document_of
    from derivcheck.run.claims import check_derivation

    derivation, problems = source.load_derivation(path)
    if derivation is None or problems:
        raise RenderError(problems)
    result = check_derivation(derivation, timeout=timeout) if check else None
    return document_of(derivation, result)
