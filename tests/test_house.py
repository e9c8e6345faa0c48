"""The shape of the house (docs/architecture.md), read from derivcheck's own source with `ast`: its
import graph has no cycle, and every arrow points down, from a room to a room it may use."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "derivcheck"

# Each module's room, by the longest prefix of its dotted name.
ROOMS = {
    "derivcheck.cli": "faces",
    "derivcheck.__main__": "faces",
    "derivcheck.pytest_plugin": "faces",
    "derivcheck.render": "faces",
    "derivcheck.outfile": "faces",
    "derivcheck.starter": "faces",
    "derivcheck.report": "report",
    "derivcheck.run": "run",
    "derivcheck.prepare": "prepare",
    "derivcheck.engine": "engine",
    "derivcheck.parse": "parse",
    "derivcheck.source": "source",
    "derivcheck.schema": "source",
    "derivcheck.format": "source",
    "derivcheck.vocabulary": "vocabulary",
    "derivcheck.document": "data",
    "derivcheck.model": "data",
    "derivcheck": "data",  # the package itself: __version__
}

# The rooms each room may import (itself included). Arrows point down only:
# faces -> report, run -> prepare -> engine -> vocabulary, data; prepare -> parse, source.
MAY_USE = {
    "faces": {"faces", "report", "run", "prepare", "source", "data"},
    "report": {"report", "data"},
    "run": {"run", "prepare", "engine", "source", "data"},
    "prepare": {"prepare", "engine", "parse", "source", "vocabulary", "data"},
    "engine": {"engine", "vocabulary", "data"},
    "parse": {"parse", "vocabulary", "data"},
    "source": {"source", "data"},
    "vocabulary": {"vocabulary"},
    "data": {"data"},
}

# Libraries some rooms must not import: the reports read results only, and run/ knows claims,
# not SymPy (a run served from the cache never loads it).
BANNED_LIBRARIES = {
    "report": {"sympy", "mpmath"},
    "run": {"sympy", "mpmath"},
    "source": {"sympy", "mpmath"},
    "data": {"sympy", "mpmath"},
}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def room(name: str) -> str:
    prefix = max((key for key in ROOMS if name == key or name.startswith(key + ".")), key=len)
    return ROOMS[prefix]


def imports(path: Path, known: dict[str, Path], package_root: Path = PACKAGE) -> tuple[set[str], set[str]]:
    """The derivcheck modules a module imports (at any depth of its code, lazy imports too) and
    the top-level names of the other libraries it imports."""
    ours: set[str] = set()
    libraries: set[str] = set()
    name = module_name(path, package_root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = submodules + ([base] if len(submodules) < len(node.names) else [])
        else:
            continue
        for target in targets:
            if target == "derivcheck" or target.startswith("derivcheck."):
                ours.add(target)
            else:
                libraries.add(target.split(".")[0])
    return ours, libraries


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known)[0] for name, path in known.items()}


def test_every_module_has_a_room_and_says_what_it_owns() -> None:
    for name, path in modules().items():
        assert room(name) in MAY_USE, name
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert docstring and docstring.strip(), f"{name} opens with no docstring saying what it owns"


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_every_arrow_points_down() -> None:
    wrong = sorted(
        f"{name} ({room(name)}) imports {target} ({room(target)})"
        for name, targets in graph().items()
        for target in targets
        if room(target) not in MAY_USE[room(name)]
    )
    assert wrong == []


def test_no_room_imports_a_library_it_must_not() -> None:
    known = modules()
    wrong = sorted(
        f"{name} imports {library}"
        for name, path in known.items()
        for library in imports(path, known)[1]
        if library in BANNED_LIBRARIES.get(room(name), set())
    )
    assert wrong == []


def test_latex_never_imports_the_expression_parser() -> None:
    # Everything the translator reaches, directly or not: its own tex/ modules, the scope and
    # the matrix values the scope names, and the data room's spelling suggestion (model.py);
    # never expr.py, the builder or the whitelist.
    known = modules()
    reached, todo = set(), ["derivcheck.parse.latex"]
    while todo:
        for target in imports(known[todo.pop()], known)[0] - reached:
            reached.add(target)
            todo.append(target)
    outside = {name for name in reached if not name.startswith("derivcheck.parse.tex.")}
    assert outside <= {"derivcheck.parse.scope", "derivcheck.parse.matrices", "derivcheck.model"}, outside
    assert "derivcheck.parse.tex.parser" in reached  # the walk follows the translator's imports


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    # The rejects twins: a made-up module importing upwards, and a cycle, are seen.
    assert room("derivcheck.engine.symbolic") == "engine" and room("derivcheck.report.render") == "report"
    assert "report" not in MAY_USE["engine"] and "prepare" not in MAY_USE["engine"]
    fake = tmp_path / "derivcheck" / "engine" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text('"""x"""\nfrom derivcheck.report import render\nimport sympy\n', encoding="utf-8")
    ours, libraries = imports(fake, {"derivcheck.report.render": fake}, tmp_path / "derivcheck")
    assert ours == {"derivcheck.report.render"} and libraries == {"sympy"}
    assert room(module_name(fake, tmp_path / "derivcheck")) == "engine"
    assert "report" not in MAY_USE[room(module_name(fake, tmp_path / "derivcheck"))]


TESTS = Path(__file__).resolve().parent
# The rooms with their own folder of tests (`pytest tests/engine` runs the engine's); the
# vocabulary and data are tested through the rooms that use them, and tests/ itself holds
# what crosses every room (the trust cases, the hostile corpus, the properties, this file).
TESTED_ROOMS = {"faces", "report", "run", "prepare", "source", "parse", "engine"}


def test_the_tests_mirror_the_rooms() -> None:
    folders = {path.name for path in TESTS.iterdir() if path.is_dir() and any(path.glob("test_*.py"))}
    assert TESTED_ROOMS <= folders, TESTED_ROOMS - folders
    assert TESTED_ROOMS <= set(MAY_USE)
    # A folder of tests is named after a room, or holds data.
    assert folders <= TESTED_ROOMS, folders - TESTED_ROOMS


# -- a function fits on a screen (docs/STYLE: 80 lines at most) --------------------------------

MAX_FUNCTION_LINES = 80


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """The functions and methods of a module (nested ones too) longer than `limit` lines, from
    the `def` line to the last line of the body (decorators not counted)."""
    return [
        f"{path.name}:{node.lineno} {node.name} is {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


@pytest.mark.parametrize("path", list(modules().values()), ids=list(modules()))
def test_no_function_is_longer_than_a_screen(path: Path) -> None:
    assert long_functions(path) == []


def test_a_long_function_is_found(tmp_path: Path) -> None:
    # The rejects twin: a method of 81 lines is reported, a function of 80 is not.
    lines = ["def fits():"] + [f"    x{i} = {i}" for i in range(79)]
    lines += ["", "class C:", "    def too_long(self):"] + [f"        x{i} = {i}" for i in range(80)]
    source = tmp_path / "long.py"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert long_functions(source) == ["long.py:83 too_long is 81 lines"]
    assert long_functions(source, limit=79) == ["long.py:1 fits is 80 lines", "long.py:83 too_long is 81 lines"]
