"""The JSON Schema (draft-07) of the derivation format, written from derivcheck/format.py.

`derivcheck schema` prints it; the committed `schema/derivcheck.schema.json` and the copy in
the package (`derivcheck/derivcheck.schema.json`, read with importlib.resources) are its
output, so that a derivation file can name it for its editor:

    # yaml-language-server: $schema=../schema/derivcheck.schema.json

The schema describes the shape of a file (keys, lists, mappings, the words a value may be),
as the loader in source.py checks it from the same description; whether expressions parse and
names are declared is for derivcheck itself (format.BEYOND_THE_SCHEMA lists the rest).
Nothing here imports YAML or SymPy.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from derivcheck import format as fmt

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
# A name for the schema that claims no web address (the project publishes none); versioned
# with the format, so that a later format's schema is another.
SCHEMA_ID = f"urn:derivcheck:schema:derivation:{fmt.FORMAT_VERSION}"
SCHEMA_PATH = "schema/derivcheck.schema.json"  # in the repository, relative to its root
PACKAGED_NAME = "derivcheck.schema.json"  # the copy in the package, beside this module

Schema = dict[str, Any]


def _described(schema: Schema, doc: str) -> Schema:
    if not doc:
        return schema
    return {**schema, "description": fmt.plain(doc), "markdownDescription": doc}


def _words_pattern(words: tuple[str, ...]) -> str:
    """None or more of `words`, separated as source.py splits names."""
    # No escapes but \t: an editor may compile the pattern in ECMA-262's strict Unicode mode.
    assert all(word.isalnum() for word in words), words
    sep = "[" + fmt.NAME_SEPARATORS.replace("\t", r"\t") + "]"
    word = "(" + "|".join(words) + ")"
    return rf"^{sep}*({word}({sep}+{word})*{sep}*)?{fmt.END}"


class _Writer:
    """Turns kinds of value into schemas, collecting the named ones as `definitions`."""

    def __init__(self) -> None:
        self.definitions: dict[str, Schema] = {}

    def value(self, kind: fmt.Value) -> Schema:
        """The schema of `kind`: a $ref when it is named, the schema itself otherwise."""
        if not kind.name:
            return _described(_BUILDERS[type(kind)](self, kind), kind.doc)
        if kind.name not in self.definitions:
            self.definitions[kind.name] = {}  # taken first, so a kind may contain itself
            self.definitions[kind.name] = _described(_BUILDERS[type(kind)](self, kind), kind.doc)
        return {"$ref": f"#/definitions/{kind.name}"}

    def fields(self, kind: fmt.Fields) -> Schema:
        properties = {}
        for key in kind.keys:
            inner = self.value(key.value)
            if "$ref" in inner:  # draft-07 ignores every sibling of a $ref, descriptions too
                inner = {"allOf": [inner]}
            properties[key.name] = _described(inner, key.doc)
        schema: Schema = {"type": "object", "additionalProperties": False}
        if kind.required:
            schema["required"] = list(kind.required)
        if kind.one_of:
            schema["oneOf"] = [{"required": [name]} for name in kind.one_of]
        schema["properties"] = properties
        return schema


def _text(writer: _Writer, kind: fmt.Text) -> Schema:
    # The loader reads any scalar back as the text it was written as: `0`, `1.5`, `true`, ``.
    return {"type": list(fmt.SCALAR_TYPES)}


def _choice(writer: _Writer, kind: fmt.Choice) -> Schema:
    schema: Schema = {"enum": [*kind.numbers, *kind.values]}
    if kind.default is not None:
        schema["default"] = kind.default
    return schema


def _words(writer: _Writer, kind: fmt.Words) -> Schema:
    # An empty value is no words, as `t:` is a real scalar.
    return {"type": ["string", "null"], "pattern": _words_pattern(kind.words)}


def _pattern(writer: _Writer, kind: fmt.Pattern) -> Schema:
    types = ["string", *kind.types]
    return {"type": types[0] if len(types) == 1 else types, "pattern": kind.pattern}


def _whole(writer: _Writer, kind: fmt.Whole) -> Schema:
    return {
        "anyOf": [
            {"type": "integer", "minimum": kind.low, "maximum": kind.high},
            {"type": "string", "pattern": kind.pattern},
        ]
    }


def _null(writer: _Writer, kind: fmt.Null) -> Schema:
    return {"type": "null"}


def _anything(writer: _Writer, kind: fmt.Anything) -> Schema:
    return {}


def _list_of(writer: _Writer, kind: fmt.ListOf) -> Schema:
    schema: Schema = {"type": "array", "items": writer.value(kind.item)}
    if kind.min_items:
        schema["minItems"] = kind.min_items
    if kind.max_items is not None:
        schema["maxItems"] = kind.max_items
    return schema


def _map_of(writer: _Writer, kind: fmt.MapOf) -> Schema:
    return {"type": "object", "additionalProperties": writer.value(kind.value)}


def _any_of(writer: _Writer, kind: fmt.AnyOf) -> Schema:
    return {"anyOf": [writer.value(option) for option in kind.options]}


def _fields(writer: _Writer, kind: fmt.Fields) -> Schema:
    return writer.fields(kind)


_BUILDERS: dict[type, Callable[[_Writer, Any], Schema]] = {
    fmt.Text: _text,
    fmt.Choice: _choice,
    fmt.Words: _words,
    fmt.Pattern: _pattern,
    fmt.Whole: _whole,
    fmt.Null: _null,
    fmt.Anything: _anything,
    fmt.ListOf: _list_of,
    fmt.MapOf: _map_of,
    fmt.AnyOf: _any_of,
    fmt.Fields: _fields,
}


def build_schema() -> Schema:
    """The JSON Schema of a derivation file, as a dict."""
    writer = _Writer()
    body = _described(writer.fields(fmt.FILE), fmt.FILE.doc)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "derivcheck derivation",
        **body,
        "definitions": writer.definitions,
    }


def schema_text() -> str:
    """The schema as the JSON text `derivcheck schema` prints (and the committed files hold)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
