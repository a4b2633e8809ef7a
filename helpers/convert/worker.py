"""The child side of every TensorFlow converter call: a process forked by the zygote
(convert/zygote.py), or a fresh Python where no zygote runs.

Each job reads the model as the SavedModel of its batch-1 function (convert/isolated.py writes
it once per model), the rows as .npy, and writes its answer into the job's folder: `result.bin`
(a flatbuffer, or the debugger's CSV) or `error.txt` with the exception's text. A crash of the
converter kills only this process; the parent reads the signal from its exit code.
"""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from helpers.frontend.tf_runtime import tf  # noqa: F401  (sets TensorFlow up: legacy Keras, quiet, deterministic)

RESULT, ERROR = "result.bin", "error.txt"


def converter_for(saved_model: Path) -> Any:
    """A TFLiteConverter for the batch-1 function saved by the parent."""
    return tf.lite.TFLiteConverter.from_saved_model(str(saved_model))


def _rows(path: str | None) -> np.ndarray | None:
    return np.load(path) if path else None


def convert_job(saved_model: str, plan: Any, rows: str | None, allow_select_ops: bool) -> bytes:
    """converter.convert() for one plan."""
    from helpers.convert import recipes
    from helpers.convert.converter import calibration_from_reset_state, representative_dataset

    converter = converter_for(Path(saved_model))
    calibration = _rows(rows)
    recipes.configure(converter, plan, representative_dataset(calibration) if calibration is not None else None)
    if allow_select_ops:
        builtins = converter.target_spec.supported_ops or {tf.lite.OpsSet.TFLITE_BUILTINS}
        converter.target_spec.supported_ops = set(builtins) | {tf.lite.OpsSet.SELECT_TF_OPS}
    with calibration_from_reset_state():
        return bytes(converter.convert())


def layer_errors_job(saved_model: str, plan: Any, rows: str, debug_rows: str) -> bytes:
    """The quantization debugger's per-layer statistics, as CSV text."""
    from helpers.convert.quant_debug import debugger_statistics

    return debugger_statistics(converter_for(Path(saved_model)), plan, _rows(rows), _rows(debug_rows)).encode()


def selective_job(saved_model: str, plan: Any, rows: str, keep_float: list[str]) -> bytes:
    """The plan's model with the listed ops left in float."""
    from helpers.convert.quant_debug import quantize_keeping_float

    return quantize_keeping_float(converter_for(Path(saved_model)), plan, _rows(rows), keep_float)


JOBS: dict[str, Callable[..., bytes]] = {"convert": convert_job, "layer_errors": layer_errors_job,
                                         "selective": selective_job}


def run_job(kind: str, args: tuple[Any, ...], folder: str, silence: bool) -> None:
    """The child's entry point: run the job, leave its answer in `folder`, exit."""
    if silence:  # TensorFlow's C++ prints straight to fd 2
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    code = 0
    try:
        Path(folder, RESULT).write_bytes(JOBS[kind](*args))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
        Path(folder, ERROR).write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8", errors="replace")
        traceback.print_exc()  # shown with --verbose
        code = 3
    os._exit(code)
