"""The JSON Schema (draft-07) of the derivation format, for editors and other tools.

`derivcheck schema` prints it; `schema/derivcheck.schema.json` in the repository is its
output, so that a derivation file can name it for its editor:

    # yaml-language-server: $schema=../schema/derivcheck.schema.json

The schema describes the shape of a file (keys, lists, mappings), as the loader in
source.py checks it; whether expressions parse and names are declared is for derivcheck
itself. tests/test_schema.py keeps the two in step: the keys here are the loader's keys.
Nothing here imports YAML or SymPy.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
SCHEMA_PATH = "schema/derivcheck.schema.json"  # in the repository, relative to its root

# The words a scalar variable may be declared with (source.VARIABLE_ASSUMPTIONS).
ASSUMPTION_WORDS = ("real", "positive", "nonnegative", "negative")
LAYOUTS = ("denominator", "numerator")

# YAML reads `0`, `1.5` and `true` as numbers and booleans, and derivcheck reads them back
# as the text they were written as: an expression or a name may be any scalar.
_SCALAR: dict[str, Any] = {"type": ["string", "number"]}


def _text(description: str) -> dict[str, Any]:
    return {**_SCALAR, "description": description}


def _text_or_list(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}],
    }


def _words_pattern(words: tuple[str, ...]) -> str:
    """One or more of `words`, separated by spaces or commas."""
    word = "(" + "|".join(words) + ")"
    return rf"^[\s,]*{word}([\s,]+{word})*[\s,]*$"


def _definitions() -> dict[str, Any]:
    assumption_words = {
        "type": "string",
        "pattern": _words_pattern(ASSUMPTION_WORDS),
        "description": "One or more of: " + ", ".join(ASSUMPTION_WORDS) + ".",
    }
    shape = {
        "type": "array",
        "items": _SCALAR,
        "description": "The sizes of its indices: [N] for a vector, [N, D] for a matrix.",
    }
    return {
        "expression": _text(
            "An expression in Python/SymPy syntax over the declared names, parsed safely "
            "(never evaluated)."
        ),
        "range": {
            "description": "The range of an index: `1..N` or `[1, N]`.",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\S.*\.\..*\S\s*$"},
                {"type": "array", "items": _SCALAR, "minItems": 2, "maxItems": 2},
            ],
        },
        "assumptionWords": assumption_words,
        "sizeMinima": {
            "type": "object",
            "description": "Sizes by name, each with its least value: `{N: {min: 3}}` (empty: at least 1).",
            "additionalProperties": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"min": {"type": ["integer", "string"], "description": "The least value of the size, 1 to 1000."}},
                    },
                ]
            },
        },
        "variable": {
            "description": (
                "`[sizes...]` for a vector or a matrix, `real` (or positive, nonnegative, "
                "negative) for a scalar, or `{shape: [...], assume: ...}`."
            ),
            "anyOf": [
                shape,
                assumption_words,
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "shape": shape,
                        "assume": {
                            "description": "What is assumed of every entry.",
                            "anyOf": [
                                assumption_words,
                                {"type": "array", "items": assumption_words},
                            ],
                        },
                    },
                },
            ],
        },
        "chainItem": {
            "description": "An expression equal to the one before, with its own `by` if wanted.",
            "anyOf": [
                {"$ref": "#/definitions/expression"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["expr"],
                    "properties": {
                        "expr": {"$ref": "#/definitions/expression"},
                        "by": _text("Why this expression equals the one before."),
                    },
                },
            ],
        },
        "step": {
            "type": "object",
            "description": "One claimed equality (`claim:`) or a chain of them (`chain:`).",
            "additionalProperties": False,
            "oneOf": [{"required": ["claim"]}, {"required": ["chain"]}],
            "properties": {
                "id": {
                    "description": "A name for the step: letters, digits, _ and -.",
                    "anyOf": [
                        {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"},
                        {"type": "integer"},
                    ],
                },
                "claim": {
                    **_text("`lhs = rhs`: the equality the step claims."),
                    "pattern": "=",
                },
                "chain": {
                    "type": "array",
                    "minItems": 2,
                    "description": "Two or more expressions, each equal to the one before.",
                    "items": {"$ref": "#/definitions/chainItem"},
                },
                "by": _text_or_list(
                    "Why the step holds: words, or a list of the ids of earlier steps."
                ),
                "where": _text_or_list(
                    "A condition on the free indices, such as `k != j` (a string or a list)."
                ),
                "expect": {
                    "const": "refuted",
                    "description": "`refuted`: the step is a known mistake, kept for teaching.",
                },
                "note": _text("A remark for people."),
            },
        },
    }


def build_schema() -> dict[str, Any]:
    """The JSON Schema of a derivation file, as a dict."""
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "derivcheck derivation",
        "description": (
            "A step-by-step math derivation checked by derivcheck (format version 1). "
            "Unknown keys are errors."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["steps"],
        "properties": {
            "derivcheck": {"enum": [1, "1"], "description": "The format version: 1."},
            "title": _text("The title shown in the report."),
            "source": _text("Where the derivation comes from."),
            "description": _text("What the derivation derives."),
            "layout": {
                "enum": list(LAYOUTS),
                "default": "denominator",
                "description": (
                    "The shape of the derivative of a scalar by a matrix: the matrix's own "
                    "(denominator layout) or its transpose (numerator layout)."
                ),
            },
            "sizes": {
                "description": (
                    "Names of sizes: positive integers, kept symbolic (`[N, D]` or `N D`). A size "
                    "may declare its least value: `{N: {min: 3}, D: {}}`, or `[N, {D: {min: 2}}]`."
                ),
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/sizeMinima"}]}},
                    {"$ref": "#/definitions/sizeMinima"},
                ],
            },
            "indices": {
                "type": "object",
                "description": "`names: low..high`: index symbols and the range each runs over.",
                "additionalProperties": {"$ref": "#/definitions/range"},
            },
            "variables": {
                "type": "object",
                "description": "The free quantities; real unless said otherwise.",
                "additionalProperties": {"$ref": "#/definitions/variable"},
            },
            "definitions": {
                "type": "object",
                "description": "`name: expression` or `name[i, ...]: expression`.",
                "additionalProperties": {"$ref": "#/definitions/expression"},
            },
            "assumptions": {
                "type": "object",
                "description": "`name: one_hot(y)` or `name: Sum(y[k], (k, low, high)) = value`.",
                "additionalProperties": _text("A fact the engine may use."),
            },
            "steps": {
                "type": "array",
                "description": "The steps, checked from the definitions and assumptions alone.",
                "items": {"$ref": "#/definitions/step"},
            },
        },
        "definitions": _definitions(),
    }


def schema_text() -> str:
    """The schema as the JSON text `derivcheck schema` prints (and the committed file holds)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
