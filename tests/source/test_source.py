"""Tests for derivcheck.source: reading files safely, and YAML to a Derivation with positions."""

from __future__ import annotations

import os
import subprocess
import sys
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


# Each broken file, the position of its real problem, and the words of its hint. Where PyYAML
# notices the problem late (the end of the file, the next line), the position is where the
# unfinished thing began: the quote, the bracket, the key without its ':'.
YAML_MISTAKES = {
    "indented_differently": ("steps:\n  - claim: 1 = 1\n   - claim: 2 = 2\n", "3:4", "indented differently"),
    "value_with_colon": ("steps:\n  - claim: 1 = 1\n    by: note: this\n", "3:13", "quote it"),
    "indented_too_far": ("steps:\n  - claim: 1 = 1\n      by: x\n", "3:9", "indented too far"),
    "missing_colon": ("steps:\n  - claim: 1 = 1\n    by x\n    where: k != j\n", "3:5", "a missing ':'"),
    "tab": ("steps:\n\t- claim: 1 = 1\n", "2:1", "never tabs"),
    "quote_never_closed": ("title: x\nsteps:\n  - claim: \"1 = 1\n  - claim: 2 = 2\n", "3:12", "never closed"),
    "flow_list_not_closed": ("sizes: [N, D\nsteps:\n  - claim: 1 = 1\n", "1:8", "flow list [...] not closed"),
    "flow_list_at_the_end": ("steps:\n  - claim: 1 = 1\n    where: [k != j\n", "3:12", "flow list [...] not closed"),
}


@pytest.mark.parametrize("name", sorted(YAML_MISTAKES))
def test_a_yaml_mistake_is_placed_and_hinted(name: str, tmp_path: Path) -> None:
    text, position, hint = YAML_MISTAKES[name]
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    _, found = load_derivation(path)
    assert [f"{p.code} {p.span}" for p in found] == [f"yaml-syntax {position}"]
    message = found[0].message
    assert message.startswith("YAML syntax error: ") and "; hint: " in message and hint in message
    assert "\n" not in message


def test_a_yaml_error_without_a_known_cause_has_no_hint(tmp_path: Path) -> None:
    # The rejects twin: two documents in one file is not one of the hinted mistakes.
    path = tmp_path / "d.yaml"
    path.write_text("steps: []\n---\nsteps: []\n", encoding="utf-8")
    _, found = load_derivation(path)
    assert [p.code for p in found] == ["yaml-syntax"] and "hint" not in found[0].message


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


# -- the format's words and patterns, as the loader applies them -------------------------------


def _load(text: str, tmp_path: Path) -> tuple[source.Derivation | None, list[tuple[str, str, str]]]:
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    derivation, found = load_derivation(path)
    return derivation, [(p.code, str(p.span), p.message) for p in found]


@pytest.mark.parametrize("value", ["", " ~", " null"])
def test_an_empty_variable_is_a_real_scalar(value: str, tmp_path: Path) -> None:
    # An editor's schema sees YAML's null in all three spellings, so the loader reads them alike.
    derivation, found = _load(f"variables:\n  t:{value}\n  u: {{assume: [~, positive]}}\nsteps: []\n", tmp_path)
    assert found == []
    assert derivation is not None
    assert [(v.name.value, v.shape, v.assume) for v in derivation.variables] == [("t", (), ()), ("u", (), ("positive",))]


def test_a_misspelled_sign_is_refused_at_the_variable(tmp_path: Path) -> None:
    # The refuses twin: a word that is not one of format.SIGN_WORDS.
    _, found = _load("variables:\n  t: nul\nsteps: []\n", tmp_path)
    assert found == [("schema", "2:6", "unknown assumption 'nul' for t (expected: real, positive, nonnegative, negative)")]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("null", "a step id is letters, digits, _ and -, not 'null'"),
        ("über", "a step id is letters, digits, _ and -, not 'über'"),
        ("'a b'", "a step id is letters, digits, _ and -, not 'a b'"),
    ],
)
def test_a_step_id_outside_the_pattern_is_refused_where_it_is(written: str, message: str, tmp_path: Path) -> None:
    _, found = _load(f"variables:\n  t: real\nsteps:\n  - id: {written}\n    claim: t = t\n", tmp_path)
    col = "10" if written.startswith("'") else "9"
    assert found == [("schema", f"4:{col}", message)]


@pytest.mark.parametrize("written", ["'null'", "uber", "7", "true", "step_1-b"])
def test_a_step_id_in_the_pattern_is_accepted(written: str, tmp_path: Path) -> None:
    derivation, found = _load(f"variables:\n  t: real\nsteps:\n  - id: {written}\n    claim: t = t\n", tmp_path)
    assert found == []
    assert derivation is not None and derivation.steps[0].id is not None
    assert derivation.steps[0].id.value == written.strip("'")


def test_least_values_from_the_format(tmp_path: Path) -> None:
    derivation, found = _load("sizes: {N: {min: '0007'}, M: {min: 1000}, K: {}, L:}\nsteps: []\n", tmp_path)
    assert found == []
    assert derivation is not None
    assert [s.value for s in derivation.sizes] == ["N", "M", "K", "L"]
    assert [(name, text.value) for name, text in derivation.minima] == [("N", "0007"), ("M", "1000")]


@pytest.mark.parametrize("least", ["0", "1001", "'٣'", "3.0", "'+3'"])
def test_least_values_outside_the_format_are_refused(least: str, tmp_path: Path) -> None:
    _, found = _load(f"sizes: [N, {{D: {{min: {least}}}}}]\nsteps: []\n", tmp_path)
    assert [(code, message) for code, _, message in found] == [
        ("schema", f"the least value of D must be a whole number from 1 to 1000, not '{least.strip(chr(39))}'")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variables:\n  t: {sign: positive}\nsteps: []\n", "unknown key 'sign' in the variable t (expected one of: shape, assume)"),
        ("sizes: {N: {max: 3}}\nsteps: []\n", "unknown key 'max' in the size N (like {min: 3}) (expected one of: min)"),
        ("steps:\n  - chain: [t, {expr: t, because: x}]\n", "unknown key 'because' in a chain entry (expected one of: expr, by)"),
        # A key close to a known one is suggested (the twins above have none close).
        ("variables:\n  t: {shpe: [N]}\nsteps: []\n", "unknown key 'shpe' in the variable t; did you mean 'shape'? (expected one of: shape, assume)"),
        ("sizes: {N: {mni: 3}}\nsteps: []\n", "unknown key 'mni' in the size N (like {min: 3}); did you mean 'min'? (expected one of: min)"),
        ("steps:\n  - chain: [t, {exp: t}]\n", "unknown key 'exp' in a chain entry; did you mean 'expr'? (expected one of: expr, by)"),
    ],
)
def test_unknown_keys_are_named_with_the_keys_of_their_level(text: str, message: str, tmp_path: Path) -> None:
    _, found = _load(text, tmp_path)
    assert ("schema", message) in [(code, m) for code, _, m in found]


@pytest.mark.parametrize("expect", ["refuted", "shape-mismatch", "free-index-mismatch"])
def test_every_expect_value_is_read(expect: str, tmp_path: Path) -> None:
    derivation, found = _load(f"variables:\n  t: real\nsteps:\n  - claim: t = t\n    expect: {expect}\n", tmp_path)
    assert found == []
    assert derivation is not None
    step = derivation.steps[0]
    assert (step.expect_refuted, step.expect_error) == (expect == "refuted", None if expect == "refuted" else expect)


def test_an_expect_value_outside_the_format_is_refused(tmp_path: Path) -> None:
    _, found = _load("variables:\n  t: real\nsteps:\n  - claim: t = t\n    expect: shape_mismatch\n", tmp_path)
    assert found == [
        ("schema", "5:13", "`expect` is `refuted` or one of shape-mismatch, free-index-mismatch, not 'shape_mismatch'")
    ]


def test_reading_a_file_imports_neither_sympy_nor_the_engine(tmp_path: Path) -> None:
    # A warm run reads files and the cache only: the format and the loader must stay light.
    path = tmp_path / "d.yaml"
    path.write_text(GOOD, encoding="utf-8")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from derivcheck.source import load_derivation\n"
        f"derivation, problems = load_derivation(Path({str(path)!r}))\n"
        "assert derivation is not None and problems == [], problems\n"
        "heavy = sorted(m for m in sys.modules if m == 'sympy' or m.startswith(('sympy.', 'derivcheck.engine', 'derivcheck.prepare')))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_import_check_sees_sympy_when_it_is_imported() -> None:
    # The rejects twin: the same probe reports SymPy once something imports it.
    code = "import sys, sympy\nprint(sorted(m for m in sys.modules if m == 'sympy'))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['sympy']"
