"""Tests for `derivcheck render`: Markdown and HTML documents, escaping, and the HTML in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivcheck import cli, render
from derivcheck.prepare import printing
from derivcheck.model import EXIT_ERROR, EXIT_FAIL, EXIT_OK

REPO = Path(__file__).resolve().parents[2]
SOFTMAX_CE = REPO / "derivations" / "softmax_ce.yaml"
runner = CliRunner()

# Every piece of text a file's author writes, made hostile for Markdown and HTML.
NASTY = "<script>alert(1)</script> **bold** $x$ [a](javascript:alert(1)) & \"q\" 'q' `c` | <img src=x onerror=alert(1)>"

SMALL = f"""\
title: '{NASTY.replace("'", "''")}'
source: '{NASTY.replace("'", "''")}'
description: '{NASTY.replace("'", "''")}'
variables:
  t: real
  u: positive
definitions:
  s: 1/(1 + exp(-t))
steps:
  - id: holds
    claim: exp(t)*exp(-t) = 1
    by: '{NASTY.replace("'", "''")}'
  - id: slip
    claim: t + t = 3*t
    expect: refuted
    by: a slip kept for teaching
  - id: wrong
    claim: s*(1 - s) = s
  - chain:
      - Derivative(s, t)
      - expr: exp(-t)/(1 + exp(-t))**2
        by: quotient rule
      - s*(1 - s)
  - claim: t + <b>1</b> = 1
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


# -- the document ------------------------------------------------------------------------------


def test_the_document_has_every_part_in_order() -> None:
    document = render.build_document(SOFTMAX_CE, check=False)
    assert document.title == "Softmax + cross-entropy, single example"
    assert [entry.name for entry in document.definitions] == ["z[i]", "a[k]", "L"]
    assert all(entry.math is not None for entry in document.definitions)
    assert [step.id for step in document.steps][:3] == ["softmax_sums_to_one", "loss_one_hot", "dL_da"]
    chain = document.steps[6]
    assert [line.link for line in chain.lines] == [False] + [True] * 7
    assert all(line.math is not None for line in chain.lines)
    assert document.result is None
    assert ("indices i, j, k, n", "1..N") in document.declarations


def test_derivatives_print_as_partial_fractions() -> None:
    math = render.build_document(SOFTMAX_CE, check=False).steps[2].lines[0].math
    assert math is not None
    assert math.latex == r"\frac{\partial L}{\partial {a}_{k}} = - \frac{{y}_{k}}{{a}_{k}}"
    assert "<mfrac><mrow><mo>\u2202</mo><mi>L</mi></mrow><mrow><mo>\u2202</mo><msub><mi>a</mi>" in math.mathml


def test_a_file_that_cannot_be_read_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(render.RenderError) as info:
        render.build_document(tmp_path / "missing.yaml", check=False)
    assert info.value.fatal
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [", encoding="utf-8")
    with pytest.raises(render.RenderError) as info:
        render.build_document(bad, check=False)
    assert not info.value.fatal
    assert info.value.problems[0].code == "yaml-syntax"


# -- Markdown ----------------------------------------------------------------------------------


def math_blocks(text: str) -> list[str]:
    """The content of each $$ block; fails on a block that is not closed or not well formed."""
    blocks: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index] == "$$":
            end = lines.index("$$", index + 1)
            content = lines[index + 1 : end]
            assert len(content) == 1 and content[0].strip(), content  # one line, never blank
            assert "$" not in content[0]
            assert lines[index - 1] == "" and lines[end + 1] == ""  # blocks stand alone
            blocks.append(content[0])
            index = end + 1
            continue
        assert "$$" not in lines[index], lines[index]
        index += 1
    return blocks


def balanced(latex: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\[{}]", "", latex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_markdown_has_valid_math_blocks() -> None:
    text = render.render_file(SOFTMAX_CE, to="markdown", check=False)
    blocks = math_blocks(text)
    assert len(blocks) == 3 + 8 + 8  # definitions, claims, the chain's eight expressions
    assert all(balanced(block) for block in blocks)
    assert r"= {a}_{j} - {y}_{j}" in blocks
    assert text.startswith("# Softmax + cross-entropy, single example\n")
    assert "*where* $k \\neq j$" in text
    assert "--no-check" in text


def test_markdown_rejects_a_broken_block() -> None:
    # The twin of the test above: the checker of $$ blocks can fail.
    with pytest.raises((AssertionError, ValueError)):
        math_blocks("a\n\n$$\nx\n\ny\n")
    assert not balanced(r"\frac{a}{b")


def test_markdown_escapes_everything_the_author_wrote(small: Path) -> None:
    text = render.render_file(small, to="markdown", check=True, timeout=None)
    # The title, source, description and `by` come out as text, not markup or math.
    # Every < the author wrote is backslash-escaped; the only raw tag is derivcheck's footer.
    # (A fenced code block shows its text as is.)
    outside_fences = re.sub(r"^```text\n.*?\n```$", "", text, flags=re.MULTILINE | re.DOTALL)
    assert re.findall(r"(?<!\\)<[^\s]*", outside_fences) == ["<sub>Rendered", "</sub>"]
    assert "\\<img src=x onerror=alert(1)\\>" in text
    assert r"\<script\>alert(1)\</script\> \*\*bold\*\* \$x\$ \[a\](javascript:alert(1)) \& " in text
    assert text.startswith(r"# \<script\>")
    assert re.search(r"^\$[^$]", text, re.MULTILINE) is None  # no inline math opened by the author
    # A claim that does not parse is shown as written, in a fence.
    assert "```text\nt + <b>1</b> = 1\n```" in text


# Text that opens a block, or raw HTML, where it starts a line; and a line that ends a heading.
LINE_STARTS = [
    "# Injected heading", "###### h6", "- item", "+ item", "* item", "1. item", "7) item",
    "123456789. item", "> quote", "| a | b |", "<div>html</div>", "<!-- comment", "<script>x</script>",
    "```", "~~~ fence", "***", "---", "___", "- - -", "===", "[ref]: https://example.com",
    "Ends a heading #", "    indented code", "\t- tabbed item",
]  # fmt: skip


def _markdown_text(html_text: str) -> str:
    """The text of an HTML fragment that markdown-it made (its tags dropped, entities read)."""
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html_text))


def _read_as_written(markdown: str, text: str) -> list[str]:
    """How the Markdown of a one-step file whose title, source, description and `by:` are all
    `text` fails to show it as written, as markdown-it (CommonMark, with GFM tables) reads it."""
    from markdown_it import MarkdownIt

    shown = " ".join(text.split())
    page = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    wrong: list[str] = []
    where = {
        "title": r"<h1>(.*?)</h1>",
        "source": r"<p><strong>Source:</strong> (.*?)</p>",
        "description": r"<p>(.*?)</p>",
        "by": r"<p><em>by</em> (.*?)</p>",
    }
    for part, pattern in where.items():
        if shown not in [_markdown_text(found) for found in re.findall(pattern, page)]:
            wrong.append(f"the {part} is not shown as written")
    counts = {tag: len(re.findall(f"<{tag}[ >]", page)) for tag in ("h1", "h2", "h3", "ul", "li", "ol", "blockquote", "table", "hr", "pre")}
    if counts != {"h1": 1, "h2": 2, "h3": 1, "ul": 1, "li": 1, "ol": 0, "blockquote": 0, "table": 0, "hr": 0, "pre": 0}:
        wrong.append(f"blocks: {counts}")
    raw = [tag for tag in re.findall(r"<(/?[a-z!][^ >]*)", page) if tag.lstrip("/") not in {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "code", "sub"}]
    if raw:
        wrong.append(f"raw HTML: {raw}")
    return wrong


def _one_step_file(tmp_path: Path, text: str) -> Path:
    quoted = "'" + text.replace("'", "''") + "'"
    path = tmp_path / "hostile.yaml"
    path.write_text(
        f"title: {quoted}\nsource: {quoted}\ndescription: {quoted}\n"
        f"variables:\n  t: real\nsteps:\n  - claim: t + t = 2*t\n    by: {quoted}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("text", LINE_STARTS)
def test_markdown_shows_text_that_starts_a_line_as_written(text: str, tmp_path: Path) -> None:
    markdown = render.render_file(_one_step_file(tmp_path, text), to="markdown", check=False)
    assert _read_as_written(markdown, text) == []


@pytest.mark.parametrize("text", ["# Injected heading", "- item", "+ item", "1. item", "7) item", "---", "- - -", "Ends a heading #"])
def test_the_markdown_reading_sees_text_that_is_not_escaped(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The twin of the test above: escaping only what is special inside a line, as before, lets
    # each of these open a block (or a heading lose its end), and the reading above says so.
    from derivcheck.report.diagnostics import one_line

    inline_only = lambda value: re.sub(r"([\\`*_\[\]<>|~&$])", r"\\\1", one_line(value))  # noqa: E731
    from derivcheck.report import render as report_render

    monkeypatch.setattr(report_render, "markdown_escape", inline_only)
    markdown = render.render_file(_one_step_file(tmp_path, text), to="markdown", check=False)
    assert _read_as_written(markdown, text) != []
    assert _read_as_written(markdown.replace(text, "plain words"), "plain words") == []


def test_markdown_shows_each_verdict(small: Path) -> None:
    text = render.render_file(small, to="markdown", check=True, timeout=None)
    assert "**✅ proved**" in text
    assert "**✅ refuted (expected)**" in text
    assert "**❌ refuted**" in text
    assert "**⚠️ error**" in text
    assert "counterexample: at t = " in text
    assert "1 step does not hold" not in text  # two do: the wrong claim and the error
    assert "2 steps do not hold" in text


# -- HTML --------------------------------------------------------------------------------------


def test_html_is_self_contained_and_escaped(small: Path) -> None:
    text = render.render_file(small, to="html", check=True, timeout=None)
    assert text.startswith("<!DOCTYPE html>\n")
    lowered = text.lower()
    for forbidden in ("http://", "https://", "@import", "url("):
        assert forbidden not in lowered, forbidden
    tags = {tag for tag in re.findall(r"<([a-z]+)", lowered)}
    assert not tags & {"script", "img", "link", "iframe", "object", "embed", "a", "svg"}, tags
    for tag in re.findall(r"<[a-z][^>]*>", lowered):
        assert not re.search(r"\s(src|href|on[a-z]+)=", tag), tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold** $x$ [a](javascript:alert(1)) &amp; &quot;q&quot; &#x27;q&#x27;" in text
    assert "default-src 'none'" in text  # no script runs and nothing loads, even if one slipped in
    assert "<pre><code>t + &lt;b&gt;1&lt;/b&gt; = 1</code></pre>" in text


def test_html_shows_each_verdict(small: Path) -> None:
    text = render.render_file(small, to="html", check=True, timeout=None)
    assert '<span class="badge ok">proved</span>' in text
    assert '<span class="badge ok">refuted (expected)</span>' in text
    assert '<span class="badge bad">refuted</span>' in text
    assert '<span class="badge bad">error</span>' in text
    assert 'class="summary bad"' in text


def test_html_without_check_has_no_verdicts_but_shows_parse_errors(small: Path) -> None:
    text = render.render_file(small, to="html", check=False)
    assert "badge ok" not in text
    assert '<span class="badge bad">error</span>' in text  # known without checking
    assert "no verdicts" in text


def test_the_mathml_is_whitelisted() -> None:
    text = render.render_file(SOFTMAX_CE, to="html", check=False)
    tags = set(re.findall(r"<(m[a-z]*)[ >]", text))
    assert tags <= printing._MATHML_TAGS | {"main", "meta"}
    assert {"math", "mfrac", "msub", "munderover", "mi", "mo"} <= tags
    # SymPy's named entities (&dd; &InvisibleTimes;) are turned into characters.
    assert re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)[A-Za-z]+;", text) is None


def test_an_element_outside_the_whitelist_is_refused() -> None:
    from xml.dom import minidom

    dom = minidom.Document()
    bad = dom.createElement("mrow")
    bad.appendChild(dom.createElement("script"))
    with pytest.raises(ValueError):
        printing.serialize(bad)
    attribute = dom.createElement("mi")
    attribute.setAttribute("onclick", "x")
    with pytest.raises(ValueError):
        printing.serialize(attribute)
    good = dom.createElement("mi")
    good.appendChild(dom.createTextNode("<&>"))
    assert printing.serialize(good) == "<mi>&lt;&amp;&gt;</mi>"


# -- the command line --------------------------------------------------------------------------


def test_cli_writes_html_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    result = runner.invoke(cli.app, ["render", str(SOFTMAX_CE), "--to", "html", "--no-check", "-o", str(out)])
    assert result.exit_code == EXIT_OK, result.output
    assert out.read_text(encoding="utf-8").count("<math") > 15


def test_cli_writes_markdown_to_stdout_by_default() -> None:
    result = runner.invoke(cli.app, ["render", str(SOFTMAX_CE), "--no-check"])
    assert result.exit_code == EXIT_OK
    assert result.stdout.startswith("# Softmax + cross-entropy")


def test_cli_checks_by_default(small: Path) -> None:
    result = runner.invoke(cli.app, ["render", str(small), "--timeout", "30"])
    # The document is written whatever the verdicts: `verify` is the gate.
    assert result.exit_code == EXIT_OK
    assert "**✅ proved**" in result.stdout


def test_cli_exit_codes_for_bad_files(tmp_path: Path) -> None:
    missing = runner.invoke(cli.app, ["render", str(tmp_path / "missing.yaml")])
    assert missing.exit_code == EXIT_ERROR
    assert "not-found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nstepz: []\n", encoding="utf-8")
    schema = runner.invoke(cli.app, ["render", str(bad)])
    assert schema.exit_code == EXIT_FAIL
    assert "bad.yaml:2:1" in schema.stderr
    unwritable = runner.invoke(cli.app, ["render", str(SOFTMAX_CE), "--no-check", "-o", str(tmp_path / "no" / "x.md")])
    assert unwritable.exit_code == EXIT_ERROR
    assert "cannot write" in unwritable.stderr
    unknown = runner.invoke(cli.app, ["render", str(SOFTMAX_CE), "--to", "pdf"])
    assert unknown.exit_code == 2


# -- the HTML in a real browser ----------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Headless Chromium, offline: a fresh profile, no background networking, and every host unresolvable."""
    if CHROMIUM is None:
        if os.environ.get("DERIVCHECK_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed, and DERIVCHECK_REQUIRE_BROWSER is set (as .ci/run does)")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,2000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        previous = line
        rows.append(bytes(b for i, b in enumerate(line) if i % channels < 3))
    return width, height, rows


def ink(rows: list[bytes]) -> tuple[float, float]:
    """The share of pixels that are not white, and the variance of the grey levels."""
    total = count = 0
    sum_grey = sum_square = 0.0
    for row in rows:
        for i in range(0, len(row), 3 * 4):  # every 4th pixel is plenty
            grey = (row[i] + row[i + 1] + row[i + 2]) / 3
            total += 1
            count += grey < 240
            sum_grey += grey
            sum_square += grey * grey
    mean = sum_grey / total
    return count / total, sum_square / total - mean * mean


def test_ink_tells_a_blank_page_from_a_drawn_one() -> None:
    blank = [bytes([255]) * 3 * 40] * 40
    assert ink(blank) == (0.0, 0.0)
    drawn = [bytes([0, 0, 0] * 20 + [255, 255, 255] * 20)] * 40
    share, variance = ink(drawn)
    assert share > 0.2 and variance > 1000


# The math of softmax_ce.yaml as the browser must lay it out: a fraction ∂L/∂a_k, subscripts, sums.
LAYOUT_PROBE = """
<script>
  const fractions = [...document.querySelectorAll("mfrac")];
  const stacked = fractions.filter((f) => {
    const [top, bottom] = f.children;
    return top.getBoundingClientRect().bottom <= bottom.getBoundingClientRect().top + 1;
  });
  const size = (e) => parseFloat(getComputedStyle(e).fontSize);
  const subs = [...document.querySelectorAll("msub")].filter((s) => {
    const [base, script] = s.children;
    return size(script) < size(base) &&
      script.getBoundingClientRect().left >= base.getBoundingClientRect().right - 1;
  });
  const tall = [...document.querySelectorAll("math")].filter((m) => m.getBoundingClientRect().height > 10);
  document.body.setAttribute("data-probe", `fractions=${fractions.length} stacked=${stacked.length} ` +
    `msub=${document.querySelectorAll("msub").length} scripted=${subs.length} math=${tall.length}`);
</script>
"""


def test_the_html_renders_math_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "softmax_ce.html"
    text = render.render_file(SOFTMAX_CE, to="html", check=False)
    page.write_text(text, encoding="utf-8")

    # The DOM the browser built holds the MathML: a <math> per formula, ∂L/∂a_k as mi/mo.
    dumped = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr.decode(errors="replace")[-2000:]
    dom = dumped.stdout.decode()
    assert dom.count("<math") == text.count("<math") >= 19
    assert "<mo>∂</mo><mi>L</mi>" in dom
    assert "<munderover><mo>∑</mo>" in dom
    assert "<mi>δ</mi>" in dom

    # The browser lays MathML out as math (it is not just parsed): fractions stacked, subscripts
    # set smaller, after their base. The page forbids scripts, so a copy without the policy carries the probe.
    probe = tmp_path / "probe.html"
    probe.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text).replace("</body>", LAYOUT_PROBE + "</body>"),
        encoding="utf-8",
    )
    probed = chromium(tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'data-probe="fractions=(\d+) stacked=(\d+) msub=(\d+) scripted=(\d+) math=(\d+)"', probed.stdout.decode())
    assert found, probed.stdout.decode()[-2000:]
    fractions, stacked, subs, scripted, tall = map(int, found.groups())
    assert fractions >= 10 and stacked == fractions
    assert subs >= 30 and scripted == subs
    assert tall == text.count("<math")

    # And the screenshot is a drawn page, not a blank one.
    png = tmp_path / "softmax_ce.png"
    shot = chromium(tmp_path, f"--screenshot={png}", page.as_uri())
    assert shot.returncode == 0 and png.exists(), shot.stderr.decode(errors="replace")[-2000:]
    width, height, rows = read_png(png)
    assert (width, height) == (1200, 2000)
    share, variance = ink(rows)
    assert 0.01 < share < 0.6, share
    assert variance > 300, variance


def test_sigmoid_and_delta_print_as_greek_letters() -> None:
    import sympy

    from derivcheck.vocabulary import sigmoid

    t, k, j = sympy.Symbol("t"), sympy.Symbol("k", integer=True), sympy.Symbol("j", integer=True)
    math = printing.math_of(sigmoid(t) + sympy.KroneckerDelta(k, j))
    assert math is not None
    assert r"\sigma\left(t\right)" in math.latex and r"\delta_{j k}" in math.latex
    assert "<mi>σ</mi>" in math.mathml and "<mi>δ</mi>" in math.mathml
    assert "sigmoid" not in math.latex + math.mathml
