"""Benchmarks of issue 6, "fast enough to run on every save and every push".

Run from the repository root (takes several minutes: the folder is checked cold twice,
and the naive baseline runs every claim with a time limit):

    python benchmarks/run.py                      # everything; writes benchmarks/results.json
    python benchmarks/run.py --skip-baseline      # without (d)

Every figure is a ratio measured in this one run, on this machine:

  (a) `derivcheck --help` against `python -c pass`                       target <= 4x
  (b) cold `derivcheck verify derivations/softmax_ce.yaml` against
      `python -c "import sympy"`                                          target <= 4x
  (c) all of derivations/ cold with -j 1 and -j 2 (empty caches), and warm
      (every step cached) against `python -c pass`                        targets: warm imports
      no SymPy and <= 5x; -j 2 >= 1.6x faster than -j 1
  (d) the naive baseline: each claim checked by sympy.simplify(lhs - rhs) == 0 with the
      definitions substituted and derivatives done, 10 s per claim in a killable worker,
      side by side with derivcheck's verdicts on the same claims

Short commands are run several times, interleaved with what they are compared to, and
the median is used. The machine may be shared: the load average is recorded with each
figure, and CPU time next to wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
# A copy of derivcheck/ and derivations/ taken at the start, run through PYTHONPATH: other
# people editing the working tree meanwhile change neither the code measured nor the cache
# keys (which hash the code) between the cold and the warm runs.
SNAPSHOT = Path(tempfile.mkdtemp(prefix="derivcheck-snapshot-"))
TARGETS = {"help": 4.0, "cold_softmax": 4.0, "warm_folder": 5.0, "jobs_speedup": 1.6}


# -- measuring --------------------------------------------------------------------------------------


def derivcheck_command() -> list[str]:
    """The console script installed next to this interpreter (not a shim in front of it,
    such as pyenv's, a shell script that costs more than Python's own start-up)."""
    script = Path(sys.executable).parent / "derivcheck"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "derivcheck"]


def timed(command: Sequence[str], *, env: dict[str, str] | None = None, output: Path | None = None) -> dict[str, float]:
    """Run a command once: its wall time, the CPU time of it and its children, and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(output, "wb") if output else open(os.devnull, "wb") as stream:
        done = subprocess.run(list(command), stdout=stream, stderr=subprocess.PIPE, env=env or environment(None), cwd=SNAPSHOT, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "code": float(done.returncode), "load": os.getloadavg()[0]}


def median_of(commands: dict[str, Sequence[str]], repeat: int, *, env: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Each command `repeat` times, interleaved; the median wall and CPU time of each."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(timed(command, env=env))
    return {
        name: {
            "wall": statistics.median(run["wall"] for run in done),
            "wall_min": min(run["wall"] for run in done),
            "cpu": statistics.median(run["cpu"] for run in done),
            "runs": float(len(done)),
            "load": statistics.mean(run["load"] for run in done),
        }
        for name, done in runs.items()
    }


def environment(cache_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SNAPSHOT)
    if cache_dir is not None:
        env["DERIVCHECK_CACHE_DIR"] = str(cache_dir)
    env.pop("GITHUB_ACTIONS", None)
    return env


def take_snapshot() -> None:
    for name in ("derivcheck", "derivations"):
        shutil.copytree(ROOT / name, SNAPSHOT / name, ignore=shutil.ignore_patterns("__pycache__"))
    # Byte-compiled, as an installed package is: with PYTHONDONTWRITEBYTECODE set (as on
    # this project's machines) every run would otherwise compile derivcheck from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(SNAPSHOT / "derivcheck")], check=True)
    check = subprocess.run([sys.executable, "-c", "import derivcheck; print(derivcheck.__file__)"], capture_output=True, text=True, env=environment(None), cwd=SNAPSHOT, check=True)
    assert check.stdout.strip().startswith(str(SNAPSHOT)), check.stdout
    sys.path.insert(0, str(SNAPSHOT))  # the baseline, run here, uses the same code


def _busy() -> None:
    total = 0
    for number in range(4_000_000):
        total += number * number


def parallel_calibration() -> dict[str, float]:
    """Two CPU-bound processes one after the other, then at once: the speed-up that the
    machine gives two processes right now (1.0 when other work keeps its cores busy)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    for _ in range(2):
        process = context.Process(target=_busy)
        process.start()
        process.join()
    serial = time.perf_counter() - started
    started = time.perf_counter()
    processes = [context.Process(target=_busy) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    parallel = time.perf_counter() - started
    return {"serial": serial, "parallel": parallel, "speedup": serial / parallel, "load": os.getloadavg()[0]}


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "derivcheck", "derivations"], capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip())
    except OSError:
        commit, dirty = "unknown", False
    import sympy

    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "sympy": sympy.__version__,
        "platform": platform.platform(),
        "git_commit": commit,
        "working_tree_changed": dirty,
        "load_average_at_start": os.getloadavg(),
    }


def imports_sympy(args: Sequence[str], env: dict[str, str]) -> bool:
    """Whether `derivcheck ARGS` imports SymPy (from `python -X importtime`)."""
    program = derivcheck_command()
    program = program if len(program) == 1 else ["-m", "derivcheck"]
    command = [sys.executable, "-X", "importtime", *program, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=SNAPSHOT, check=False)
    return any(re.search(r"\|\s+sympy(\.|$)", line) for line in done.stderr.splitlines())


# -- (d) the naive baseline ------------------------------------------------------------------------


def naive_equal(lhs: object, rhs: object, ctx: object) -> bool:
    """What a user would write: substitute the definitions (but that of the variable a
    derivative is taken with respect to), do the derivatives, simplify the difference."""
    import sympy

    from derivcheck.vocabulary import Diff

    def expand(expr: sympy.Basic, keep: str | None) -> sympy.Basic:
        for _ in range(20):  # definitions that use definitions
            new = expr
            for name, d in ctx.definitions.items():  # type: ignore[attr-defined]
                if name == keep:
                    continue
                if d.params:
                    new = new.replace(
                        lambda e, d=d: isinstance(e, sympy.Indexed) and e.base == d.target,
                        lambda e, d=d: d.body.xreplace(dict(zip(d.params, e.indices))),
                    )
                else:
                    new = new.xreplace({d.target: d.body})
            if new == expr:
                return expr
            expr = new
        return expr

    def side(expr: sympy.Basic) -> sympy.Basic:
        expr = expr.replace(
            lambda e: isinstance(e, Diff),
            lambda e: sympy.Derivative(expand(e.args[0], ctx.family_of(e.args[1])), e.args[1]).doit(),  # type: ignore[attr-defined]
        )
        return expand(expr, None).doit()

    return sympy.simplify(side(lhs) - side(rhs)) == 0


def baseline(files: list[Path], derivcheck_report: dict[str, object], seconds: float) -> dict[str, object]:
    """The naive check of every claim of `files`, next to derivcheck's verdict on it."""
    from derivcheck import prepare, source
    from derivcheck.run import worker

    verdicts = {
        (entry["path"], step["number"]): step["verdict"]
        for entry in derivcheck_report["files"]  # type: ignore[union-attr]
        for step in entry["steps"]
    }
    rows = []
    started = time.perf_counter()
    for path in files:
        derivation, problems = source.load_derivation(path)
        if derivation is None or problems:
            continue
        try:
            workspace = prepare.build(derivation)
        except prepare.FileProblems:
            continue
        for step in derivation.steps:
            claims, _errors = prepare.claims_of(step, workspace)
            for claim in claims:
                ctx = workspace.context
                began = time.perf_counter()
                outcome = worker.run_limited(lambda claim=claim, ctx=ctx: naive_equal(claim.lhs, claim.rhs, ctx), seconds=seconds)
                took = time.perf_counter() - began
                if isinstance(outcome, worker.Finished):
                    naive = "equal" if outcome.value else "not shown equal"
                elif isinstance(outcome, worker.TimedOut):
                    naive = "time-out"
                else:
                    naive = "crashed: " + outcome.reason.splitlines()[0][:120]
                ours = verdicts.get((str(path), claim.number), "missing")
                expected_wrong = step.expect_refuted
                rows.append(
                    {
                        "path": str(path),
                        "number": claim.number,
                        "naive": naive,
                        "naive_seconds": round(took, 3),
                        "derivcheck": ours,
                        "expect_refuted": expected_wrong,
                    }
                )
    total = time.perf_counter() - started
    naive_counts = Counter(str(row["naive"]).split(":")[0] for row in rows)
    ours_counts = Counter(row["derivcheck"] for row in rows)
    return {
        "claims": len(rows),
        "seconds_per_claim_limit": seconds,
        "naive_wall": total,
        "naive": dict(naive_counts),
        "derivcheck": dict(ours_counts),
        # The naive check decides a claim only by showing it holds; it cannot show one is wrong.
        "naive_decided": naive_counts["equal"],
        "derivcheck_decided": sum(ours_counts[v] for v in ("proved", "checked", "refuted")),
        "rows": rows,
    }


# -- the run ----------------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def compare_before(revision: str, folder: Path, repeat: int, timeout: list[str], dc: list[str], work: Path) -> dict[str, object]:
    """The cold folder (-j 1, no cache) of `revision`'s derivations/, timed with this code and
    with the derivcheck/ of `revision` (both taken with git archive), runs interleaved;
    medians, and each side's summary."""
    before = SNAPSHOT / "before"
    before.mkdir()
    # The code of `revision`, and its derivations/: the two runs check the same files, which
    # the older code can read.
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "derivcheck", "derivations"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(before / "derivcheck")], check=True)
    folder = before / "derivations"
    commands = {"now": [*dc, "verify", str(folder), "-j", "1", "--no-cache", "-f", "json", *timeout],
                "before": [sys.executable, "-m", "derivcheck", "verify", str(folder), "-j", "1", "--no-cache", "-f", "json", *timeout]}
    envs = {"now": environment(None), "before": {**environment(None), "PYTHONPATH": str(before)}}
    runs: dict[str, list[dict[str, float]]] = {"now": [], "before": []}
    summaries: dict[str, object] = {}
    for attempt in range(repeat):
        for name in ("before", "now") if attempt % 2 else ("now", "before"):
            report = work / f"before-{name}-{attempt}.json"
            runs[name].append(timed(commands[name], env=envs[name], output=report))
            summary = json.loads(report.read_text())["summary"]
            summaries[name] = {key: summary[key] for key in ("proved", "checked", "refuted", "undecided", "error")}
    out: dict[str, object] = {"revision": subprocess.run(["git", "-C", str(ROOT), "rev-parse", revision], capture_output=True, text=True, check=True).stdout.strip()}
    for name, found in runs.items():
        out[name] = {"wall": statistics.median(r["wall"] for r in found), "cpu": statistics.median(r["cpu"] for r in found), "load": statistics.mean(r["load"] for r in found), "summary": summaries[name]}
    out["ratio_wall"] = ratio(out["now"]["wall"], out["before"]["wall"])  # type: ignore[index]
    out["ratio_cpu"] = ratio(out["now"]["cpu"], out["before"]["cpu"])  # type: ignore[index]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("derivations"))
    parser.add_argument("--file", type=Path, default=Path("derivations/softmax_ce.yaml"))
    parser.add_argument("--repeat-short", type=int, default=9, help="runs of each short command (median)")
    parser.add_argument("--repeat-cold", type=int, default=3, help="runs of the cold single file (median)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--timeout", type=float, default=10.0, help="per claim, for derivcheck and the baseline")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--before",
        default=None,
        metavar="REV",
        help="a git revision whose derivcheck/ is also timed on the cold folder (-j 1, --no-cache), interleaved "
        "with this one's: the cost of a change such as issue 11's witness (REV 29e3489, the last commit before it)",
    )
    parser.add_argument("--repeat-before", type=int, default=3, help="runs of each side of --before (median)")
    args = parser.parse_args(argv)
    args.output = args.output.resolve()

    dc = derivcheck_command()
    python = sys.executable
    take_snapshot()
    os.chdir(SNAPSHOT)
    work = Path(tempfile.mkdtemp(prefix="derivcheck-bench-"))
    results: dict[str, object] = {
        "machine": machine(),
        "command": " ".join([Path(python).name, "benchmarks/run.py", *sys.argv[1:]]),
        "derivcheck": dc,
        "snapshot": "derivcheck/ and derivations/ of the working tree, copied at the start",
    }
    timeout = ["--timeout", f"{args.timeout:g}"]
    print(f"machine: {results['machine']}", flush=True)
    results["parallel_calibration_before"] = parallel_calibration()

    # (a) start-up
    short = median_of(
        {"python -c pass": [python, "-c", "pass"], "derivcheck --help": [*dc, "--help"], "derivcheck --version": [*dc, "--version"]},
        args.repeat_short,
    )
    results["startup"] = short
    base = short["python -c pass"]["wall"]
    print(f"(a) {short}", flush=True)

    # (b) cold single file: an empty cache each time, as a first run
    cold_runs: dict[str, list[dict[str, float]]] = {"import sympy": [], "cold file": []}
    for attempt in range(args.repeat_cold):
        cold_runs["import sympy"].append(timed([python, "-c", "import sympy"]))
        env = environment(work / f"cold-file-{attempt}")
        cold_runs["cold file"].append(timed([*dc, "verify", str(args.file), *timeout], env=env))
    cold = {
        name: {"wall": statistics.median(r["wall"] for r in runs), "wall_min": min(r["wall"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs), "load": statistics.mean(r["load"] for r in runs), "codes": [r["code"] for r in runs]}
        for name, runs in cold_runs.items()
    }
    results["cold_file"] = cold
    print(f"(b) {cold}", flush=True)

    # (c) the folder: cold with 1 and 2 jobs (empty caches), then warm from the -j 1 cache
    folder: dict[str, object] = {}
    reports = {}
    for jobs in (1, 2):
        cache_dir = work / f"folder-j{jobs}"
        report = work / f"folder-j{jobs}.json"
        run = timed([*dc, "verify", str(args.folder), "-j", str(jobs), "-f", "json", "-o", str(report), *timeout], env=environment(cache_dir))
        folder[f"cold -j {jobs}"] = run
        reports[jobs] = json.loads(report.read_text())
        print(f"(c) cold -j {jobs}: {run}", flush=True)
    folder["same report with -j 1 and -j 2"] = reports[1] == reports[2]
    if reports[1] != reports[2]:
        folder["steps that differ"] = [
            f"{a['path']} {sa['number']}: {sa['verdict']} ({sa['method']}) / {sb['verdict']} ({sb['method']})"
            for a, b in zip(reports[1]["files"], reports[2]["files"])
            for sa, sb in zip(a["steps"], b["steps"])
            if sa != sb
        ]
    results["parallel_calibration_after"] = parallel_calibration()
    warm_env = environment(work / "folder-j1")
    unfinished = sorted(
        {
            entry["path"]
            for entry in reports[1]["files"]
            for step in entry["steps"]
            if step["method"].startswith(("time-out", "the check crashed"))
        }
    )
    cached_files = [entry["path"] for entry in reports[1]["files"] if entry["path"] not in unfinished]
    folder["files with a time-out (not cached, checked again when warm)"] = unfinished
    warm = median_of(
        {
            "python -c pass": [python, "-c", "pass"],
            "warm folder": [*dc, "verify", str(args.folder), *timeout],
            "warm cached files": [*dc, "verify", *cached_files, *timeout],
            "warm folder, -f json": [*dc, "verify", str(args.folder), "-f", "json", *timeout],
        }
        if not unfinished
        else {
            "python -c pass": [python, "-c", "pass"],
            "warm cached files": [*dc, "verify", *cached_files, *timeout],
        },
        args.repeat_short,
        env=warm_env,
    )
    if unfinished:
        warm["warm folder"] = timed([*dc, "verify", str(args.folder), *timeout], env=warm_env)
    folder["warm"] = warm
    folder["warm imports sympy"] = imports_sympy(["verify", *cached_files, *timeout], warm_env)
    folder["warm folder imports sympy"] = imports_sympy(["verify", str(args.folder), *timeout], warm_env)
    folder["summary"] = reports[1]["summary"]
    results["folder"] = folder
    print(f"(c) warm: {warm}", flush=True)

    # (e) the cost of a change: the cold folder with the code of --before, interleaved with this code
    if args.before:
        results["before"] = compare_before(args.before, args.folder, args.repeat_before, timeout, dc, work)
        print(f"(e) {results['before']}", flush=True)

    # (d) the naive baseline on the same claims
    if not args.skip_baseline:
        files = sorted(p for p in args.folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        results["baseline"] = baseline(files, reports[1], args.timeout)

    # the table
    j1 = folder["cold -j 1"]["wall"]  # type: ignore[index]
    j2 = folder["cold -j 2"]["wall"]  # type: ignore[index]
    warm_wall = warm["warm cached files"]["wall"]
    warm_folder_wall = warm["warm folder"]["wall"]
    warm_base = warm["python -c pass"]["wall"]
    measured = {
        "help": ratio(short["derivcheck --help"]["wall"], base),
        "cold_softmax": ratio(cold["cold file"]["wall"], cold["import sympy"]["wall"]),
        "warm_folder": ratio(warm_wall, warm_base),
        "jobs_speedup": ratio(j1, j2),
    }
    met = {
        "help": measured["help"] <= TARGETS["help"],
        "cold_softmax": measured["cold_softmax"] <= TARGETS["cold_softmax"],
        "warm_folder": measured["warm_folder"] <= TARGETS["warm_folder"] and not folder["warm imports sympy"],
        "jobs_speedup": measured["jobs_speedup"] >= TARGETS["jobs_speedup"],
    }
    results["ratios"] = measured
    results["targets"] = TARGETS
    results["met"] = met
    results["machine"]["load_average_at_end"] = os.getloadavg()  # type: ignore[index]

    lines = [
        "",
        f"{'measure':<52} {'time':>10} {'against':>10} {'ratio':>7}  target   met",
        f"{'(a) derivcheck --help / python -c pass':<52} {short['derivcheck --help']['wall']:>9.3f}s {base:>9.3f}s {measured['help']:>6.2f}x  <= 4x   {met['help']}",
        f"{'    derivcheck --version / python -c pass':<52} {short['derivcheck --version']['wall']:>9.3f}s {base:>9.3f}s {ratio(short['derivcheck --version']['wall'], base):>6.2f}x",
        f"{'(b) cold verify ' + args.file.name + ' / import sympy':<52} {cold['cold file']['wall']:>9.3f}s {cold['import sympy']['wall']:>9.3f}s {measured['cold_softmax']:>6.2f}x  <= 4x   {met['cold_softmax']}",
        f"{'(c) warm, every cached file of ' + str(args.folder) + '/ / python -c pass':<52} {warm_wall:>9.3f}s {warm_base:>9.3f}s {measured['warm_folder']:>6.2f}x  <= 5x   {met['warm_folder']}",
        f"{'    ... imports SymPy':<52} {folder['warm imports sympy']!s:>10}",
        f"{'    warm, the whole folder / python -c pass':<52} {warm_folder_wall:>9.3f}s {warm_base:>9.3f}s {ratio(warm_folder_wall, warm_base):>6.2f}x",
        *(
            [f"{'    warm, the whole folder, -f json / python -c pass':<52} {warm['warm folder, -f json']['wall']:>9.3f}s {warm_base:>9.3f}s {ratio(warm['warm folder, -f json']['wall'], warm_base):>6.2f}x"]
            if "warm folder, -f json" in warm
            else []
        ),
        f"{'    ... imports SymPy':<52} {folder['warm folder imports sympy']!s:>10}",
        f"{'    files not cached (a step timed out)':<52} {', '.join(unfinished) or 'none'}",
        f"{'    cold -j 1 / cold -j 2 (speed-up)':<52} {j1:>9.1f}s {j2:>9.1f}s {measured['jobs_speedup']:>6.2f}x  >= 1.6x {met['jobs_speedup']}",
        f"{'    CPU time of cold -j 1 / -j 2':<52} {folder['cold -j 1']['cpu']:>9.1f}s {folder['cold -j 2']['cpu']:>9.1f}s",  # type: ignore[index]
        f"{'    same report with -j 1 and -j 2':<52} {folder['same report with -j 1 and -j 2']!s:>10}",
        f"{'    machine: 2 busy loops, serial / parallel':<52} {results['parallel_calibration_before']['speedup']:>6.2f}x before, {results['parallel_calibration_after']['speedup']:.2f}x after the -j runs",  # type: ignore[index]
    ]
    if "baseline" in results:
        b = results["baseline"]
        lines += [
            "",
            f"(d) {b['claims']} claims, {args.timeout:g} s limit each:",  # type: ignore[index]
            f"    derivcheck -j 1 cold: {j1:7.1f}s  decided {b['derivcheck_decided']}  {dict(sorted(b['derivcheck'].items()))}",  # type: ignore[index]
            f"    naive simplify:       {b['naive_wall']:7.1f}s  decided {b['naive_decided']}  {dict(sorted(b['naive'].items()))}",  # type: ignore[index]
        ]
    if "before" in results:
        e = results["before"]
        lines += [
            "",
            f"(e) cold {args.folder}/ with -j 1 --no-cache, median of {args.repeat_before}, interleaved:",
            f"    this code:          {e['now']['wall']:7.1f}s wall {e['now']['cpu']:7.1f}s CPU  {e['now']['summary']}",  # type: ignore[index]
            f"    code at {e['revision'][:10]}: {e['before']['wall']:7.1f}s wall {e['before']['cpu']:7.1f}s CPU  {e['before']['summary']}",  # type: ignore[index]
            f"    ratio (this / before): {e['ratio_wall']:.2f}x wall, {e['ratio_cpu']:.2f}x CPU",  # type: ignore[index]
        ]
    lines.append(f"\nload average at start {results['machine']['load_average_at_start']}, at end {results['machine']['load_average_at_end']}")  # type: ignore[index]
    print("\n".join(lines))
    # benchmarks/depth.py keeps its figures under "depth" in the same file: they stay.
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    if "depth" in previous:
        results["depth"] = previous["depth"]
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(SNAPSHOT, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
