"""Accuracy recovery benchmark (issue 28): for the shipped examples and the test zoo, the int8
variant the tool exports (`--PTQ -q int8`, default guard, recovery on) against the same run with
`--no_recovery` and against the tutorial's int8 (the converter given the first 100 calibration rows
in CSV order, as the TensorFlow guide's representative_dataset does), all on the tool's evaluation
rows, with the recovery's strategy and time.

    python bench/recovery_bench.py [--zoo] [--work DIR]

Prints a Markdown table for BENCHMARKS.md. Runs main.py in fresh processes, one at a time.
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
TUTORIAL_ROWS = 100


def _run(model_dir: Path, out: Path, extra: list[str]) -> tuple[dict, float, int]:
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(model_dir), "--PTQ", "-q", "int8",
               "--skip_firmware_checks", "--export_dir", str(out), "--quiet", *extra]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode not in (0, 3):
        raise SystemExit(f"{model_dir.name} failed: {result.stderr[-400:]}")
    return json.loads((out / "report.json").read_text()), time.monotonic() - started, result.returncode


def _tutorial_int8(model_dir: Path) -> float:
    """The tutorial's int8 on the tool's evaluation rows: calibrated on the first rows, in order."""
    from helpers.convert import isolated
    from helpers.core.dataset import load_dataset, locate_dataset, split_dataset
    from helpers.core.flatbuffer import inspect_tflite
    from helpers.core.specs import load_specs
    from helpers.frontend.model_loader import load_model
    from helpers.frontend.tf_runtime import tf
    from helpers.measure.litert import LiteRtRunner, dequantize, quantize
    from helpers.measure.metrics import compute_metrics, primary_metric

    specs = load_specs(model_dir)
    data = split_dataset(load_dataset(locate_dataset(model_dir, specs), specs))
    model = load_model(model_dir, specs)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(isolated.saved_function(model)))
    rows = data.calibration.x[:TUTORIAL_ROWS].astype(np.float32)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[np.newaxis]] for row in rows)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    content = bytes(converter.convert())
    info = inspect_tflite(content)
    raw = LiteRtRunner(content, info).run_quantized(quantize(data.evaluation.x, info.input))
    return compute_metrics(dequantize(raw, info.output), data.evaluation.y, specs)[primary_metric(specs)]


def _tutorial_in_child(model_dir: Path) -> str:
    """The tutorial's int8 metric, converted in a child process: TensorFlow's converter can die on
    a recurrent model the tool itself converts unrolled (the GRU), and that must not end the bench."""
    result = subprocess.run([sys.executable, __file__, "--tutorial", str(model_dir)], capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return f"converter died (exit {result.returncode})"
    return f"{float(lines[-1]):.4f}"


def _models(zoo: bool, work: Path) -> list[tuple[str, Path]]:
    shipped = [(name, ROOT / "models" / name) for name in ("digits_cnn", "co2_lstm")]
    if not zoo:
        return shipped
    from tests.zoo import build_zoo

    return shipped + [(f"zoo_{name}", folder) for name, folder in build_zoo(work).items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zoo", action="store_true", help="the test zoo too")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="these models only (names as in the table)")
    parser.add_argument("--tutorial", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tutorial is not None:
        print(_tutorial_int8(args.tutorial))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="mcu-deploy-recovery-"))
    print("| model | metric | float (Keras) | tutorial int8 | exported int8, no recovery | exported int8 | "
          "recovery (validation drop before -> after) | recovery s | run s | exit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, folder in _models(args.zoo, work / "zoo"):
        if args.only and name not in args.only:
            continue
        plain, _, _ = _run(folder, work / f"{name}_plain", ["--no_recovery"])
        report, seconds, code = _run(folder, work / f"{name}_recovered", [])
        metric = report["primary_metric"]
        variants = {v["name"]: v for v in report["variants"]}
        before = {v["name"]: v for v in plain["variants"]}["int8"]["metrics"][metric]
        int8 = variants["int8"]
        recovery = int8["optimization"].get("recovery")
        if recovery is None:
            what = "not needed (within the guard on the validation rows)"
        else:
            kept = next((a for a in recovery["attempts"] if a["kept"]), None)
            after = kept["validation_drop"] if kept else recovery["before_drop"]
            what = f"{recovery['chosen'] or 'none kept'} ({recovery['before_drop']:+.2f} -> {after:+.2f})"
            if recovery.get("evaluation_check"):
                what += "; refused on the evaluation rows"
        spent = report["timings"].get("recovery", 0.0)
        print(f"| {name} | {metric} | {variants['keras']['metrics'][metric]:.4f} | {_tutorial_in_child(folder)} | "
              f"{before:.4f} | {int8['metrics'][metric]:.4f} | {what} | {spent:.1f} | {seconds:.0f} | {code} |",
              flush=True)


if __name__ == "__main__":
    main()
