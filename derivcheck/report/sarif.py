"""The SARIF 2.1.0 reporter: results for code-scanning tools (GitHub code scanning, IDE viewers)."""

# One run, with tool.driver naming derivcheck and listing one rule per reason a step fails
# (FAILURE_RULES, always all of them) and per problem code seen in the run. Each diagnostic
# (see report.diagnostics) is one result: ruleId and ruleIndex, level, message, and a
# physicalLocation whose region has 1-based startLine and startColumn, columns counted in
# Unicode code points. Steps that hold are not results: SARIF results are things to look at.
# A run that was interrupted is an invocation that did not succeed (executionSuccessful is
# false, with a notification that says why, and no exit code: the process had not ended).

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath, PurePosixPath
from urllib.parse import quote

from derivcheck import __version__
from derivcheck.model import EXIT_OK, FileResult, exit_code
from derivcheck.report import INTERRUPTED_NOTE, WholeDocumentReporter
from derivcheck.report.diagnostics import (
    FAILURE_RULES,
    Diagnostic,
    file_diagnostics,
    rule_description,
)

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def artifact_uri(path: str) -> str:
    """A path as a SARIF URI: relative paths stay relative (to the repository root), with `/`."""
    pure = PurePath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return quote(str(PurePosixPath(*pure.parts)), safe="/")


def _rule_name(rule: str) -> str:
    return "".join(part.capitalize() for part in rule.replace("_", "-").split("-") if part)


def _rule(rule: str) -> dict[str, object]:
    description = rule_description(rule)
    return {
        "id": rule,
        "name": _rule_name(rule),
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["derivcheck", "step" if rule in FAILURE_RULES else "problem"]},
    }


def _result(diagnostic: Diagnostic, rule_index: int) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": diagnostic.rule,
        "ruleIndex": rule_index,
        "level": "warning" if diagnostic.severity == "warning" else "error",
        "message": {"text": diagnostic.full_text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(diagnostic.path)},
                    # A problem of the file as a whole (not found) has no region.
                    **(
                        {"region": {"startLine": diagnostic.span.line, "startColumn": diagnostic.span.col}}
                        if diagnostic.span.known
                        else {}
                    ),
                }
            }
        ],
    }
    step = diagnostic.step
    if step is not None:
        properties: dict[str, object] = {
            "step": step.number,
            "verdict": step.verdict.value,
            "method": step.method,
            "claim": step.written,
        }
        if step.id:
            properties["stepId"] = step.id
        if step.expect_refuted:
            properties["expect"] = "refuted"
        if step.counterexample is not None:
            properties["counterexample"] = step.counterexample.to_dict()
        result["properties"] = properties
    return result


def _invocation(code: int, *, interrupted: bool, files: int) -> dict[str, object]:
    if not interrupted:
        return {"executionSuccessful": True, "exitCode": code}
    text = f"derivcheck was {INTERRUPTED_NOTE}: the results are those of the {files} file(s) it finished."
    note = {"level": "error", "message": {"text": text}}
    return {"executionSuccessful": False, "toolExecutionNotifications": [note]}


def report_to_sarif(
    results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False
) -> dict[str, object]:
    """The whole SARIF log for a run, as a dict."""
    diagnostics = [d for result in results for d in file_diagnostics(result, strict=strict)]
    rule_ids = list(FAILURE_RULES)
    for diagnostic in diagnostics:
        if diagnostic.rule not in rule_ids:
            rule_ids.append(diagnostic.rule)
    index = {rule: position for position, rule in enumerate(rule_ids)}
    code = exit_code(list(results), strict=strict)
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "derivcheck",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(rule) for rule in rule_ids],
            }
        },
        "invocations": [_invocation(code, interrupted=interrupted, files=len(results))],
        "columnKind": "unicodeCodePoints",
        "results": [_result(d, index[d.rule]) for d in diagnostics],
        "properties": {"ok": code == EXIT_OK and not interrupted, "interrupted": interrupted},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


class SarifReporter(WholeDocumentReporter):
    """Writes the SARIF log once, at the end of the run."""

    def render(self, results: Sequence[FileResult], *, interrupted: bool) -> str:
        document = report_to_sarif(results, strict=self.strict, interrupted=interrupted)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
