"""Tests for `derivcheck new`: a starting derivation that verifies, never written over a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from derivcheck import cli, source
from derivcheck.model import Verdict
from derivcheck.starter import starter_path, starter_text

REPO = Path(__file__).resolve().parents[2]

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli.app, list(args), prog_name="derivcheck")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_new_writes_name_dot_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("new", "my_gradient")
    assert (code, err) == (0, "")
    assert out == "wrote my_gradient.yaml; check it with:  derivcheck verify my_gradient.yaml\n"
    text = (tmp_path / "my_gradient.yaml").read_text(encoding="utf-8")
    assert text == starter_text(Path("my_gradient.yaml"))
    assert "title: my_gradient\n" in text
    assert "#     derivcheck verify my_gradient.yaml\n" in text


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("x", "x.yaml"),
        ("x.yaml", "x.yaml"),
        ("x.yml", "x.yml"),
        ("x.v2", "x.v2.yaml"),
        ("dir/x", "dir/x.yaml"),
    ],
)
def test_new_file_name(name: str, path: str) -> None:
    assert starter_path(name) == Path(path)


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("my work\n", encoding="utf-8")
    code, out, err = invoke("new", str(tmp_path / "mine"))
    assert code == 2
    assert out == ""
    assert err == f"derivcheck: {target} already exists; it was left as it is\n"
    assert target.read_text(encoding="utf-8") == "my work\n"


def test_a_path_that_would_act_on_the_terminal_is_shown_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("new", "a\x1b[2Jb\u202ec")
    assert code == 0 and (tmp_path / "a\x1b[2Jb\u202ec.yaml").exists()
    assert out == "wrote a\\x1b[2Jb\\u202ec.yaml; check it with:  derivcheck verify a\\x1b[2Jb\\u202ec.yaml\n"
    code, out, err = invoke("new", "a\x1b[2Jb\u202ec")
    assert code == 2
    assert err == "derivcheck: a\\x1b[2Jb\\u202ec.yaml already exists; it was left as it is\n"


def test_new_writes_when_the_name_is_free(tmp_path: Path) -> None:
    (tmp_path / "mine.yml").write_text("other\n", encoding="utf-8")  # another file, not the target
    code, _, _ = invoke("new", str(tmp_path / "mine"))
    assert code == 0
    assert (tmp_path / "mine.yaml").exists()


def test_new_into_a_missing_directory_exits_2(tmp_path: Path) -> None:
    code, out, err = invoke("new", str(tmp_path / "no" / "such" / "x"))
    assert code == 2
    assert err.startswith("derivcheck: cannot write ")
    assert "Traceback" not in out + err


@pytest.mark.parametrize("name", ["", "   "])
def test_new_rejects_an_empty_name(name: str) -> None:
    code, _, err = invoke("new", name)
    assert code == 2
    assert "NAME must not be empty" in err


def test_new_without_a_name_is_a_usage_error() -> None:
    code, _, err = invoke("new")
    assert code == 2
    assert "Missing argument" in err


def test_new_help() -> None:
    result = runner.invoke(cli.app, ["new", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "NAME" in result.stdout
    assert "never overwritten" in result.stdout
    assert "Example" in result.stdout


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("plain", "plain"),
        ("a: b #c", "a: b #c"),
        ("yes", "yes"),
        ("Off", "Off"),
        ("null", "null"),
        ("1.5", "1.5"),
        ("ünïcode ∂", "ünïcode ∂"),
        ('quote "x" \\ y', 'quote "x" \\ y'),
    ],
)
def test_new_title_reads_back_as_written(stem: str, title: str, tmp_path: Path) -> None:
    path = tmp_path / f"{stem}.yaml"
    path.write_text(starter_text(path), encoding="utf-8")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["title"] == title
    derivation, problems = source.load_derivation(path)
    assert problems == []
    assert derivation is not None and derivation.title == title


def test_the_starter_verifies(tmp_path: Path) -> None:
    from derivcheck.run.claims import check_file

    path = tmp_path / "starter.yaml"
    path.write_text(starter_text(path), encoding="utf-8")
    result = check_file(path, timeout=None)
    assert result.problems == ()
    assert len(result.steps) >= 3
    assert all(step.verdict in (Verdict.PROVED, Verdict.CHECKED) for step in result.steps), [
        (step.number, step.verdict.value, step.method) for step in result.steps
    ]


def test_a_broken_starter_would_be_caught(tmp_path: Path) -> None:
    from derivcheck.run.claims import check_file

    path = tmp_path / "starter.yaml"
    text = starter_text(path).replace("= 2*x[k]\n", "= 3*x[k]\n", 1)
    assert text != starter_text(path)
    path.write_text(text, encoding="utf-8")
    result = check_file(path, timeout=None)
    assert any(step.verdict is Verdict.REFUTED for step in result.steps)


def test_new_does_not_import_sympy(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = (
        "import sys\n"
        f"sys.argv = ['derivcheck', 'new', {str(tmp_path / 'x')!r}]\n"
        "from derivcheck.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "x.yaml").exists()
