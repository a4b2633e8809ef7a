"""Run a TFLite variant on many rows with ai-edge-litert: quantize in, dequantize out.

Models are converted with a batch of 1 (what an MCU runs). For speed the interpreter is
resized to a larger batch where the model allows it; a model that cannot be resized (fused
LSTM state, reshapes folded to batch 1) or whose batched answers differ from the batch-1
answers falls back to one row per invoke.
"""
from __future__ import annotations

import math
import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from helpers.core.flatbuffer import TensorInfo, TfliteInfo
from helpers.core.packing import cut, pack
from helpers.native_output import native_stderr_silenced

# Rows per invoke at most. Past a few thousand rows the per-invoke overhead is already gone.
MAX_EVALUATION_BATCH = 4096
# Cap on the bytes a batch's tensors may take, counted as every tensor of the batch-1 graph times
# the batch (an upper bound: it counts weights per row and ignores the arena's reuse). Keeps a
# large model from allocating gigabytes for a batch.
BATCH_TENSOR_BUDGET = 64 * 2**20
# Batched inference uses every core; XNNPACK splits a batch by output rows, so the answers do
# not depend on the thread count. The batch-1 interpreter stays single-threaded (no gain there).
BATCH_THREADS = max(1, min(4, os.cpu_count() or 1))
# Elements quantized at a time (two float32 buffers of 256 KiB).
_QUANTIZE_CHUNK = 65536
# Rows of the first batch that are also run one by one to check that batching changes nothing.
_PROBE_ROWS = 8


def quantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Real values (computed in float32, as the features are held) -> the tensor's dtype with its
    scale and zero-point, rounding half away from zero like TFLite."""
    dtype = np.dtype(tensor.dtype)
    if not tensor.is_quantized:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    quantized = np.empty(flat.shape, dtype)
    # Two float32 scratch buffers of _QUANTIZE_CHUNK reused chunk after chunk: the work stays in
    # the CPU cache and 200,000 rows need no full-size float temporaries.
    scaled = np.empty(min(_QUANTIZE_CHUNK, flat.size), np.float32)
    magnitude = np.empty_like(scaled)
    scale = np.float32(tensor.scale)
    for start in range(0, flat.size, _QUANTIZE_CHUNK):
        chunk = flat[start:start + _QUANTIZE_CHUNK]
        part, rounded = scaled[:len(chunk)], magnitude[:len(chunk)]
        np.divide(chunk, scale, out=part)
        np.abs(part, out=rounded)
        rounded += 0.5
        np.floor(rounded, out=rounded)
        np.copysign(rounded, part, out=part)
        part += tensor.zero_point
        np.clip(part, info.min, info.max, out=part)
        quantized[start:start + len(chunk)] = part
    return quantized.reshape(values.shape)


def dequantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """The tensor's dtype -> real values (float32 passes through)."""
    if not tensor.is_quantized:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - tensor.zero_point) * tensor.scale).astype(np.float32)


def _shapes(tensors: tuple[TensorInfo, ...]) -> list[tuple[int, ...]]:
    return [tuple(tensor.shape[1:]) for tensor in tensors]


def quantize_inputs(x: np.ndarray, info: TfliteInfo) -> np.ndarray:
    """quantize() for the model's input, or each input's part of packed rows (a model with several
    inputs), packed again (core/packing.py): row `i` is then every input's values, in order."""
    if not info.multi_io:
        return quantize(x, info.input)
    parts = cut(x, _shapes(info.input_tensors))
    return pack([quantize(part, tensor) for part, tensor in zip(parts, info.input_tensors)])


def dequantize_outputs(raw: np.ndarray, info: TfliteInfo) -> np.ndarray:
    """dequantize() for the model's output, or each output's part of packed raw outputs."""
    if not info.multi_io:
        return dequantize(raw, info.output)
    parts = cut(raw, _shapes(info.output_tensors))
    return pack([dequantize(part, tensor) for part, tensor in zip(parts, info.output_tensors)])


def plan_batch(rows: int, largest: int) -> int:
    """Rows per invoke: the fewest invokes of at most `largest` rows, split evenly.

    Even chunks keep the zero padding of the last chunk below one row per chunk (20,000 rows with
    a limit of 4,096 run as 5 x 4,000, not 4 x 4,096 plus 3,616 real rows among 4,096)."""
    if rows <= 0:
        return 1
    chunks = math.ceil(rows / max(1, largest))
    return math.ceil(rows / chunks)


def _padded(rows: np.ndarray, size: int) -> np.ndarray:
    """Rows padded with zero rows up to `size`."""
    if len(rows) == size:
        return rows
    padding = np.zeros((size - len(rows),) + rows.shape[1:], dtype=rows.dtype)
    return np.concatenate([rows, padding], axis=0)


class LiteRtRunner:
    """One interpreter per variant, reused for every call."""

    def __init__(self, content: bytes, info: TfliteInfo) -> None:
        self._content = content
        self._info = info
        # A stateful model runs one row per invoke from reset state: its state tensors have a
        # batch of 1, and a row must not see the state the previous row left.
        self._stateful = info.stateful
        self._single = self._make_interpreter(batch=1)
        # Tensor indices come from the flatbuffer, so they hold for every interpreter of this model;
        # looking them up once keeps the per-row path (LSTMs run one row per invoke) short.
        self._input_indices = [detail["index"] for detail in self._single.get_input_details()]
        self._output_indices = [detail["index"] for detail in self._single.get_output_details()]
        bytes_per_row = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize
                            for t in self._single.get_tensor_details())
        self._largest_batch = max(1, min(MAX_EVALUATION_BATCH, BATCH_TENSOR_BUDGET // max(1, bytes_per_row)))
        self._batched: Interpreter | None = None
        self._batch = 1
        self._batching_refused = info.stateful

    def _make_interpreter(self, batch: int) -> Interpreter:
        with native_stderr_silenced():
            interpreter = Interpreter(model_content=self._content, num_threads=BATCH_THREADS if batch > 1 else 1)
        if batch != 1:
            for index, tensor in zip(self._input_indices, self._info.input_tensors):
                interpreter.resize_tensor_input(index, (batch,) + tuple(tensor.shape[1:]), strict=False)
        interpreter.allocate_tensors()
        return interpreter

    def _invoke(self, interpreter: Interpreter, quantized: np.ndarray) -> np.ndarray:
        if not self._info.multi_io:
            interpreter.set_tensor(self._input_indices[0], quantized)
            interpreter.invoke()
            return interpreter.get_tensor(self._output_indices[0])  # already a copy
        # packed rows: each input's part in its own dtype, the outputs packed back in order
        tensors = self._info.input_tensors
        for index, tensor, part in zip(self._input_indices, tensors, cut(quantized, _shapes(tensors))):
            interpreter.set_tensor(index, part.astype(tensor.dtype))
        interpreter.invoke()
        return pack([interpreter.get_tensor(index) for index in self._output_indices])

    def _run_single(self, quantized: np.ndarray) -> np.ndarray:
        outputs = []
        for row in quantized:
            if self._stateful:
                self._single.reset_all_variables()
            outputs.append(self._invoke(self._single, row[np.newaxis]))
        return np.concatenate(outputs, axis=0)

    def _first_batch(self, chunk: np.ndarray, batch: int) -> np.ndarray | None:
        """The first chunk's outputs from a new batched interpreter, or None (and batching off) if
        the model cannot be batched or its batched answers differ from one row per invoke."""
        try:
            interpreter = self._make_interpreter(batch)
            together = self._invoke(interpreter, _padded(chunk, batch))[:len(chunk)]
        except (RuntimeError, ValueError):
            self._batching_refused = True
            return None
        one_by_one = self._run_single(chunk[:_PROBE_ROWS])
        probe = together[:len(one_by_one)]
        tolerance = 1e-5 * (1.0 + float(np.max(np.abs(one_by_one.astype(np.float64)))))
        if probe.shape != one_by_one.shape or not np.allclose(probe, one_by_one, atol=tolerance, rtol=0):
            self._batching_refused = True
            return None
        self._batched, self._batch = interpreter, batch
        return together

    @property
    def batch(self) -> int:
        """Rows per invoke in the last call (1 when the model runs row by row)."""
        return self._batch if self._batched is not None else 1

    def run_quantized(self, quantized: np.ndarray) -> np.ndarray:
        """Raw outputs (model dtype) for inputs already in the model's input dtype."""
        if self._batching_refused or len(quantized) <= _PROBE_ROWS:
            return self._run_single(quantized)
        batch = plan_batch(len(quantized), self._largest_batch)
        done, outputs = 0, []
        if self._batched is None or self._batch != batch:
            first = self._first_batch(quantized[:batch], batch)
            if first is None:
                return self._run_single(quantized)
            done, outputs = batch, [first]
        for start in range(done, len(quantized), batch):
            chunk = quantized[start:start + batch]
            # the last chunk is padded to the batch size (rows are independent) and trimmed after
            outputs.append(self._invoke(self._batched, _padded(chunk, batch))[:len(chunk)])
        return np.concatenate(outputs, axis=0)
