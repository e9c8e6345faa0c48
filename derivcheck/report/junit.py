"""The JUnit XML reporter: a test suite per file and a test case per step, for CI test views."""

# <testsuites name="derivcheck" tests= failures= errors=>
#   <testsuite name="derivations/x.yaml" tests= failures= errors= skipped="0">
#     <properties><property name="title" value="..."/></properties>
#     <testcase name="[file] yaml-syntax at 3:1" ...><error type="yaml-syntax" message="..."/>
#     <testcase name="step 3 (dL_dz)" classname="derivations.x" file= line=>
#       <failure type="refuted" message="step 3 (dL_dz) is refuted">details</failure>
#       or, for a step that holds: <system-out>verdict and method</system-out>
#     <system-err>warnings</system-err>
#   <testsuite name="derivcheck run">, only when the run was interrupted: one test case,
#     "the run finished", with an <error type="interrupted">, so that no test view shows
#     an incomplete run as a complete one.
#
# A step that does not hold is a <failure>, except a step that could not be checked at all
# (verdict `error`: it does not parse, names an undeclared symbol...): like a test that
# could not run, that is an <error>. A file problem is an <error> in a test case of its own.
#
# The document is built with xml.etree, which escapes all user text; characters that XML 1.0
# cannot hold even escaped (control characters) are replaced with U+FFFD first.

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import PurePath

from derivcheck.model import FileResult, Problem, StepResult, Verdict
from derivcheck.report import INTERRUPTED_NOTE, WholeDocumentReporter
from derivcheck.report.diagnostics import (
    failure_rule,
    one_line,
    step_details,
    step_headline,
    step_label,
)

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 cannot represent replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _element(
    parent: ET.Element | None, tag: str, text: str | None = None, **attributes: str
) -> ET.Element:
    attrib = {key: xml_text(value) for key, value in attributes.items()}
    element = ET.Element(tag, attrib) if parent is None else ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = xml_text(text)
    return element


def classname(path: str) -> str:
    """`derivations/softmax_ce.yaml` -> `derivations.softmax_ce`, as test views group by dots."""
    pure = PurePath(path)
    parts = [part for part in pure.with_suffix("").parts if part not in ("/", "\\", ".", "..")]
    return ".".join(parts) or path


def _problem_case(suite: ET.Element, result: FileResult, problem: Problem, tag: str) -> None:
    case = _element(
        suite,
        "testcase",
        name=f"[file] {problem.code}" + (f" at {problem.span}" if problem.span.known else ""),
        classname=classname(result.path),
        file=result.path,
        **({"line": str(problem.span.line)} if problem.span.known else {}),
    )
    _element(case, tag, str(problem), message=one_line(problem.message), type=problem.code)


def _step_case(
    suite: ET.Element, result: FileResult, step: StepResult, *, strict: bool
) -> str | None:
    """Adds the test case; returns "failure", "error" or None (the step holds)."""
    name = step_label(step)
    case = _element(
        suite,
        "testcase",
        name=name,
        classname=classname(result.path),
        file=result.path,
        line=str(step.span.line),
    )
    rule = failure_rule(step, strict=strict)
    details = [*step_details(step, strict=strict), *(str(problem) for problem in step.problems)]
    body = f"{result.path}:{step.span}: {step_headline(step, strict=strict)}\n" + "\n".join(details)
    if rule is None:
        _element(case, "system-out", body)
        return None
    tag = "error" if step.verdict is Verdict.ERROR else "failure"
    _element(case, tag, body, message=step_headline(step, strict=strict), type=rule)
    return tag


def _suite(root: ET.Element, result: FileResult, *, strict: bool) -> dict[str, int]:
    suite = _element(root, "testsuite", name=result.path)
    if result.title:
        properties = _element(suite, "properties")
        _element(properties, "property", name="title", value=result.title)
    counts = {"tests": 0, "failures": 0, "errors": 0}
    for problem in result.problems:
        _problem_case(suite, result, problem, "error")
        counts["tests"] += 1
        counts["errors"] += 1
    for step in result.steps:
        outcome = _step_case(suite, result, step, strict=strict)
        counts["tests"] += 1
        if outcome == "failure":
            counts["failures"] += 1
        elif outcome == "error":
            counts["errors"] += 1
    if result.warnings:
        _element(suite, "system-err", "\n".join(str(warning) for warning in result.warnings))
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("skipped", "0")
    return counts


def _interrupted_suite(root: ET.Element, files: int) -> dict[str, int]:
    suite = _element(root, "testsuite", name="derivcheck run", tests="1", failures="0", errors="1", skipped="0")
    case = _element(suite, "testcase", name="the run finished", classname="derivcheck")
    message = f"derivcheck was {INTERRUPTED_NOTE}"
    details = f"{message}: the report holds the {files} file(s) finished before it stopped."
    _element(case, "error", details, message=message, type="interrupted")
    return {"tests": 1, "failures": 0, "errors": 1}


def report_to_element(
    results: Sequence[FileResult], *, strict: bool = True, interrupted: bool = False
) -> ET.Element:
    """The whole JUnit document for a run."""
    root = _element(None, "testsuites", name="derivcheck")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    counts = [_suite(root, result, strict=strict) for result in results]
    if interrupted:
        counts.append(_interrupted_suite(root, len(results)))
    for suite_counts in counts:
        for key, value in suite_counts.items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    return root


class JunitReporter(WholeDocumentReporter):
    """Writes the JUnit XML document once, at the end of the run."""

    def render(self, results: Sequence[FileResult], *, interrupted: bool) -> str:
        root = report_to_element(results, strict=self.strict, interrupted=interrupted)
        ET.indent(root)
        body: str = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
