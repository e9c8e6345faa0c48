"""Shared test set-up: each test gets its own result cache, so no test is served results
that another test (or an earlier run) stored in .derivcheck_cache, and its own cache key,
so no test writes a key into the real home; and a command prefix under which file
permission bits apply."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_CACHE_HOME: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """$XDG_CACHE_HOME for the whole session, below the per-test one: a test that undoes
    its monkeypatch still cannot put a key into the real home."""
    global _SESSION_CACHE_HOME
    _SESSION_CACHE_HOME = tempfile.mkdtemp(prefix="derivcheck-xdg-")
    os.environ["XDG_CACHE_HOME"] = _SESSION_CACHE_HOME


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE_HOME is not None:
        shutil.rmtree(_SESSION_CACHE_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_result_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("derivcheck_cache")
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def _own_cache_key(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$XDG_CACHE_HOME for the test and the commands it starts: the key lands in it."""
    directory = tmp_path_factory.mktemp("xdg_cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(directory))
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
