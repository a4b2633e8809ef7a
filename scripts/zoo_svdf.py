"""The op zoo's SVDF models, made by hand: no converter makes SVDF from a TensorFlow graph. One
SVDF op (input [1, 12], 6 filters of rank 2 into 3 units, memory 4, its state a variable tensor)
with fixed random weights: float32 (fused RELU), and int8 as TFLM's integer kernel takes it (int8
input, feature weights and output, int16 time weights and state, int32 bias at the state scale
times the time weights' scale). The scales are chosen so that the state and the output saturate."""
from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

N_INPUT, FILTERS, RANK, MEMORY = 12, 6, 2, 4
UNITS = FILTERS // RANK


def _tensor(name: str, shape: tuple[int, ...], kind: int, buffer: int, quant: tuple[float, int] | None,
            variable: bool = False) -> schema.TensorT:
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type, tensor.buffer = name.encode(), np.array(shape, np.int32), kind, buffer
    tensor.isVariable = variable
    if quant is not None:
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [quant[0]], [quant[1]]
    return tensor


def _buffer(values: np.ndarray | None) -> schema.BufferT:
    buffer = schema.BufferT()
    if values is not None:
        buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8)
    return buffer


def _symmetric(values: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    limit = (1 << (bits - 1)) - 1
    scale = float(np.float32(np.abs(values).max() / limit))
    return np.clip(np.round(values / scale), -limit, limit), scale


def svdf_model(kind: str, low: float, high: float, seed: int, state_bits: int = 16) -> bytes:
    """The SVDF model for `kind` ("float32" or "int8"), its input quantized over low..high; with
    state_bits 8, int8 time weights and an int8 state at a non-zero zero point (int8 only: b"" for
    the other types)."""
    if state_bits == 8 and kind != "int8":
        return b""
    rng = np.random.default_rng(seed)
    feature = rng.uniform(-0.5, 0.5, (FILTERS, N_INPUT)).astype(np.float32)
    time = rng.uniform(-1.0, 1.0, (FILTERS, MEMORY)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, (UNITS,)).astype(np.float32)
    f32, i8, i16, i32 = (schema.TensorType.FLOAT32, schema.TensorType.INT8, schema.TensorType.INT16,
                         schema.TensorType.INT32)
    if kind == "float32":
        constants = [feature, time, bias]
        tensors = [_tensor("input", (1, N_INPUT), f32, 1, None), _tensor("feature", feature.shape, f32, 2, None),
                   _tensor("time", time.shape, f32, 3, None), _tensor("bias", bias.shape, f32, 4, None),
                   _tensor("state", (1, FILTERS * MEMORY), f32, 5, None, True),
                   _tensor("output", (1, UNITS), f32, 6, None)]
    else:
        in_scale = float(np.float32((high - low) / 255))
        in_zero = int(round(-128 - low / in_scale))
        q_feature, s_feature = _symmetric(feature, 8)
        q_time, s_time = _symmetric(time, state_bits)
        # the feature products saturate the state
        s_state = float(np.float32(4.0 / ((1 << (state_bits - 1)) - 1)))
        z_state = 5 if state_bits == 8 else 0
        t_state = i16 if state_bits == 16 else i8
        s_bias = float(np.float32(s_state * s_time))
        s_out = float(np.float32(2.0 / 127))
        constants = [q_feature.astype(np.int8), q_time.astype(np.int16 if state_bits == 16 else np.int8),
                     np.round(bias / s_bias).astype(np.int32)]
        tensors = [_tensor("input", (1, N_INPUT), i8, 1, (in_scale, in_zero)),
                   _tensor("feature", feature.shape, i8, 2, (s_feature, 0)),
                   _tensor("time", time.shape, t_state, 3, (s_time, 0)),
                   _tensor("bias", bias.shape, i32, 4, (s_bias, 0)),
                   _tensor("state", (1, FILTERS * MEMORY), t_state, 5, (s_state, z_state), True),
                   _tensor("output", (1, UNITS), i8, 6, (s_out, -10))]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2, 3, 4], [5]
    op.builtinOptionsType = schema.BuiltinOptions.SVDFOptions
    op.builtinOptions = schema.SVDFOptionsT()
    op.builtinOptions.rank, op.builtinOptions.fusedActivationFunction = RANK, schema.ActivationFunctionType.RELU
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SVDF
    code.version = 1
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.inputs, graph.outputs = tensors, [op], [0], [5]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [_buffer(None), _buffer(None)] + [_buffer(c) for c in constants] + [_buffer(None), _buffer(None)]
    model.description = b"mcu-deploy op zoo: SVDF, made by hand"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
