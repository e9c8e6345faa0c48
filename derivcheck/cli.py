"""The `derivcheck` command line: verify derivation files and report on every step."""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer

from derivcheck import __version__
from derivcheck.model import EXIT_ERROR, FileResult, exit_code
from derivcheck.report import Reporter, make_reporter, printable_path

if TYPE_CHECKING:
    from derivcheck.run.cache import ResultCache

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
EXIT_TERMINATED = 143  # 128 + SIGTERM, as shells report a process that SIGTERM ended

HELP = (
    "Verify step-by-step math derivations written in YAML.\n\n"
    "Every step of a derivation is an equality. derivcheck proves it symbolically where it can, "
    "otherwise checks it numerically, and shows a concrete counterexample for a step that is "
    "wrong.\n\n"
    "Example:  derivcheck verify derivations/softmax_ce.yaml\n\n"
    "Exit codes: 0 every step holds; 1 a step does not hold or a file has problems; "
    "2 usage error, a path that cannot be read, or no derivation file found; 130 interrupted (Ctrl-C); 141 the reader of "
    "the report went away; 143 stopped by SIGTERM. An interrupted run still writes its report, "
    "of the files it finished, and the report says it was interrupted."
)

VERIFY_HELP = (
    "Check derivation files, or directories of *.yaml and *.yml files, and report on every "
    "step.\n\n"
    "Example:  derivcheck verify derivations/ --format json -o report.json"
)


SCHEMA_HELP = (
    "Print the JSON Schema (draft-07) of the derivation format, for editors.\n\n"
    "Save it in your repository and name it on the first line of a derivation file, for "
    "completion and checks in editors that use the YAML language server:\n\n"
    "    # yaml-language-server: $schema=../schema/derivcheck.schema.json\n\n"
    "Example:  derivcheck schema -o schema/derivcheck.schema.json"
)

NEW_HELP = (
    "Write a starting derivation to NAME.yaml: a small commented example that verifies, "
    "to edit into your own. An existing file is never overwritten.\n\n"
    "Example:  derivcheck new derivations/my_gradient"
)


class ReportFormat(str, enum.Enum):
    """The --format choices: each value is a name in report.REPORTER_BY_NAME."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    JUNIT = "junit"
    SARIF = "sarif"
    MARKDOWN = "markdown"


FORMAT_HELP = (
    "Report format: text (for people), json (for programs), github (GitHub Actions "
    "annotations), junit (CI test views), sarif (code scanning) or markdown (pull-request "
    "comments). "
    "Default: github when GITHUB_ACTIONS=true and the report goes to standard output, else text."
)


def default_format(environ: Mapping[str, str], *, to_stdout: bool) -> ReportFormat:
    """The format when --format is not given: GitHub annotations inside GitHub Actions.

    Workflow commands only work on the job's output, so a report written to a file
    (-o) stays text.
    """
    if to_stdout and environ.get("GITHUB_ACTIONS") == "true":
        return ReportFormat.GITHUB
    return ReportFormat.TEXT


# typer (0.29) reads every option through a pydantic TypeAdapter that it builds on first
# use: importing pydantic and building them is 180 ms, half of a `verify` whose steps are all
# cached. `verify` reads its options (paths, numbers, a choice) here instead, with typer's
# own checks and messages for paths and choices. Anything else, or a typer whose internals
# differ, keeps typer's way. (tests/run/test_cache.py checks that a cached run imports no pydantic.)
try:
    from typer import _param_types
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam
    from typer.core import TyperArgument, TyperCommand, TyperGroup
except ImportError:  # pragma: no cover - another typer: its own coercion is used
    _LEAN = False
else:
    _LEAN = True

    def _number(kind: type[int | float], value: object, info: object) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadParameter(f"{value!r} is not a valid {kind.__name__}.")
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            raise BadParameter(f"{value!r} is not a valid {kind.__name__}.") from None
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = " and ".join(
                text for text in (f"x>={low}" if low is not None else "", f"x<={high}" if high is not None else "") if text
            )
            raise BadParameter(f"{number} is not in the range {bounds}.")
        return number

    @dataclasses.dataclass(frozen=True)
    class _LeanParam(RuntimeParam):
        """Coercion of one option without pydantic."""

        def _coerce_value(self, value: object, param: object, ctx: object) -> object:
            annotation = self.annotation
            if annotation is bool:
                if isinstance(value, bool):
                    return value
                raise BadParameter(f"{value!r} is not a valid boolean.")
            if annotation == list[Path]:
                items = value if isinstance(value, (list, tuple)) else [value]
                return [self._path(item, param, ctx) for item in items]
            if annotation is Path:
                return self._path(value, param, ctx)
            if annotation in (int, float):
                return _number(annotation, value, self.parameter_info)
            choices = list(annotation)  # an enum.Enum
            try:
                return _param_types.coerce_cli_choice(
                    value, choices=choices, case_sensitive=self.parameter_info.case_sensitive, ctx=ctx  # type: ignore[arg-type]
                )
            except ValueError as error:
                raise BadParameter(str(error)) from None

        def _path(self, value: object, param: object, ctx: object) -> Path:
            if isinstance(value, Path):
                return value
            if not isinstance(value, str):
                raise BadParameter(f"{value!r} is not a valid path.")
            checked = _param_types.coerce_cli_path(value, self.parameter_info, path_type=None, param=param, ctx=ctx)  # type: ignore[arg-type]
            return Path(checked)  # type: ignore[arg-type]

    class _LeanParsing:
        """Gives the options of a typer command or group the coercion above."""

        def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
            for param in self.get_params(ctx):  # type: ignore[attr-defined]
                descriptor = getattr(param, "type_descriptor", None)
                annotation = getattr(descriptor, "annotation", None)
                lean = annotation in (Path, list[Path], int, float, bool) or (
                    isinstance(annotation, type) and issubclass(annotation, enum.Enum)
                )
                if lean and getattr(param, "_runtime_param", False) is None:
                    param._runtime_param = _LeanParam(
                        parameter_info=descriptor.parameter_info, annotation=annotation  # type: ignore[union-attr]
                    )
            return super().parse_args(ctx, args)  # type: ignore[misc,no-any-return]

    class _PlainArgument(TyperArgument):
        """An argument shown as the command line takes it: `PATH...` in the usage line and the
        help, as click writes it (typer 0.29 writes `{PATH}...` and `PATH <list[Path]>`)."""

        def _plain_name(self) -> str:
            return str(self.display_name_raw) + ("..." if self.nargs != 1 else "")

        def _usage_display_name(self) -> str:
            return self._plain_name() if self.required else f"[{self._plain_name()}]"

        def _rich_display_name(self) -> str:
            return self._plain_name()

        def display_type_rich(self, ctx: object) -> str | None:
            return None  # the metavar says what it is

    class _PlainArguments:
        """Gives a typer command's arguments the plain display above."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            for param in self.params:  # type: ignore[attr-defined]
                if type(param) is TyperArgument:
                    param.__class__ = _PlainArgument

    class _LeanCommand(_LeanParsing, _PlainArguments, TyperCommand):  # type: ignore[misc]
        pass

    class _PlainCommand(_PlainArguments, TyperCommand):
        pass

    class _LeanGroup(_LeanParsing, TyperGroup):  # type: ignore[misc]
        pass


app = typer.Typer(
    name="derivcheck",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=_LeanGroup if _LEAN else None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread while `verify` runs: the run stops as after Ctrl-C
    (its workers stopped, its report of the files done written and marked interrupted), and
    exits with EXIT_TERMINATED."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM as an interruption while inside; its previous action after.

    A CI job that is cancelled, or a `timeout`, sends SIGTERM: without this, the process would
    die at once, without a report (its workers die with it: see worker.py).
    """
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): SIGTERM keeps its action
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CheckCrashed(Exception):
    """The checker raised on a file instead of returning a result: a bug, not bad input."""

    def __init__(self, path: Path, error: BaseException) -> None:
        super().__init__(f"{path}: {_describe(error)}")
        self.path = path
        self.error = error


def _check_paths(
    paths: Sequence[Path],
    *,
    timeout: float,
    jobs: int = 1,
    cache: ResultCache | None = None,
    file_budget: float | None = None,
) -> Iterator[FileResult]:
    """Results for every derivation file under `paths`, yielded one by one in order.

    Paths that do not exist come first, as results with a "not-found" problem.
    Raises CheckCrashed if the checker fails on a file. The runner serves steps from the
    cache (when there is one) and checks the rest in `jobs` worker processes (0: one per CPU).
    """
    from derivcheck.run import files  # no SymPy until a step is not in the cache

    try:
        yield from files.check_paths(paths, timeout=timeout, jobs=jobs, cache=cache, file_budget=file_budget)
    except files.FileCrashed as crash:
        raise CheckCrashed(crash.path, crash.error) from crash.error


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"derivcheck {__version__}")
        raise typer.Exit()


def _positive_seconds(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter("must be a positive number of seconds")
    return value


def _error(message: str) -> None:
    """One line on stderr; characters that would act on the terminal (a path's escape
    sequences, line breaks, bidi controls) are shown escaped, as the reports show paths."""
    typer.echo(f"derivcheck: {printable_path(message)}", err=True)


def _describe(error: BaseException) -> str:
    """An exception as one line: its type and its message."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the derivcheck version and exit.",
        ),
    ] = False,
) -> None:
    """Verify step-by-step math derivations written in YAML."""


# The options of `verify`, one alias each, so that the command reads at a glance.
PathsOption = Annotated[
    list[Path],
    typer.Argument(
        metavar="PATH",
        help="Derivation files, or directories to search for *.yaml and *.yml files.",
        show_default=False,
        # The loader reports an unreadable file at that file, and the run goes on.
        readable=False,
    ),
]
ReportFormatOption = Annotated[
    ReportFormat | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help=FORMAT_HELP,
        show_default=False,
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict/--accept-checked",
        help=(
            "A `checked` step (exact at several concrete sizes, not proved for general "
            "sizes) fails the run, as it may be wrong at a size not tried: the default. "
            "--accept-checked lets such steps pass."
        ),
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        callback=_positive_seconds,
        help=(
            "Limit for each claim (a step, or one link of a chain), in seconds of CPU time, so "
            "that a verdict does not depend on how busy the machine is. A claim is also stopped "
            "after 5 times this on the clock (it is waiting, or the machine is starved)."
        ),
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        dir_okay=False,
        help=(
            "Write the report to FILE instead of standard output. FILE is replaced only once "
            "the report is whole, and may not be one of the derivations checked."
        ),
        show_default=False,
    ),
]
NoColorOption = Annotated[
    bool,
    typer.Option("--no-color", help="Do not color the text report."),
]
WidthOption = Annotated[
    int | None,
    typer.Option(
        "--width",
        metavar="N",
        min=20,
        help="Width of the text report in columns (default: the terminal's).",
        show_default=False,
    ),
]
WatchOption = Annotated[
    bool,
    typer.Option(
        "--watch",
        help=(
            "After the first report, check again each file that changes, until Ctrl-C. "
            "The exit code is then that of the latest check of every file."
        ),
    ),
]
JobsOption = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        metavar="N",
        min=0,
        show_default=False,
        help=(
            "Check up to N claims at once, in worker processes (default, or 0: one per CPU). "
            "The report is the same for any N."
        ),
    ),
]
FileBudgetOption = Annotated[
    float,
    typer.Option(
        "--file-budget",
        metavar="SECONDS",
        callback=_positive_seconds,
        help=(
            "CPU time the claims of one file may take in all. Claims not started when it is "
            "spent are undecided (time-out), so that a file of many slow steps cannot hold "
            "up a run."
        ),
    ),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        file_okay=False,
        help=(
            "Where to keep the results of steps, so that an unchanged step is not checked "
            "again. Default: $DERIVCHECK_CACHE_DIR, else .derivcheck_cache in the current "
            "directory."
        ),
        show_default=False,
    ),
]
NoCacheOption = Annotated[
    bool,
    typer.Option("--no-cache", help="Check every step, without reading or writing the cache."),
]


@app.command(help=VERIFY_HELP, cls=_LeanCommand if _LEAN else None)
def verify(
    paths: PathsOption,
    report_format: ReportFormatOption = None,
    strict: StrictOption = True,
    timeout: TimeoutOption = 10.0,
    output: OutputOption = None,
    no_color: NoColorOption = False,
    width: WidthOption = None,
    watch: WatchOption = False,
    jobs: JobsOption = 0,
    file_budget: FileBudgetOption = 600.0,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    if report_format is None:
        report_format = default_format(os.environ, to_stdout=output is None)
    chosen = report_format
    if output is not None:
        _refuse_overwriting_inputs(output, paths, what="report", discovered=True)
    cache: ResultCache | None = None
    if not no_cache:
        from derivcheck.run.cache import ResultCache, default_directory

        cache = ResultCache(cache_dir if cache_dir is not None else default_directory(os.environ))

    def run(selected: Sequence[Path]) -> list[FileResult]:
        with ExitStack() as stack:
            stream, written = (sys.stdout, _nothing) if output is None else _report_file(stack, output, "report")
            reporter = make_reporter(
                chosen.value,
                stream,
                color=not no_color and output is None,
                width=width,
                strict=strict,
            )
            return _report(
                reporter, selected, timeout=timeout, jobs=jobs, cache=cache, file_budget=file_budget, written=written
            )

    with _sigterm_interrupts():
        results = run(paths)
        if watch:
            latest = {result.path: result for result in results}
            try:
                watch_files(paths, run, latest)
            except KeyboardInterrupt:  # the way to stop watching, Ctrl-C or SIGTERM
                raise typer.Exit(exit_code(list(latest.values()), strict=strict)) from None
    raise typer.Exit(exit_code(results, strict=strict))


def _nothing() -> None:
    """What putting the report in place takes when it goes to standard output."""


def _refuse_overwriting_inputs(output: Path, inputs: Sequence[Path], *, what: str, discovered: bool = False) -> None:
    """Exit 2, writing nothing, when `output` names an input (or, with `discovered`, a file
    that `verify` would find in an input folder): the run would read what it truncates."""
    from derivcheck.outfile import input_clash

    found: list[Path] = []
    if discovered and os.path.exists(output):  # a hard link or a symlink in a folder, to it
        from derivcheck.run.discover import discover

        found = discover(inputs)[0]
    clash = input_clash(output, inputs, found)
    if clash is not None:
        _error(f"will not write the {what} to {output}: {clash}; name another file with -o")
        raise typer.Exit(EXIT_ERROR)


def _report_file(stack: ExitStack, output: Path, what: str) -> tuple[TextIO, Callable[[], None]]:
    """The stream of a new file for `output`, made now (exit 2 if it cannot be), and what puts
    it in place once it is whole (exit 2 if that fails); left unfinished, it is removed."""
    from derivcheck.outfile import ReportFile

    try:
        report_file = stack.enter_context(ReportFile(output))
    except OSError as error:
        _error(f"cannot write the {what} to {output}: {error.strerror or error}")
        raise typer.Exit(EXIT_ERROR) from None

    def written() -> None:
        try:
            report_file.commit()
        except OSError as error:
            _error(f"cannot write the {what} to {output}: {error.strerror or error}")
            raise typer.Exit(EXIT_ERROR) from None

    return report_file.stream, written


WATCH_INTERVAL = 0.5  # seconds between two looks at the files


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def file_stamps(paths: Sequence[Path]) -> dict[Path, tuple[int, int]]:
    """Modification time and size of each derivation file under `paths` (as `verify` finds them)."""
    stamps: dict[Path, tuple[int, int]] = {}
    for path in paths:
        try:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            else:
                found = [path]
            for candidate in found:
                info = candidate.stat()
                if stat.S_ISREG(info.st_mode):
                    stamps[candidate] = (info.st_mtime_ns, info.st_size)
        except OSError:  # gone, or unreadable, between two looks: seen next time
            continue
    return stamps


def watch_files(
    paths: Sequence[Path],
    run: Callable[[Sequence[Path]], list[FileResult]],
    latest: dict[str, FileResult],
    *,
    interval: float = WATCH_INTERVAL,
) -> None:
    """Check again each file that is changed or added under `paths`, until KeyboardInterrupt.

    `latest` is kept up to date with the newest result for each file.
    """
    seen = file_stamps(paths)
    while True:
        _error("watching for changes (Ctrl-C to stop)")
        while True:
            _sleep(interval)
            now = file_stamps(paths)
            changed = [path for path, stamp in now.items() if seen.get(path) != stamp]
            seen = now
            if changed:
                break
        _error("changed: " + ", ".join(str(path) for path in changed))
        for result in run(changed):
            latest[result.path] = result


@app.command(help=SCHEMA_HELP, cls=_PlainCommand if _LEAN else None)
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            dir_okay=False,
            help="Write the schema to FILE instead of standard output.",
            show_default=False,
        ),
    ] = None,
) -> None:
    from derivcheck.schema import schema_text

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    _write_whole(output, text, "schema")


@app.command(help=NEW_HELP, cls=_PlainCommand if _LEAN else None)
def new(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The file to create; .yaml is added unless NAME ends in .yaml or .yml.",
            show_default=False,
        ),
    ],
) -> None:
    from derivcheck.starter import starter_path, write_starter

    if not name.strip():
        _error("NAME must not be empty")
        raise typer.Exit(EXIT_ERROR)
    path = starter_path(name)
    try:
        write_starter(path)
    except FileExistsError:
        _error(f"{path} already exists; it was left as it is")
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as error:
        _error(f"cannot write {path}: {error.strerror or error}")
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(printable_path(f"wrote {path}; check it with:  derivcheck verify {path}"))


RENDER_HELP = (
    "Write a derivation as a document for people: its title, source and description, its "
    "definitions and assumptions, then each step as display math with its justification and "
    "the verdict of a check. Markdown carries LaTeX math in $$ blocks (as GitHub shows them); "
    "HTML is one self-contained file with MathML, which browsers show without a network.\n\n"
    "Exit codes: 0 the document was written (whatever the verdicts: `verify` is the gate); "
    "1 the file has YAML or schema problems; 2 the file cannot be read or OUT cannot be written.\n\n"
    "Example:  derivcheck render derivations/softmax_ce.yaml --to html -o softmax_ce.html"
)


class RenderFormat(str, enum.Enum):
    """The --to choices of `render`: each value is a name in render.RENDERER_BY_NAME."""

    MARKDOWN = "markdown"
    HTML = "html"


@app.command(help=RENDER_HELP, cls=_PlainCommand if _LEAN else None)
def render(
    path: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="The derivation file to render.", show_default=False),
    ],
    to: Annotated[
        RenderFormat,
        typer.Option("--to", "-t", metavar="FORMAT", help="markdown (LaTeX math) or html (MathML)."),
    ] = RenderFormat.MARKDOWN,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            dir_okay=False,
            help="Write the document to OUT instead of standard output.",
            show_default=False,
        ),
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Render without checking the steps: no verdicts, and fast."),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            callback=_positive_seconds,
            help="Time limit for checking each step, in seconds.",
        ),
    ] = 10.0,
) -> None:
    from derivcheck.model import EXIT_FAIL
    from derivcheck.render import RenderError, render_file

    if output is not None:
        _refuse_overwriting_inputs(output, [path], what="document")
    try:
        text = render_file(path, to=to.value, check=not no_check, timeout=timeout)
    except RenderError as error:
        for problem in error.problems:
            _error(str(problem))
        raise typer.Exit(EXIT_ERROR if error.fatal else EXIT_FAIL) from None
    except Exception as error:  # a bug in the checker or the renderer, not in the file
        _error(f"internal error while rendering {path}: {_describe(error)}")
        raise typer.Exit(EXIT_ERROR) from None
    if output is None:
        sys.stdout.write(text)
        return
    _write_whole(output, text, "document")


def _write_whole(output: Path, text: str, what: str) -> None:
    """`text` as the file `output`, put in place whole (exit 2 with one line if it cannot be)."""
    with ExitStack() as stack:
        stream, written = _report_file(stack, output, what)
        try:
            stream.write(text)
        except OSError as error:
            _error(f"cannot write the {what} to {output}: {error.strerror or error}")
            raise typer.Exit(EXIT_ERROR) from None
        written()


def _report(
    reporter: Reporter,
    paths: Sequence[Path],
    *,
    timeout: float,
    jobs: int = 1,
    cache: ResultCache | None = None,
    file_budget: float | None = None,
    written: Callable[[], None] = _nothing,
) -> list[FileResult]:
    """Check every file, reporting each as it is done, then the summary; the results.

    Ctrl-C (or SIGTERM, see Terminated) reports what was finished, marked interrupted, and
    exits 130 (143); a checker crash exits 2 with one line.
    A cache that cannot be used is one line on stderr; the results are the same.
    `written` is called once the report is whole (a finished or an interrupted run's): it
    puts a report file in place.
    """
    try:
        return _report_results(
            reporter, paths, timeout=timeout, jobs=jobs, cache=cache, file_budget=file_budget, written=written
        )
    finally:
        if cache is not None:
            for warning in cache.warnings:
                _error(warning)
            cache.warnings.clear()


def _report_results(
    reporter: Reporter,
    paths: Sequence[Path],
    *,
    timeout: float,
    jobs: int,
    cache: ResultCache | None,
    file_budget: float | None = None,
    written: Callable[[], None] = _nothing,
) -> list[FileResult]:
    results: list[FileResult] = []
    finishing = False
    try:
        for result in _check_paths(paths, timeout=timeout, jobs=jobs, cache=cache, file_budget=file_budget):
            results.append(result)
            reporter.file_done(result)
        if results:
            finishing = True
            reporter.finish(results)
            sys.stdout.flush()  # a reader that went away is noticed here, not by click at exit
    except KeyboardInterrupt as stop:
        _stopped(reporter, results, finishing=finishing, terminated=isinstance(stop, Terminated), written=written)
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except CheckCrashed as crash:
        _error(f"internal error while checking {crash.path}: {_describe(crash.error)}")
        raise typer.Exit(EXIT_ERROR) from None
    except Exception as error:  # a bug in discovery, in loading the checker, or in a reporter
        _error(f"internal error: {_describe(error)}")
        raise typer.Exit(EXIT_ERROR) from None
    if not results:
        # A wrong path or glob in CI must not pass as "0 files, all hold": no report, exit 2.
        # Outside the try, whose `except Exception` would catch typer.Exit.
        _error("no derivation files found (*.yaml, *.yml) in " + ", ".join(str(p) for p in paths))
        raise typer.Exit(EXIT_ERROR)
    written()  # outside the try: it may exit (typer.Exit is an Exception)
    return results


def _stopped(
    reporter: Reporter, results: list[FileResult], *, finishing: bool, terminated: bool, written: Callable[[], None]
) -> NoReturn:
    """After Ctrl-C or SIGTERM: the report of the files done, marked interrupted; the exit.

    Interrupted while the whole report was being written, the run writes no second one (and
    a report file is not put in place: the previous one stays).
    """
    how = "interrupted by SIGTERM" if terminated else "interrupted"
    if finishing:
        _error(f"{how} while the report was written, which was left unfinished")
    else:
        try:
            reporter.finish(results, interrupted=True)
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
        except KeyboardInterrupt:  # a second Ctrl-C: stop writing, and go
            pass
        except Exception as error:  # a bug in a reporter, or a full disk: said, and the exit stands
            _error(f"internal error while writing the report: {_describe(error)}")
        else:
            written()
        _error(f"{how} after {len(results)} file(s)")
    raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None


def _silence_stdout() -> None:
    """After the reader of stdout went away, stop Python complaining about it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main() -> None:
    """Console-script entry point.

    A run that loaded SymPy ends the process at once once its output is flushed, as mypy
    does: tearing down SymPy's objects and caches at exit took a tenth of a second and
    more, for memory the system frees anyway. Every file it writes (the report, the cache)
    is closed by then. A run without SymPy (help, a warm run) exits as usual.
    """
    try:
        app(prog_name="derivcheck")
    except SystemExit as done:
        if "sympy" not in sys.modules:
            raise
        _hard_exit(done.code)


def _hard_exit(code: object) -> NoReturn:
    """SystemExit's meaning of `code` (None is 0, a message goes to stderr and is 1), then
    os._exit, after flushing stdout and stderr."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # a reader gone, a stream closed or missing
            if stream is sys.stdout:
                status = EXIT_BROKEN_PIPE
    os._exit(status)
