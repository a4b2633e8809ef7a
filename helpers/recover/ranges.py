"""Activation ranges other than the calibrator's min/max, written into the calibrated model before
it is quantized (convert/child's RangesJob): the flatbuffer that comes out is an ordinary int8 model
whose tensors carry other scales and zero points.

The float activations come from the calibrated model itself (a float model that also records each
tensor's calibrated range), run on LiteRT with every tensor kept, each row from reset state."""
from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from helpers.convert import isolated
from helpers.convert.converter import representative_rows
from helpers.convert.jobs import RangesJob
from helpers.core.flatbuffer import inspect_tflite
from helpers.core.variant import TfliteModel, VariantPlan
from helpers.frontend.model_loader import LoadedModel
from helpers.native_output import native_stderr_silenced

Ranges = dict[str, tuple[float, float]]
# Values kept per tensor for the range rules: enough for a 99.99th percentile, bounded in memory.
_MAX_SAMPLES = 200_000
# The clipping factors the MSE rule tries on each tensor's observed range: 1/20 (an outlier 20 times
# the bulk) to 1, evenly on a log scale.
_MSE_FACTORS = np.geomspace(0.05, 1.0, 24)


def calibrated_model(model: LoadedModel, plan: VariantPlan, calibration_x: np.ndarray) -> bytes:
    """The plan's calibrated float model (the converter's calibration, not yet quantized)."""
    return isolated.run_job(RangesJob(saved_model=str(isolated.saved_function(model)), plan=plan,
                                      calibration_rows=_rows(calibration_x), calibrated_only=True))


def quantized_with(model: LoadedModel, plan: VariantPlan, calibration_x: np.ndarray, ranges: Ranges) -> TfliteModel:
    """The plan's model with `ranges` in place of the calibrated ones."""
    content = isolated.run_job(RangesJob(saved_model=str(isolated.saved_function(model)), plan=plan,
                                         calibration_rows=_rows(calibration_x),
                                         ranges=tuple((name, lo, hi) for name, (lo, hi) in sorted(ranges.items()))))
    return TfliteModel(plan=plan, content=content, info=inspect_tflite(content))


def _rows(calibration_x: np.ndarray) -> str:
    return isolated.rows_file(representative_rows(calibration_x), "calibration")


def activation_samples(calibrated: bytes, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Each float activation tensor's values over `rows`, by name (constants left out)."""
    with native_stderr_silenced():
        interpreter = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    tensors = [t for t in interpreter.get_tensor_details()
               if t["dtype"] == np.float32 and t["index"] != details["index"] and len(t["shape"])]
    constant = _constant_names(calibrated)
    samples: dict[str, list[np.ndarray]] = {}
    for row in rows.astype(np.float32):
        interpreter.reset_all_variables()
        interpreter.set_tensor(details["index"], row[np.newaxis])
        interpreter.invoke()
        for tensor in tensors:
            if tensor["name"] in constant:
                continue
            try:
                values = interpreter.get_tensor(tensor["index"])
            except ValueError:  # a tensor the interpreter does not keep
                continue
            samples.setdefault(tensor["name"], []).append(values.ravel())
    joined = {name: _bounded(np.concatenate(parts)) for name, parts in samples.items()
              if sum(p.size for p in parts)}
    joined[details["name"]] = _bounded(rows.astype(np.float32).ravel())
    return joined


def _constant_names(content: bytes) -> set[str]:
    """The tensors that hold data in the flatbuffer: weights and biases, not activations."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    names = set()
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data):
                names.add(tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name))
    return names


def _bounded(values: np.ndarray) -> np.ndarray:
    if values.size <= _MAX_SAMPLES:
        return values
    return values[np.linspace(0, values.size - 1, _MAX_SAMPLES).astype(np.int64)]


def percentile_ranges(samples: dict[str, np.ndarray], percent: float) -> Ranges:
    """Each tensor's range clipped to its [100 - percent, percent] percentiles."""
    return {name: (float(np.percentile(v, 100 - percent)), float(np.percentile(v, percent)))
            for name, v in samples.items()}


def mse_ranges(samples: dict[str, np.ndarray]) -> Ranges:
    """Each tensor's range scaled by the factor (1/20 to 1) whose int8 quantization of the tensor's
    own values has the least squared error: outliers clipped where the finer steps pay for it."""
    ranges = {}
    for name, values in samples.items():
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
        if high - low <= 0:
            continue
        errors = [_int8_error(values, low * f, high * f) for f in _MSE_FACTORS]
        best = float(_MSE_FACTORS[int(np.argmin(errors))])
        ranges[name] = (low * best, high * best)
    return ranges


def _int8_error(values: np.ndarray, low: float, high: float) -> float:
    scale = (high - low) / 255.0
    zero_point = np.round(-low / scale) - 128
    rounded = (np.clip(np.round(values / scale) + zero_point, -128, 127) - zero_point) * scale
    return float(np.mean((rounded - values) ** 2))


def scaled_range(samples: dict[str, np.ndarray], name: str, factor: float) -> tuple[float, float]:
    """One tensor's observed range times `factor` (the tuned search's step)."""
    values = samples[name]
    return min(float(values.min()), 0.0) * factor, max(float(values.max()), 0.0) * factor
