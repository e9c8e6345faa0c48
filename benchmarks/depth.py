"""Benchmarks of issue 12, "deep networks in linear time", in one run on this machine.

Run from the repository root (a few minutes):

    python benchmarks/depth.py                  # everything; writes "depth" in benchmarks/results.json
    python benchmarks/depth.py --max-sigmoid 4 --max-tanh 2 --skip-folder

What it measures, every figure a ratio or a count taken in this one run:

  (1) a network of k hidden layers (sigmoid, k = 1..8; tanh, k = 1..6), a softmax output and
      a cross-entropy cost, written as derivations/backprop_sigmoid_softmax.yaml writes
      seed 001; the claims BP3 and BP4 at layer 1, with delta written out through every
      layer, each alone in a file, checked cold (`derivcheck verify --no-cache -j 1`): the
      seconds (wall and CPU) of each claim, its verdict, and the ratio to k = 1;
  (2) derivations/ cold with -j 1 and with -j 2, and the CPU seconds of every step in one
      process (the slowest named);
  (3) derivations/ cold at the default settings with two busy loops running beside it on the
      two cores: its verdicts against those of the idle run, and its exit code.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"


def network(layers: int, activation: str, claim: str) -> str:
    """A derivation of a network with `layers` hidden layers of `activation`, with one claim:
    BP3 (the gradient of the first bias) or BP4 (of the first weights), delta written out."""
    sizes = ["D", *(f"H{layer}" for layer in range(1, layers + 1)), "N"]
    lines = ["title: a deep network", f"sizes: [{', '.join(sizes)}]", "indices:", "  i: 1..N", "variables:", "  x: [D]"]
    for layer in range(1, layers + 2):
        lines += [f"  W{layer}: [{sizes[layer]}, {sizes[layer - 1]}]", f"  b{layer}: [{sizes[layer]}]"]
    lines += ["  y: [N]", "definitions:"]
    previous = "x"
    for layer in range(1, layers + 1):
        lines += [f"  z{layer}: W{layer} @ {previous} + b{layer}", f"  a{layer}: {activation}(z{layer})"]
        previous = f"a{layer}"
    out = layers + 1
    lines += [f"  z{out}: W{out} @ {previous} + b{out}", f"  a{out}: softmax(z{out})", f"  C: -Sum(y[i]*log(a{out}[i]), (i, 1, N))"]
    lines += ["assumptions:", "  y_one_hot: one_hot(y)", "steps:"]
    delta = f"(a{out} - y)"
    for layer in range(layers, 0, -1):
        derivative = f"a{layer} * (1 - a{layer})" if activation == "sigmoid" else f"(1 - a{layer} * a{layer})"
        delta = f"((W{layer + 1}.T @ {delta}) * {derivative})"
    right = delta if claim == "BP3" else f"{delta} @ x.T"
    lines.append(f"  - claim: Derivative(C, {'b1' if claim == 'BP3' else 'W1'}) = {right}")
    return "\n".join(lines) + "\n"


def derivcheck_command() -> list[str]:
    script = Path(sys.executable).parent / "derivcheck"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "derivcheck"]


def timed(command: Sequence[str], output: Path | None = None) -> dict[str, float]:
    """Run a command: its wall time, the CPU time of it and its children, its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(output, "wb") if output else open(os.devnull, "wb") as stream:
        done = subprocess.run(list(command), stdout=stream, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": round(wall, 3), "cpu": round(cpu, 3), "code": done.returncode, "load": os.getloadavg()[0]}


def claims_by_depth(activation: str, depths: range, timeout: float, work: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for claim in ("BP3", "BP4"):
        first = None
        for layers in depths:
            path = work / f"{activation}-{layers}-{claim}.yaml"
            path.write_text(network(layers, activation, claim), encoding="utf-8")
            report = work / f"{path.stem}.json"
            run = timed([*derivcheck_command(), "verify", str(path), "--no-cache", "-j", "1", "--timeout", f"{timeout:g}", "-f", "json", "-o", str(report)])
            step = json.loads(report.read_text())["files"][0]["steps"][0]
            first = first or run
            row = {"activation": activation, "claim": claim, "layers": layers, **run, "verdict": step["verdict"], "method": step["method"][:80],
                   "ratio_wall": round(run["wall"] / first["wall"], 2), "ratio_cpu": round(run["cpu"] / first["cpu"], 2)}
            rows.append(row)
            print(f"  {activation:<7} {claim} k={layers}: {run['wall']:6.2f} s wall {run['cpu']:6.2f} s CPU  {step['verdict']:<9} x{row['ratio_wall']} wall, x{row['ratio_cpu']} CPU", flush=True)
    return rows


def step_cpu_seconds(folder: Path) -> list[dict[str, object]]:
    """Each claim of each file checked in one process, in file order, as a worker checks a
    run of claims: its CPU seconds (time.process_time) and verdict."""
    sys.path.insert(0, str(ROOT))
    from derivcheck import prepare, source
    from derivcheck.engine import check, fastpaths

    fastpaths.defer_units()
    rows: list[dict[str, object]] = []
    for path in sorted(folder.rglob("*.yaml")):
        derivation, problems = source.load_derivation(path)
        if derivation is None or problems:
            continue
        prepared = prepare.prepare(derivation)
        for pending in prepared.pending:
            started = time.process_time()
            result = check.check_claim(pending.claim, pending.workspace.context, pending.unequal, path=str(path))
            rows.append({"file": str(path.relative_to(ROOT)), "step": result.number, "id": result.id, "cpu": round(time.process_time() - started, 3), "verdict": result.verdict.value})
    return rows


def _busy() -> None:
    while True:
        pass


def folder_runs(folder: Path, work: Path) -> dict[str, object]:
    runs: dict[str, object] = {}
    reports: dict[str, dict] = {}
    for jobs in ("1", "2"):
        report = work / f"folder-j{jobs}.json"
        runs[f"cold -j {jobs}"] = timed([*derivcheck_command(), "verify", str(folder), "--no-cache", "-j", jobs, "-f", "json", "-o", str(report)])
        reports[jobs] = json.loads(report.read_text())
        print(f"  cold -j {jobs}: {runs[f'cold -j {jobs}']}", flush=True)
    context = multiprocessing.get_context("fork")
    loops = [context.Process(target=_busy, daemon=True) for _ in range(2)]
    for loop in loops:
        loop.start()
    try:
        report = work / "folder-busy.json"
        runs["cold, default settings, 2 busy loops beside it"] = timed([*derivcheck_command(), "verify", str(folder), "--no-cache", "-f", "json", "-o", str(report)])
        reports["busy"] = json.loads(report.read_text())
    finally:
        for loop in loops:
            loop.kill()
            loop.join()
    print(f"  busy: {runs['cold, default settings, 2 busy loops beside it']}", flush=True)

    def verdicts(report: dict) -> list[tuple[str, str, str]]:
        return [(entry["path"], step["number"], step["verdict"]) for entry in report["files"] for step in entry["steps"]]

    runs["same verdicts busy as idle"] = verdicts(reports["busy"]) == verdicts(reports["1"]) == verdicts(reports["2"])
    runs["summary"] = reports["1"]["summary"]
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-sigmoid", type=int, default=8)
    parser.add_argument("--max-tanh", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=10.0, help="the CPU limit per claim (the default of verify)")
    parser.add_argument("--folder", type=Path, default=ROOT / "derivations")
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="derivcheck-depth-"))
    results: dict[str, object] = {"command": " ".join(["python", "benchmarks/depth.py", *(argv or sys.argv[1:])]), "load_at_start": os.getloadavg()}
    print("(1) one claim per file, cold, -j 1:", flush=True)
    results["claims"] = claims_by_depth("sigmoid", range(1, args.max_sigmoid + 1), args.timeout, work) + claims_by_depth("tanh", range(1, args.max_tanh + 1), args.timeout, work)
    if not args.skip_folder:
        print("(2) the folder:", flush=True)
        results["folder"] = folder_runs(args.folder, work)
        steps = step_cpu_seconds(args.folder)
        slowest = max(steps, key=lambda row: row["cpu"])  # type: ignore[arg-type,return-value]
        results["steps"] = {"slowest": slowest, "over_2_s": [row for row in steps if row["cpu"] > 2.0], "count": len(steps)}  # type: ignore[operator]
        print(f"  slowest step: {slowest}; steps over 2 s of CPU: {len(results['steps']['over_2_s'])} of {len(steps)}", flush=True)  # type: ignore[index]
    results["load_at_end"] = os.getloadavg()
    existing = json.loads(args.output.read_text()) if args.output.exists() else {}
    existing["depth"] = results
    args.output.write_text(json.dumps(existing, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote the 'depth' part of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
