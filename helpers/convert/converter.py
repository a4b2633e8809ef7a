"""Keras model -> TFLite flatbuffer, one variant at a time: the representative rows, the
calibration that starts every row from reset state, and the errors a user can act on. The
converter itself runs in a child process (convert/isolated.py; convert/child/ is the child)."""
from __future__ import annotations

import re

import numpy as np

from helpers.convert import isolated
from helpers.convert.jobs import ConvertJob
from helpers.core.flatbuffer import float_compute_ops, inspect_tflite
from helpers.core.specs import Specs
from helpers.core.variant import TfliteModel, VariantPlan
from helpers.errors import ModelError
from helpers.frontend.model_loader import LoadedModel
from helpers.rewrite.io_order import in_signature_order

CALIBRATION_SAMPLES = 300  # more adds conversion time but does not move int8 ranges measurably


def representative_rows(calibration_x: np.ndarray, limit: int = CALIBRATION_SAMPLES) -> np.ndarray:
    """At most `limit` rows spread evenly over every calibration row.

    Calibration rows keep the CSV's order, and a time series' CSV is in time order: its first
    300 rows are its oldest, covering a fraction of the value range (an LSTM on weekly CO2 saw
    1958-1963 only, and its int8 outputs saturated: MAE 6.3 ppm against 1.2 in float). Evenly
    spaced rows cover the whole range and stay deterministic."""
    if len(calibration_x) <= limit:
        return calibration_x
    picked = np.linspace(0, len(calibration_x) - 1, limit).round().astype(np.int64)
    return calibration_x[picked]


_OP_PATTERN = re.compile(r"'(tf\.[A-Za-z0-9_]+|[A-Z][A-Z0-9_]{2,})'|\b(tf\.[A-Za-z0-9_]+)")


class ConverterCrashError(ModelError):
    """TensorFlow's converter died (a signal, or no end in sight): that variant becomes a failed
    row and the run goes on with the others, whatever was asked for."""


def converter_message(exc: BaseException) -> str:
    """TensorFlow's own words for a failed conversion: its first line that says `error`, else its
    first line. The pipeline's messages quote it, so the user sees the real cause."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    chosen = next((line for line in lines if "error" in line.lower()), lines[0] if lines else type(exc).__name__)
    return chosen[:200]


def _conversion_error(exc: Exception, plan: VariantPlan, specs: Specs) -> ModelError:
    text = str(exc)
    ops = sorted({a or b for a, b in _OP_PATTERN.findall(text)} - {"INT8", "FLOAT32", "TFLITE_BUILTINS"})
    named = f" (ops: {', '.join(ops[:6])})" if ops else ""
    said = converter_message(exc)
    tf_ops = [op for op in ops if op.startswith("tf.")]
    if tf_ops:
        return ModelError(f"the model needs TensorFlow ops TFLite has no builtin for ({', '.join(tf_ops[:6])})",
                          "replace those layers, or add --allow_select_ops (the variant then cannot run on a "
                          "microcontroller)", specs.path)
    if plan.traits.integer_only:
        return ModelError(f"`-q {plan.quantization.value}` cannot express every op of the model{named}; "
                          f"the converter said: {said}",
                          "use `-q integer_with_float_fallback`, which keeps those ops in float", specs.path)
    return ModelError(f"TFLite conversion to {plan.name} failed{named}: {said}",
                      "see the converter's message; run with --verbose for TensorFlow's full log", specs.path)


def convert(model: LoadedModel, specs: Specs, plan: VariantPlan, calibration_x: np.ndarray,
            allow_select_ops: bool = False) -> TfliteModel:
    """Convert the batch-1 function with the plan's converter settings, in a child process
    (convert/isolated.py): a converter crash becomes a ConverterCrashError for this plan alone.

    `allow_select_ops` lets TensorFlow ops TFLite lacks through as TF Select (Flex) ops."""
    shapes = model.input_shapes if model.multi_io else ()
    rows = isolated.rows_file(representative_rows(calibration_x), "calibration", shapes) if plan.calibrated else None
    try:
        content = isolated.run_job(ConvertJob(saved_model=str(isolated.saved_function(model)), plan=plan,
                                              calibration_rows=rows, allow_select_ops=allow_select_ops))
    except isolated.ConverterFailed as exc:  # the converter raised ConverterError, RuntimeError, ValueError...
        raise _conversion_error(exc, plan, specs) from None
    except isolated.ConverterCrashed as exc:
        doing = "calibrating" if plan.calibrated else "converting"
        raise ConverterCrashError(f"TensorFlow's converter {exc} while {doing} {plan.name}",
                                  "use another variant (the report lists them), or report the crash to TensorFlow",
                                  specs.path) from None
    if plan.traits.integer_only:
        floating = float_compute_ops(content)
        if floating:
            raise ModelError(f"`-q {plan.quantization.value}` cannot express {', '.join(floating)} in integers "
                             "(the converter left it in float)",
                             "use `-q integer_with_float_fallback`, which keeps those ops in float", specs.path)
    if model.multi_io:  # the graph's inputs and outputs put in specs.json's order
        content = in_signature_order(content)
    return TfliteModel(plan=plan, content=content, info=inspect_tflite(content),
                       rewrites=isolated.function_rewrites(model))
