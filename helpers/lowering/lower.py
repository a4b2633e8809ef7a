"""Lower a Graph to a Program: for every op the kernel step that runs it, with every constant
TFLM's Prepare step would compute (multipliers, shifts, clamps, padding, lookup tables, index
maps) computed here. Buffers are shared between tensors whose lifetimes do not overlap."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from helpers.lowering import lstm
from helpers.lowering.builder import Builder
from helpers.lowering.fold import fold
from helpers.lowering.fuse_lookup import TableLookup, table_lookups
from helpers.lowering.graph import Graph, Op, Unsupported, read_graph
from helpers.lowering.ops_binary import BINARY_LOWERINGS
from helpers.lowering.ops_compare import COMPARE_LOWERINGS
from helpers.lowering.ops_dense import lower_conv, lower_fully_connected, lower_pool, lower_softmax
from helpers.lowering.ops_elementwise import (
    lower_arithmetic,
    lower_dequantize,
    lower_elementwise,
    lower_mean,
    lower_quantize,
    lower_reduce,
)
from helpers.lowering.ops_int16 import INT16_LOWERINGS
from helpers.lowering.ops_layers import LAYER_LOWERINGS
from helpers.lowering.ops_int16_more import MORE_INT16_LOWERINGS
from helpers.lowering.ops_movement import MOVEMENT_LOWERINGS
from helpers.lowering.ops_shape import (
    lower_concatenation,
    lower_pad,
    lower_reshape,
    lower_split,
    lower_strided_slice,
)
from helpers.lowering.ops_matmul import lower_batch_matmul
from helpers.lowering.ops_transpose_conv import lower_transpose_conv
from helpers.lowering.ops_unary import TABLE_OPS, lower_prelu, lower_unary
from helpers.lowering.passes import remove_dead_channels
from helpers.lowering.program import Const, Program
from helpers.lowering.steps import LookupInt8

def _unfixed_shape(b: Builder, op: Op) -> None:
    """SHAPE lowers by folding (fold.py: a fixed shape is a constant at export); this is the rest."""
    raise Unsupported("SHAPE of a tensor whose shape is not fixed at export")


LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "FULLY_CONNECTED": lower_fully_connected,
    "CONV_2D": lambda b, op: lower_conv(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: lower_conv(b, op, depthwise=True),
    "MAX_POOL_2D": lambda b, op: lower_pool(b, op, average=False),
    "AVERAGE_POOL_2D": lambda b, op: lower_pool(b, op, average=True),
    "SOFTMAX": lower_softmax,
    "RESHAPE": lower_reshape,
    "SHAPE": _unfixed_shape,
    "SQUEEZE": lower_reshape,
    "EXPAND_DIMS": lower_reshape,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "STRIDED_SLICE": lower_strided_slice,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concatenation,
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
    **{name: lower_unary for name in sorted(TABLE_OPS)},
    "TRANSPOSE_CONV": lower_transpose_conv,
    "PRELU": lower_prelu,
    "BATCH_MATMUL": lower_batch_matmul,
    "SUM": lambda b, op: lower_reduce(b, op, "sum"),
    "REDUCE_MAX": lambda b, op: lower_reduce(b, op, "max"),
    "REDUCE_MIN": lambda b, op: lower_reduce(b, op, "min"),
    **MOVEMENT_LOWERINGS,
    **BINARY_LOWERINGS,
    **COMPARE_LOWERINGS,
    **LAYER_LOWERINGS,
}


# The ops whose int16 form (an int16 first input or output) lowers apart from LOWERINGS.
_INT16: dict[str, Callable[[Builder, Op], None]] = {**INT16_LOWERINGS, **MORE_INT16_LOWERINGS}


def _op_types(graph: Graph, op: Op) -> str:
    """`int8`, or `int16 input and int8 weights`: the op's non-constant input type (and the weights')."""
    live = [graph.tensor(i).dtype for i in op.inputs if i >= 0 and not graph.tensor(i).constant]
    weights = [graph.tensor(i).dtype for i in op.inputs if i >= 0 and graph.tensor(i).constant]
    kind = live[0] if live else (weights[0] if weights else "?")
    if weights and live and weights[0] != kind and weights[0] != "int32":
        return f"{kind} input and {weights[0]} weights"
    return kind


def _lower_op(builder: Builder, op: Op) -> str | None:
    """Lower one op; what stops it, as `OP (types): why`, else None."""
    if fold(builder, op):
        return None
    handler = LOWERINGS.get(op.name)
    if op.name in _INT16 and "int16" in (builder.graph.tensor(op.inputs[0]).dtype,
                                         builder.graph.tensor(op.outputs[0]).dtype):
        handler = _INT16[op.name]
    if handler is None:
        return f"{op.name} ({_op_types(builder.graph, op)}) is not in the engines"
    try:
        handler(builder, op)
    except Unsupported as exc:
        said = str(exc)
        return said if said.startswith(op.name) else f"{op.name} ({_op_types(builder.graph, op)}): {said}"
    return None


def _lower_lookup(builder: Builder, lookup: TableLookup) -> None:
    """A CAST, ADD 128, GATHER run (an int8 op TFLM lacks, rewritten as a table): one lookup."""
    source = builder.operand(lookup.x)
    builder.emit(LookupInt8(op="GATHER", x=source, y=builder.allocate(lookup.y),
                            count=builder.graph.tensor(lookup.x).size, table=Const(lookup.table)))


def lower(graph: Graph) -> Program:
    """The graph as kernel steps. Unsupported names every op (or form) that stops it, not only the
    first: after a failed op its outputs get buffers anyway, so the ops after it are still tried."""
    if graph.subgraphs != 1:
        raise Unsupported("models with control flow (several subgraphs)")
    builder = Builder(graph)
    input_buffers = [builder.allocate(index, persistent=True) for index in graph.inputs]
    missing: list[str] = []
    lookups = table_lookups(graph)
    absorbed = {position for lookup in lookups.values() for position in lookup.absorbed}
    step_ops: list[int] = []  # the graph op each step comes from (a fused lookup: its run's CAST)
    for op in graph.ops:
        if op.position in absorbed:  # lowered with its run's CAST
            builder.release_after(op)
            continue
        reason = _lower_lookup(builder, lookups[op.position]) if op.position in lookups else _lower_op(builder, op)
        step_ops += [op.position] * (len(builder.steps) - len(step_ops))
        if reason is not None:
            missing.append(reason)
            builder.stand_in(op)
        builder.release_after(op)
    if missing:
        raise Unsupported("; ".join(dict.fromkeys(missing)))
    program = replace(builder.finish(input_buffers), graph_ops=tuple(op.name for op in graph.ops),
                      step_ops=tuple(step_ops))
    program, removed = remove_dead_channels(program)
    return replace(program, removed=removed)


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
