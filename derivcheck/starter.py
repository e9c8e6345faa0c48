"""The starting derivation that `derivcheck new` writes: a small commented file that verifies."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from string import Template

SUFFIXES = (".yaml", ".yml")
TEMPLATE = "new.yaml"  # in derivcheck/templates/

# A title that YAML reads back as the same string without quotes, unless it is one of
# the words YAML 1.1 reads as a boolean or null.
_PLAIN_TITLE = re.compile(r"[A-Za-z][A-Za-z0-9 _.()-]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def starter_path(name: str) -> Path:
    """NAME -> NAME.yaml; a name that already ends in .yaml or .yml is kept."""
    path = Path(name)
    return path if path.suffix in SUFFIXES else path.with_name(path.name + ".yaml")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def starter_text(path: Path) -> str:
    """The starting derivation for a file at `path`, titled after the file's name."""
    title = _one_line(path.stem) or "derivation"
    plain = _PLAIN_TITLE.fullmatch(title) and title.lower() not in _YAML_WORDS
    title_yaml = title if plain else json.dumps(title, ensure_ascii=False)
    source = resources.files("derivcheck").joinpath("templates").joinpath(TEMPLATE)
    template = Template(source.read_text(encoding="utf-8"))
    return template.substitute(title=title, title_yaml=title_yaml, filename=_one_line(str(path)))


def write_starter(path: Path) -> None:
    """Create `path` with the starting derivation.

    Raises FileExistsError when it exists (it is never overwritten), OSError when it
    cannot be written.
    """
    text = starter_text(path)
    with path.open("x", encoding="utf-8") as stream:
        stream.write(text)
