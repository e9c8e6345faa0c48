"""Shared test set-up: each test gets its own result cache, so no test is served results
that another test (or an earlier run) stored in .derivcheck_cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_result_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("derivcheck_cache")
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(directory))
    return directory
