"""Batched LiteRT evaluation: same answers as one row per invoke, even padding, safe fallback."""
from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from helpers.convert.converter import convert
from helpers.convert.quant_debug import layer_errors
from helpers.core.dataset import load_dataset, locate_dataset
from helpers.core.flatbuffer import TensorInfo, inspect_tflite
from helpers.core.quantization import Quantization
from helpers.core.specs import load_specs
from helpers.core.variant import converted_plan
from helpers.frontend.model_loader import load_model
from helpers.frontend.tf_runtime import (
    tf,  # sets TensorFlow up (legacy Keras, quiet) before its first import
)
from helpers.measure.litert import LiteRtRunner, dequantize, plan_batch, quantize
from helpers.measure.tflm import check_variant
from tests.conftest import ROOT


@pytest.mark.parametrize("rows, largest", [(20_000, 4096), (719, 4096), (4097, 4096), (9, 4), (1, 4096), (10, 1)])
def test_batches_are_even_and_never_above_the_limit(rows, largest):
    batch = plan_batch(rows, largest)
    chunks = -(-rows // batch)
    assert 1 <= batch <= largest
    assert chunks == -(-rows // largest)  # no more invokes than the limit needs
    assert chunks * batch - rows < chunks  # padding below one row per invoke


def test_quantize_rounds_half_away_from_zero_clips_and_spans_chunks():
    info = TensorInfo("x", (1, 4), "int8", "int8_t", 0.5, -3)
    values = np.tile(np.array([[0.25, -0.25, 0.75, 100.0]], np.float32), (50_000, 1))  # 200,000 values
    quantized = quantize(values, info)
    assert quantized.dtype == np.int8 and quantized.shape == values.shape
    # 0.5 -> 1 and -0.5 -> -1 (not to even), 1.5 -> 2, 200 clipped to 127, all after the zero-point
    assert (quantized == np.array([[-2, -4, -1, 127]], np.int8)).all()


def _tflite(function, width: int = 4) -> bytes:
    concrete = tf.function(function, input_signature=[tf.TensorSpec([1, width], tf.float32)]).get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


def _one_row_at_a_time(content: bytes, rows: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    answers = []
    for row in rows:
        interpreter.set_tensor(inp, row[np.newaxis])
        interpreter.invoke()
        answers.append(interpreter.get_tensor(out)[0])
    return np.array(answers)


def test_batched_int8_answers_equal_one_row_per_invoke(iris_export):
    content = (iris_export / "int8" / "model.tflite").read_bytes()
    info = inspect_tflite(content)
    rows = np.random.default_rng(0).normal(size=(1000, 4)).astype(np.float32)
    runner = LiteRtRunner(content, info)
    quantized = quantize(rows, info.input)
    outputs = runner.run_quantized(quantized)
    assert runner.batch == 1000
    np.testing.assert_array_equal(outputs, _one_row_at_a_time(content, quantized))
    # a second call with another row count plans a new batch and still agrees
    assert np.array_equal(runner.run_quantized(quantized[:37]), outputs[:37]) and runner.batch == 37


def _batch_one_reshape(x):
    # reshapes to constant shapes with a batch of 1: a batch of 50 rows cannot be reshaped so
    return tf.reshape(tf.transpose(tf.reshape(x, [1, 2, 2]), [0, 2, 1]), [1, 4]) + 1.0


def _reduces_rows(x):
    # x^T x: at batch 1 an outer product of the row, at batch N a sum over the rows
    return tf.matmul(x, x, transpose_a=True)[:1]


@pytest.mark.parametrize("function", [_batch_one_reshape, _reduces_rows], ids=["fixed-batch", "reduces-rows"])
def test_models_that_cannot_batch_run_row_by_row(function):
    _assert_runs_row_by_row(LiteRtRunner, _tflite(function), rows=50)


def _assert_runs_row_by_row(runner_class: type[LiteRtRunner], content: bytes, rows: int) -> None:
    features = np.random.default_rng(rows).normal(size=(rows, 4)).astype(np.float32)
    runner = runner_class(content, inspect_tflite(content))
    outputs = runner.run_quantized(features)
    assert runner.batch == 1
    np.testing.assert_allclose(outputs, _one_row_at_a_time(content, features), rtol=0, atol=1e-6)


class _DriftingWhenBatched(LiteRtRunner):
    """A runner whose batched interpreter answers one step off, as a kernel that mixes rows would."""

    def _invoke(self, interpreter, quantized):
        outputs = super()._invoke(interpreter, quantized)
        return outputs + 1 if len(quantized) > 1 else outputs


def test_batched_answers_that_differ_from_single_rows_are_thrown_away(iris_export):
    _assert_runs_row_by_row(_DriftingWhenBatched, (iris_export / "float32" / "model.tflite").read_bytes(), rows=300)


@pytest.fixture(scope="module")
def co2_lstm():
    """The shipped CO2 LSTM, its first 60 windows, and its float32 and int8 conversions."""
    model_dir = ROOT / "models" / "co2_lstm"
    specs = load_specs(model_dir)
    rows = load_dataset(locate_dataset(model_dir, specs), specs).x[:60]
    model = load_model(model_dir, specs)
    variants = {q: convert(model, specs, converted_plan(q), rows) for q in (Quantization.NONE, Quantization.INT8)}
    return model, rows, variants


def test_lstm_state_does_not_leak_from_one_window_to_the_next(co2_lstm):
    # The fused LSTM keeps its state in variable tensors; without a reset each window would start
    # from the state the previous window left (a 0.01 ppm drift on this model, order-dependent).
    model, rows, variants = co2_lstm
    float32 = variants[Quantization.NONE]
    assert float32.info.stateful
    runner = LiteRtRunner(float32.content, float32.info)
    in_order = runner.run_quantized(rows)
    assert runner.batch == 1
    np.testing.assert_array_equal(runner.run_quantized(rows[::-1])[::-1], in_order)
    np.testing.assert_allclose(in_order.reshape(len(rows), -1), model.predict(rows).reshape(len(rows), -1),
                               rtol=0, atol=1e-5)


def test_tflm_resets_lstm_state_before_every_row(co2_lstm):
    _, rows, variants = co2_lstm
    int8 = variants[Quantization.INT8]
    quantized = quantize(rows, int8.info.input)
    in_order = check_variant(int8.content, int8.info, quantized)
    reversed_order = check_variant(int8.content, int8.info, quantized[::-1])
    assert in_order.runnable and reversed_order.runnable
    np.testing.assert_array_equal(reversed_order.outputs[::-1], in_order.outputs)
    litert = LiteRtRunner(int8.content, int8.info).run_quantized(quantized)
    assert np.max(np.abs(in_order.outputs.astype(int) - litert.astype(int))) <= 1
    assert np.all(np.isfinite(dequantize(in_order.outputs, int8.info.output)))


def test_models_without_variable_tensors_are_not_stateful(iris_export):
    assert not inspect_tflite((iris_export / "int8" / "model.tflite").read_bytes()).stateful


def test_quantization_debugger_runs_every_lstm_window_from_reset_state(co2_lstm):
    model, rows, _ = co2_lstm
    specs = load_specs(ROOT / "models" / "co2_lstm")
    forward = layer_errors(model, specs, converted_plan(Quantization.INT8), rows, debug_x=rows).table
    backward = layer_errors(model, specs, converted_plan(Quantization.INT8), rows, debug_x=rows[::-1].copy()).table
    # each row's error no longer depends on the rows before it, so the mean over rows ignores their
    # order (the stock debugger gives 4.9e-6 against 5.1e-6 for the first layer here)
    np.testing.assert_allclose(backward["mean_squared_error"], forward["mean_squared_error"], rtol=1e-5, atol=1e-12)
