"""Read a .tflite flatbuffer in pure Python: ops used, input/output tensors, quantization.

Uses the schema bindings that ship with ai-edge-litert, so nothing here imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ai_edge_litert import schema_py_generated as schema

# The custom op TFLM's compression inserts to decode LUT-compressed weights at run time.
TFLM_DECODE_OP = "TFLM_DECODE"
# Custom ops TFLM itself provides; any other custom op (TF Select, ...) cannot run on it.
TFLM_CUSTOM_OPS = (TFLM_DECODE_OP,)

# TFLite tensor type -> (numpy dtype name, C type).
_TENSOR_TYPES = {
    schema.TensorType.FLOAT32: ("float32", "float"),
    schema.TensorType.FLOAT16: ("float16", "uint16_t"),
    schema.TensorType.INT8: ("int8", "int8_t"),
    schema.TensorType.UINT8: ("uint8", "uint8_t"),
    schema.TensorType.INT16: ("int16", "int16_t"),
    schema.TensorType.INT32: ("int32", "int32_t"),
}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as firmware sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    c_type: str
    scale: float
    zero_point: int

    @property
    def is_quantized(self) -> bool:
        """True for integer tensors that carry a scale (their values are quantized reals)."""
        return self.dtype in ("int8", "uint8", "int16") and self.scale != 0.0

    @property
    def size(self) -> int:
        """Elements in the tensor."""
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class TfliteInfo:
    """What a .tflite holds, as far as firmware and the report care."""

    ops: tuple[str, ...]
    input: TensorInfo
    output: TensorInfo
    custom_ops: tuple[str, ...]
    # Variable tensors (the state of a fused LSTM/RNN converted with batch 1) keep their values
    # from one invoke to the next. Keras starts every sample from zero state, so every runner
    # (LiteRT here, TFLM, the firmware) must reset them before each invoke to give its answers.
    stateful: bool = False
    # Every input and output in the graph's order (the pipeline puts it in specs.json's order); a
    # model with one of each has them in `input` and `output` too.
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()

    @property
    def input_tensors(self) -> tuple[TensorInfo, ...]:
        """Every input (`input` alone where `inputs` was not filled in)."""
        return self.inputs or (self.input,)

    @property
    def output_tensors(self) -> tuple[TensorInfo, ...]:
        """Every output (`output` alone where `outputs` was not filled in)."""
        return self.outputs or (self.output,)

    @property
    def multi_io(self) -> bool:
        """Whether the model has more than one input or more than one output."""
        return len(self.input_tensors) > 1 or len(self.output_tensors) > 1


@lru_cache(maxsize=1)
def builtin_op_names() -> dict[int, str]:
    """BuiltinOperator code -> name, e.g. 9 -> FULLY_CONNECTED."""
    return {value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")}


def op_name(code: schema.OperatorCodeT) -> str:
    # Codes above 127 live in builtinCode; older files only fill deprecatedBuiltinCode.
    value = max(code.builtinCode, code.deprecatedBuiltinCode)
    return builtin_op_names().get(value, f"UNKNOWN_{value}")


def _tensor(model: schema.ModelT, index: int) -> TensorInfo:
    tensor = model.subgraphs[0].tensors[index]
    dtype, c_type = _TENSOR_TYPES.get(tensor.type, (f"type{tensor.type}", "void"))
    scale, zero_point = 0.0, 0
    quant = tensor.quantization
    if quant is not None and quant.scale is not None and len(quant.scale):
        scale = float(quant.scale[0])
        zero_point = int(quant.zeroPoint[0]) if quant.zeroPoint is not None and len(quant.zeroPoint) else 0
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")
    return TensorInfo(name=name, shape=tuple(int(d) for d in tensor.shape), dtype=dtype, c_type=c_type,
                      scale=scale, zero_point=zero_point)


def parse_model(content: bytes) -> schema.ModelT:
    """The flatbuffer as an object tree."""
    return schema.ModelT.InitFromPackedBuf(bytearray(content), 0)


@dataclass(frozen=True)
class ConstantTensor:
    """A constant op input read out of the flatbuffer."""

    index: int
    name: str
    values: np.ndarray
    quantized_axis: int | None  # the channel axis of per-channel quantization, else None


def constant_kernels(content: bytes, dtypes: tuple[str, ...]) -> list[ConstantTensor]:
    """Constant op inputs of 2 or more dimensions (kernels; biases and scalars are left out) whose
    numpy dtype is in `dtypes`, in tensor order."""
    model = parse_model(content)
    graph = model.subgraphs[0]
    used_as_input = {i for op in graph.operators or [] for i in (op.inputs if op.inputs is not None else []) if i >= 0}
    result = []
    for index in sorted(used_as_input):
        tensor = graph.tensors[index]
        dtype = _TENSOR_TYPES.get(tensor.type, ("", ""))[0]
        if dtype not in dtypes or tensor.shape is None or len(tensor.shape) < 2:
            continue
        buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
        if buffer is None or buffer.data is None:
            continue
        data = np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtype)
        if data.size != int(np.prod(tensor.shape)):
            continue
        quant = tensor.quantization
        per_channel = quant is not None and quant.scale is not None and len(quant.scale) > 1
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        result.append(ConstantTensor(index=index, name=name, values=data.reshape(tuple(tensor.shape)),
                                     quantized_axis=int(quant.quantizedDimension) if per_channel else None))
    return result


def inspect_tflite(content: bytes) -> TfliteInfo:
    """Ops (sorted, unique), the inputs and outputs, and any custom ops."""
    model = parse_model(content)
    graph = model.subgraphs[0]
    used_codes = sorted({op.opcodeIndex for sub in model.subgraphs for op in (sub.operators or [])})
    builtin, custom = set(), set()
    for index in used_codes:
        code = model.operatorCodes[index]
        if code.customCode:
            custom.add(code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode))
        else:
            builtin.add(op_name(code))
    inputs = tuple(_tensor(model, int(index)) for index in graph.inputs)
    outputs = tuple(_tensor(model, int(index)) for index in graph.outputs)
    return TfliteInfo(ops=tuple(sorted(builtin)), input=inputs[0], output=outputs[0], inputs=inputs, outputs=outputs,
                      custom_ops=tuple(sorted(custom)),
                      stateful=any(tensor.isVariable for sub in model.subgraphs for tensor in (sub.tensors or [])))


_CONVERSION_OPS = {"QUANTIZE", "DEQUANTIZE"}
_FLOAT_TYPES = (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16)


def float_compute_ops(content: bytes) -> tuple[str, ...]:
    """Ops that compute in floating point (besides the QUANTIZE/DEQUANTIZE at the edges), in every
    subgraph (the loop body of a GRU or SimpleRNN lives in a WHILE subgraph), float32 or float16.

    The converter silently keeps ops it cannot quantize in float even when asked for int8
    only; an `int8` variant must not hide them."""
    model = parse_model(content)
    found = set()
    for graph in model.subgraphs:
        for op in graph.operators or []:
            name = op_name(model.operatorCodes[op.opcodeIndex])
            if name in _CONVERSION_OPS:
                continue
            tensors = [i for i in list(op.inputs if op.inputs is not None else []) +
                       list(op.outputs if op.outputs is not None else []) if i >= 0]
            if any(graph.tensors[i].type in _FLOAT_TYPES for i in tensors):
                found.add(name)
    return tuple(sorted(found))
