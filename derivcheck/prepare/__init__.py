"""Derivation -> Workspace -> Claims: the one place text becomes math. A file's declarations are
read into a Workspace (workspace.py), and its steps into claims for the engine (claims.py)."""

from __future__ import annotations

from derivcheck.prepare.claims import Pending, Prepared, claims_of, prepare, step_results, whole
from derivcheck.prepare.workspace import ONE_HOT, FileProblems, Workspace, build

__all__ = ["ONE_HOT", "FileProblems", "Pending", "Prepared", "Workspace", "build", "claims_of", "prepare", "step_results", "whole"]
