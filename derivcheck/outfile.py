"""Files that derivcheck writes with -o: put in place whole or not at all, never over an input.

A report is written to a new file beside the one it replaces, which takes its place
(os.replace, atomic on one file system) only once the report is complete: a run that is
killed, or that ends without a report, leaves the previous file as it was. A run killed
with SIGKILL leaves its unfinished file behind, named `.NAME.XXXXXXXX.tmp`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

# As runner.DERIVATION_SUFFIXES (not imported: runner imports the cache, and `schema -o` needs neither).
DERIVATION_SUFFIXES = (".yaml", ".yml")


def _identity(path: Path | str) -> tuple[int, int] | None:
    """The device and inode of the file at `path` (through symlinks), or None."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder and path != folder


def input_clash(output: Path, inputs: Sequence[Path], found: Sequence[Path] = ()) -> str | None:
    """Why writing to `output` would overwrite an input, or None when it would not.

    `inputs` are the paths given (files or folders), `found` the files a run would read
    under them. The output is an input when it is one of them, by its real path (symlinks
    resolved) or as the same file (a hard link); and when it would be found in a given
    folder, as a derivation file the next run would read, even if it does not exist yet.
    """
    real = os.path.realpath(output)
    identity = _identity(output)
    for given in inputs:
        if os.path.realpath(given) == real or (identity is not None and _identity(given) == identity):
            return f"it is the input {given}"
        folder = os.path.realpath(given)
        if os.path.isdir(folder) and _inside(real, folder) and Path(real).suffix in DERIVATION_SUFFIXES:
            return f"it is a derivation file inside the input folder {given}"
    if identity is not None:
        for path in found:
            if _identity(path) == identity:
                return f"it is the input {path}"
    return None


class ReportFile:
    """A text file at `path` that replaces what was there once `commit` is called.

    The new file is created when the block is entered, so that a path that cannot be written
    is known before any work (OSError). Leaving the block without `commit` removes it.

    Through a symlink, the file it points at is replaced (the link stays). A path that is not
    a regular file (/dev/null, a FIFO, a terminal) cannot be replaced: it is written as it
    is. So is a file whose folder does not let a new file be made there (its own permissions
    allow the write): it is then not written atomically.

    The new file gets the permissions of the file it replaces, as writing into that file did;
    a file that did not exist gets what any new file gets (0666 less the umask).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream: TextIO
        self._temp: str | None = None  # None: written in place
        self._target = os.path.realpath(path)

    def __enter__(self) -> ReportFile:
        try:
            info: os.stat_result | None = os.stat(self._target)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            self.stream = open(self.path, "w", encoding="utf-8")  # closed by __exit__
            return self
        try:
            descriptor, self._temp = self._create(None if info is None else stat.S_IMODE(info.st_mode))
        except OSError:
            if info is None:
                raise
            self.stream = open(self.path, "w", encoding="utf-8")  # closed by __exit__
            return self
        self.stream = os.fdopen(descriptor, "w", encoding="utf-8")
        return self

    def _create(self, mode: int | None) -> tuple[int, str]:
        """A new file beside the target: its descriptor and its path."""
        folder, name = os.path.split(self._target)
        for _attempt in range(100):
            temp = os.path.join(folder, f".{name[:200]}.{os.urandom(4).hex()}.tmp")
            try:
                descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            if mode is not None:
                try:
                    os.fchmod(descriptor, mode)
                except OSError:  # a file system without modes: its default stands
                    pass
            return descriptor, temp
        raise FileExistsError(f"no free name for a new file in {folder}")

    def commit(self) -> None:
        """The report is whole: put it in place. OSError if it cannot be."""
        self.stream.close()
        if self._temp is not None:
            os.replace(self._temp, self._target)
            self._temp = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.stream.close()
        except OSError:
            pass
        if self._temp is not None:  # not committed: the previous file stays as it was
            try:
                os.unlink(self._temp)
            except OSError:
                pass
            self._temp = None
