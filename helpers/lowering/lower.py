"""Lower a Graph to a Program: for every op the kernel step that runs it, with every constant
TFLM's Prepare step would compute (multipliers, shifts, clamps, padding, lookup tables, index
maps) computed here. Buffers are shared between tensors whose lifetimes do not overlap."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from helpers.lowering import lstm
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Graph, Op, Unsupported, read_graph
from helpers.lowering.ops_dense import lower_conv, lower_fully_connected, lower_pool, lower_softmax
from helpers.lowering.ops_elementwise import (
    lower_arithmetic,
    lower_dequantize,
    lower_elementwise,
    lower_mean,
    lower_quantize,
)
from helpers.lowering.ops_shape import (
    lower_concatenation,
    lower_pad,
    lower_reshape,
    lower_resize_nearest,
    lower_split,
    lower_strided_slice,
)
from helpers.lowering.program import Program

LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "FULLY_CONNECTED": lower_fully_connected,
    "CONV_2D": lambda b, op: lower_conv(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: lower_conv(b, op, depthwise=True),
    "MAX_POOL_2D": lambda b, op: lower_pool(b, op, average=False),
    "AVERAGE_POOL_2D": lambda b, op: lower_pool(b, op, average=True),
    "SOFTMAX": lower_softmax,
    "RESHAPE": lower_reshape,
    "SQUEEZE": lower_reshape,
    "EXPAND_DIMS": lower_reshape,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "STRIDED_SLICE": lower_strided_slice,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concatenation,
    "RESIZE_NEAREST_NEIGHBOR": lower_resize_nearest,
    "ADD": lambda b, op: lower_arithmetic(b, op, "add"),
    "SUB": lambda b, op: lower_arithmetic(b, op, "sub"),
    "MUL": lambda b, op: lower_arithmetic(b, op, "mul"),
    "LOGISTIC": lambda b, op: lower_elementwise(b, op, "logistic"),
    "TANH": lambda b, op: lower_elementwise(b, op, "tanh"),
    "SPLIT": lower_split,
    "SPLIT_V": lower_split,
    "UNPACK": lower_split,
    "MEAN": lower_mean,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm.lower,
}


def lower(graph: Graph) -> Program:
    """The graph as kernel steps; Unsupported names the first op (or form) that stops it."""
    if graph.subgraphs != 1:
        raise Unsupported("models with control flow (several subgraphs)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise Unsupported("models with several inputs or outputs")
    builder = Builder(graph)
    input_buffer = builder.allocate(graph.inputs[0], persistent=True)
    for op in graph.ops:
        handler = LOWERINGS.get(op.name)
        if handler is None:
            raise Unsupported(f"{op.name} is not in the engines")
        handler(builder, op)
        builder.release_after(op)
    return builder.finish(input_buffer, builder.operand(graph.outputs[0]))


@dataclass(frozen=True)
class Lowered:
    """A model lowered for the engines: its program, or why it has none."""

    program: Program | None
    reason: str | None = None


def lower_model(content: bytes) -> Lowered:
    """The typed program every engine is emitted from; an op outside the engines gives the reason."""
    try:
        return Lowered(program=lower(read_graph(content)))
    except Unsupported as exc:
        return Lowered(program=None, reason=str(exc))
