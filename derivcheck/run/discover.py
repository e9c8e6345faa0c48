"""Finding derivation files: the paths given, folders expanded to their *.yaml and *.yml files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from derivcheck.model import NO_SPAN, FileResult, Problem

DERIVATION_SUFFIXES = (".yaml", ".yml")


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileResult]]:
    """Files to check (directories expanded to their *.yaml / *.yml files, sorted), and
    a FileResult with a problem for each path that does not exist or cannot be read."""
    found: list[Path] = []
    missing: list[FileResult] = []

    def unreadable(where: str, why: str) -> None:
        problem = Problem(where, NO_SPAN, "unreadable", why)
        missing.append(FileResult(where, None, problems=(problem,)))

    for path in paths:
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:
            unreadable(str(path), f"cannot look at this path: {exc.strerror or exc}")
            continue
        if is_dir:
            inside: list[Path] = []
            # os.walk reports a folder it cannot enter, where rglob would skip it silently.
            for folder, _dirs, files in os.walk(
                path, onerror=lambda exc: unreadable(str(exc.filename), f"cannot read this folder: {exc.strerror}")
            ):
                inside.extend(Path(folder) / name for name in files if Path(name).suffix in DERIVATION_SUFFIXES)
            found.extend(sorted(inside))
        elif exists:
            found.append(path)
        else:
            problem = Problem(str(path), NO_SPAN, "not-found", "no such file or directory")
            missing.append(FileResult(str(path), None, problems=(problem,)))
    return found, missing
