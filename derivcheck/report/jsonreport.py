"""The JSON reporter: one machine-readable document for the whole run, written at the end."""

# JSON report schema (version 1)
# ------------------------------
# `derivcheck verify --format json` writes one JSON object, after every file is checked:
#
#   {
#     "version": "0.1.0",            derivcheck version that wrote the report
#     "schema": 2,                   bumped only on incompatible changes; new keys may appear
#     "interrupted": false,          true: the run was stopped (Ctrl-C, SIGTERM) before every
#                                    file was checked; "files" holds those it finished
#     "files": [                     one entry per file, in the order they were checked
#       {
#         "path": "proofs/softmax.yaml",
#         "title": "Softmax cross-entropy gradient",   or null
#         "ok": true,                no problems and every step holds
#         "problems": [PROBLEM, ...],  file-level errors (YAML, schema, definitions, not-found)
#         "warnings": [PROBLEM, ...],  file-level warnings
#         "steps": [
#           {
#             "number": "3",         "3" for a claim, "3.2" for the 2nd link of chain step 3
#             "id": "dL_dz",         or null
#             "line": 42, "col": 5,  where the step starts (1-based)
#             "written": "...",      the claim as written, "lhs = rhs"
#             "verdict": "proved",   proved | checked | refuted | undecided | error
#             "method": "...",       how the verdict was reached, one line
#             "justification": "",   the step's `by:`
#             "assumptions_used": ["y_one_hot"],
#             "counterexample": null or {"sizes": {name: value}, "indices": {name: value},
#                                        "values": {name: value}, "lhs": "...", "rhs": "..."},
#             "tried": ["..."],      what was attempted (undecided steps)
#             "message": "",
#             "problems": [PROBLEM, ...],
#             "expect": "refuted",   or null: the file says this step is meant to be wrong
#             "ok": true             the step holds (refuted, when a refutation is expected)
#           }
#         ]
#       }
#     ],
#     "summary": {
#       "proved": 25, "checked": 3, "refuted": 3, "undecided": 0, "error": 0,
#       "files": 4, "files_failed": 0, "file_errors": 0, "expected_refutations": 3,
#       "steps": 31,
#       "interrupted": false,        as at the top level
#       "ok": true                   the run passed: exit code 0 (never for an interrupted run)
#     }
#   }
#
#   PROBLEM = {"line": 1, "col": 1, "code": "yaml-syntax", "message": "...", "severity": "error"}
#   (line and col are null for a problem of the path as a whole: a file not found, a directory)
#
# With --strict, a `checked` step has "ok": false (and so do its file and the summary).

from __future__ import annotations

import json
from collections.abc import Sequence

from derivcheck import __version__
from derivcheck.model import EXIT_OK, FileResult, Problem, StepResult, exit_code, summarize
from derivcheck.report import WholeDocumentReporter, file_holds, step_holds

SCHEMA_VERSION = 2  # 2: line and col may be null (a problem of a path as a whole)


def problem_to_dict(problem: Problem) -> dict[str, object]:
    """A problem as a JSON object (its path is the file's, so it is left out)."""
    return {
        "line": problem.span.line if problem.span.known else None,
        "col": problem.span.col if problem.span.known else None,
        "code": problem.code,
        "message": problem.message,
        "severity": problem.severity,
    }


def step_to_dict(step: StepResult, *, strict: bool = True) -> dict[str, object]:
    """A step result as a JSON object."""
    return {
        "number": step.number,
        "id": step.id,
        "line": step.span.line,
        "col": step.span.col,
        "written": step.written,
        "verdict": step.verdict.value,
        "method": step.method,
        "justification": step.justification,
        "assumptions_used": list(step.assumptions_used),
        "counterexample": None if step.counterexample is None else step.counterexample.to_dict(),
        "tried": list(step.tried),
        "message": step.message,
        "problems": [problem_to_dict(problem) for problem in step.problems],
        "expect": "refuted" if step.expect_refuted else step.expect_error,
        "ok": step_holds(step, strict=strict),
    }


def file_to_dict(result: FileResult, *, strict: bool = True) -> dict[str, object]:
    """A file result as a JSON object."""
    return {
        "path": result.path,
        "title": result.title,
        "ok": file_holds(result, strict=strict),
        "problems": [problem_to_dict(problem) for problem in result.problems],
        "warnings": [problem_to_dict(problem) for problem in result.warnings],
        "steps": [step_to_dict(step, strict=strict) for step in result.steps],
    }


def report_to_dict(
    results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False
) -> dict[str, object]:
    """The whole JSON report for a run, as a dict."""
    summary: dict[str, object] = dict(summarize(list(results)))
    summary["steps"] = sum(len(result.steps) for result in results)
    summary["interrupted"] = interrupted
    summary["ok"] = not interrupted and exit_code(list(results), strict=strict) == EXIT_OK
    return {
        "version": __version__,
        "schema": SCHEMA_VERSION,
        "interrupted": interrupted,
        "files": [file_to_dict(result, strict=strict) for result in results],
        "summary": summary,
    }


class JsonReporter(WholeDocumentReporter):
    """Writes the JSON report once, at the end of the run."""

    def render(self, results: Sequence[FileResult], *, interrupted: bool) -> str:
        document = report_to_dict(results, strict=self.strict, interrupted=interrupted)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
