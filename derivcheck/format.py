"""The derivation format, described once: its keys, the kinds of value each holds, their words.

source.py checks a file against this description (which keys are allowed where, which values
are accepted, the expected keys a message lists) and schema.py writes the JSON Schema from it;
tests/source/test_schema.py builds documents from it and asks both for their verdict. The `doc` of
each key is Markdown: the hover text in an editor and the Keys tables of docs/format.md.
Nothing here imports YAML or SymPy.

The kinds of value say what the loader accepts, which works on the text of each YAML scalar
as written (`1.5` is the text "1.5"), while a JSON Schema sees the value YAML makes of it (the
number 1.5). So a kind says, for a scalar that is not a string, which of YAML's types spell
only accepted texts (a step id `7`, `true`), and an empty value (YAML's null) is accepted
exactly where the loader reads it as empty text or as no words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

FORMAT_VERSION = 1

# Names in one scalar (`i j k`, `N, D`, `positive nonnegative`) are separated by these.
NAME_SEPARATORS = " ,\t"
# The end of the text, in Python's `re` and in ECMA-262 (editors) alike: `$` would also
# match before a final line break in Python, so `id: |\n  a\n` would pass as `a`.
END = r"(?![\s\S])"
RANGE_SEPARATOR = ".."

# The JSON types of YAML scalars. The loader reads every scalar as its text, so where any
# text is accepted, so is any of these.
SCALAR_TYPES = ("string", "number", "boolean", "null")


@dataclass(frozen=True)
class Text:
    """Any scalar, read as the text it was written as; an empty value is the empty text."""

    doc: str = ""
    name: str = ""  # a name in the schema's `definitions`, or inline when ""


@dataclass(frozen=True)
class Choice:
    """A scalar whose text is one of `values`; `numbers` are those YAML reads as numbers."""

    values: tuple[str, ...]
    doc: str = ""
    numbers: tuple[int, ...] = ()
    default: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Words:
    """Some of `words` in one scalar, separated by NAME_SEPARATORS; an empty value is none."""

    words: tuple[str, ...]
    doc: str = ""
    name: str = ""


@dataclass(frozen=True)
class Pattern:
    """A scalar whose text matches `pattern` (anchored, for Python's `re` and ECMA-262 alike).

    `types` are the JSON types besides strings that YAML makes only of texts that match."""

    pattern: str
    doc: str = ""
    types: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` to `high`, written as a number or as ASCII digits."""

    low: int
    high: int
    doc: str = ""
    name: str = ""

    @property
    def pattern(self) -> str:
        """The digit strings from 1 to `high`, leading zeros allowed (as int() reads them)."""
        digits = len(str(self.high)) - 1
        # Only the bounds the format uses are written as a pattern: 1 up to a power of ten.
        assert self.low == 1 and self.high == 10**digits and digits >= 1, (self.low, self.high)
        return rf"^0*([1-9][0-9]{{0,{digits - 1}}}|{self.high}){END}"


@dataclass(frozen=True)
class Null:
    """An empty value (nothing, `~` or `null`)."""

    doc: str = ""
    name: str = ""


@dataclass(frozen=True)
class Anything:
    """Any value at all: the loader does not read it."""

    doc: str = ""
    name: str = ""


@dataclass(frozen=True)
class ListOf:
    item: Value
    doc: str = ""
    min_items: int = 0
    max_items: int | None = None
    name: str = ""


@dataclass(frozen=True)
class MapOf:
    """A mapping from names the author chooses (checked by derivcheck, not here) to values."""

    value: Value
    doc: str = ""
    name: str = ""


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Value, ...]
    doc: str = ""
    name: str = ""


@dataclass(frozen=True)
class Key:
    name: str
    value: Value
    doc: str  # Markdown, one line: the hover text and the docs table's cell


@dataclass(frozen=True)
class Fields:
    """A mapping with a fixed set of keys: any other key is an error."""

    keys: tuple[Key, ...]
    doc: str = ""
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # exactly one of these keys
    name: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def key(self, name: str) -> Key:
        (found,) = [key for key in self.keys if key.name == name]
        return found


Value = Union[Text, Choice, Words, Pattern, Whole, Null, Anything, ListOf, MapOf, AnyOf, Fields]


def plain(markdown: str) -> str:
    """The text of a Markdown `doc` without its code marks, for messages and tools that show it raw."""
    return markdown.replace("`", "")


def _code(words: tuple[str, ...], last: str = "or") -> str:
    """`a`, `b` or `c`"""
    quoted = [f"`{word}`" for word in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" {last} " + quoted[-1]


# -- the words --------------------------------------------------------------------------------

LAYOUTS = ("denominator", "numerator")
# What a scalar variable (or every entry of a vector or matrix) may be declared to be.
SIGN_WORDS = ("real", "positive", "nonnegative", "negative")
# Problem codes a step may be expected to fail with: the mistakes of a seed kept as written.
EXPECTABLE_ERRORS = ("shape-mismatch", "free-index-mismatch")
EXPECT_REFUTED = "refuted"  # a known mistake kept for teaching: the step holds the file when refuted
EXPECT_VALUES = (EXPECT_REFUTED, *EXPECTABLE_ERRORS)

# -- the kinds of value -----------------------------------------------------------------------

EXPRESSION = Text("An expression in Python/SymPy syntax over the declared names, parsed safely (never evaluated).")
NAMES = Text("Names separated by spaces or commas.")
SIGNS = Words(SIGN_WORDS, "One or more of " + _code(SIGN_WORDS) + ", separated by spaces or commas.", name="assumptionWords")
SHAPE = ListOf(Text("The name of a size, or a number."), "The sizes of its indices: `[N]` for a vector, `[N, D]` for a matrix.")
TEXT_OR_LIST = (Text(), ListOf(Text()))

VERSION = Choice((str(FORMAT_VERSION),), f"The format version: `{FORMAT_VERSION}`.", numbers=(FORMAT_VERSION,))
LAYOUT = Choice(LAYOUTS, default=LAYOUTS[0])
EXPECT = Choice(EXPECT_VALUES)
# Letters, digits, _ and -, in ASCII: an editor's pattern has no notion of Unicode letters.
STEP_ID = Pattern(f"^[A-Za-z0-9_-]+{END}", "letters, digits, `_` and `-`", types=("integer", "boolean"))
LEAST = Whole(1, 1000, "A whole number from 1 to 1000.")

# `low..high`: text before the first `..` and text after it, neither blank. The part before
# has no `..` and does not end with `.` (or the first `..` would start earlier).
RANGE_TEXT = Pattern(r"^\s*(?:[^\s.]|\.(?!\.))(?:[^.]|\.(?!\.))*\.\.[\s\S]*\S", "`low..high`")
RANGE = AnyOf(
    (RANGE_TEXT, ListOf(Text("A bound of the range: a number, a size or an expression of them."), "`[low, high]`", 2, 2)),
    "The range of an index: `1..N` or `[1, N]`.",
    name="range",
)

SIZE_LEAST = Fields((Key("min", LEAST, f"the least value of the size, {LEAST.low} to {LEAST.high} ({LEAST.low} when not given)"),), name="sizeLeast")
SIZE_MINIMA = MapOf(
    AnyOf((Null(), SIZE_LEAST)),
    "Sizes by name, each with its least value: `{N: {min: 3}}` (empty: at least 1).",
    name="sizeMinima",
)

VARIABLE_FIELDS = Fields(
    (
        Key("shape", SHAPE, "the sizes of its indices: `[N]` for a vector, `[N, D]` for a matrix; none for a scalar"),
        Key("assume", AnyOf((SIGNS, ListOf(SIGNS))), "what is assumed of it (of every entry): " + _code(SIGN_WORDS)),
    )
)
VARIABLE = AnyOf(
    (SHAPE, SIGNS, VARIABLE_FIELDS),
    "`[sizes...]` for a vector or a matrix, `real` (or " + _code(SIGN_WORDS[1:]) + ") for a scalar, "
    "or `{shape: [...], assume: ...}`.",
    name="variable",
)

CHAIN_ENTRY = Fields(
    (
        Key("expr", EXPRESSION, "the expression, equal to the one before"),
        Key("by", Text(), "why this expression equals the one before"),
    ),
    required=("expr",),
)
CHAIN_ITEM = AnyOf(
    (EXPRESSION, CHAIN_ENTRY),
    "An expression equal to the one before, or `{expr: ..., by: ...}` with its own justification.",
    name="chainItem",
)

CHAIN = ListOf(CHAIN_ITEM, min_items=2)

STEP = Fields(
    (
        Key("id", STEP_ID, "a name for the step, for the `by:` of later steps: " + STEP_ID.doc),
        Key("claim", EXPRESSION, "`lhs = rhs`: the equality the step claims"),
        Key(
            "chain",
            CHAIN,
            "two or more expressions, each equal to the one before: an expression, or `{expr: ..., by: ...}` "
            "with its own justification",
        ),
        Key("by", AnyOf(TEXT_OR_LIST), "why the step holds: words, or a list of the ids of earlier steps"),
        Key("where", AnyOf(TEXT_OR_LIST), "a condition on the free indices, such as `k != j` (a string or a list)"),
        Key(
            "expect",
            EXPECT,
            f"`{EXPECT_REFUTED}`: a known mistake kept for teaching, which holds the file when it is refuted; "
            + _code(EXPECTABLE_ERRORS)
            + ": a seed's mistake kept as written, which holds the file only when the step fails with exactly that problem",
        ),
        # Never read, so never refused, whatever it holds (tests/hostile/types_steps.yaml pins
        # `note: [a, b]` as accepted).
        Key("note", Anything(), "a remark for people; derivcheck does not read it"),
    ),
    "One claimed equality (`claim:`) or a chain of them (`chain:`).",
    one_of=("claim", "chain"),
    name="step",
)

_OPTIONAL_STEP_KEYS = _code(tuple(name for name in STEP.names if name not in STEP.one_of), "and")

FILE = Fields(
    (
        Key("derivcheck", VERSION, f"the format version, `{FORMAT_VERSION}` (optional; {FORMAT_VERSION} is the only one)"),
        Key("title", Text(), "the title shown in the report"),
        Key("source", Text(), "where the derivation comes from"),
        Key("description", Text(), "what it derives"),
        Key(
            "layout",
            LAYOUT,
            f"`{LAYOUTS[0]}` (default) or `{LAYOUTS[1]}`: the shape of `Derivative(scalar, matrix)` (the matrix's "
            "own shape, or its transpose) and of `Derivative(vector, vector)`",
        ),
        Key(
            "sizes",
            AnyOf((ListOf(AnyOf((NAMES, SIZE_MINIMA))), NAMES, SIZE_MINIMA)),
            "names of sizes: positive integers, never given a value in a proof (`[N, D]` or `N D`). A size may "
            "declare its least value: `sizes: {N: {min: 3}, D: {}}`, or `[N, {D: {min: 2}}]`; proofs then hold "
            "for every size from that value up",
        ),
        Key("indices", MapOf(RANGE), "`names: low..high`; an index is an integer in that range (also `[low, high]`)"),
        Key(
            "variables",
            MapOf(VARIABLE),
            "`name: [sizes...]` for a vector or a matrix, `name: real` (or "
            + _code(SIGN_WORDS[1:])
            + ") for a scalar, or `name: {shape: [...], assume: ...}`; real unless said otherwise",
        ),
        Key(
            "definitions",
            MapOf(EXPRESSION),
            "`name: expression` or `name[i, ...]: expression`; the head's indices are declared indices, the only "
            "free indices the body may use",
        ),
        Key(
            "assumptions",
            MapOf(Text("A fact the engine may use.")),
            "`name: one_hot(y)` (a vector variable; for a matrix, each column is one-hot), or "
            "`name: Sum(y[k], (k, low, high)) = value` (for a matrix, `Sum(Y[l, i], (l, 1, L)) = 1` holds for "
            "every column i)",
        ),
        Key(
            "steps",
            ListOf(STEP),
            "a list; each step has `claim:` (`lhs = rhs`) or `chain:` (two or more expressions), and optionally "
            + _OPTIONAL_STEP_KEYS,
        ),
    ),
    f"A step-by-step math derivation checked by derivcheck (format version {FORMAT_VERSION}). Unknown keys are errors.",
    required=("steps",),
)

# What the loader checks that a JSON Schema cannot see, by problem code: the schema is
# silent on these, and the tests compare the two on everything else.
BEYOND_THE_SCHEMA = {
    "duplicate-key": "a key written twice in one mapping (YAML keeps the last)",
    "duplicate-id": "two steps with one id",
    "unknown-reference": "`by:` naming an id that is not an earlier step's",
    "control-character": "control and bidirectional characters in any text",
}


def keys_table(fields: Fields) -> str:
    """The Markdown table of `fields`' keys, as docs/format.md shows it."""
    rows = ["| key | what it holds |", "| --- | --- |"]
    rows += [f"| `{key.name}` | {key.doc} |" for key in fields.keys]
    return "\n".join(rows) + "\n"
