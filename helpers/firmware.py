"""Firmware checks of one variant: TFLM runs it, same answers as LiteRT, arena, flash, .mpy."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from helpers.artifacts import FirmwareFacts, TestVector
from helpers.convert import TfliteModel
from helpers.evaluate import dequantize
from helpers.firmware_tools import compile_mpy, flash_size
from helpers.metrics import compute_metrics
from helpers.micro import MicroCheck, check_variant, max_difference
from helpers.specs import Specs

TEST_VECTOR_COUNT = 4


def _tolerance(tflite: TfliteModel, outputs: np.ndarray) -> float:
    """One quantized step for integer outputs (optimized kernels may round differently);
    a relative 1e-4 for float outputs."""
    if tflite.info.output.is_quantized:
        return 1.0
    return float(1e-4 * (1.0 + np.max(np.abs(outputs)))) if outputs.size else 1e-4


def _not_runnable(reason: str) -> tuple[FirmwareFacts, dict[str, Any]]:
    return (FirmwareFacts(tflm_checked=True, tflm_runnable=False, tflm_reason=reason),
            {"tflm_runnable": False, "tflm_reason": reason})


def run_tflm_checks(tflite: TfliteModel, specs: Specs, quantized_inputs: np.ndarray, labels: np.ndarray,
                    litert_raw: np.ndarray | None,
                    tflm_outputs: dict[str, np.ndarray] | None = None,
                    check: MicroCheck | None = None) -> tuple[FirmwareFacts, dict[str, Any]]:
    """TFLM on every evaluation row: runnable?, metric, largest difference to LiteRT, arena.

    `check` is a TFLM run of these very bytes on these rows, when one was already made (--strip).
    TFLM's raw outputs land in `tflm_outputs[variant]` (compressed variants are compared with them)."""
    check = check or check_variant(tflite.content, tflite.info, quantized_inputs)
    if not check.runnable or check.outputs is None:
        return _not_runnable(check.reason)
    outputs = check.outputs
    values = dequantize(outputs, tflite.info.output)
    if not np.all(np.isfinite(values)):
        return _not_runnable("TFLM produced NaN or infinite outputs")
    difference = max_difference(outputs, litert_raw) if litert_raw is not None else None
    if tflm_outputs is not None:
        tflm_outputs[tflite.recipe.name] = outputs
    vectors = tuple(TestVector(input=tuple(row.reshape(-1).tolist()), output=tuple(out.reshape(-1).tolist()))
                    for row, out in zip(quantized_inputs[:TEST_VECTOR_COUNT], outputs[:TEST_VECTOR_COUNT]))
    facts = FirmwareFacts(tflm_checked=True, tflm_runnable=True, arena_measured=check.arena_measured,
                          arena_size=check.arena_recommended, test_vectors=vectors,
                          test_tolerance=_tolerance(tflite, outputs))
    report = {
        "tflm_runnable": True,
        "tflm_metrics": compute_metrics(values, labels, specs),
        "tflm_max_difference": difference,
        "tflm_difference_unit": "quantized steps" if tflite.info.output.is_quantized else "absolute",
        "tensor_arena_measured_bytes": check.arena_measured,
        "tensor_arena_bytes": check.arena_recommended,
    }
    return facts, report


def run_toolchain_checks(folder: Path, model_id: str) -> dict[str, Any]:
    """Cross-compile the C array for Cortex-M and compile the module with mpy-cross."""
    flash = flash_size(folder / f"{model_id}_model_data.c", folder)
    mpy = compile_mpy(folder / f"{model_id}_model.py")
    report: dict[str, Any] = {"flash_bytes": flash.bytes_per_target or None, "mpy_bytes": mpy.size_bytes}
    if flash.note:
        report["flash_note"] = flash.note
    if mpy.note:
        report["mpy_note"] = mpy.note
    return report
