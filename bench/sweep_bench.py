"""Sweep benchmarks (issue 18): the per-task overhead of Dask's LocalCluster against a bare
process, and (with --digits) the shipped digits sweep on the local cluster.

    python bench/sweep_bench.py [--digits] [--jobs 2]

The old process-pool engine is measured by running `main.py --sweep` of commit 9acee13 (the last
one with it) from a `git worktree`; see BENCHMARKS.md for the numbers and the command.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = [sys.executable, "-c", "pass"]


def _trivial(_: int) -> int:
    return subprocess.run(TRIVIAL).returncode


def overhead(tasks: int, jobs: int) -> tuple[float, float]:
    """Seconds per task: bare processes one after another, and the same through a LocalCluster
    (cluster start-up included, as a sweep pays it)."""
    from dask.distributed import Client, LocalCluster

    started = time.perf_counter()
    for index in range(tasks):
        _trivial(index)
    bare = (time.perf_counter() - started) / tasks
    started = time.perf_counter()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(_trivial, range(tasks), pure=False))
    dask = (time.perf_counter() - started) / tasks
    return bare, dask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    bare, dask = overhead(40, args.jobs)
    print(f"| trivial task (`python -c pass`), 40 in a row | bare process {bare * 1000:.0f} ms | "
          f"through a LocalCluster {dask * 1000:.0f} ms | overhead {1000 * (dask - bare):.0f} ms per task |")
    if args.digits:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "main.py"), "--input_dir", str(ROOT / "models/digits_cnn"),
                            "--sweep", "--jobs", str(args.jobs), "--export_dir", str(Path(tmp) / "sweep"), "--quiet"],
                           check=True)
            print(f"| digits_cnn `--sweep --jobs {args.jobs}` on the LocalCluster | "
                  f"{time.perf_counter() - started:.0f} s |")


if __name__ == "__main__":
    main()
