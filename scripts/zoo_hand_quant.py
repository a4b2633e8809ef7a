"""Quantized zoo models for ops TFLM runs on int8 (or int16) tensors but the converter leaves in
float (ADD_N, CUMSUM, DYNAMIC_UPDATE_SLICE): the case's float32 model with every float activation
made int8 (int16), quantized from its range over the calibration samples as the converter would
(int8 asymmetric, int16 symmetric, both ranges holding 0). An op that copies stored values gives
its output its input's quantization, as TFLM's copying kernels require. Read by make_op_zoo.py."""
from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model

# Ops whose kernel copies stored values: output and input quantized alike.
COPYING = {"RESHAPE", "REVERSE_V2", "STRIDED_SLICE", "SLICE", "TRANSPOSE", "GATHER", "DYNAMIC_UPDATE_SLICE",
           "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "PACK"}
_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TYPES = {"int8": (schema.TensorType.INT8, -128, 127), "int16": (schema.TensorType.INT16, -32768, 32767)}


def _quantization(low: float, high: float, kind: str) -> tuple[float, int]:
    low, high = min(low, 0.0), max(high, 0.0)
    if kind == "int16":
        return max(-low, high) / 32767 or 1.0, 0
    scale = (high - low) / 255 or 1.0
    return scale, int(np.clip(round(-128 - low / scale), -128, 127))


def _ranges(tf: Any, content: bytes, samples: np.ndarray) -> dict[int, tuple[float, float]]:
    interpreter = tf.lite.Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    found: dict[int, tuple[float, float]] = {}
    source = interpreter.get_input_details()[0]["index"]
    for sample in samples:
        interpreter.set_tensor(source, sample)
        interpreter.invoke()
        for detail in interpreter.get_tensor_details():
            if detail["dtype"] != np.float32:
                continue
            values = interpreter.get_tensor(detail["index"])
            low, high = found.get(detail["index"], (np.inf, -np.inf))
            found[detail["index"]] = (min(low, float(values.min())), max(high, float(values.max())))
    return found


def quantize_by_hand(tf: Any, content: bytes, samples: np.ndarray, kind: str) -> bytes:
    """The float32 model `content` with int8 (int16) activations; its float constants stay float
    (the cases made this way have none)."""
    model = parse_model(content)
    graph = model.subgraphs[0]
    ranges = _ranges(tf, content, samples)
    chosen = {index: _quantization(*ranges[index], kind) for index in graph.inputs}
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = _NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
        for out in op.outputs:
            chosen[out] = chosen[op.inputs[0]] if name in COPYING else _quantization(*ranges[out], kind)
    tensor_type = _TYPES[kind][0]
    for index, (scale, zero_point) in chosen.items():
        tensor = graph.tensors[index]
        tensor.type = tensor_type
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [float(np.float32(scale))], [zero_point]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def swap_op(content: bytes, old: str, new: str, lookup: bool = False) -> bytes:
    """The model with op `old` made `new` (options kept: L2_POOL_2D takes AVERAGE_POOL_2D's). With
    `lookup`, a GATHER (params, ids) made EMBEDDING_LOOKUP (ids, value): inputs swapped, no options.
    For the ops TFLM runs that no converter makes from a TensorFlow graph."""
    model = parse_model(content)
    codes = {number for number, code in enumerate(model.operatorCodes)
             if _NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode)) == old}
    for number in codes:
        code = model.operatorCodes[number]
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, new)
        code.version = 1
    for op in model.subgraphs[0].operators:
        if op.opcodeIndex in codes and lookup:
            op.inputs = list(op.inputs)[::-1]
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.NONE, None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
