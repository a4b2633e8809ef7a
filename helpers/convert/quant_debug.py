"""Where quantization hurts: TensorFlow's quantization debugger, per layer.

The debugger runs the float and the quantized model side by side on the calibration rows and
reports, per quantized op, the error its quantization adds. RMSE divided by the scale is that
error in quantization steps; the TensorFlow guide's rule of thumb keeps a layer in float when it
is above about 0.7. A selectively quantized model denylists those layers.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.convert import isolated
from helpers.convert.converter import representative_rows
from helpers.convert.jobs import LayerErrorsJob, SelectiveJob
from helpers.core.flatbuffer import inspect_tflite
from helpers.core.specs import Specs
from helpers.core.variant import TfliteModel, VariantPlan, keep_float_plan
from helpers.errors import ModelError, first_line
from helpers.frontend.model_loader import LoadedModel

RMSE_SCALE_THRESHOLD = 0.7
DEBUG_ROWS = 100  # the debugger runs two interpreters per row; 100 rows rank layers reliably


@dataclass(frozen=True)
class LayerErrors:
    """The debugger's per-layer table, with `rmse/scale` added."""

    table: pd.DataFrame

    def worst(self, threshold: float = RMSE_SCALE_THRESHOLD) -> list[str]:
        """Tensor names whose RMSE/scale exceeds the threshold."""
        return self.table.loc[self.table["rmse/scale"] > threshold, "tensor_name"].tolist()


def layer_errors(model: LoadedModel, specs: Specs, plan: VariantPlan, calibration_x: np.ndarray,
                 debug_x: np.ndarray | None = None) -> LayerErrors:
    """Per-layer quantization error of an integer plan calibrated on `calibration_x`, measured on
    `debug_x` (by default DEBUG_ROWS calibration rows spread over all of them)."""
    debug_rows = representative_rows(calibration_x, DEBUG_ROWS) if debug_x is None else debug_x
    csv = isolated.run_job(LayerErrorsJob(
        saved_model=str(isolated.saved_function(model)), plan=plan,
        calibration_rows=isolated.rows_file(representative_rows(calibration_x), "calibration"),
        debug_rows=isolated.rows_file(debug_rows, "debug")))
    table = pd.read_csv(io.StringIO(csv.decode()))
    scale = table["scale"].replace(0, np.nan)
    table["rmse/scale"] = (np.sqrt(table["mean_squared_error"]) / scale).fillna(0.0)
    return LayerErrors(table=table)


def match_layers(errors: LayerErrors, layer_names: tuple[str, ...], specs: Specs) -> list[str]:
    """Tensor names of the ops that belong to the named Keras layers."""
    chosen = []
    for name in layer_names:
        hits = [t for t in errors.table["tensor_name"] if name in t.replace(";", "/").split("/")]
        if not hits:
            known = sorted({part for t in errors.table["tensor_name"] for part in t.replace(";", "/").split("/")
                            if part and not part.startswith(("MatMul", "BiasAdd", "Relu", "StatefulPartitioned"))})
            raise ModelError(f"--keep_float: no quantized op belongs to layer {name!r}",
                             f"name one of: {', '.join(known[:12])}", specs.path)
        chosen += hits
    return list(dict.fromkeys(chosen))


def selective_model(model: LoadedModel, specs: Specs, base: VariantPlan, calibration_x: np.ndarray,
                    keep_float: list[str]) -> TfliteModel:
    """The base plan's model with the listed ops left in float (convert/child/jobs.selective)."""
    try:
        content = isolated.run_job(SelectiveJob(
            saved_model=str(isolated.saved_function(model)), plan=base,
            calibration_rows=isolated.rows_file(representative_rows(calibration_x), "calibration"),
            keep_float=tuple(keep_float)))
    except (isolated.ConverterFailed, isolated.ConverterCrashed) as exc:
        raise ModelError(f"--keep_float: TensorFlow could not quantize {base.name} with {len(keep_float)} op(s) in "
                         f"float ({first_line(exc, 160)})", "name other layers, or drop --keep_float",
                         specs.path) from None
    return TfliteModel(plan=keep_float_plan(base, len(keep_float)), content=content, info=inspect_tflite(content),
                       rewrites=isolated.function_rewrites(model))
