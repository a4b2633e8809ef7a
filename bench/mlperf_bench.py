"""Real-size benchmark (issue 24): MLPerf Tiny's four reference networks (tests/zoo_mlperf.py)
through the whole flow, the wall time of each run and its time per phase.

    python bench/mlperf_bench.py [--tflm_dir ../shared/tflm] [--models ds_cnn,resnet8] [--work DIR]
                                 [--micropython_dir ../shared/micropython] [--paths]

Each model is trained once into --work (kept, so a second run skips the training), then runs
`main.py --input_dir M --PTQ -q int8 -e --tflm_dir T --target cortex-m4` with the library cache
warmed by a first run of the shipped digits CNN, one run at a time. Prints a Markdown table for
BENCHMARKS.md: the wall time against the issue's goal, report.json's time per phase, and whether
every int8 engine (MicroPython, C) is identical to TFLM on what it checked.

--paths runs the other flows on each model instead (`-q all -e`, `--prune --PTQ -q int8 -e`,
`--QAT -e`, TFLM checked, no target) and prints, per flow, the exit code, the wall time and each
variant's metric, tolerance verdict and checks: what the tool makes of a real-size model it was
not tuned on.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The goals for the whole run on 2 cores, in seconds.
GOALS_S = {"ds_cnn": 180, "resnet8": 240, "autoencoder": 180, "mobilenet": 480}
PHASES = ("load", "convert", "evaluate", "tflm_checks", "targets", "micropython", "render")


FLOWS = {"-q all": ["--PTQ", "-q", "all"], "--prune -q int8": ["--prune", "--PTQ", "-q", "int8"], "--QAT": ["--QAT"]}


def _main_py(model_dir: Path, export: Path, cache: Path, tflm: Path, micropython: Path | None,
             flags: tuple[str, ...] = ("--PTQ", "-q", "int8", "--target", "cortex-m4")) -> tuple[float, dict]:
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(model_dir), *flags, "-e",
               "--export_dir", str(export), "--quiet", "--tflm_dir", str(tflm)]
    if micropython:
        command += ["--micropython_dir", str(micropython)]
    env = {k: v for k, v in os.environ.items() if k != "MICROPYTHON_DIR"}
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(env, MCU_DEPLOY_CACHE=str(cache)))
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 3):
        raise SystemExit(f"{model_dir.name} failed (exit {result.returncode}): {result.stderr[-800:]}")
    report = json.loads((export / "report.json").read_text())
    report["exit_code"] = result.returncode
    return elapsed, report


def _flows(model_dir: Path, work: Path, cache: Path, tflm: Path) -> None:
    """The other flows on one model: exit code, time, and each variant's metric and checks."""
    for flow, flags in FLOWS.items():
        elapsed, report = _main_py(model_dir, work / "flows" / model_dir.name / flow.replace(" ", ""), cache, tflm,
                                   None, tuple(flags))
        metric = report["primary_metric"]
        cells = []
        for variant in report["variants"][1:]:
            firmware = variant.get("firmware") or {}
            python = (firmware.get("micropython") or {}).get("status", "-")
            value = (variant.get("metrics") or {}).get(metric)
            verdict = {True: "ok", False: "OUTSIDE", None: "-"}[variant.get("within_tolerance")]
            if value is None:
                cells.append(f"{variant['name']}: {variant.get('error')}")
                continue
            cells.append(f"{variant['name']} {value:.4g} {verdict} (TFLM {firmware.get('tflm_runnable', '-')}, "
                         f"MicroPython {python})")
        print(f"| {model_dir.name} | `{flow}` | {report['exit_code']} | {elapsed:.0f} | {'; '.join(cells)} |")


def _identical(variant: dict) -> str:
    """What the int8 variant's checks say: the MicroPython engine, the C engine and TFLM on the M4."""
    firmware = variant.get("firmware") or {}
    engine = firmware.get("micropython") or {}
    c_engine = ((firmware.get("c_engine") or {}).get("targets") or {}).get("cortex-m4") or {}
    m4 = (firmware.get("targets") or {}).get("cortex-m4") or {}
    said = [f"MicroPython {engine.get('status')} on {engine.get('rows')}/{engine.get('evaluation_rows')} rows",
            f"C engine {c_engine.get('status')} (identical to TFLM: {c_engine.get('identical_to_tflm')})",
            f"TFLM M4 {m4.get('status')}"]
    return "; ".join(said)


def main() -> None:
    from tests.zoo_mlperf import MLPERF

    parser = argparse.ArgumentParser()
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--micropython_dir", type=Path, default=None,
                        help="also run the engines on MicroPython's 32-bit port")
    parser.add_argument("--models", default=",".join(MLPERF))
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "mcu-deploy-bench" / "mlperf")
    parser.add_argument("--paths", action="store_true", help="the other flows instead: -q all, --prune, --QAT")
    args = parser.parse_args()
    names = [name for name in args.models.split(",") if name]
    cache = args.work / "cache"
    args.work.mkdir(parents=True, exist_ok=True)
    _main_py(ROOT / "models" / "digits_cnn", args.work / "warm", cache, args.tflm_dir, None)  # the library, cached
    rows = []
    if args.paths:
        print("| model | flow | exit | wall (s) | variants: metric, tolerance, checks |\n|---|---|---|---|---|")
    for name in names:
        model_dir = args.work / "models" / name
        if not (model_dir / "specs.json").is_file():
            started = time.monotonic()
            MLPERF[name](model_dir)
            print(f"trained {name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        if args.paths:
            _flows(model_dir, args.work, cache, args.tflm_dir)
            continue
        elapsed, report = _main_py(model_dir, args.work / "export" / name, cache, args.tflm_dir, args.micropython_dir)
        timings = report.get("timings") or {}
        int8 = next(v for v in report["variants"] if v["name"] == "int8")
        metric = report["primary_metric"] if "primary_metric" in report else next(iter(int8["metrics"]))
        goal = GOALS_S[name]
        rows.append(f"| {name} | {elapsed:.0f} s ({'meets' if elapsed <= goal else 'misses'} {goal} s) | "
                    + " | ".join(f"{timings.get(phase, 0):.0f}" for phase in PHASES)
                    + f" | {metric} {int8['metrics'].get(metric, float('nan')):.4g} | {_identical(int8)} |")
        print(rows[-1], file=sys.stderr)
    if args.paths:
        return
    print("| model | whole run (goal) | " + " | ".join(f"{p} (s)" for p in PHASES) + " | int8 metric | checks |")
    print("|---" * (len(PHASES) + 4) + "|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
