"""Target benchmarks (issue 15): the first and the cached TFLM library build per target, and the
time the self-test on the targets adds to a `-q all -e` run of each shipped example.

    python bench/targets_bench.py [--tflm_dir ../shared/tflm]

Runs main.py in fresh processes, one at a time (on a quiet machine), with a fresh cache in a
temporary folder; prints a Markdown table to paste into BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("host", "cortex-m4", "cortex-m0plus")
EXAMPLES = {"digits_cnn": [], "co2_lstm": ["--max_drop", "10"]}


def run(model: str, extra: list[str], export: Path, cache: Path, targets: str | None, tflm: Path) -> tuple[float, dict]:
    """One main.py run; its wall time and report.json."""
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(ROOT / "models" / model), "--PTQ",
               "-q", "all", "-e", "--export_dir", str(export), "--quiet", *extra]
    if targets:
        command += ["--tflm_dir", str(tflm), "--target", targets]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, MCU_DEPLOY_CACHE=str(cache)))
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 3):
        raise SystemExit(f"{model} failed: {result.stderr[-500:]}")
    return elapsed, json.loads((export / "report.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--first_builds", action="store_true", help="also time each target's first build alone")
    parser.add_argument("--cache", type=Path, default=None,
                        help="a library cache already filled (skips the warm-up run of each example)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        print("| run | wall time (s) |\n|---|---|")
        for target in TARGETS if args.first_builds else ():  # first build of each target's library, on the digits int8 model alone
            cache = base / f"cache-{target}"
            command_time, _ = run("digits_cnn", [], base / f"first-{target}", cache, target, args.tflm_dir)
            again, _ = run("digits_cnn", [], base / f"again-{target}", cache, target, args.tflm_dir)
            print(f"| digits_cnn `-q all -e --target {target}`, empty cache | {command_time:.0f} |")
            print(f"| the same, cache kept | {again:.0f} |")
        shared = args.cache or base / "cache-all"
        for model, extra in EXAMPLES.items():
            plain, _ = run(model, extra, base / f"{model}-plain", shared, None, args.tflm_dir)
            if args.cache is None:
                run(model, extra, base / f"{model}-warm", shared, ",".join(TARGETS), args.tflm_dir)  # fills the cache
            cached, report = run(model, extra, base / f"{model}-targets", shared, ",".join(TARGETS), args.tflm_dir)
            checked = sum(1 for v in report["variants"] if (v.get("firmware") or {}).get("targets"))
            print(f"| {model} `-q all -e`, no targets | {plain:.0f} |")
            print(f"| {model} `-q all -e --target {','.join(TARGETS)}`, cache kept ({checked} variants on "
                  f"3 targets) | {cached:.0f} (+{cached - plain:.0f}) |")


if __name__ == "__main__":
    main()
