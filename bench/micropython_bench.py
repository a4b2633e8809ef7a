"""MicroPython engine benchmark (issue 16): for each shipped example, the generated engine of
every variant run on the unix-port MicroPython: rows identical to TFLM, time per inference
(viper and plain, over every evaluation row), heap after importing the .mpy, heap one invoke
allocates, and the .mpy's size; plus what the check adds to a `-q all -e` run.

    python bench/micropython_bench.py [--repeats 3]
    python bench/micropython_bench.py --boards [--tflm_dir ../shared/tflm] [--micropython_dir ../shared/micropython]

Runs main.py in fresh processes, one at a time (on a quiet machine); prints a Markdown table to
paste into BENCHMARKS.md. Each repeat re-times every variant's engine over all rows.

--boards (issue 27) measures on MicroPython's own 32-bit port instead: each example's int8
variant with `--target cortex-m4 --micropython_dir`, per board (Cortex-M3, Cortex-M4F) and engine
path (native: the model's own native module where it was built; kernels: the kernels module
beside it; viper, plain), the rows identical to TFLM, the instructions per inference (exact
under QEMU's -icount shift=0), their ratio to TFLM + CMSIS-NN's and to the C engine's on the
Cortex-M4 target, the heap after import and the bytes one run() allocates, against the issues' goals.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLES = {"digits_cnn": [], "co2_lstm": ["--max_drop", "10"]}


def export(model: str, extra: list[str], destination: Path, skip: bool) -> float:
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(ROOT / "models" / model), "--PTQ",
               "-q", "all", "-e", "--export_dir", str(destination), "--quiet", *extra]
    started = time.monotonic()
    result = subprocess.run(command + (["--skip_firmware_checks"] if skip else []), capture_output=True, text=True)
    if result.returncode not in (0, 3):
        raise SystemExit(f"{model} failed: {result.stderr[-500:]}")
    return time.monotonic() - started


def retime(folder: Path, model_id: str, rows: np.ndarray, expected: np.ndarray, labels: np.ndarray, task: str,
           integer: bool) -> dict[str, float]:
    from helpers.micropython.runtime import EngineInputs, run_engine

    result = run_engine(folder / f"{model_id}_infer.mpy", EngineInputs(rows, expected, labels, task), integer,
                        timed_rows=len(rows))
    return result.us_per_inference or {}


# Issue 27's goals on the board: the ratio to TFLM + CMSIS-NN per path, and 0 bytes per run().
BOARD_GOALS = {"native": 1.5, "viper": 15.0}
# Issue 36: the native path on the Cortex-M4F board within 10% of the C engine on the M4 target.
C_ENGINE_GOAL = 1.1


def _board_models(zoo: bool, work: Path) -> list[tuple[str, Path, list[str]]]:
    """The shipped examples, or the test zoo (built under `work`, seconds each)."""
    if not zoo:
        return [(model, ROOT / "models" / model, extra) for model, extra in EXAMPLES.items()]
    from tests.zoo import build_zoo

    return [(f"zoo_{name}", folder, ["--max_drop", "100"]) for name, folder in build_zoo(work).items()]


def boards(tflm: Path, micropython: Path, zoo: bool) -> None:
    """The int8 engines of the shipped examples (or the zoo) on the 32-bit port, per board and path."""
    print("| example | board | path | identical rows | instructions per inference | ratio to TFLM (goal) | "
          "to the C engine on the M4 (goal) | heap after import (B) | per run() (B) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for model, folder, extra in _board_models(zoo, Path(work)):
            _board_rows(tflm, micropython, model, folder, extra)


def _board_rows(tflm: Path, micropython: Path, model: str, folder: Path, extra: list[str]) -> None:
    """One model's int8 variant through main.py with both boards; its table rows."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(folder), "--PTQ",
                   "-q", "int8", "-e", "--export_dir", str(Path(tmp) / "out"), "--quiet", "--tflm_dir", str(tflm),
                   "--target", "cortex-m4", "--micropython_dir", str(micropython), *extra]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode not in (0, 3):
            raise SystemExit(f"{model} failed: {result.stderr[-500:]}")
        report = json.loads((Path(tmp) / "out" / "report.json").read_text())
    int8 = next(v for v in report["variants"] if v["name"] == "int8")
    engine_m4 = ((int8["firmware"].get("c_engine") or {}).get("targets") or {}).get("cortex-m4") or {}
    c_instructions = engine_m4.get("instructions_per_inference") if engine_m4.get("status") == "pass" else None
    for board in int8["firmware"]["micropython"].get("boards") or []:
        for run in board["paths"]:
            goal = BOARD_GOALS.get(run["path"])
            ratio = run["ratio_to_tflm"]
            verdict = ("" if goal is None or ratio is None
                       else f" ({'meets' if ratio <= goal else 'misses'} {goal}x)")
            path = f"native ({board['native_module']})" if run["path"] == "native" and board.get("native_module") \
                else run["path"]
            to_c = "-"
            if c_instructions and run["instructions_per_inference"]:
                to_c = f"{run['instructions_per_inference'] / c_instructions:.2f}x"
                if run["path"] == "native" and board["board"] == "cortex-m4f":  # issue 36: the same core's figure
                    meets = run["instructions_per_inference"] <= C_ENGINE_GOAL * c_instructions
                    to_c += f" ({'meets' if meets else 'misses'} {C_ENGINE_GOAL}x)"
            measured = f"{run['instructions_per_inference']:,}" if run["instructions_per_inference"] else "too short"
            print(f"| {model} | {board['board']} | {path} | {run['rows'] - run['mismatched_rows']} / "
                  f"{run['rows']} | {measured} | {ratio}x{verdict} | {to_c} | "
                  f"{board['module_heap_bytes']:,} | {run['invoke_alloc_bytes']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--boards", action="store_true", help="measure on MicroPython's 32-bit qemu port")
    parser.add_argument("--zoo", action="store_true", help="with --boards: the test zoo instead of the examples")
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--micropython_dir", type=Path, default=ROOT.parent / "shared" / "micropython")
    args = parser.parse_args()
    if args.boards:
        boards(args.tflm_dir, args.micropython_dir, args.zoo)
        return
    print("| example | variant | identical rows | ms viper (runs) | ms plain (runs) | heap after import (B) | "
          "per invoke (B) | engine .mpy (B) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    added = []
    for model, extra in EXAMPLES.items():
        with tempfile.TemporaryDirectory() as tmp:
            checked = export(model, extra, Path(tmp) / "checked", skip=False)
            skipped = export(model, extra, Path(tmp) / "skipped", skip=True)
            report = json.loads((Path(tmp) / "checked" / "report.json").read_text())
            seconds = report["timings"].get("micropython", 0.0)
            added.append(f"{model}: the MicroPython check took {seconds:.1f} s of a {checked:.1f} s run "
                         f"(the run with --skip_firmware_checks: {skipped:.1f} s)")
            for variant in report["variants"]:
                engine = (variant.get("firmware") or {}).get("micropython")
                if not engine or engine["status"] != "pass":
                    continue
                times = {"viper": [], "plain": []}
                for _ in range(args.repeats):
                    for emitter, value in _rerun(Path(tmp) / "checked", variant["name"], model).items():
                        times[emitter].append(value / 1000)
                cells = [", ".join(f"{t:.3g}" for t in times[e]) or "-" for e in ("viper", "plain")]
                print(f"| {model} | {variant['name']} | {engine['rows'] - engine['mismatched_rows']} / "
                      f"{engine['rows']} | {cells[0]} | {cells[1]} | {engine['module_heap_bytes']:,} | "
                      f"{engine['invoke_alloc_bytes']:,} | {engine['engine_mpy_bytes']:,} |")
    print()
    for line in added:
        print(f"- {line}")


def _rerun(export_dir: Path, variant: str, model: str) -> dict[str, float]:
    from helpers.core.dataset import load_dataset, locate_dataset, split_dataset
    from helpers.core.flatbuffer import inspect_tflite
    from helpers.core.specs import load_specs
    from helpers.emit.identifiers import identifier
    from helpers.measure.litert import quantize

    model_dir = ROOT / "models" / model
    specs = load_specs(model_dir)
    data = split_dataset(load_dataset(locate_dataset(model_dir, specs), specs))
    folder = export_dir / variant
    info = inspect_tflite((folder / "model.tflite").read_bytes())
    rows = quantize(data.evaluation.x, info.input)
    # the correctness is the pipeline's: here only the time counts, so TFLM's outputs are not needed
    expected = np.zeros((len(rows), info.output.size))
    return retime(folder, identifier(specs.name), rows, expected, data.evaluation.y, specs.task.value,
                  info.output.dtype != "float32")


if __name__ == "__main__":
    main()
