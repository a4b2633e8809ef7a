"""Wall time of `main.py --PTQ --check -q all` on MLPerf Tiny's DS-CNN at real size (issue 35, item 5).

    python scripts/bench_check.py [--runs 3] [--model_dir DIR] [--keep DIR] [-- extra main.py flags]

Builds the DS-CNN of tests/zoo_mlperf.py (a SavedModel, about 25 k parameters, trained in about a
minute) into a temporary folder, unless --model_dir names one already built, then times
`python main.py --input_dir DIR --PTQ --check -q all` as a user runs it: a fresh process each time,
TensorFlow's import included. Prints each run, the median, and the exit codes (--check exits 0
when the final variant fits, 3 otherwise: both are a finished check).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path) -> Path:
    """The DS-CNN model directory under `folder`."""
    sys.path.insert(0, str(ROOT))
    from tests.zoo_mlperf import build_mlperf

    return build_mlperf(folder, ["ds_cnn"])["ds_cnn"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_check(model_dir: Path, extra: list[str]) -> tuple[float, float, int, str]:
    """One `--check -q all` run: wall seconds, CPU seconds (the run and every process it waited
    for: on shared cores the wall time also counts other users' load), exit code, last line."""
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(model_dir), "--PTQ", "--check", "-q", "all", *extra]
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, cpu, done.returncode, lines[-1] if lines else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model_dir", type=Path, default=None, help="an already built DS-CNN model directory")
    parser.add_argument("--keep", type=Path, default=None, help="build the model here and keep it")
    parser.add_argument("extra", nargs="*", help="more main.py flags (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        model_dir = args.model_dir or build(args.keep or Path(tmp))
        times, cpus = [], []
        for run in range(args.runs):
            seconds, cpu, code, last = time_check(model_dir, args.extra)
            times.append(seconds)
            cpus.append(cpu)
            print(f"run {run + 1}: {seconds:.1f} s wall, {cpu:.1f} s CPU, exit {code}, load {os.getloadavg()[0]:.1f}: "
                  f"{last[:120]}", flush=True)
    print(f"median of {args.runs}: {statistics.median(times):.1f} s wall (min {min(times):.1f}, max {max(times):.1f}), "
          f"{statistics.median(cpus):.1f} s CPU; {os.cpu_count()} cores; "
          "command: python main.py --input_dir DIR --PTQ --check -q all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
