"""Tests for the JSON Schema of the derivation format: in step with the loader, valid, committed.

The loader (source.py) and the schema (schema.py) are both written from derivcheck/format.py.
Here documents are built from that description, place by place, and each is given to both:
their verdicts must be the same. The committed schema must validate every derivation file of
the repository, and equal what `derivcheck schema` prints.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.resources
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from derivcheck import cli, source
from derivcheck import format as fmt
from derivcheck.schema import PACKAGED_NAME, SCHEMA_ID, SCHEMA_PATH, build_schema, schema_text
from derivcheck.starter import starter_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA = build_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
# The corpus is checked with the committed file itself, the one editors are pointed at.
COMMITTED = json.loads((REPO / SCHEMA_PATH).read_text(encoding="utf-8"))
COMMITTED_VALIDATOR = jsonschema.Draft7Validator(COMMITTED)

runner = CliRunner()


def schema_errors(document: object, validator: jsonschema.Draft7Validator = VALIDATOR) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def loader_problems(text: str, tmp_path: Path) -> list[str]:
    """The problems the loader finds in `text` (shape only, no SymPy)."""
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = source.load_derivation(path)
    return [f"{problem.code}: {problem.message}" for problem in problems]


def loader_verdict(document: object) -> tuple[bool, list[str]]:
    """Whether the loader refuses `document` (written as YAML) for its shape, and its messages.

    Codes in format.BEYOND_THE_SCHEMA (an unknown `by:` reference) are not shape problems."""
    root = source.compose(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    _, problems = source.parse_document(root, "generated.yaml")
    messages = [problem.message for problem in problems if problem.code == "schema"]
    return bool(messages), messages


# -- the corpus: every derivation file of the repository ------------------------------------------

CORPUS_DIRECTORIES = ("derivations", "docs/examples")
CORPUS = sorted(
    [path for folder in CORPUS_DIRECTORIES for path in (REPO / folder).rglob("*.y*ml")]
    + sorted((REPO / "tests" / "cases").glob("*.yaml"))
    # The trust cases that expect a `problem` are refused for what they mean (an empty range,
    # inconsistent facts), never for their shape: they are valid files too.
    + sorted((REPO / "tests" / "trust").glob("*.yaml"))
)


def test_the_corpus_reaches_below_the_top_folder() -> None:
    # The schema test once globbed derivations/*.yaml only, and never saw derivations/seeds/.
    names = {path.relative_to(REPO).as_posix() for path in CORPUS}
    assert "derivations/seeds/002_as_written.yaml" in names
    assert "docs/examples/quickstart.yaml" in names
    assert any(name.startswith("tests/trust/") for name in names)
    assert any(name.startswith("tests/cases/") for name in names)


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_the_committed_schema_validates_every_derivation_file(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert schema_errors(yaml.safe_load(text), COMMITTED_VALIDATOR) == []
    _, problems = source.load_derivation(path)
    assert problems == []


def test_the_seeds_fail_the_schema_before_the_fix() -> None:
    # The rejects twin: the schema that allowed only `expect: refuted` refuses the seeds.
    before = build_schema()
    before["definitions"]["step"]["properties"]["expect"] = {"const": "refuted"}
    seeds = sorted((REPO / "derivations" / "seeds").glob("*.yaml"))
    assert seeds
    for seed in seeds:
        assert schema_errors(yaml.safe_load(seed.read_text(encoding="utf-8")), jsonschema.Draft7Validator(before))


def test_schema_validates_the_starter() -> None:
    assert schema_errors(yaml.safe_load(starter_text(Path("my_derivation.yaml")))) == []


# -- documents built from the format description ----------------------------------------------


@dataclass(frozen=True)
class Place:
    """A kind of value at one place of a document: `put(value)` is a whole document with the
    value there, and every other part as small as the format allows."""

    name: str
    kind: fmt.Value
    put: Callable[[object], object]


def first(kind: fmt.Value) -> object:
    """The simplest value the format accepts for `kind`."""
    if isinstance(kind, fmt.Fields):
        return minimal(kind)
    if isinstance(kind, fmt.ListOf):
        return [first(kind.item)] * kind.min_items
    if isinstance(kind, fmt.MapOf):
        return {}
    if isinstance(kind, fmt.AnyOf):
        return first(kind.options[0])
    return leaf_samples(kind)[0][0]


def minimal(fields: fmt.Fields, having: str | None = None) -> dict[str, object]:
    """The required keys of `fields`, and the first of its one-of keys unless `having` is one."""
    names = list(fields.required)
    if fields.one_of and having not in fields.one_of:
        names.append(fields.one_of[0])
    return {name: first(fields.key(name).value) for name in names if name != having}


Put = Callable[[object], object]


def _as_key(put: Put, fields: fmt.Fields, name: str) -> Put:
    return lambda value: put({**minimal(fields, name), name: value})


def _as_last_item(put: Put, kind: fmt.ListOf) -> Put:
    before = [first(kind.item)] * max(kind.min_items - 1, 0)
    return lambda value: put([*before, value])


def _as_entry(put: Put) -> Put:
    return lambda value: put({"a": value})


def places() -> list[Place]:
    """Every place of the format, from the file down (the one-of options of a value share it)."""
    found: list[Place] = []

    def walk(name: str, kind: fmt.Value, put: Put) -> None:
        found.append(Place(name, kind, put))
        if isinstance(kind, fmt.Fields):
            for key in kind.keys:
                walk(f"{name}.{key.name}", key.value, _as_key(put, kind, key.name))
        elif isinstance(kind, fmt.ListOf):
            walk(f"{name}[]", kind.item, _as_last_item(put, kind))
        elif isinstance(kind, fmt.MapOf):
            walk(f"{name}.*", kind.value, _as_entry(put))
        elif isinstance(kind, fmt.AnyOf):
            for number, option in enumerate(kind.options):
                walk(f"{name}|{number}", option, put)

    walk("file", fmt.FILE, lambda value: value)
    return found


WRONG_KINDS: list[object] = [["x"], {"a": "x"}]
# The texts a Pattern accepts and refuses; every Pattern of the format must be here.
PATTERN_SAMPLES: dict[str, tuple[list[object], list[object]]] = {
    fmt.STEP_ID.pattern: (
        ["a", "step-1", "A_b-9", "7", 7, -7, True, "null"],
        ["", "a b", "a.b", "über", "a\n", "a:", "1.5", 1.5, None],
    ),
    fmt.RANGE_TEXT.pattern: (
        ["1..N", " 1 .. N ", "1...N", "1..N..M", ". ..N", "0..N-1", "1..\n N"],
        ["1-N", "..N", "1..", " .. ", "...N", "", "1. .N", "1..\n", 5, None, True],
    ),
}


def leaf_samples(kind: fmt.Value) -> tuple[list[object], list[object]]:
    """Values the loader should accept for `kind`, and values it should refuse."""
    if isinstance(kind, fmt.Text):
        return ["x", "t = t", "", 0, 1.5, -2, True, None], WRONG_KINDS
    if isinstance(kind, fmt.Choice):
        near = [n for v in kind.values for n in (v + "s", v[:-1], v.upper(), v.title()) if n not in kind.values]
        numbers = [n + 1 for n in kind.numbers] + [str(n + 1) for n in kind.numbers]
        return [*kind.values, *kind.numbers], [*near, *numbers, "", None, True, [kind.values[0]], *WRONG_KINDS]
    if isinstance(kind, fmt.Words):
        words = kind.words
        joined = [" ".join(words), ", ".join(words), "\t".join(words), f" {words[0]} ,"]
        near = [words[0] + "s", words[0][:-1], words[0].upper(), f"{words[0]}\n{words[0]}", f"{words[0]};{words[0]}"]
        return [*words, *joined, "", ",", None], [*near, 5, True, *WRONG_KINDS]
    if isinstance(kind, fmt.Pattern):
        accepted, refused = PATTERN_SAMPLES[kind.pattern]
        return accepted, [*refused, *WRONG_KINDS]
    if isinstance(kind, fmt.Whole):
        low, high = kind.low, kind.high
        accepted = [low, high, low + 1, str(low), str(high), "0" + str(high), "007"]
        refused = [low - 1, high + 1, str(low - 1), str(high + 1), "+3", " 3", "3.0", 1.5, "x", "", "٣", None, True]
        return accepted, [*refused, *WRONG_KINDS]
    if isinstance(kind, fmt.Null):
        return [None], ["x", 0, *WRONG_KINDS]
    if isinstance(kind, fmt.Anything):
        return ["x", None, *WRONG_KINDS], []
    raise AssertionError(f"no samples for {kind!r}")


def candidates(kind: fmt.Value) -> list[object]:
    """Values to try at a place of `kind`: its own samples, and for a composite kind, values
    of the wrong shape and of the wrong length. (Its parts are tried at their own places.)"""
    if isinstance(kind, fmt.AnyOf):
        return [value for option in kind.options for value in candidates(option)]
    if isinstance(kind, fmt.Fields):
        return [minimal(kind), {}, {**minimal(kind), "unknown": "x"}, "x", ["x"], None]
    if isinstance(kind, fmt.ListOf):
        item = first(kind.item)
        lengths = {0, kind.min_items, max(kind.min_items - 1, 0), kind.min_items + 1}
        if kind.max_items is not None:
            lengths.add(kind.max_items + 1)
        return [[item] * length for length in sorted(lengths)] + ["x", {"a": "x"}, None]
    if isinstance(kind, fmt.MapOf):
        return [{}, *({"a": value} for value in candidates(kind.value)), "x", ["x"], None]
    accepted, refused = leaf_samples(kind)
    return accepted + refused


PLACES = places()


def verdicts(document: object) -> tuple[bool, bool]:
    """(the loader refuses it, the schema refuses it)"""
    return loader_verdict(document)[0], bool(schema_errors(document))


def test_the_walk_reaches_every_kind_of_the_format() -> None:
    names = {place.name for place in PLACES}
    for expected in ("file.steps[].chain[]|1.by", "file.sizes|0[]|1.*|1.min", "file.variables.*|2.assume|1[]", "file.indices.*|1[]"):
        assert expected in names
    patterns = {place.kind.pattern for place in PLACES if isinstance(place.kind, fmt.Pattern)}
    assert patterns == set(PATTERN_SAMPLES)


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.name)
def test_the_loader_and_the_schema_agree_at_every_place(place: Place) -> None:
    disagreements = []
    seen = set()
    for value in candidates(place.kind):
        document = place.put(value)
        loader, schema = verdicts(document)
        seen.add(loader)
        if loader != schema:
            disagreements.append((value, "loader refuses" if loader else "schema refuses"))
    assert disagreements == []
    if isinstance(place.kind, fmt.Anything):
        assert seen == {False}
    else:
        assert seen == {False, True}, "some value must be accepted and some refused, or the test says nothing"


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.name)
def test_the_simplest_value_at_every_place_is_accepted_by_both(place: Place) -> None:
    assert verdicts(place.put(first(place.kind))) == (False, False)


def _near_misses(name: str, fields: fmt.Fields) -> list[str]:
    found = [name[:-1], name + "s", name.capitalize(), name.upper(), name + "_"]
    return [miss for miss in dict.fromkeys(found) if miss and miss not in fields.names]


FIELDS_KEYS = [
    (place, key.name) for place in PLACES if isinstance(place.kind, fmt.Fields) for key in place.kind.keys
]


@pytest.mark.parametrize(("place", "name"), FIELDS_KEYS, ids=[f"{p.name}.{n}" for p, n in FIELDS_KEYS])
def test_a_near_miss_of_every_key_is_refused_by_both(place: Place, name: str) -> None:
    fields = place.kind
    assert isinstance(fields, fmt.Fields)
    key = fields.key(name)
    # The key itself is accepted (the accepts twin) ...
    assert verdicts(place.put({**minimal(fields, name), name: first(key.value)})) == (False, False)
    for miss in _near_misses(name, fields):
        document = place.put({**minimal(fields, name), miss: first(key.value)})
        refused, messages = loader_verdict(document)
        # ... and its near misses are refused by both, the loader naming the keys it expected.
        assert refused and schema_errors(document), miss
        expected = f"unknown key '{miss}' in "
        assert any(m.startswith(expected) and m.endswith(f"(expected one of: {', '.join(fields.names)})") for m in messages), messages


CHOICES = [place for place in PLACES if isinstance(place.kind, (fmt.Choice, fmt.Words))]


@pytest.mark.parametrize("place", CHOICES, ids=lambda place: place.name)
def test_every_allowed_word_is_accepted_and_every_near_miss_refused_by_both(place: Place) -> None:
    accepted, refused = leaf_samples(place.kind)
    # A list or a mapping may be another option's (`x: [N]` is a vector): tried at its own places.
    refused = [value for value in refused if not isinstance(value, (list, dict))]
    assert [verdicts(place.put(value)) for value in accepted] == [(False, False)] * len(accepted)
    assert [verdicts(place.put(value)) for value in refused] == [(True, True)] * len(refused)


def test_the_words_of_the_format() -> None:
    # The recent additions, named here so that dropping one from the description fails.
    assert set(fmt.EXPECT.values) == {"refuted", "shape-mismatch", "free-index-mismatch"}
    assert fmt.LAYOUT.values == ("denominator", "numerator")
    assert fmt.SIGN_WORDS == ("real", "positive", "nonnegative", "negative")


SIZES_FORMS = {
    "a list of names": "sizes: [N, D]\n",
    "a string of names": "sizes: N D\n",
    "a mapping with least values": "sizes: {N: {min: 3}, D: {}}\n",
    "a mapping with an empty value": "sizes:\n  N:\n  D: {min: 2}\n",
    "a list of names and one-key mappings": "sizes: [N, {D: {min: 2}}]\n",
}


@pytest.mark.parametrize("name", sorted(SIZES_FORMS))
def test_every_form_of_sizes_is_accepted_by_both(name: str, tmp_path: Path) -> None:
    text = SIZES_FORMS[name] + "steps: []\n"
    assert loader_problems(text, tmp_path) == []
    assert schema_errors(yaml.safe_load(text)) == []


SIZES_REFUSED = {
    "a least value of 0": "sizes: {N: {min: 0}}\n",
    "a least value over 1000": "sizes: [N, {D: {min: 1001}}]\n",
    "a least value that is a word": "sizes: {N: {min: three}}\n",
    "a misspelled min": "sizes: {N: {mni: 3}}\n",
    "a least value without its mapping": "sizes: {N: 3}\n",
    "a list in the list": "sizes: [N, [D]]\n",
}


@pytest.mark.parametrize("name", sorted(SIZES_REFUSED))
def test_wrong_sizes_are_refused_by_both(name: str, tmp_path: Path) -> None:
    text = SIZES_REFUSED[name] + "steps: []\n"
    assert loader_problems(text, tmp_path) != []
    assert schema_errors(yaml.safe_load(text)) != []


def _disagreements(place_name: str, validator: jsonschema.Draft7Validator) -> list[object]:
    place = next(place for place in PLACES if place.name == place_name)
    return [
        value
        for value in candidates(place.kind)
        if loader_verdict(place.put(value))[0] != bool(schema_errors(place.put(value), validator))
    ]


def test_the_agreement_test_finds_a_drifted_schema() -> None:
    # The rejects twin of the agreement: against the schema as it was, the same comparison
    # finds the disagreements: `expect` only `refuted`, a claim needing `=`, a note a string.
    def drifted(name: str, schema: dict[str, Any]) -> jsonschema.Draft7Validator:
        before = build_schema()
        before["definitions"]["step"]["properties"][name] = schema
        return jsonschema.Draft7Validator(before)

    expect = drifted("expect", {"const": "refuted"})
    assert _disagreements("file.steps[].expect", expect) == ["shape-mismatch", "free-index-mismatch"]
    claim = drifted("claim", {"type": ["string", "number"], "pattern": "="})
    assert _disagreements("file.steps[].claim", claim) == ["x", "", True, None]
    note = drifted("note", {"type": ["string", "number"]})
    assert _disagreements("file.steps[].note", note) == [None, ["x"], {"a": "x"}]
    assert _disagreements("file.steps[].expect", VALIDATOR) == []


# -- the hostile corpus: the same verdict on every file both can read -----------------------------

HOSTILE = REPO / "tests" / "hostile"


def _as_data(node: yaml.Node) -> Any:
    """The JSON an editor's YAML reader makes of a node: a tag it does not know (Python's)
    leaves the node as it is written, and a timestamp stays text (YAML 1.2 has none)."""
    if isinstance(node, yaml.MappingNode):
        # A key that is not a scalar has no JSON form: a placeholder no schema can refuse
        # (the loader does: `keys of ... must be strings`).
        return {str(k.value) if isinstance(k, yaml.ScalarNode) else "<not a scalar>": _as_data(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_as_data(item) for item in node.value]
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
        return yaml.SafeLoader("").construct_object(node)
    return str(node.value)


def _hostile_root(path: Path) -> yaml.Node | None:
    return source.compose(source.read_text(path))


def _judged(path: Path) -> bool:
    """Whether the loader reads the file's shape: not when it cannot be read, is not YAML or
    has aliases (no document), nor when a control character stops it first."""
    try:
        root = _hostile_root(path)
    except source.SourceError:
        return False
    _, problems = source.parse_document(root, path.name)
    return all(problem.code != "control-character" for problem in problems)


HOSTILE_JUDGED = [path.name for path in sorted(HOSTILE.glob("*.yaml")) if _judged(path)]


def test_the_hostile_files_left_out_are_those_with_no_shape_to_judge() -> None:
    left_out = {path.name for path in HOSTILE.glob("*.yaml")} - set(HOSTILE_JUDGED)
    assert {name.split("_")[0] for name in left_out} == {"yaml"}  # only the YAML-level hostiles
    assert "yaml_bidi_override.yaml" in left_out and "yaml_empty.yaml" not in left_out
    assert len(HOSTILE_JUDGED) > 90


@pytest.mark.parametrize("name", HOSTILE_JUDGED)
def test_the_loader_and_the_schema_agree_on_each_hostile_file(name: str) -> None:
    root = _hostile_root(HOSTILE / name)
    _, problems = source.parse_document(root, name)
    codes = {problem.code for problem in problems}
    document = _as_data(root) if root is not None else None
    assert ("schema" in codes) == bool(schema_errors(document)), (codes, schema_errors(document))


def test_the_hostile_files_both_judge_include_refused_and_accepted_ones() -> None:
    roots = {name: _hostile_root(HOSTILE / name) for name in HOSTILE_JUDGED}
    refused = {name for name, root in roots.items() if schema_errors(_as_data(root) if root else None)}
    assert {"types_steps.yaml", "types_declarations.yaml", "inject_expect.yaml", "types_null_values.yaml"} <= refused
    assert "names_undeclared.yaml" not in refused  # `claim: t` is the parser's error, not the shape's


# -- misspelled keys, named -------------------------------------------------------------------

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
  u:
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
  - claim: t = t
    expect: shape-mismatch
  - claim: t = t
    expect: free-index-mismatch
""",
    "sizes as a string": "sizes: N D\nsteps: []\n",
    "numbers as expressions": "steps:\n  - chain: [0, 0]\n",
    "booleans and empty values as text": "title: yes\nsteps:\n  - claim: true\n    note:\n",
}

REJECTED = {
    "misspelled top-level key": "steps: []\nvariabls: {t: real}\n",
    "misspelled step key": "steps:\n  - claim: t = t\n    bye: words\n",
    "misspelled chain key": "steps:\n  - chain: [t, {exp: t}]\n",
    "misspelled variable key": "variables:\n  t: {assum: positive}\nsteps: []\n",
    "misspelled size key": "sizes: {N: {mn: 3}}\nsteps: []\n",
    "unknown assumption word": "variables:\n  t: postive\nsteps: []\n",
    "claim and chain": "steps:\n  - claim: t = t\n    chain: [t, t]\n",
    "neither claim nor chain": "steps:\n  - id: x\n",
    "a chain of one": "steps:\n  - chain: [t]\n",
    "expect something else": "steps:\n  - claim: t = t\n    expect: proved\n",
    "steps missing": "title: no steps\n",
    "steps not a list": "steps: {claim: t = t}\n",
    "bad layout": "layout: sideways\nsteps: []\n",
    "bad step id": "steps:\n  - id: has space\n    claim: t = t\n",
    "a step id that is not ASCII": "steps:\n  - id: über\n    claim: t = t\n",
    "a step id that is empty": "steps:\n  - id: null\n    claim: t = t\n",
    "bad version": "derivcheck: 2\nsteps: []\n",
    "range without dots": "indices:\n  i: 1-N\nsteps: []\n",
    "range with nothing before the dots": "indices:\n  i: ...N\nsteps: []\n",
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


def test_misspelled_key_is_named_by_both(tmp_path: Path) -> None:
    text = REJECTED["misspelled top-level key"]
    assert schema_errors(yaml.safe_load(text)) == ["Additional properties are not allowed ('variabls' was unexpected)"]
    expected = ", ".join(fmt.FILE.names)
    assert loader_problems(text, tmp_path) == [
        f"schema: unknown key 'variabls' in the file; did you mean 'variables'? (expected one of: {expected})"
    ]
    assert expected == "derivcheck, title, source, description, layout, sizes, indices, variables, definitions, assumptions, steps"


def test_a_misspelled_step_key_is_named_with_the_step_keys(tmp_path: Path) -> None:
    assert loader_problems(REJECTED["misspelled step key"], tmp_path) == [
        "schema: unknown key 'bye' in step 1; did you mean 'by'? (expected one of: id, claim, chain, by, where, expect, note)"
    ]


# -- the schema itself ------------------------------------------------------------------------


def test_schema_is_valid_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_schema_has_an_id() -> None:
    assert SCHEMA["$id"] == SCHEMA_ID == f"urn:derivcheck:schema:derivation:{fmt.FORMAT_VERSION}"


def _schemas(schema: object) -> Iterator[dict[str, Any]]:
    """Every schema inside `schema`, itself included (not the `properties` tables themselves)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _schemas(item)
        return
    if not isinstance(schema, dict):
        return
    yield schema
    for word, value in schema.items():
        if word in ("properties", "definitions"):
            for inner in value.values():
                yield from _schemas(inner)
        elif word in ("items", "additionalProperties", "anyOf", "allOf", "oneOf"):
            yield from _schemas(value)


def test_every_description_has_its_markdown_twin() -> None:
    described = [schema for schema in _schemas(SCHEMA) if "description" in schema or "markdownDescription" in schema]
    assert len(described) > 30
    for node in described:
        assert node["description"] == node["markdownDescription"].replace("`", "")


def test_every_key_has_hover_text() -> None:
    def keyed(node: object) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            for name, value in node.get("properties", {}).items():
                yield name, value
            for value in node.values():
                yield from keyed(value)
        elif isinstance(node, list):
            for value in node:
                yield from keyed(value)

    keys = list(keyed(SCHEMA))
    assert {name for name, _ in keys} >= set(fmt.FILE.names) | set(fmt.STEP.names) | {"expr", "shape", "assume", "min"}
    assert [name for name, value in keys if not value.get("markdownDescription")] == []


def test_expect_hover_names_every_value() -> None:
    hover = SCHEMA["definitions"]["step"]["properties"]["expect"]["markdownDescription"]
    assert all(f"`{value}`" in hover for value in fmt.EXPECT.values)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [(fmt.STEP_ID.pattern, "a\n", False), (fmt.STEP_ID.pattern, "a", True), (fmt.LEAST.pattern, "3\n", False), (fmt.LEAST.pattern, "3", True)],
)
def test_patterns_end_at_the_end_of_the_text(pattern: str, text: str, matches: bool) -> None:
    # `$` would let a final line break through in Python (never in an editor's ECMA-262).
    assert (re.search(pattern, text) is not None) is matches


# -- `derivcheck schema`, the committed file and the packaged copy -------------------------------


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


def test_the_packaged_schema_is_current() -> None:
    packaged = importlib.resources.files("derivcheck").joinpath(PACKAGED_NAME).read_text(encoding="utf-8")
    assert packaged == schema_text(), (
        f"derivcheck/{PACKAGED_NAME} is stale: run `derivcheck schema -o derivcheck/{PACKAGED_NAME}` and commit it"
    )


def test_the_packaged_schema_is_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["derivcheck"]
    assert any(fnmatch.fnmatch(PACKAGED_NAME, pattern) for pattern in patterns)
    assert not any(fnmatch.fnmatch("schema.py", pattern) for pattern in patterns)  # the check can fail


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


# -- docs/format.md shows the description's keys ----------------------------------------------------


@pytest.mark.parametrize("fields", [fmt.FILE, fmt.STEP], ids=["file", "step"])
def test_the_docs_keys_tables_are_the_descriptions(fields: fmt.Fields) -> None:
    docs = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
    table = fmt.keys_table(fields)
    assert table in docs, f"docs/format.md should hold this table (format.keys_table):\n{table}"


def test_a_drifted_docs_table_is_found() -> None:
    docs = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
    # The rejects twin: a description without `where` is not what the docs show.
    drifted = fmt.Fields(tuple(key for key in fmt.STEP.keys if key.name != "where"), one_of=fmt.STEP.one_of)
    assert fmt.keys_table(drifted) not in docs


# -- functions fit on a screen ----------------------------------------------------------------

LONGEST = 80


def long_functions(text: str) -> list[tuple[str, int]]:
    nodes = [node for node in ast.walk(ast.parse(text)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    lengths = [(node.name, (node.end_lineno or node.lineno) - node.lineno + 1) for node in nodes]
    return [(name, length) for name, length in lengths if length > LONGEST]


@pytest.mark.parametrize("module", ["source.py", "schema.py", "format.py"])
def test_no_function_is_over_80_lines(module: str) -> None:
    assert long_functions((REPO / "derivcheck" / module).read_text(encoding="utf-8")) == []


def test_a_long_function_is_found() -> None:
    body = "".join(f"    x{n} = {n}\n" for n in range(LONGEST))
    assert long_functions("def f() -> None:\n" + body) == [("f", LONGEST + 1)]
    assert long_functions("def f() -> None:\n" + body[: -len(f"    x{LONGEST - 1} = {LONGEST - 1}\n")]) == []
