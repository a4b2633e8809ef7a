"""An int8 elementwise op with one input is a function of the input byte alone: 256 values (per
channel, for an op with a per-channel constant such as PRELU's alpha). TFLM's own kernel fills that
table at export, so the engines' lookup is exact by construction, whatever arithmetic (fixed point,
float, a LUT of TFLM's own) the kernel uses.

The op is cut out of the model as a one-op model with the same options, quantization and constant
inputs, its input every int8 value in a row (in every channel), and run on TFLM's interpreter in a
forked worker (an op TFLM refuses aborts the worker, not the export)."""
from __future__ import annotations

import copy
from functools import lru_cache

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model
from helpers.lowering.graph import Graph, Op, Unsupported


def _tensor(model: schema.ModelT, index: int, buffers: list, shape: tuple[int, ...] | None) -> schema.TensorT:
    """A copy of tensor `index` for the one-op model: an activation of `shape` (its own empty
    buffer), or a constant with its data (shape None)."""
    tensor = copy.deepcopy(model.subgraphs[0].tensors[index])
    if shape is None:
        buffers.append(copy.deepcopy(model.buffers[tensor.buffer]))
    else:
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.shapeSignature = None
        buffers.append(schema.BufferT())
    tensor.buffer = len(buffers) - 1
    return tensor


def one_op_model(content: bytes, position: int, shape: tuple[int, ...]) -> bytes:
    """The op at `position` alone: its first input and its output of `shape`, its constant inputs
    as they are; opcode, options and quantization kept, every other tensor and buffer dropped."""
    model = parse_model(content)
    original = model.subgraphs[0].operators[position]
    op = copy.deepcopy(original)
    buffers: list = [schema.BufferT()]  # buffer 0: the empty one by convention
    tensors = [_tensor(model, op.inputs[0], buffers, shape), _tensor(model, op.outputs[0], buffers, shape)]
    inputs = [0]
    for index in list(op.inputs)[1:]:
        if index < 0:
            inputs.append(-1)
            continue
        tensors.append(_tensor(model, index, buffers, None))
        inputs.append(len(tensors) - 1)
    op.opcodeIndex, op.inputs, op.outputs, op.intermediates = 0, inputs, [1], None
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = tensors, [op], [0], [1]
    single = schema.ModelT()
    single.version = model.version
    single.operatorCodes = [copy.deepcopy(model.operatorCodes[original.opcodeIndex])]
    single.subgraphs, single.buffers = [subgraph], buffers
    single.description = "mcu-deploy: one op, tabulated"
    builder = flatbuffers.Builder(1024)
    builder.Finish(single.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@lru_cache(maxsize=256)
def _tabulate(single: bytes, channels: int) -> bytes:
    from helpers.measure.tflm import run_in_tflm  # the forkserver, only when a table is needed

    every_byte = np.repeat(np.arange(-128, 128, dtype=np.int8)[:, None], channels, axis=1)
    try:
        # one row, the model's input shape without its batch axis (tflm_worker adds it back)
        outputs = run_in_tflm(single, every_byte.reshape((1, 256) if channels == 1 else (1, 256, channels)))
    except RuntimeError as exc:
        raise Unsupported(f"TFLM cannot run it ({exc})") from None
    # [input value + 128, channel] -> [channel, raw byte]: entry b is the output for int8 value b
    # (b >= 128 the negatives), so the engines index by the byte as it is stored.
    table = np.asarray(outputs, dtype=np.int8).reshape(256, channels).T
    return np.roll(table, -128, axis=1).view(np.uint8).tobytes()


def int8_table(graph: Graph, op: Op, channels: int = 1) -> np.ndarray:
    """The op's output byte for each input byte, per channel of the last axis: uint8
    [channels * 256], channel-major, indexed by the raw byte."""
    if not graph.content:
        raise Unsupported(f"{op.name} needs the model's flatbuffer to tabulate")
    shape = (1, 256) if channels == 1 else (1, 256, channels)
    single = one_op_model(graph.content, op.position, shape)
    return np.frombuffer(_tabulate(single, channels), dtype=np.uint8).copy()
