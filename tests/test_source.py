"""Tests for derivcheck.source: reading files safely, and YAML to a Derivation with positions."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from derivcheck import source
from derivcheck.model import Span
from derivcheck.source import SourceError, load_derivation, read_text

GOOD = "title: good\nvariables:\n  t: real\nsteps:\n  - claim: t = t\n"


def _codes(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    _, found = load_derivation(path)
    return [f"{p.code} {p.span}" for p in found]


# -- reading ---------------------------------------------------------------------------------


def test_a_regular_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(GOOD)
    assert read_text(path) == GOOD


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_bytes(b"#" * source.MAX_FILE_BYTES)
    assert len(read_text(path)) == source.MAX_FILE_BYTES
    path.write_bytes(b"#" * (source.MAX_FILE_BYTES + 1))
    with pytest.raises(SourceError) as caught:
        read_text(path)
    assert caught.value.code == "too-large"


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as missing:
        read_text(tmp_path / "nope.yaml")
    assert missing.value.code == "not-found"
    with pytest.raises(SourceError) as directory:
        read_text(tmp_path)
    assert (directory.value.code, directory.value.message) == ("unreadable", "is a directory")


def test_a_fifo_without_a_writer_gives_up_after_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "PIPE_WAIT_SECONDS", 0.3)
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(SourceError) as caught:
        read_text(fifo)
    assert caught.value.code == "unreadable"
    assert "FIFO" in caught.value.message
    assert time.monotonic() - start < 2


def test_a_fifo_with_a_writer_is_read(tmp_path: Path) -> None:
    # The accepts twin: what a pipe delivers in time is read, as with `verify <(cat file)`.
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as stream:  # blocks until the reader opens the FIFO
            for line in GOOD.splitlines(keepends=True):
                stream.write(line)
                stream.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:  # the reader may open before the writer does
        text = read_text(fifo)
        if text:
            break
    writer.join(5)
    assert text == GOOD


def test_an_anonymous_pipe_is_read(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, GOOD.encode())
    os.close(write_end)
    try:
        assert read_text(Path(f"/proc/self/fd/{read_end}")) == GOOD
    finally:
        os.close(read_end)


def test_an_endless_device_stops_at_the_limit() -> None:
    start = time.monotonic()
    with pytest.raises(SourceError) as caught:
        read_text(Path("/dev/zero"))
    assert caught.value.code == "too-large"
    assert time.monotonic() - start < 5


def test_an_empty_device_is_an_empty_file() -> None:
    _, found = load_derivation(Path("/dev/null"))
    assert [(p.code, p.span) for p in found] == [("schema", Span(1, 1))]


def test_a_read_error_is_unreadable() -> None:
    with pytest.raises(SourceError) as caught:
        read_text(Path("/proc/self/mem"))  # a regular file whose reads fail with EIO
    assert caught.value.code == "unreadable"


def test_bytes_that_are_not_utf8_are_placed(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_bytes(b"title: x\nsteps:\n  - claim: t = \xe9t\n")
    with pytest.raises(SourceError) as caught:
        read_text(path)
    assert (caught.value.code, caught.value.span) == ("unreadable", Span(3, 16))
    assert "0xe9" in caught.value.message


# -- YAML ------------------------------------------------------------------------------------


def test_a_nul_byte_is_placed(tmp_path: Path) -> None:
    assert _codes("title: x\nsteps:\n  - claim: t\x00 = t\n", tmp_path) == ["yaml-syntax 3:13"]


def test_aliases_are_refused_where_they_are(tmp_path: Path) -> None:
    text = "a: &x [1, 2]\nb: [*x, *x]\nsteps: []\n"
    assert _codes(text, tmp_path) == ["yaml-alias 2:5"]


def test_anchors_alone_are_harmless(tmp_path: Path) -> None:
    assert _codes("title: &t x\nvariables:\n  t: real\nsteps:\n  - &s\n    claim: t = t\n", tmp_path) == []


@pytest.mark.parametrize(
    ("escape", "code_point"),
    [("\\e[2J", "001B"), ("\\a", "0007"), ("\\x9b", "009B"), ("\\u202E", "202E"), ("\\u2066", "2066"), ("\\x7f", "007F")],
)
def test_control_characters_are_refused(escape: str, code_point: str, tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(f'variables:\n  t: real\nsteps:\n  - claim: t = t\n    by: "a{escape}b"\n')
    derivation, found = load_derivation(path)
    assert derivation is None
    assert [(p.code, str(p.span)) for p in found] == [("control-character", "5:9")]
    assert f"U+{code_point}" in found[0].message
    assert "\x1b" not in found[0].message


def test_tabs_line_breaks_and_other_scripts_are_allowed(tmp_path: Path) -> None:
    # The accepts twin: a block scalar with line breaks, a tab, and non-Latin text.
    text = (
        'title: "Σ and ∂, naïve, 日本語, עברית\\tok"\nvariables:\n  t: real\nsteps:\n'
        "  - claim: |\n      t\n      = t\n    by: >\n      two\n      lines\n"
    )
    assert _codes(text, tmp_path) == []


def test_wrong_kinds_are_named(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("variables:\nsteps: {a: b}\n")
    _, found = load_derivation(path)
    messages = {p.message for p in found}
    assert "`variables` must be a mapping, not an empty value" in messages
    assert "`steps` must be a list, not a mapping" in messages


# -- positions -------------------------------------------------------------------------------


def _claim(text: str, tmp_path: Path) -> source.Text:
    path = tmp_path / "d.yaml"
    path.write_text(text)
    derivation, found = load_derivation(path)
    assert derivation is not None and not found
    claim = derivation.steps[0].claim
    assert claim is not None
    return claim


@pytest.mark.parametrize(
    ("line", "exact", "col_of_x"),
    [
        ("  - claim: t = x", True, 16),
        ("  - claim: 't = x'", True, 17),
        ('  - claim: "t = x"', True, 17),
        ("  - claim: 'it''s = x'", False, 13),  # the start of the text, after the quote
        ('  - claim: "t = \\u0078"', False, 13),
    ],
)
def test_offsets_map_onto_columns_only_when_exact(line: str, exact: bool, col_of_x: int, tmp_path: Path) -> None:
    claim = _claim(f"variables:\n  t: real\nsteps:\n{line}\n", tmp_path)
    assert claim.exact is exact
    assert claim.at(claim.value.index("x")) == Span(4, col_of_x)


def test_a_block_scalar_points_at_its_start(tmp_path: Path) -> None:
    claim = _claim("variables:\n  t: real\nsteps:\n  - claim: >\n      t =\n      x\n", tmp_path)
    assert claim.exact is False
    assert claim.at(4) == claim.span


def test_steps_keep_numbers_and_ids_past_bad_steps(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("variables:\n  t: real\nsteps:\n  - 5\n  - id: two\n    claim: t = t\n  - {id: two, claim: t = t}\n")
    derivation, found = load_derivation(path)
    assert [(p.code, str(p.span)) for p in found] == [("schema", "4:5"), ("duplicate-id", "7:10")]
    assert derivation is not None
    assert [(s.number, s.id.value if s.id else None) for s in derivation.steps] == [(2, "two"), (3, None)]
