"""An int8 elementwise op with one input is a function of the input byte alone: 256 values. TFLM's
own kernel fills that table at export, so the engines' lookup is exact by construction, whatever
arithmetic (fixed point, float, a LUT of TFLM's own) the kernel uses.

The op is cut out of the model as a one-op model with the same options and quantization, its input
the 256 int8 values in a row, and run on TFLM's interpreter in a forked worker (an op TFLM refuses
aborts the worker, not the export)."""
from __future__ import annotations

import copy
from functools import lru_cache

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model
from helpers.lowering.graph import Graph, Op, Unsupported

_ALL_BYTES = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)  # one row


def one_op_model(content: bytes, position: int) -> bytes:
    """The op at `position` alone, on a [1, 256] input: its opcode, options and the quantization of
    its input and output tensors kept, every other tensor and buffer dropped."""
    model = parse_model(content)
    graph = model.subgraphs[0]
    op = copy.deepcopy(graph.operators[position])
    tensors = []
    for number, index in enumerate((op.inputs[0], op.outputs[0])):
        tensor = copy.deepcopy(graph.tensors[index])
        tensor.shape = np.array([1, 256], dtype=np.int32)
        tensor.shapeSignature = None
        tensor.buffer = number + 1  # the empty buffers 1 and 2: activations, no data
        tensors.append(tensor)
    op.opcodeIndex, op.inputs, op.outputs, op.intermediates = 0, [0], [1], None
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = tensors, [op], [0], [1]
    single = schema.ModelT()
    single.version = model.version
    single.operatorCodes = [copy.deepcopy(model.operatorCodes[graph.operators[position].opcodeIndex])]
    single.subgraphs = [subgraph]
    single.buffers = [schema.BufferT() for _ in range(3)]
    single.description = "mcu-deploy: one op, tabulated"
    builder = flatbuffers.Builder(1024)
    builder.Finish(single.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@lru_cache(maxsize=256)
def _tabulate(single: bytes) -> bytes:
    from helpers.measure.tflm import run_in_tflm  # the forkserver, only when a table is needed

    try:
        outputs = run_in_tflm(single, _ALL_BYTES)
    except RuntimeError as exc:
        raise Unsupported(f"TFLM cannot run it ({exc})") from None
    return np.asarray(outputs, dtype=np.int8).reshape(256).view(np.uint8).tobytes()


def int8_table(graph: Graph, op: Op) -> np.ndarray:
    """The op's output byte for each input byte (index: the raw byte, 0..255, as uint8)."""
    if not graph.content:
        raise Unsupported(f"{op.name} needs the model's flatbuffer to tabulate")
    table = np.frombuffer(_tabulate(one_op_model(graph.content, op.position)), dtype=np.uint8)
    # Index by the raw byte: entry b is the output for int8 value b (b >= 128 are the negatives).
    return np.roll(table, -128).copy()
