"""Reading a derivation file: YAML text to a `Derivation` of strings with 1-based positions.

Nothing here knows SymPy. The YAML is composed into nodes (never constructed into
Python objects), aliases are refused (no billion-laughs expansion), and every value
keeps the position it came from so later errors can point at it.
"""

from __future__ import annotations

import os
import re
import select
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import yaml

from derivcheck import format as fmt
from derivcheck.model import NO_SPAN, Problem, Span, Text, suggestion

MAX_FILE_BYTES = 1_000_000
# How long a pipe or FIFO named as a derivation file may take to deliver all of it.
PIPE_WAIT_SECONDS = 5.0
# Which keys are allowed where, and which values, is described once in derivcheck/format.py
# (the JSON Schema is written from it too); the format version and the expectable problem
# codes stay importable from here.
FORMAT_VERSION = fmt.FORMAT_VERSION
EXPECTABLE_ERRORS = fmt.EXPECTABLE_ERRORS

_NULL_TAG = "tag:yaml.org,2002:null"
# The entries of a mapping by key: (key node, value node).
_Fields = dict[str, tuple[yaml.Node, yaml.Node]]


class SourceError(ValueError):
    """A problem that stops the reading of a file (reported as a Problem)."""

    def __init__(self, code: str, message: str, span: Span) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span


@dataclass(frozen=True)
class VariableDecl:
    name: Text
    shape: tuple[Text, ...]  # sizes of each index; () for a scalar
    assume: tuple[str, ...]  # real, positive, ...


@dataclass(frozen=True)
class IndexDecl:
    name: Text
    low: Text
    high: Text


@dataclass(frozen=True)
class Definition:
    head: Text  # "a[k]" or "L"
    body: Text


@dataclass(frozen=True)
class Assumption:
    name: Text
    statement: Text  # "one_hot(y)" or "lhs = rhs"


@dataclass(frozen=True)
class Link:
    expr: Text
    by: Text | None


@dataclass(frozen=True)
class StepSpec:
    number: int
    span: Span
    id: Text | None
    claim: Text | None  # "lhs = rhs"
    chain: tuple[Link, ...]  # two or more expressions, each equal to the one before
    by: Text | None  # words
    by_ids: tuple[Text, ...]  # ids of earlier steps
    where: tuple[Text, ...]  # conditions such as "k != j"
    expect_refuted: bool
    expect_error: str | None = None  # `expect: shape-mismatch`: the step is meant to fail so


@dataclass(frozen=True)
class Derivation:
    path: str
    title: str | None
    source: str | None
    description: str | None
    sizes: tuple[Text, ...]
    indices: tuple[IndexDecl, ...]
    variables: tuple[VariableDecl, ...]
    definitions: tuple[Definition, ...]
    assumptions: tuple[Assumption, ...]
    steps: tuple[StepSpec, ...]
    layout: str = fmt.LAYOUTS[0]  # of Derivative(scalar, matrix): the matrix's shape, or its transpose
    # A size's declared least value (`N: {min: 3}`), by the size's name; sizes not named are at least 1.
    minima: tuple[tuple[str, Text], ...] = ()


class _NoAliasLoader(yaml.SafeLoader):
    """A YAML composer that refuses aliases: derivation files never need them, and they
    are how a small file expands into a huge one."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            raise SourceError(
                "yaml-alias",
                "YAML aliases (*name) are not allowed in derivation files",
                _span(event.start_mark),
            )
        return super().compose_node(parent, index)


class _Mark(Protocol):
    """A position in YAML text, as PyYAML's Python parser and its C one both give it (0-based)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


def _span(mark: _Mark | None) -> Span:
    # YAML marks are 0-based; positions everywhere else are 1-based.
    if mark is None:
        return Span(1, 1)
    return Span(mark.line + 1, mark.column + 1)


def read_text(path: Path) -> str:
    """Read a derivation file as UTF-8, raising SourceError with a position when it can't be."""
    try:
        data = _read_bytes(path)
    except FileNotFoundError:
        raise SourceError("not-found", "no such file", NO_SPAN) from None
    except IsADirectoryError:
        raise SourceError("unreadable", "is a directory", NO_SPAN) from None
    except OSError as exc:
        raise SourceError("unreadable", f"cannot read the file: {exc.strerror or exc}", NO_SPAN) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise SourceError(
            "unreadable",
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            Span(line, col),
        ) from None


def _too_large(size: str) -> SourceError:
    return SourceError(
        "too-large",
        f"the file is {size} bytes; derivation files are limited to {MAX_FILE_BYTES}",
        Span(1, 1),
    )


def _read_bytes(path: Path) -> bytes:
    """At most MAX_FILE_BYTES of the file, never blocking for long.

    A path need not be a regular file: a FIFO with no writer would block `open` forever,
    and /dev/zero never ends. So the file is opened without blocking, a regular file is
    read up to the limit, and anything else (a pipe, a FIFO, a device) is read as data
    arrives until end of file, the size limit, or PIPE_WAIT_SECONDS without an end.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if stat.S_ISREG(info.st_mode):
            if info.st_size > MAX_FILE_BYTES:
                raise _too_large(str(info.st_size))
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)  # the file may grow after fstat
            if len(data) > MAX_FILE_BYTES:
                raise _too_large(f"more than {MAX_FILE_BYTES}")
            return data
        chunks: list[bytes] = []
        total = 0
        deadline = time.monotonic() + PIPE_WAIT_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise SourceError(
                    "unreadable",
                    f"not a regular file, and it did not reach its end within {PIPE_WAIT_SECONDS:g} s "
                    "(a FIFO with no writer?)",
                    Span(1, 1),
                )
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise _too_large(f"more than {MAX_FILE_BYTES}")
    finally:
        os.close(fd)


def compose(text: str) -> yaml.Node | None:
    """YAML text to a node tree, or SourceError('yaml-syntax') with the error's position."""
    try:
        loader = _NoAliasLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML refuses (NUL, most control characters): the reader only knows
        # its offset into the text, not a mark.
        before = text[: exc.position]
        span = Span(before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        raise SourceError(
            "yaml-syntax", f"YAML does not allow the character #x{exc.character:04x} in a file", span
        ) from None
    except yaml.YAMLError as exc:
        raise SourceError("yaml-syntax", f"YAML error: {exc}", Span(1, 1)) from None
    except RecursionError:
        raise SourceError("yaml-syntax", "the YAML is nested too deeply", Span(1, 1)) from None


# What PyYAML's problem text usually means in a derivation file, as a hint in the author's
# words: (the start of the problem text, the hint, whether to point at PyYAML's context
# mark). For a quote, a bracket or a key never finished, PyYAML gives up where it noticed
# (often the end of the file or the next line); its context mark is where the unfinished
# thing began, which is what the author has to fix.
YAML_HINTS: tuple[tuple[str, str, bool], ...] = (
    ("expected <block end>, but found", "a key or list item is indented differently from those before it", False),
    ("mapping values are not allowed here", "a line indented too far, or a value containing ': ' (quote it)", False),
    ("could not find expected ':'", "a missing ':' or wrong indentation", True),
    ("found character '\\t'", "YAML indents with spaces, never tabs", False),
    ("found unexpected end of stream", "a quote or bracket never closed", True),
    ("expected ',' or ']'", "a flow list [...] not closed", True),
    ("expected ',' or '}'", "a flow mapping {...} not closed", True),
)


def _syntax_error(exc: yaml.MarkedYAMLError) -> SourceError:
    """PyYAML's error as a yaml-syntax SourceError: its position, its words, and a hint."""
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    message = f"YAML syntax error: {what}"
    for start, hint, at_context in YAML_HINTS:
        if what.startswith(start):
            message += f"; hint: {hint}"
            if at_context and exc.context_mark is not None:
                mark = exc.context_mark
            break
    return SourceError("yaml-syntax", message, _span(mark))


class _Reader:
    """Walks the node tree, collecting problems instead of stopping at the first one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, code: str, message: str, span: Span) -> None:
        self.problems.append(Problem(self.path, span, code, message))

    def text(self, node: yaml.Node, what: str) -> Text | None:
        if not isinstance(node, yaml.ScalarNode):
            self.problem("schema", f"{what} must be a string, not {_kind(node)}", _span(node.start_mark))
            return None
        # A plain or quoted scalar on one line maps offsets onto columns; the opening
        # quote moves the text one column right. Escapes in double quotes break the map.
        single_line = node.start_mark.line == node.end_mark.line
        exact = single_line and (
            node.style is None or node.style == "'" and "''" not in _raw(node) or
            node.style == '"' and "\\" not in _raw(node)
        )
        span = _span(node.start_mark)
        if node.style in ("'", '"'):
            span = Span(span.line, span.col + 1)
        return Text(str(node.value), span, exact)

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None = None) -> _Fields:
        if not isinstance(node, yaml.MappingNode):
            self.problem("schema", f"{what} must be a mapping, not {_kind(node)}", _span(node.start_mark))
            return {}
        out: _Fields = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.problem("schema", f"keys of {what} must be strings", _span(key.start_mark))
                continue
            name = str(key.value)
            if name in out:
                self.problem("duplicate-key", f"'{name}' appears twice in {what}", _span(key.start_mark))
                continue
            if allowed is not None and name not in allowed:
                self.problem(
                    "schema",
                    f"unknown key '{name}' in {what}{suggestion(name, allowed)} (expected one of: {', '.join(allowed)})",
                    _span(key.start_mark),
                )
                continue
            out[name] = (key, value)
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem("schema", f"{what} must be a list, not {_kind(node)}", _span(node.start_mark))
            return []
        return list(node.value)

    def texts(self, node: yaml.Node, what: str) -> list[Text]:
        """A string or a list of strings."""
        if isinstance(node, yaml.SequenceNode):
            found = (self.text(item, f"each entry of {what}") for item in node.value)
            return [t for t in found if t is not None]
        single = self.text(node, what)
        return [single] if single is not None else []


def _raw(node: yaml.ScalarNode) -> str:
    mark = node.start_mark
    if mark.buffer is None:
        return ""
    return str(mark.buffer[mark.pointer : node.end_mark.pointer])


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if _is_null(node):
        return "an empty value"
    return "a string"


def _is_null(node: yaml.Node) -> bool:
    """An empty value (nothing, `~` or `null`, unquoted)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _split_names(text: Text) -> Iterator[Text]:
    """'i j k' or 'i, j, k' -> one Text per name, each at its own column."""
    value = text.value
    start = None
    for pos, char in enumerate(value + " "):
        if char in fmt.NAME_SEPARATORS:
            if start is not None:
                yield Text(value[start:pos], text.at(start), text.exact)
                start = None
        elif start is None:
            start = pos


def load_derivation(path: Path) -> tuple[Derivation | None, list[Problem]]:
    """Read and check the shape of a derivation file. Returns (None, problems) when the
    file cannot be read at all; otherwise the Derivation and any schema problems."""
    shown = str(path)
    try:
        text = read_text(path)
        root = compose(text)
    except SourceError as exc:
        return None, [Problem(shown, exc.span, exc.code, exc.message)]
    return parse_document(root, shown)


# Characters no derivation needs, that would act on a terminal the report is shown in
# (C0 and C1 controls but tab and line ends: ESC starts colour, screen and hyperlink
# sequences) or reorder what a reader sees against what is checked (bidirectional
# embeddings, overrides and isolates, as in "Trojan Source"). YAML refuses them raw but
# makes them from escapes in double-quoted strings.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _control_characters(root: yaml.Node, shown: str) -> list[Problem]:
    """A problem for each scalar (key or value) holding a control character."""
    problems: list[Problem] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        else:
            found = _CONTROL_CHARACTER.search(str(node.value))
            if found:
                problems.append(
                    Problem(
                        shown,
                        _span(node.start_mark),
                        "control-character",
                        f"the control character U+{ord(found.group()):04X} is not allowed in a derivation file",
                    )
                )
    return problems


def parse_document(root: yaml.Node | None, shown: str) -> tuple[Derivation | None, list[Problem]]:
    """A composed document to a Derivation, checked against the format (derivcheck/format.py)."""
    reader = _Reader(shown)
    if root is None:
        reader.problem("schema", "the file is empty; a derivation needs at least `steps:`", Span(1, 1))
        return None, reader.problems
    refused = _control_characters(root, shown)
    if refused:
        # Nothing more is read, so no message can quote such a character.
        return None, refused
    top = reader.mapping(root, "the file", fmt.FILE.names)
    if not isinstance(root, yaml.MappingNode):
        return None, reader.problems
    # The sections are read in this order, which is the order of their problems.
    _version(reader, top)
    sizes, minima = _sizes(reader, top["sizes"][1]) if "sizes" in top else ([], [])
    indices = _indices(reader, top["indices"][1]) if "indices" in top else []
    variables = _variables(reader, top["variables"][1]) if "variables" in top else []
    definitions = _definitions(reader, top["definitions"][1]) if "definitions" in top else []
    assumptions = _assumptions(reader, top["assumptions"][1]) if "assumptions" in top else []
    for name in fmt.FILE.required:
        if name not in top:
            reader.problem("schema", f"the file has no `{name}:`", Span(1, 1))
    steps = _steps(reader, top["steps"][1]) if "steps" in top else []
    derivation = Derivation(
        path=shown,
        title=_scalar(reader, top, "title"),
        source=_scalar(reader, top, "source"),
        description=_scalar(reader, top, "description"),
        layout=_layout(reader, top),
        sizes=tuple(sizes),
        minima=tuple(minima),
        indices=tuple(indices),
        variables=tuple(variables),
        definitions=tuple(definitions),
        assumptions=tuple(assumptions),
        steps=tuple(steps),
    )
    return derivation, reader.problems


def _scalar(reader: _Reader, top: _Fields, key: str) -> str | None:
    if key not in top:
        return None
    found = reader.text(top[key][1], f"`{key}`")
    return found.value if found else None


def _version(reader: _Reader, top: _Fields) -> None:
    version = _scalar(reader, top, "derivcheck")
    if version is not None and version not in fmt.VERSION.values:
        reader.problem(
            "schema",
            f"this file asks for format version {version}; this derivcheck reads version {FORMAT_VERSION}",
            _span(top["derivcheck"][1].start_mark),
        )


def _sizes(reader: _Reader, node: yaml.Node) -> tuple[list[Text], list[tuple[str, Text]]]:
    """`sizes:` as names (`[N, D]`, `N D`), or with least values: a mapping `{N: {min: 3}, D: {}}`,
    or a list whose entries may be such mappings (`[N, {D: {min: 2}}]`)."""
    sizes: list[Text] = []
    minima: list[tuple[str, Text]] = []
    entries = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for entry in entries:
        if isinstance(entry, yaml.MappingNode):
            _size_minima(reader, entry, sizes, minima)
            continue
        found = reader.text(entry, "each entry of `sizes`" if isinstance(node, yaml.SequenceNode) else "`sizes`")
        sizes.extend(_split_names(found) if found is not None else [])
    return sizes, minima


def _size_minima(reader: _Reader, node: yaml.MappingNode, sizes: list[Text], minima: list[tuple[str, Text]]) -> None:
    """`{N: {min: 3}, D: {}}` (or `D:`, empty): each size's name into `sizes`, its least value into `minima`."""
    for key, value in reader.mapping(node, "`sizes`").values():
        name = reader.text(key, "a size's name")
        if name is None:
            continue
        sizes.append(name)
        if _is_null(value):
            continue
        least = reader.mapping(value, f"the size {name.value} (like {{min: 3}})", fmt.SIZE_LEAST.names).get("min")
        if least is None:
            continue
        text = reader.text(least[1], f"the least value of {name.value}")
        if text is not None and re.search(fmt.LEAST.pattern, text.value) is None:
            reader.problem(
                "schema",
                f"the least value of {name.value} must be a whole number from {fmt.LEAST.low} to {fmt.LEAST.high}, "
                f"not '{text.value}'",
                text.span,
            )
        elif text is not None:
            minima.append((name.value, text))


def _layout(reader: _Reader, top: _Fields) -> str:
    default = fmt.LAYOUT.default or fmt.LAYOUTS[0]
    if "layout" not in top:
        return default
    text = reader.text(top["layout"][1], "`layout`")
    if text is None:
        return default
    if text.value not in fmt.LAYOUT.values:
        reader.problem("schema", f"`layout` is {' or '.join(fmt.LAYOUT.values)}, not '{text.value}'", text.span)
        return default
    return text.value


def _indices(reader: _Reader, node: yaml.Node) -> list[IndexDecl]:
    indices: list[IndexDecl] = []
    for key, value in reader.mapping(node, "`indices`").values():
        names = reader.text(key, "an index name")
        bounds = _range(reader, value)
        if names is not None and bounds is not None:
            indices.extend(IndexDecl(name, bounds[0], bounds[1]) for name in _split_names(names))
    return indices


def _range(reader: _Reader, node: yaml.Node) -> tuple[Text, Text] | None:
    """'1..N' or [1, N]."""
    if isinstance(node, yaml.SequenceNode):
        parts = [reader.text(item, "a range bound") for item in node.value]
        if len(parts) != 2 or None in parts:
            reader.problem("schema", "a range is written `1..N` or `[1, N]`", _span(node.start_mark))
            return None
        return parts[0], parts[1]  # type: ignore[return-value]
    text = reader.text(node, "an index range")
    if text is None:
        return None
    low, sep, high = text.value.partition(fmt.RANGE_SEPARATOR)
    if not sep or not low.strip() or not high.strip():
        reader.problem("schema", f"an index range is written like `1..N`, not `{text.value}`", text.span)
        return None
    low_at = len(low) - len(low.lstrip())
    high_at = len(low) + len(sep) + (len(high) - len(high.lstrip()))
    return (
        Text(low.strip(), text.at(low_at), text.exact),
        Text(high.strip(), text.at(high_at), text.exact),
    )


def _variables(reader: _Reader, node: yaml.Node) -> list[VariableDecl]:
    found = (_variable(reader, key, value) for key, value in reader.mapping(node, "`variables`").values())
    return [decl for decl in found if decl is not None]


def _variable(reader: _Reader, key: yaml.Node, value: yaml.Node) -> VariableDecl | None:
    name = reader.text(key, "a variable name")
    if name is None:
        return None
    shape: list[Text] = []
    assume: list[str] = []
    if isinstance(value, yaml.SequenceNode):
        shape = [t for t in (reader.text(v, "a size in a shape") for v in value.value) if t]
    elif isinstance(value, yaml.MappingNode):
        fields = reader.mapping(value, f"the variable {name.value}", fmt.VARIABLE_FIELDS.names)
        if "shape" in fields:
            node = fields["shape"][1]
            items = reader.sequence(node, f"the shape of {name.value}")
            shape = [t for t in (reader.text(v, "a size in a shape") for v in items) if t]
        if "assume" in fields:
            assume = _words(reader, fields["assume"][1], f"the assumptions of {name.value}")
    else:
        assume = _words(reader, value, f"the variable {name.value}")
    for word in assume:
        if word not in fmt.SIGN_WORDS:
            reader.problem(
                "schema",
                f"unknown assumption '{word}' for {name.value} (expected: {', '.join(fmt.SIGN_WORDS)})",
                _span(value.start_mark),
            )
            return None
    return VariableDecl(name, tuple(shape), tuple(assume))


def _words(reader: _Reader, node: yaml.Node, what: str) -> list[str]:
    """The words of a string or of a list of strings. An empty value has none (`t:` is real, as
    is `t: ~`): the schema's null, which cannot tell the spellings of an empty value apart."""
    listed = isinstance(node, yaml.SequenceNode)
    words: list[str] = []
    for item in node.value if listed else [node]:
        if _is_null(item):
            continue
        text = reader.text(item, f"each entry of {what}" if listed else what)
        if text is not None:
            words.extend(part.value for part in _split_names(text))
    return words


def _definitions(reader: _Reader, node: yaml.Node) -> list[Definition]:
    definitions: list[Definition] = []
    for key, value in reader.mapping(node, "`definitions`").values():
        head = reader.text(key, "a definition's name")
        body = reader.text(value, f"the definition of {key.value}")
        if head is not None and body is not None:
            definitions.append(Definition(head, body))
    return definitions


def _assumptions(reader: _Reader, node: yaml.Node) -> list[Assumption]:
    assumptions: list[Assumption] = []
    for key, value in reader.mapping(node, "`assumptions`").values():
        name = reader.text(key, "an assumption's name")
        statement = reader.text(value, f"the assumption {key.value}")
        if name is not None and statement is not None:
            assumptions.append(Assumption(name, statement))
    return assumptions


def _steps(reader: _Reader, node: yaml.Node) -> list[StepSpec]:
    steps: list[StepSpec] = []
    seen_ids: dict[str, Span] = {}
    for number, item in enumerate(reader.sequence(node, "`steps`"), start=1):
        step = _step(reader, item, number, seen_ids)
        if step is not None:
            steps.append(step)
            if step.id is not None:
                seen_ids[step.id.value] = step.id.span
    return steps


def _step(reader: _Reader, node: yaml.Node, number: int, seen_ids: dict[str, Span]) -> StepSpec | None:
    fields = reader.mapping(node, f"step {number}", fmt.STEP.names)
    if not isinstance(node, yaml.MappingNode):
        return None
    span = _span(node.start_mark)
    step_id = _step_id(reader, fields["id"][1], seen_ids) if "id" in fields else None
    claim = reader.text(fields["claim"][1], "a claim") if "claim" in fields else None
    chain = _chain(reader, fields["chain"][1]) if "chain" in fields else []
    if (claim is None) == ("chain" not in fields):
        one_of = " or ".join(f"`{name}:`" for name in fmt.STEP.one_of)
        reader.problem("schema", f"step {number} needs exactly one of {one_of}", span)
        return None
    if "chain" in fields and len(chain) < fmt.CHAIN.min_items:
        reader.problem("schema", f"the chain of step {number} needs at least {_in_words(fmt.CHAIN.min_items)} expressions", span)
        return None
    by, by_ids = _by(reader, fields["by"][1], seen_ids) if "by" in fields else (None, [])
    where = reader.texts(fields["where"][1], "`where`") if "where" in fields else []
    expect = _expect(reader, fields["expect"][1]) if "expect" in fields else None
    return StepSpec(
        number=number,
        span=span,
        id=step_id,
        claim=claim,
        chain=tuple(chain),
        by=by,
        by_ids=tuple(by_ids),
        where=tuple(where),
        expect_refuted=expect == fmt.EXPECT_REFUTED,
        expect_error=expect if expect in fmt.EXPECTABLE_ERRORS else None,
    )


def _in_words(count: int) -> str:
    return ("no", "one", "two", "three", "four")[count] if count < 5 else str(count)


def _step_id(reader: _Reader, node: yaml.Node, seen_ids: dict[str, Span]) -> Text | None:
    step_id = reader.text(node, "a step id")
    if step_id is None:
        return None
    # `id: null` is YAML's null to an editor's schema, which refuses it, so it is refused here too.
    if _is_null(node) or re.search(fmt.STEP_ID.pattern, step_id.value) is None:
        reader.problem("schema", f"a step id is {fmt.plain(fmt.STEP_ID.doc)}, not '{step_id.value}'", step_id.span)
    elif step_id.value in seen_ids:
        first = seen_ids[step_id.value]
        reader.problem("duplicate-id", f"step id '{step_id.value}' is already used at line {first.line}", step_id.span)
        return None
    return step_id


def _chain(reader: _Reader, node: yaml.Node) -> list[Link]:
    """A chain's expressions, each a string or `{expr: ..., by: ...}`."""
    chain: list[Link] = []
    for item in reader.sequence(node, "a chain"):
        if not isinstance(item, yaml.MappingNode):
            expr = reader.text(item, "a chain expression")
            if expr is not None:
                chain.append(Link(expr, None))
            continue
        parts = reader.mapping(item, "a chain entry", fmt.CHAIN_ENTRY.names)
        missing = [name for name in fmt.CHAIN_ENTRY.required if name not in parts]
        if missing:
            reader.problem("schema", f"a chain entry written as a mapping needs `{missing[0]}:`", _span(item.start_mark))
            continue
        expr = reader.text(parts["expr"][1], "a chain expression")
        by = reader.text(parts["by"][1], "`by`") if "by" in parts else None
        if expr is not None:
            chain.append(Link(expr, by))
    return chain


def _by(reader: _Reader, node: yaml.Node, seen_ids: dict[str, Span]) -> tuple[Text | None, list[Text]]:
    """`by:` as words, or as a list of the ids of earlier steps."""
    if not isinstance(node, yaml.SequenceNode):
        return reader.text(node, "`by`"), []
    by_ids = reader.texts(node, "`by`")
    for ref in by_ids:
        if ref.value not in seen_ids:
            reader.problem("unknown-reference", f"`by` names '{ref.value}', which is not the id of an earlier step", ref.span)
    return None, by_ids


def _expect(reader: _Reader, node: yaml.Node) -> str | None:
    """The value of `expect:`, or None (and a problem) when it is not one of the format's."""
    expect = reader.text(node, "`expect`")
    if expect is None:
        return None
    if expect.value not in fmt.EXPECT.values:
        reader.problem(
            "schema",
            f"`expect` is `{fmt.EXPECT_REFUTED}` or one of {', '.join(fmt.EXPECTABLE_ERRORS)}, not '{expect.value}'",
            expect.span,
        )
        return None
    return expect.value
