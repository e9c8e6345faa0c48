"""Shared test set-up: each test gets its own result cache, so no test is served results
that another test (or an earlier run) stored in .derivcheck_cache; and a command prefix
under which file permission bits apply."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_result_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("derivcheck_cache")
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def unprivileged() -> list[str]:
    """A command prefix under which permission bits apply. Root reads any file (it has
    CAP_DAC_OVERRIDE), so as root the command runs with that capability dropped."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission bits cannot be made to apply")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
