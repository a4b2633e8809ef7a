"""Bias correction (Nagel et al., "Data-Free Quantization", in its empirical form): each int8
FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D whose output drifts from the float model's by a
systematic per-channel shift gets that shift taken out of its int32 bias, layer after layer (each
correction changes what the next layer sees). Only bias values change: the flatbuffer keeps every
op, tensor, scale and zero point, so TFLM and the engines run it unchanged."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from helpers.core.flatbuffer import inspect_tflite
from helpers.core.variant import TfliteModel
from helpers.measure.litert import quantize_inputs
from helpers.native_output import native_stderr_silenced

# TFLite builtin operator codes of the layers with a bias (schema.fbs BuiltinOperator).
_BIASED_OPS = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED"}
_INT32, _INT8 = 2, 9      # schema.fbs TensorType


@dataclass(frozen=True)
class _Layer:
    op: int
    output: str
    bias_buffer: int
    bias_scales: np.ndarray   # input scale * each output channel's weight scale


def corrected(tflite: TfliteModel, calibrated: bytes, rows: np.ndarray) -> TfliteModel | None:
    """The model with each biased layer's mean output shift against the calibrated float model (on
    `rows`, by tensor name) removed; None when no layer moved."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite.content))
    layers = _biased_layers(model)
    float_means = channel_means(calibrated, rows.astype(np.float32), {layer.output for layer in layers})
    changed = False
    for layer in (layer for layer in layers if layer.output in float_means):
        content = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
        quantized = channel_means(content, quantize_inputs(rows, tflite.info), {layer.output}).get(layer.output)
        expected = float_means[layer.output]
        if quantized is None or quantized.shape != expected.shape or quantized.shape != layer.bias_scales.shape:
            continue
        steps = np.round((quantized - expected) / layer.bias_scales).astype(np.int64)
        if not steps.any():
            continue
        buffer = model.buffers[layer.bias_buffer]
        bias = np.frombuffer(bytes(buffer.data), dtype="<i4").astype(np.int64)
        buffer.data = np.clip(bias - steps, -2**31, 2**31 - 1).astype("<i4").view(np.uint8)
        changed = True
    if not changed:
        return None
    content = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    return TfliteModel(plan=tflite.plan, content=content, info=inspect_tflite(content))


def _name(tensor) -> str:  # type: ignore[no-untyped-def]
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


def _biased_layers(model) -> list[_Layer]:  # type: ignore[no-untyped-def]
    """The main graph's biased int8 layers (an int32 bias of their own), in graph order."""
    graph = model.subgraphs[0]
    users: dict[int, int] = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            users[tensor.buffer] = users.get(tensor.buffer, 0) + 1
    layers = []
    for index, op in enumerate(graph.operators):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin not in _BIASED_OPS or len(op.inputs) < 3 or op.inputs[2] < 0:
            continue
        x, w, b, y = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]))
        if b.type != _INT32 or y.type != _INT8 or users.get(b.buffer, 0) != 1:
            continue
        bias_scales = np.asarray(b.quantization.scale, dtype=np.float64)
        if bias_scales.size == 0 or not np.all(bias_scales > 0):
            continue
        layers.append(_Layer(op=index, output=_name(y), bias_buffer=b.buffer, bias_scales=bias_scales))
    return layers


def channel_means(content: bytes, rows: np.ndarray, names: set[str] | None) -> dict[str, np.ndarray]:
    """Each named activation's mean per channel (its last axis) over `rows`, dequantized; every
    float or int8 activation when `names` is None. Each row from reset state."""
    with native_stderr_silenced():
        interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    tensors = [t for t in interpreter.get_tensor_details() if len(t["shape"]) and (names is None or t["name"] in names)
               and t["dtype"] in (np.float32, np.int8)]
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for row in rows:
        interpreter.reset_all_variables()
        interpreter.set_tensor(details["index"], row[np.newaxis])
        interpreter.invoke()
        for tensor in tensors:
            try:
                values = interpreter.get_tensor(tensor["index"]).astype(np.float64)
            except ValueError:
                continue
            scale, zero_point = tensor["quantization"]
            if tensor["dtype"] == np.int8:
                values = (values - zero_point) * scale
            flat = values.reshape(-1, values.shape[-1])
            name = tensor["name"]
            sums[name] = flat.sum(axis=0) + sums.get(name, 0.0)
            counts[name] = counts.get(name, 0) + len(flat)
    return {name: sums[name] / counts[name] for name in sums}
