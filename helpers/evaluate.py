"""Run a TFLite variant on many rows with ai-edge-litert: quantize in, dequantize out.

Models are converted with a batch of 1 (what an MCU runs). For speed the interpreter is
resized to a larger batch where the model allows it; a model that cannot be resized (fused
LSTM state, reshapes folded to batch 1) or whose batched answers differ from the batch-1
answers falls back to one row per invoke.
"""
from __future__ import annotations

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from helpers.native_output import native_stderr_silenced
from helpers.tflite_model import TensorInfo

EVALUATION_BATCH = 1024
# Batched inference uses every core; XNNPACK splits a batch by output rows, so the answers do
# not depend on the thread count. The batch-1 interpreter stays single-threaded (no gain there).
BATCH_THREADS = max(1, min(4, os.cpu_count() or 1))
_PROBE_ROWS = 8


def quantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Real values -> the tensor's dtype with its scale and zero-point (round half away from zero)."""
    dtype = np.dtype(tensor.dtype)
    if not tensor.is_quantized:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    scaled = values / np.float32(tensor.scale)  # one float32 temporary, then updated in place
    magnitude = np.abs(scaled)
    magnitude += 0.5
    np.floor(magnitude, out=magnitude)
    np.copysign(magnitude, scaled, out=scaled)
    scaled += tensor.zero_point
    np.clip(scaled, info.min, info.max, out=scaled)
    return scaled.astype(dtype)


def dequantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """The tensor's dtype -> real values (float32 passes through)."""
    if not tensor.is_quantized:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - tensor.zero_point) * tensor.scale).astype(np.float32)


def _padded(rows: np.ndarray, size: int) -> np.ndarray:
    """Rows padded with zero rows up to `size`."""
    if len(rows) == size:
        return rows
    padding = np.zeros((size - len(rows),) + rows.shape[1:], dtype=rows.dtype)
    return np.concatenate([rows, padding], axis=0)


class LiteRtRunner:
    """One interpreter per variant, reused for every call."""

    def __init__(self, content: bytes, input_info: TensorInfo) -> None:
        self._content = content
        self._input = input_info
        self._single = self._make_interpreter(batch=1)
        # Tensor indices come from the flatbuffer, so they hold for every interpreter of this model;
        # looking them up once keeps the per-row path (LSTMs run one row per invoke) short.
        self._input_index = self._single.get_input_details()[0]["index"]
        self._output_index = self._single.get_output_details()[0]["index"]
        self._batched: Interpreter | None = None
        self._probed = False

    def _make_interpreter(self, batch: int) -> Interpreter:
        with native_stderr_silenced():
            interpreter = Interpreter(model_content=self._content, num_threads=BATCH_THREADS if batch > 1 else 1)
        if batch != 1:
            interpreter.resize_tensor_input(self._input_index, (batch,) + tuple(self._input.shape[1:]), strict=False)
        interpreter.allocate_tensors()
        return interpreter

    def _invoke(self, interpreter: Interpreter, quantized: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(self._input_index, quantized)
        interpreter.invoke()
        return interpreter.get_tensor(self._output_index).copy()

    def _run_single(self, quantized: np.ndarray) -> np.ndarray:
        return np.concatenate([self._invoke(self._single, row[np.newaxis]) for row in quantized], axis=0)

    def _enable_batching(self, quantized: np.ndarray) -> None:
        """Use a batched interpreter only if it gives the batch-1 answers on the first rows."""
        probe = quantized[:_PROBE_ROWS]
        try:
            batched = self._make_interpreter(batch=EVALUATION_BATCH)
            together = self._invoke(batched, _padded(probe, EVALUATION_BATCH))[:len(probe)]
        except (RuntimeError, ValueError):
            return
        one_by_one = self._run_single(probe)
        tolerance = 1e-5 * (1.0 + float(np.max(np.abs(one_by_one.astype(np.float64)))))
        if together.shape == one_by_one.shape and np.allclose(together, one_by_one, atol=tolerance, rtol=0):
            self._batched = batched

    @property
    def batched(self) -> bool:
        """Whether rows go through in batches."""
        return self._batched is not None

    def run_quantized(self, quantized: np.ndarray) -> np.ndarray:
        """Raw outputs (model dtype) for inputs already in the model's input dtype."""
        if not self._probed and len(quantized) > _PROBE_ROWS:
            self._probed = True
            self._enable_batching(quantized)
        if self._batched is None:
            return self._run_single(quantized)
        outputs = []
        for start in range(0, len(quantized), EVALUATION_BATCH):
            chunk = quantized[start:start + EVALUATION_BATCH]
            # the last chunk is padded to the batch size (rows are independent) and trimmed after
            outputs.append(self._invoke(self._batched, _padded(chunk, EVALUATION_BATCH))[:len(chunk)])
        return np.concatenate(outputs, axis=0)
