"""The result cache: each step's results stored under a hash of everything that decides them.

A derivation that has not changed is re-verified from the cache, without SymPy: this
module, like `source`, imports neither SymPy nor the engine.

What decides a step's results, and so goes into its key:

- the step as written: claim or chain, `where`, `by`, `id`, `expect`, and where each of
  its texts sits relative to the step's first line (so a step that only moves up or down
  the file is still found; its line numbers are shifted on the way out);
- the file's sizes, indices, variables, definitions, assumptions and layout, as text;
- the code that checks: derivcheck's version and the text of its modules, and the
  versions of Python, SymPy and mpmath.

The time limit is not in any key: a check that finished (proved, checked, refuted,
undecided for a reason other than time, error) gives the same results under any limit,
so changing `--timeout` checks nothing again. Only a check that did not finish depends
on the limit (and on how busy the machine was), and it is never stored: a time-out (its
method starts with "time-out", which includes a claim not started because its file's
time budget was spent) or a crash is checked again on the next run, whatever its limit.
Storing a time-out under its limit would spare a retry at the same limit, but would make
a time-out on a busy machine stick; and a file is stored whole only when none of its
steps timed out, so a whole-file entry never serves a time-out to any run. An entry that
holds one anyway is not used.

A file's title and path are not in the key: they are stamped on the results when read.
Whether the declarations of a file build at all is stored under its own key, and the
problems of one that does not are stored with their positions.

Entries are files, one per key, written atomically (a temporary file, then `os.replace`):
a line with an HMAC-SHA256, then JSON with the entry's format, kind, key and payload. The
HMAC is taken over all of that JSON with a secret key of this user, kept outside every
repository: `$XDG_CACHE_HOME/derivcheck/cache-key`, else `~/.cache/derivcheck/cache-key`
(32 random bytes, created on first use, mode 0600). The cache directory itself usually
sits in the repository being checked, where anyone who sends a pull request can write,
so an entry counts only if this user's key signed it: an entry edited by hand, written
with another machine's key, truncated or unsigned is a miss, and the step is checked
again and its entry overwritten. A key file that is not a regular file owned by this
user, is readable or writable by others, has the wrong length, or sits inside the cache
directory is refused (one line says so); when there is no key and none can be created
(a read-only home, say), the cache is neither read nor written for the run, silently.

An entry that cannot be read, or that is not what it should be, is a miss: the step is
checked again. A directory that cannot be written disables storing for the run. Neither
ever changes a verdict.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import importlib.util
import json
import os
import re
import stat
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from derivcheck import __version__
from derivcheck.model import FileResult, Problem, Span, StepResult, Verdict

if TYPE_CHECKING:  # a file served whole needs neither its YAML read nor PyYAML imported
    from _typeshed import DataclassInstance

    from derivcheck.source import Derivation, StepSpec

CACHE_FORMAT = 2  # 2: entries signed with this user's key
DEFAULT_DIRECTORY = ".derivcheck_cache"
ENVIRONMENT_VARIABLE = "DERIVCHECK_CACHE_DIR"

# What an undecided step's method starts with when its check did not finish: not stored.
UNFINISHED_METHODS = ("time-out", "the check crashed")

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by derivcheck.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


# What is stored for declarations that build (their problems are stored when they do not).
BUILDS = {"builds": True}


class CacheEntryError(ValueError):
    """A stored entry that is not what it should be (read as a miss)."""


# -- keys -------------------------------------------------------------------------------------------


def _version_of(module: str) -> str:
    """A module's version without importing it (importlib.metadata alone costs 40 ms)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return f"{module} missing"
    if spec is None or spec.origin is None:
        return f"{module} missing"
    origin = Path(spec.origin)
    for candidate in (origin.parent / "release.py", origin):
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
        if found:
            return f"{module} {found.group(1)}"
    try:
        info = origin.stat()
    except OSError:
        return f"{module} at {origin}"
    return f"{module} at {origin} {info.st_size} {info.st_mtime_ns}"


_fingerprint: str | None = None


def code_fingerprint() -> str:
    """A hash of the code that decides a verdict: derivcheck's modules, Python, SymPy, mpmath.

    The text of derivcheck's own modules is hashed, not only its version, so that a
    changed engine in a development checkout never serves results of the old one.
    """
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256()
        for part in (
            f"derivcheck-cache {CACHE_FORMAT}",
            f"derivcheck {__version__}",
            f"{sys.implementation.name} {sys.version}",
            _version_of("sympy"),
            _version_of("mpmath"),
        ):
            digest.update(part.encode("utf-8") + b"\0")
        package = Path(__file__).resolve().parent.parent  # the whole derivcheck package, not run/ alone
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes() + b"\0")
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _plain(value: object, *, base_line: int | None) -> object:
    """Data from source.py as JSON-ready lists, field by field (so a new field is in the key).

    Spans become lines relative to `base_line`, or are left out when it is None.
    """
    if isinstance(value, Span):
        return None if base_line is None else [value.line - base_line, value.col]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__] + [
            [f.name, _plain(getattr(value, f.name), base_line=base_line)]
            for f in dataclasses.fields(value)
        ]
    if isinstance(value, (tuple, list)):
        return [_plain(item, base_line=base_line) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot key a {type(value).__name__}")


def _hash(kind: str, *parts: object) -> str:
    text = json.dumps([kind, *parts], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Everything in a Derivation but the steps and the words for people.
_NOT_CONTEXT = frozenset({"path", "title", "source", "description", "steps"})


def _context(derivation: Derivation, *, with_spans: bool) -> list[object]:
    base = 0 if with_spans else None
    return [
        [f.name, _plain(getattr(derivation, f.name), base_line=base)]
        for f in dataclasses.fields(derivation)
        if f.name not in _NOT_CONTEXT
    ]


@dataclasses.dataclass(frozen=True)
class FileKeys:
    """The keys of one derivation file: its declarations, and each of its steps."""

    builds: str  # whether the declarations build: decided by their text alone
    problems: str  # the problems of declarations that do not build, which have positions
    steps: tuple[str, ...]


def file_keys(derivation: Derivation) -> FileKeys:
    """The cache keys of a derivation, computed from its text (no SymPy). The time limit
    is not in them: only a check that did not finish depends on it, and it is not stored."""
    fingerprint = code_fingerprint()
    context = _context(derivation, with_spans=False)
    builds = _hash("builds", fingerprint, context)
    problems = _hash("problems", fingerprint, _context(derivation, with_spans=True))
    steps = tuple(
        _hash("step", fingerprint, builds, _step_text(step))
        for step in derivation.steps
    )
    return FileKeys(builds, problems, steps)


def _step_text(step: StepSpec) -> object:
    # The step's number is not part of it: results are renumbered when read.
    plain = _plain(dataclasses.replace(step, number=0), base_line=step.span.line)
    return plain


# -- JSON for results, checked field by field against model.py's annotations ------------------------


def _encode(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__}")


_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(value: object, hint: object) -> object:
    """`value` read from JSON as an instance of `hint`, or CacheEntryError."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _decode_union(value, hint)
    if origin is tuple:
        return _decode_tuple(value, typing.get_args(hint))
    scalar = _SCALARS.get(hint)
    if scalar is not None:
        return scalar(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _decode_enum(value, hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(value, hint)
    raise CacheEntryError(f"cannot read a {hint}")


def _decode_union(value: object, hint: object) -> object:
    """`value` as the first of the union's options it reads as."""
    for option in typing.get_args(hint):
        try:
            return _decode(value, option)
        except CacheEntryError:
            continue
    raise CacheEntryError(f"{value!r} is none of {hint}")


def _decode_tuple(value: object, args: tuple[object, ...]) -> tuple[object, ...]:
    """A JSON list as a tuple[X, ...] or a tuple of fixed length."""
    if not isinstance(value, list):
        raise CacheEntryError("expected a list")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(item, args[0]) for item in value)
    if len(args) != len(value):
        raise CacheEntryError("a list of the wrong length")
    return tuple(_decode(item, arg) for item, arg in zip(value, args))


def _decode_none(value: object) -> None:
    if value is None:
        return None
    raise CacheEntryError("expected null")


def _decode_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise CacheEntryError("expected true or false")


def _decode_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):  # JSON's true is not 1 here
        return value
    raise CacheEntryError("expected an integer")


def _decode_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise CacheEntryError("expected a string")


# The plain types model.py's annotations use, each read by its own function.
_SCALARS: dict[object, typing.Callable[[object], object]] = {
    type(None): _decode_none,
    bool: _decode_bool,
    int: _decode_int,
    str: _decode_str,
}


def _decode_enum(value: object, hint: type[enum.Enum]) -> enum.Enum:
    try:
        return hint(value)
    except ValueError:
        raise CacheEntryError(f"not a {hint.__name__}: {value!r}") from None


def _decode_dataclass(value: object, hint: type[DataclassInstance]) -> object:
    """A JSON object as the dataclass `hint`: exactly its fields, each read by its annotation."""
    if not isinstance(value, dict):
        raise CacheEntryError(f"expected an object for {hint.__name__}")
    hints = _hints(hint)
    names = [f.name for f in dataclasses.fields(hint)]
    if sorted(value) != sorted(names):
        raise CacheEntryError(f"the fields of {hint.__name__} differ")
    return hint(**{name: _decode(value[name], hints[name]) for name in names})


# -- what is stored for a step ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepEntry:
    """The results of one step and the warnings it raised, as checked."""

    results: tuple[StepResult, ...]
    warnings: tuple[Problem, ...]


def _unfinished(result: StepResult) -> bool:
    return result.verdict is Verdict.UNDECIDED and result.method.startswith(UNFINISHED_METHODS)


def _shift_problem(problem: Problem, *, lines: int, path: str) -> Problem:
    """A problem moved by `lines`, with its path set to `path`."""
    return dataclasses.replace(problem, span=Span(problem.span.line + lines, problem.span.col), path=path)


def _shift_result(result: StepResult, *, lines: int, path: str) -> StepResult:
    """A step's result moved by `lines`, its problems with their path set to `path`."""
    return dataclasses.replace(
        result,
        span=Span(result.span.line + lines, result.span.col),
        problems=tuple(_shift_problem(problem, lines=lines, path=path) for problem in result.problems),
    )


def _shift(entry: StepEntry, *, lines: int, path: str) -> StepEntry:
    """`entry` with every Span moved by `lines` and every Problem's path set to `path`."""
    return StepEntry(
        tuple(_shift_result(result, lines=lines, path=path) for result in entry.results),
        tuple(_shift_problem(warning, lines=lines, path=path) for warning in entry.warnings),
    )


def _spans(value: object) -> list[Span]:
    if isinstance(value, Span):
        return [value]
    if isinstance(value, tuple):
        return [span for item in value for span in _spans(item)]
    if isinstance(value, (Problem, StepResult)):
        return _spans(value.span) + (_spans(value.problems) if isinstance(value, StepResult) else [])
    return []


def _step_lines(step: StepSpec) -> tuple[int, int]:
    """The first and last line that a result of `step` may point at."""
    lines = [span.line for span in _spans_in(step)]
    return min(lines), max(lines)


def _spans_in(value: object) -> list[Span]:
    if isinstance(value, Span):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [span for f in dataclasses.fields(value) for span in _spans_in(getattr(value, f.name))]
    if isinstance(value, tuple):
        return [span for item in value for span in _spans_in(item)]
    return []


def step_payload(step: StepSpec, entry: StepEntry, *, path: str) -> dict[str, object] | None:
    """What to store for a checked step, or None when it must not be stored: a check that
    did not finish, or results that point outside the step (they could not be moved with it)."""
    if any(_unfinished(result) for result in entry.results):
        return None
    first, last = _step_lines(step)
    if not all(first <= span.line <= last for span in _spans(entry.results) + _spans(entry.warnings)):
        return None
    number = str(step.number)
    suffixes = []
    for result in entry.results:
        head, dot, rest = result.number.partition(".")
        if head != number:
            return None
        suffixes.append(dot + rest)
    moved = _shift(entry, lines=-step.span.line, path="")
    results = [
        dataclasses.replace(result, number=suffix) for result, suffix in zip(moved.results, suffixes)
    ]
    try:
        payload: dict[str, object] = {
            "results": [_encode(result) for result in results],
            "warnings": [_encode(warning) for warning in moved.warnings],
        }
        # Store only what reads back as the same results.
        if read_step(step, json.loads(json.dumps(payload)), path=path) != entry:
            return None
    except (TypeError, ValueError, CacheEntryError):
        return None
    return payload


def read_step(step: StepSpec, payload: object, *, path: str) -> StepEntry:
    """A stored payload as the results of `step` in the file at `path`, or CacheEntryError."""
    if not isinstance(payload, dict) or sorted(payload) != ["results", "warnings"]:
        raise CacheEntryError("not a step entry")
    results = _decode(payload["results"], tuple[StepResult, ...])
    warnings = _decode(payload["warnings"], tuple[Problem, ...])
    assert isinstance(results, tuple) and isinstance(warnings, tuple)
    for result in results:
        if result.number and not re.fullmatch(r"(\.[0-9]+)+", result.number):
            raise CacheEntryError(f"not a step number suffix: {result.number!r}")
        if _unfinished(result):  # never stored: no key holds the limit it had
            raise CacheEntryError("a check that did not finish")
    numbered = tuple(dataclasses.replace(result, number=f"{step.number}{result.number}") for result in results)
    return _shift(StepEntry(numbered, warnings), lines=step.span.line, path=path)


def problems_payload(problems: Sequence[Problem]) -> dict[str, object]:
    return {"problems": [_encode(dataclasses.replace(problem, path="")) for problem in problems]}


def read_problems(payload: object, *, path: str) -> tuple[Problem, ...]:
    if not isinstance(payload, dict) or sorted(payload) != ["problems"]:
        raise CacheEntryError("not a problems entry")
    problems = _decode(payload["problems"], tuple[Problem, ...])
    assert isinstance(problems, tuple)
    return tuple(dataclasses.replace(problem, path=path) for problem in problems)


# -- the key that signs entries ---------------------------------------------------------------------

KEY_BYTES = 32
KEY_FILE_NAME = "cache-key"
_MAC_DIGITS = 64  # an HMAC-SHA256 in hex
# Put before what is signed, so that a MAC made for the cache is good for nothing else.
_MAC_CONTEXT = b"derivcheck cache entry\0"


class CacheKeyError(Exception):
    """A key file that is there but must not be trusted (the message says why)."""


def default_key_file(environ: typing.Mapping[str, str]) -> Path | None:
    """Where this user's key lives: $XDG_CACHE_HOME/derivcheck/cache-key, else
    ~/.cache/derivcheck/cache-key; None when there is no home to keep it in."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is ignored
        home = environ.get("HOME") or os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "derivcheck" / KEY_FILE_NAME


def _key_problem(info: os.stat_result) -> str | None:
    """Why a file with this status must not be the key, or None."""
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return "belongs to another user"
    if info.st_mode & 0o077:  # others could read it (and forge entries) or write it
        return f"can be read or written by others (mode {stat.S_IMODE(info.st_mode):04o}; chmod 600 it)"
    return None


def read_key(path: Path) -> bytes:
    """The key in `path`. CacheKeyError when the file is not fit to be one; OSError when it
    cannot be read (FileNotFoundError when there is none)."""
    # O_NOFOLLOW: a symbolic link is refused, not followed; O_NONBLOCK: a FIFO put there
    # cannot make the run wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        if path.is_symlink():
            raise CacheKeyError(f"the cache key {path} is a symbolic link") from None
        raise
    try:
        problem = _key_problem(os.fstat(handle))
        data = os.read(handle, KEY_BYTES + 1) if problem is None else b""
    finally:
        os.close(handle)
    if problem is None and len(data) != KEY_BYTES:
        problem = f"does not hold {KEY_BYTES} bytes"
    if problem is not None:
        raise CacheKeyError(f"the cache key {path} {problem}")
    return data


def _create_key(path: Path) -> None:
    """Put a new key at `path` unless one is there: whole and mode 0600, or not at all."""
    import secrets
    import tempfile

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE_NAME}-")  # mode 0600
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(KEY_BYTES))
            stream.flush()
            os.fsync(stream.fileno())  # a key cut short by a crash would be refused ever after
        try:
            # A link never replaces a file: of two runs that create the key at once, the
            # second finds the first one's there, and both read that one.
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:
            # No hard links on this file system. Two runs may then each put their own key;
            # the entries signed with the one replaced are misses later, never trusted.
            if not os.path.lexists(path):
                os.replace(temporary, path)
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass


def load_key(path: Path) -> bytes:
    """This user's key in `path`, created first when there is none. CacheKeyError or OSError."""
    try:
        return read_key(path)
    except FileNotFoundError:
        _create_key(path)
    return read_key(path)  # what is on disk now, which may be another run's key, put first


def _inside(path: Path, directory: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _MAC_CONTEXT + body, hashlib.sha256).hexdigest().encode("ascii")


def _authenticated(secret: bytes, data: bytes) -> bytes | None:
    """The body of a stored entry if `secret` signed it (a line with its MAC, then it), else None."""
    mac, newline, body = data[:_MAC_DIGITS], data[_MAC_DIGITS : _MAC_DIGITS + 1], data[_MAC_DIGITS + 1 :]
    if newline != b"\n" or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    return body


# -- the store --------------------------------------------------------------------------------------


def default_directory(environ: typing.Mapping[str, str]) -> Path:
    """The cache directory when --cache-dir is not given: $DERIVCHECK_CACHE_DIR, else
    .derivcheck_cache in the current directory."""
    return Path(environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_DIRECTORY)


class ResultCache:
    """Entries in a directory: `<dir>/v2/<2 hex>/<key>.json`, each signed with this user's
    key (`key_file`, by default default_key_file(os.environ)).

    Never raises on a broken or unwritable directory or key: reads miss and writes stop,
    and `warnings` says so once, for the command line to show. Without a usable key,
    nothing is read or written.
    """

    def __init__(self, directory: Path, *, key_file: Path | None = None) -> None:
        self.directory = directory
        self.key_file = key_file
        self.warnings: list[str] = []
        self.hits = 0
        self.misses = 0
        self._writable = True
        self._unreadable = 0
        self._unsigned = 0
        self._secret: bytes | None = None
        self._looked_for_key = False

    def _key(self) -> bytes | None:
        """The key that signs entries, read (or created) on first use; None: no cache this run."""
        if not self._looked_for_key:
            self._looked_for_key = True
            path = self.key_file if self.key_file is not None else default_key_file(os.environ)
            try:
                if path is None:
                    return None
                if _inside(path, self.directory):  # it could be committed with the entries
                    raise CacheKeyError(f"the cache key {path} is inside the cache directory {self.directory}")
                self._secret = load_key(path)
            except CacheKeyError as error:
                self.warnings.append(f"{error}; the cache is not used")
            except (OSError, ValueError):
                pass  # no key can be had (a read-only home): no cache, and no line on every run
        return self._secret

    def _path(self, key: str) -> Path:
        return self.directory / f"v{CACHE_FORMAT}" / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> object | None:
        """The payload stored under `key`, or None (missing, unreadable, not signed with this
        user's key, or not an entry)."""
        secret = self._key()
        if secret is None:
            self.misses += 1
            return None
        try:
            with open(self._path(key), "rb") as stream:
                data = stream.read(4_000_000)
        except OSError:
            self.misses += 1
            return None
        body = _authenticated(secret, data)
        if body is None:
            self.unsigned()
            return None
        try:
            entry = json.loads(body.decode("utf-8"))
            if (
                not isinstance(entry, dict)
                or entry.get("format") != CACHE_FORMAT
                or entry.get("kind") != kind
                or entry.get("key") != key
                or entry.get("data") is None
            ):
                raise CacheEntryError("not an entry")
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError are ValueErrors
            self.corrupt()
            return None
        self.hits += 1
        payload: object = entry["data"]  # JSON: whatever it holds is checked by the reader
        return payload

    def unsigned(self) -> None:
        """Count an entry that this user's key did not sign (it is checked again and overwritten)."""
        self.misses += 1
        self._unsigned += 1
        if self._unsigned == 1:
            self.warnings.append(
                f"ignored entries in the cache {self.directory} not signed with this user's key; checking those steps again"
            )

    def corrupt(self) -> None:
        """Count an entry that could not be used (it is checked again and overwritten)."""
        self.misses += 1
        self._unreadable += 1
        if self._unreadable == 1:
            self.warnings.append(f"ignored unreadable entries in the cache {self.directory}; checking those steps again")

    def put(self, kind: str, key: str, data: object) -> None:
        """Store `data` under `key`, signed and atomically; on failure, stop writing for this run."""
        if not self._writable:
            return
        secret = self._key()
        if secret is None:
            return
        target = self._path(key)
        text = json.dumps({"format": CACHE_FORMAT, "kind": kind, "key": key, "data": data}, ensure_ascii=False)
        body = text.encode("utf-8")
        signed = _mac(secret, body) + b"\n" + body
        import tempfile  # only when something is written

        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(signed)
                os.replace(temporary, target)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except (OSError, ValueError) as error:
            self._writable = False
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            self.warnings.append(f"cannot write to the cache {self.directory} ({reason}); results are not cached")

    def _prepare(self) -> None:
        """Create the directory with a CACHEDIR.TAG and a .gitignore, as pytest, mypy and ruff do."""
        if (self.directory / "CACHEDIR.TAG").is_file():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in (("CACHEDIR.TAG", _CACHEDIR_TAG), (".gitignore", "# Created by derivcheck.\n*\n")):
            path = self.directory / name
            if not path.exists():
                path.write_text(text, encoding="utf-8")


# -- whole files ------------------------------------------------------------------------------------


def content_key(data: bytes) -> str:
    """The key of a whole file's result: its bytes decide it, given the code (not the time
    limit: a file with a step that did not finish is not stored whole).

    A warm run finds each unchanged file here without even reading its YAML.
    """
    return _hash("file", code_fingerprint(), hashlib.sha256(data).hexdigest())


def _restamp(result: FileResult, path: str) -> FileResult:
    return FileResult(
        path,
        result.title,
        steps=tuple(_shift_result(step, lines=0, path=path) for step in result.steps),
        problems=tuple(_shift_problem(problem, lines=0, path=path) for problem in result.problems),
        warnings=tuple(_shift_problem(warning, lines=0, path=path) for warning in result.warnings),
    )


def read_whole(cache: ResultCache, key: str, path: str) -> FileResult | None:
    """The stored result of a file with these bytes, stamped with `path`; None when missing."""
    stored = cache.get("file", key)
    if stored is None:
        return None
    try:
        result = _decode(stored, FileResult)
    except CacheEntryError:
        cache.corrupt()
        return None
    assert isinstance(result, FileResult)
    if not all(re.fullmatch(r"[0-9]+(\.[0-9]+)*", step.number) for step in result.steps):
        cache.corrupt()
        return None
    if any(_unfinished(step) for step in result.steps):  # never stored whole: see store_whole
        cache.corrupt()
        return None
    return _restamp(result, path)


def store_whole(cache: ResultCache, key: str, result: FileResult) -> None:
    """Store a file's result, unless a step did not finish (it may pass with more time)."""
    if any(_unfinished(step) for step in result.steps):
        return
    plain = _restamp(result, "")
    try:
        data = _encode(plain)
        if _decode(json.loads(json.dumps(data)), FileResult) != plain:
            return
    except (TypeError, ValueError, CacheEntryError):
        return
    cache.put("file", key, data)



def cached_file(cache: ResultCache, derivation: Derivation, keys: FileKeys) -> tuple[FileResult | None, list[StepEntry | None], bool | None]:
    """What the cache knows of a derivation: the whole FileResult when it knows everything;
    else each step's entry (None when missing) and whether the declarations build (None: unknown)."""
    builds, problems = _cached_declarations(cache, keys, path=derivation.path)
    if problems:
        return FileResult(derivation.path, derivation.title, problems=problems), [], False
    entries = _cached_steps(cache, derivation, keys)
    complete = [entry for entry in entries if entry is not None]
    if builds and len(complete) == len(entries):
        return assemble(derivation, complete), entries, builds
    return None, entries, builds


def _cached_declarations(cache: ResultCache, keys: FileKeys, *, path: str) -> tuple[bool | None, tuple[Problem, ...]]:
    """Whether the declarations build (True, or None: unknown), and the problems stored for
    declarations that do not."""
    stored = cache.get("builds", keys.builds)
    if stored == BUILDS:
        return True, ()
    if stored is not None:
        cache.corrupt()
    stored = cache.get("problems", keys.problems)
    if stored is None:
        return None, ()
    try:
        return None, read_problems(stored, path=path)
    except CacheEntryError:
        cache.corrupt()
        return None, ()


def _cached_steps(cache: ResultCache, derivation: Derivation, keys: FileKeys) -> list[StepEntry | None]:
    """Each step's stored entry, None where there is none that can be used."""
    entries: list[StepEntry | None] = []
    for step, key in zip(derivation.steps, keys.steps):
        stored = cache.get("step", key)
        entry: StepEntry | None = None
        if stored is not None:
            try:
                entry = read_step(step, stored, path=derivation.path)
            except CacheEntryError:
                cache.corrupt()
        entries.append(entry)
    return entries


def assemble(derivation: Derivation, entries: Sequence[StepEntry]) -> FileResult:
    """One file's result from its steps' entries, in the order the checker gives them."""
    results = [result for entry in entries for result in entry.results]
    results.sort(key=lambda r: [int(part) for part in r.number.split(".")])
    warnings = tuple(warning for entry in entries for warning in entry.warnings)
    return FileResult(derivation.path, derivation.title, steps=tuple(results), warnings=warnings)


def store_file(cache: ResultCache, derivation: Derivation, keys: FileKeys, checked: dict[int, FileResult]) -> None:
    """Store what was checked: `checked` maps a step's position to the result of checking
    that step alone (or -1 to a check of no step, made to learn whether the file builds)."""
    for position, result in checked.items():
        if result.problems:
            cache.put("problems", keys.problems, problems_payload(result.problems))
            return
    cache.put("builds", keys.builds, BUILDS)
    for position, result in checked.items():
        if position < 0:
            continue
        step = derivation.steps[position]
        payload = step_payload(step, StepEntry(result.steps, result.warnings), path=derivation.path)
        if payload is not None:
            cache.put("step", keys.steps[position], payload)
