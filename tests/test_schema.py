"""Tests for the JSON Schema of the derivation format: in step with the loader, valid, committed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from derivcheck import cli, source
from derivcheck import format as fmt
from derivcheck.schema import ASSUMPTION_WORDS, LAYOUTS, SCHEMA_PATH, build_schema, schema_text
from derivcheck.starter import starter_text

REPO = Path(__file__).resolve().parents[1]
DERIVATIONS = sorted((REPO / "derivations").glob("*.y*ml"))
SCHEMA = build_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)

runner = CliRunner()


def schema_errors(document: object) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def loader_problems(text: str, tmp_path: Path) -> list[str]:
    """The codes of the problems the loader finds in `text` (shape only, no SymPy)."""
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = source.load_derivation(path)
    return [f"{problem.code}: {problem.message}" for problem in problems]


# -- the schema is in step with the loader's own key lists --------------------------------------


def _properties(node: dict[str, Any]) -> set[str]:
    return set(node["properties"])


def test_top_level_keys_are_the_loaders() -> None:
    assert _properties(SCHEMA) == set(fmt.FILE.names)


def test_step_keys_are_the_loaders() -> None:
    assert _properties(SCHEMA["definitions"]["step"]) == set(fmt.STEP.names)


def test_chain_item_keys_are_the_loaders() -> None:
    (mapping,) = [
        option for option in SCHEMA["definitions"]["chainItem"]["anyOf"] if "properties" in option
    ]
    assert _properties(mapping) == set(fmt.CHAIN_ENTRY.names)


def test_variable_assumptions_are_the_loaders() -> None:
    assert set(ASSUMPTION_WORDS) == set(fmt.SIGN_WORDS)


def test_the_key_checks_can_fail() -> None:
    # the same comparisons, against a schema that has drifted, must not pass
    drifted = build_schema()
    drifted["properties"]["stesp"] = drifted["properties"].pop("steps")
    assert _properties(drifted) != set(fmt.FILE.names)
    drifted["definitions"]["step"]["properties"].pop("note")
    assert _properties(drifted["definitions"]["step"]) != set(fmt.STEP.names)


def test_variable_mapping_keys_are_the_loaders(tmp_path: Path) -> None:
    # the loader itself is asked too
    (mapping,) = [
        option for option in SCHEMA["definitions"]["variable"]["anyOf"] if "properties" in option
    ]
    assert _properties(mapping) == set(fmt.VARIABLE_FIELDS.names)
    good = "variables:\n  p: {shape: [N], assume: positive}\nsizes: [N]\nsteps: []\n"
    assert loader_problems(good, tmp_path) == []
    bad = "variables:\n  p: {shap: [N]}\nsizes: [N]\nsteps: []\n"
    assert any("unknown key 'shap'" in problem for problem in loader_problems(bad, tmp_path))


# -- the schema and the loader agree on documents ------------------------------------------------

ACCEPTED = {
    "minimal": "steps: []\n",
    "everything": """\
derivcheck: 1
title: T
source: S
description: D
layout: numerator
sizes: [N, D]
indices:
  i j: 1..N
  d: [1, D]
variables:
  x: [D]
  t: real
  s: positive nonnegative
  p: {shape: [N], assume: [positive]}
  q: {assume: negative}
definitions:
  z[i]: Sum(x[d], (d, 1, D))
  c: 0
assumptions:
  y1: Sum(x[d], (d, 1, D)) = 1
steps:
  - id: a-1
    claim: t = t
    by: words
    note: a note
  - chain:
      - t
      - expr: t + 0
        by: adding zero
      - 0 + t
    by: [a-1]
    where: [i != j]
  - claim: t = 2*t
    expect: refuted
    where: i != j
""",
    "sizes as a string": "sizes: N D\nsteps: []\n",
    "numbers as expressions": "steps:\n  - chain: [0, 0]\n",
}

REJECTED = {
    "misspelled top-level key": "steps: []\nvariabls: {t: real}\n",
    "misspelled step key": "steps:\n  - claim: t = t\n    bye: words\n",
    "misspelled chain key": "steps:\n  - chain: [t, {exp: t}]\n",
    "misspelled variable key": "variables:\n  t: {assum: positive}\nsteps: []\n",
    "unknown assumption word": "variables:\n  t: postive\nsteps: []\n",
    "claim and chain": "steps:\n  - claim: t = t\n    chain: [t, t]\n",
    "neither claim nor chain": "steps:\n  - id: x\n",
    "a chain of one": "steps:\n  - chain: [t]\n",
    "expect something else": "steps:\n  - claim: t = t\n    expect: proved\n",
    "steps missing": "title: no steps\n",
    "steps not a list": "steps: {claim: t = t}\n",
    "bad layout": "layout: sideways\nsteps: []\n",
    "bad step id": "steps:\n  - id: has space\n    claim: t = t\n",
    "bad version": "derivcheck: 2\nsteps: []\n",
    "range without dots": "indices:\n  i: 1-N\nsteps: []\n",
    "chain item without expr": "steps:\n  - chain: [t, {by: x}]\n",
    "not a mapping": "- steps\n",
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_schema_accepts_what_the_loader_accepts(name: str, tmp_path: Path) -> None:
    text = ACCEPTED[name]
    assert schema_errors(yaml.safe_load(text)) == []
    assert loader_problems(text, tmp_path) == []


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_schema_rejects_what_the_loader_rejects(name: str, tmp_path: Path) -> None:
    text = REJECTED[name]
    assert schema_errors(yaml.safe_load(text)) != []
    assert loader_problems(text, tmp_path) != []


def test_misspelled_key_is_named() -> None:
    errors = schema_errors(yaml.safe_load(REJECTED["misspelled top-level key"]))
    assert errors == ["Additional properties are not allowed ('variabls' was unexpected)"]


def test_layout_values() -> None:
    assert SCHEMA["properties"]["layout"]["enum"] == list(LAYOUTS)


# -- the schema validates the real derivations and the starter ----------------------------------


def test_there_are_derivations_to_validate() -> None:
    assert DERIVATIONS


@pytest.mark.parametrize("path", DERIVATIONS, ids=lambda path: path.name)
def test_schema_validates_every_derivation(path: Path) -> None:
    assert schema_errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_schema_validates_the_starter() -> None:
    assert schema_errors(yaml.safe_load(starter_text(Path("my_derivation.yaml")))) == []


def test_schema_is_valid_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


# -- `derivcheck schema` and the committed file ---------------------------------------------------


def test_schema_command_prints_the_schema() -> None:
    result = runner.invoke(cli.app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == schema_text()
    assert json.loads(result.stdout) == SCHEMA


def test_committed_schema_file_is_current() -> None:
    committed = (REPO / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == schema_text(), (
        f"{SCHEMA_PATH} is stale: run `derivcheck schema -o {SCHEMA_PATH}` and commit it"
    )


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    result = runner.invoke(cli.app, ["schema", "-o", str(target)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8") == schema_text()


def test_schema_command_unwritable_target_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["schema", "-o", str(tmp_path / "no" / "s.json")])
    assert result.exit_code == 2
    assert "cannot write the schema" in result.stderr
    assert "Traceback" not in result.output


def test_schema_command_rejects_arguments() -> None:
    result = runner.invoke(cli.app, ["schema", "extra"])
    assert result.exit_code == 2


def test_schema_help() -> None:
    result = runner.invoke(cli.app, ["schema", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "yaml-language-server: $schema=" in result.stdout
    assert "Example" in result.stdout


def test_schema_command_does_not_import_sympy() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = (
        "import sys\n"
        "sys.argv = ['derivcheck', 'schema']\n"
        "from derivcheck.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
        "assert 'yaml' not in sys.modules, 'yaml imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["title"] == "derivcheck derivation"
