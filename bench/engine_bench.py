"""C engine benchmark (issue 26): the generated engine against TFLM's build of the same variant on
the same target, for the shipped examples and the zoo models the engine runs.

    python bench/engine_bench.py [--tflm_dir ../shared/tflm] [--zoo] [--cache DIR]
    python bench/engine_bench.py --mlperf ds_cnn [--mlperf_dir DIR] [--targets cortex-m4,cortex-m0plus]

Each model runs once through main.py (`--PTQ -q int8 -e --target host,cortex-m4,cortex-m0plus`),
and the figures are read from its report.json: they are measured on the emulated 32-bit boards
(link maps and QEMU's instruction trace), never scaled from the host. Prints a Markdown table
for BENCHMARKS.md, with the issue's goals checked per row.

--mlperf runs MLPerf Tiny's networks (tests/zoo_mlperf.py, trained into --mlperf_dir once and
reused) instead of the examples; the engine's own kernels (issue 36, docs/kernels.md) run on the
Cortex-M4 there, the plain-C Armv6-M ones on the M0+, and the TFLM column is TFLM + CMSIS-NN in the same run.
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
sys.path.insert(0, str(ROOT))
TARGETS = "host,cortex-m4,cortex-m0plus"
EXAMPLES = {"digits_cnn": ROOT / "models" / "digits_cnn", "co2_lstm": ROOT / "models" / "co2_lstm"}
# The goals on the Cortex-M4: code, code + model (digits: 0.5, else below 1), RAM, instructions.
GOALS = {"code": 0.25, "total": 1.0, "ram": 0.7, "instructions": 1.0}
# Issue 36's instruction goals for MLPerf Tiny on the Cortex-M4, against TFLM + CMSIS-NN.
MLPERF_GOALS = {"mlperf_ds_cnn": 0.6, "mlperf_resnet8": 0.6, "mlperf_mobilenet": 0.5, "mlperf_autoencoder": 0.8}


def run(model_dir: Path, export: Path, cache: Path, tflm: Path, targets: str = TARGETS) -> tuple[float, dict]:
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(model_dir), "--PTQ", "-q", "int8", "-e",
               "--export_dir", str(export), "--quiet", "--max_drop", "100", "--tflm_dir", str(tflm),
               "--target", targets]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, MCU_DEPLOY_CACHE=str(cache)))
    if result.returncode not in (0, 3):
        raise SystemExit(f"{model_dir.name} failed: {result.stderr[-800:]}")
    return time.monotonic() - started, json.loads((export / "report.json").read_text())


def rows(name: str, report: dict, targets: tuple[str, ...] = ("cortex-m4", "cortex-m0plus")) -> list[str]:
    from helpers.core.results import RunReport
    from helpers.render.engine_text import ratio, total_flash

    lines = []
    for variant in RunReport.from_json(json.dumps(report)).tflite_variants:
        engine = variant.firmware.c_engine
        if engine is None or engine.status.value == "unsupported":
            reason = engine.reason if engine else "no engine"
            lines.append(f"| {name} | {variant.name} | - | no engine: {reason} | | | | | |")
            continue
        for target in targets:
            mine, tflm = engine.target(target), variant.firmware.target(target)
            if mine is None or tflm is None or not mine.passed:
                lines.append(f"| {name} | {variant.name} | {target} | {engine.status.value}: {engine.reason} | | | | | |")
                continue
            identical = all(r.identical_to_tflm for r in engine.targets if r.identical_to_tflm is not None)
            figures = [(mine.inference_code_bytes, tflm.inference_code_bytes, "code"),
                       (mine.model_bytes, tflm.model_bytes, None),
                       (total_flash(mine), total_flash(tflm), "total"),
                       (mine.model_ram_bytes, tflm.model_ram_bytes, "ram"),
                       (mine.instructions_per_inference, tflm.instructions_per_inference, "instructions")]
            cells = []
            for own, theirs, goal in figures:
                text = f"{own:,} / {theirs:,} ({ratio(own, theirs)})" if own and theirs else "-"
                limit = 0.5 if goal == "total" and name == "digits_cnn" else GOALS.get(goal or "", None)
                if goal == "instructions" and name in MLPERF_GOALS and target == "cortex-m4" and variant.name == "int8":
                    limit = MLPERF_GOALS[name]
                if limit is not None and own and theirs and own / theirs > limit:
                    text += f" **misses {limit}x**"
                cells.append(text)
            lines.append(f"| {name} | {variant.name} | {target} | {'yes' if identical else 'NO'} | "
                         + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--zoo", action="store_true", help="also the zoo models (tests/zoo.py), built first")
    parser.add_argument("--cache", type=Path, default=None, help="a TFLM/CMSIS-NN object cache to reuse")
    parser.add_argument("--mlperf", default="", help="MLPerf Tiny networks instead of the examples: ds_cnn,resnet8,...")
    parser.add_argument("--mlperf_dir", type=Path, default=Path.home() / ".cache" / "mcu-deploy-bench" / "mlperf",
                        help="where the MLPerf models are trained once and kept")
    parser.add_argument("--targets", default=TARGETS)
    parser.add_argument("--from_export", type=Path, nargs="*", default=[],
                        help="print the rows of exports already made with this command's main.py flags (no run)")
    args = parser.parse_args()
    boards = tuple(name for name in args.targets.split(",") if name != "host")
    if args.from_export:
        for export in args.from_export:
            report = json.loads((export / "report.json").read_text())
            for line in rows(str(report.get("model") or export.name), report, boards):
                print(line)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        models = dict(EXAMPLES)
        if args.mlperf:
            from tests.zoo_mlperf import MLPERF

            models = {}
            for name in args.mlperf.split(","):
                folder = args.mlperf_dir / "models" / name
                if not (folder / "specs.json").is_file():
                    MLPERF[name](folder)
                models[f"mlperf_{name}"] = folder
        if args.zoo:
            from tests.zoo import build_zoo

            models.update({f"zoo_{k}": v for k, v in build_zoo(base / "zoo").items()})
        cache = args.cache or base / "cache"
        print("| model | variant | target | identical to TFLM (all targets) | code (B): engine / TFLM | "
              "model (B) | code + model (B) | RAM (B) | instructions / inference |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, folder in models.items():
            seconds, report = run(folder, base / name, cache, args.tflm_dir, args.targets)
            for line in rows(name, report, boards):
                print(line, flush=True)
            print(f"<!-- {name}: {seconds:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
