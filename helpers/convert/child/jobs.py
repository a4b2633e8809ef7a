"""The three jobs, as the child runs them: a conversion, the quantization debugger's statistics,
and a quantization with some ops kept in float. Each is set up exactly as a conversion of the same
plan is (recipes.configure, the same rows, calibration from reset state)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from helpers.convert.child import recipes
from helpers.convert.child.calibration import calibration_from_reset_state, representative_dataset
from helpers.convert.jobs import ConvertJob, LayerErrorsJob, RangesJob, SelectiveJob
from helpers.frontend.tf_runtime import tf  # sets TensorFlow up: legacy Keras, quiet, deterministic


def _converter(saved_model: str) -> Any:
    """A TFLiteConverter for the batch-1 function saved by the parent."""
    return tf.lite.TFLiteConverter.from_saved_model(str(Path(saved_model)))


def _rows(path: str) -> np.ndarray | dict[str, np.ndarray]:
    """The parent's rows: one array, or (a model with several inputs) one per input name."""
    if path.endswith(".npz"):
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files}
    return np.load(path)


def convert(job: ConvertJob) -> bytes:
    converter = _converter(job.saved_model)
    calibration = _rows(job.calibration_rows) if job.calibration_rows else None
    recipes.configure(converter, job.plan, representative_dataset(calibration) if calibration is not None else None)
    if job.allow_select_ops:
        builtins = converter.target_spec.supported_ops or {tf.lite.OpsSet.TFLITE_BUILTINS}
        converter.target_spec.supported_ops = set(builtins) | {tf.lite.OpsSet.SELECT_TF_OPS}
    with calibration_from_reset_state():
        return bytes(converter.convert())


def _reset_before_every_invoke() -> type:
    """The debugger with every row starting from zero recurrent state.

    The stock debugger invokes the same two interpreters row after row, so a fused LSTM's
    variable tensors would carry one row's state into the next (TfliteInfo.stateful). Both
    interpreters get their inputs through `_set_input_tensors` before every invoke, so resetting
    there covers every row; for a model without variable tensors the reset does nothing."""

    class FromResetState(tf.lite.experimental.QuantizationDebugger):
        def _set_input_tensors(self, interpreter: Any, tensor_data: Any, initialize: bool) -> None:
            super()._set_input_tensors(interpreter, tensor_data, initialize)
            interpreter.reset_all_variables()

    return FromResetState


def layer_errors(job: LayerErrorsJob) -> bytes:
    """The debugger's per-layer CSV for the plan."""
    converter = _converter(job.saved_model)
    recipes.configure(converter, job.plan, representative_dataset(_rows(job.calibration_rows)))
    with calibration_from_reset_state():
        debugger = _reset_before_every_invoke()(converter=converter,
                                                debug_dataset=representative_dataset(_rows(job.debug_rows)))
        debugger.run()
        buffer = io.StringIO()
        debugger.layer_statistics_dump(buffer)
    return buffer.getvalue().encode()


def _calibrated(job: SelectiveJob | RangesJob) -> tuple[Any, bytes]:
    """The plan's converter and its calibrated float model, calibrated as convert() does."""
    converter = _converter(job.saved_model)
    recipes.configure(converter, job.plan, representative_dataset(_rows(job.calibration_rows)))
    converter._experimental_calibrate_only = True  # calibrate as convert() does; quantized by _quantized
    with calibration_from_reset_state():
        return converter, converter.convert()


def _quantized(converter: Any, calibrated: bytes, plan: Any, keep_float: tuple[str, ...] = ()) -> bytes:
    """The calibrated model quantized with the plan's input and output types (convert()'s own step)."""
    from tensorflow.lite.python import convert as tflite_convert

    io_type = tf.int8 if plan.traits.integer_only else tf.float32
    return bytes(tflite_convert.mlir_quantize(
        calibrated, disable_per_channel=converter._experimental_disable_per_channel,
        input_data_type=io_type, output_data_type=io_type, denylisted_nodes=list(keep_float) or None))


def selective(job: SelectiveJob) -> bytes:
    """The base plan's quantization with the listed ops left in float: calibrated on the base's
    rows and quantized with the base's input and output types."""
    converter, calibrated = _calibrated(job)
    return _quantized(converter, calibrated, job.plan, job.keep_float)


def ranges(job: RangesJob) -> bytes:
    """The calibrated model with the job's activation ranges written in, quantized (or, with
    calibrated_only, the calibrated model as it is)."""
    converter, calibrated = _calibrated(job)
    if job.calibrated_only:
        return bytes(calibrated)
    if job.ranges:
        calibrated = _with_ranges(bytes(calibrated), job.ranges)
    return _quantized(converter, calibrated, job.plan)


def _with_ranges(calibrated: bytes, ranges: tuple[tuple[str, float, float], ...]) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    wanted = {name: (low, high) for name, low, high in ranges}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            if name in wanted and tensor.quantization is not None and tensor.quantization.min is not None:
                low, high = wanted[name]
                tensor.quantization.min = [min(float(low), 0.0)]   # int8 ranges always hold 0
                tensor.quantization.max = [max(float(high), 0.0)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
