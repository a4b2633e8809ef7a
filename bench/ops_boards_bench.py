"""The engines on the models that use issue 34's new ops (tests/zoo_ops.py: the MLP with
BatchNorm, LeakyReLU and PReLU, the Conv2DTranspose autoencoder, the attention block with
LayerNorm), int8 and int16x8, each through

    main.py --input_dir DIR --PTQ -q TYPE -e --tflm_dir TFLM --target cortex-m4 --micropython_dir MP

and two tables from its report.json: per model, board and engine path (native, viper, plain) on
MicroPython's own 32-bit port, the rows identical to TFLM, instructions per inference, their ratio to
TFLM + CMSIS-NN on the Cortex-M4, the heap one run() allocates; and per model the code flash of the
C engine (its own code and the CMSIS-NN kernels it calls) against TFLM's (runtime and kernels) on
the Cortex-M4. With --families, the flash per op family from the two self-tests' link maps
(bench/ops_flash.py).

    python bench/ops_boards_bench.py --work /tmp/ops_boards [--families] [--models mlp_prelu,...]

The exports stay under --work (`<model>/<type>/`); a second run with --reuse reads them again.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODELS = ("mlp_prelu", "autoencoder", "attention")
TYPES = {"int8": "int8", "int16x8": "integer_with_8bits_weights_and_16bit_activations"}
GOALS = {"native": 1.5, "viper": 15.0}


def build_models(work: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """tests/zoo_ops.py's models (seconds each), built once under work/models."""
    from tests.zoo_ops import ZOO_OPS

    folders = {}
    for name in names:
        folder = work / "models" / name
        folders[name] = folder if (folder / "data.csv").exists() else ZOO_OPS[name](folder)
    return folders


def export(folder: Path, kind: str, destination: Path, tflm: Path, micropython: Path) -> dict:  # type: ignore[type-arg]
    """One variant through main.py on the Cortex-M4 target and the MicroPython boards; its report."""
    command = [sys.executable, str(ROOT / "main.py"), "--input_dir", str(folder), "--PTQ", "-q", TYPES[kind], "-e",
               "--export_dir", str(destination), "--quiet", "--max_drop", "100", "--tflm_dir", str(tflm),
               "--target", "cortex-m4", "--micropython_dir", str(micropython)]
    print("$", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    (destination.parent / f"{destination.name}.log").write_text(result.stdout + result.stderr)
    if result.returncode not in (0, 3) or not (destination / "report.json").exists():
        print(f"{folder.name} {kind} failed ({result.returncode}): {result.stderr[-400:]}", file=sys.stderr)
        return {}
    return json.loads((destination / "report.json").read_text())


def variant_of(report: dict, kind: str) -> dict | None:  # type: ignore[type-arg]
    """The report's variant for this quantization (int8, or the int16x8 one)."""
    for variant in report.get("variants") or []:
        name = variant["name"]
        if (kind == "int8" and name == "int8") or (kind == "int16x8" and "16" in name):
            return variant
    return None


def board_rows(model: str, kind: str, variant: dict) -> list[str]:  # type: ignore[type-arg]
    """The boards table's rows for one variant (or one row saying why there are none)."""
    firmware = variant.get("firmware") or {}
    engine = firmware.get("micropython") or {}
    boards = engine.get("boards") or []
    if not boards:
        why = (engine.get("boards_reason") or engine.get("reason") or engine.get("status")
               or f"not run: {firmware.get('tflm_reason') or 'no engine'}"[:200])
        return [f"| {model} | {kind} | - | - | - | - | - | {why} |"]
    rows = []
    for board in boards:
        if not board.get("paths"):
            rows.append(f"| {model} | {kind} | {board['board']} | - | - | - | - | {board.get('reason')} |")
        for run in board.get("paths") or []:
            goal, ratio = GOALS.get(run["path"]), run.get("ratio_to_tflm")
            verdict = "" if goal is None or ratio is None else f" ({'meets' if ratio <= goal else 'misses'} {goal}x)"
            count = run.get("instructions_per_inference")
            rows.append(f"| {model} | {kind} | {board['board']} | {run['path']} | "
                        f"{run['rows'] - run['mismatched_rows']} / {run['rows']} | "
                        f"{count:,} | {ratio}x{verdict} | {board.get('module_heap_bytes') or 0:,} | "
                        f"{run['invoke_alloc_bytes']:,} |")
    return rows


def _code(breakdown: dict[str, int], parts: tuple[str, ...]) -> int:
    return sum(breakdown.get(part, 0) for part in parts)


def flash_row(model: str, kind: str, variant: dict) -> str:  # type: ignore[type-arg]
    """Code flash on the Cortex-M4: TFLM's runtime + kernels against the engine's code + CMSIS-NN."""
    firmware = variant.get("firmware") or {}
    tflm = ((firmware.get("targets") or {}).get("cortex-m4")) or {}
    engine = (((firmware.get("c_engine") or {}).get("targets") or {}).get("cortex-m4")) or {}
    tflm_flash, engine_flash = tflm.get("flash_breakdown") or {}, engine.get("flash_breakdown") or {}
    if not tflm_flash or not engine_flash:
        return (f"| {model} | {kind} | TFLM {tflm.get('status', '-')}: {tflm.get('message') or ''} | "
                f"C engine {engine.get('status', '-')}: {engine.get('message') or ''} | - | - |")
    tflm_code = _code(tflm_flash, ("tflm_runtime", "kernels"))
    engine_code = _code(engine_flash, ("engine_code", "kernels"))
    return (f"| {model} | {kind} | {tflm_flash.get('tflm_runtime', 0):,} + {tflm_flash.get('kernels', 0):,} = "
            f"{tflm_code:,} | {engine_flash.get('engine_code', 0):,} + {engine_flash.get('kernels', 0):,} = "
            f"{engine_code:,} | {engine_code / tflm_code:.2f}x | "
            f"{engine_flash.get('engine_constants', 0):,} vs {tflm_flash.get('model_data', 0):,} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--types", default="int8,int16x8")
    parser.add_argument("--reuse", action="store_true", help="read the exports of an earlier run")
    parser.add_argument("--families", action="store_true", help="flash per op family from the link maps")
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--micropython_dir", type=Path, default=ROOT.parent / "shared" / "micropython")
    args = parser.parse_args()
    folders = build_models(args.work, tuple(args.models.split(",")))
    variants = {}
    for model, folder in folders.items():
        for kind in args.types.split(","):
            destination = args.work / "out" / model / kind
            report = (json.loads((destination / "report.json").read_text()) if args.reuse
                      else export(folder, kind, destination, args.tflm_dir, args.micropython_dir))
            variant = variant_of(report, kind)
            if variant is not None:
                variants[(model, kind)] = (variant, destination / variant["name"])
    print("| model | variant | board | path | identical rows | instructions per inference | ratio to TFLM (goal) | "
          "heap after import (B) | per run() (B) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (model, kind), (variant, _) in variants.items():
        print("\n".join(board_rows(model, kind, variant)))
    print("\n| model | variant | TFLM code flash: runtime + kernels (B) | C engine: own code + CMSIS-NN (B) | "
          "ratio | engine constants vs TFLM model data (B) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (model, kind), (variant, _) in variants.items():
        print(flash_row(model, kind, variant))
    if args.families:
        from bench.ops_flash import family_table

        print()
        print(family_table({key: folder for key, (_, folder) in variants.items()}, args.tflm_dir, args.work / "maps"))


if __name__ == "__main__":
    main()
