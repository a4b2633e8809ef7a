"""unary_int8_as_gather: an int8 elementwise op with one input whose int8 form TFLM has no kernel
for (EXP and LOG above all: Keras' selu, softplus, mish and exponential activations convert to an
int8 EXP, and TFLM's EXP is float only) is a function of the input byte alone, so 256 values.

LiteRT has the int8 kernel: the op is cut out as a one-op model, run by LiteRT on every int8 value,
and its 256 outputs become a constant table. On the graph the op becomes three ops TFLM has int8
or int32 kernels for:

    x (int8) -> CAST (int32) -> ADD 128 (int32: GATHER wants indices 0..255) -> GATHER(table) -> y (int8)

y keeps its tensor, type and quantization, so what reads it is unchanged. The engines read the
three ops back as one table lookup (lowering/fuse_lookup.py). Exact by construction, and the pass
list's proof runs LiteRT on both models over the evaluation rows."""
from __future__ import annotations

import copy
import logging

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.op_matrix import TFLM_INPUT_TYPES
from helpers.lowering.tflm_tables import one_op_model
from helpers.native_output import native_stderr_silenced
from helpers.rewrite.edit import add_int32_constant, name_of, new_operator, pack

NAME = "unary_int8_as_gather"
log = logging.getLogger("mcu_deploy")

# Elementwise ops with one data input whose output byte depends on the input byte alone; the pass
# takes those among them whose int8 form TFLM's kernel refuses (core/op_matrix.py).
ELEMENTWISE_UNARY = frozenset({
    "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "ABS", "NEG", "ELU", "LOGISTIC", "TANH",
    "HARD_SWISH", "GELU", "LEAKY_RELU", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "FLOOR",
    "CEIL", "ROUND", "SIGN",
})
# GATHER's index is the byte plus this: int8 -128..127 -> 0..255.
INDEX_OFFSET = 128
# TFLM's int32 ADD broadcasts up to four dimensions (reference_ops::BroadcastAdd4DSlow).
_MAX_RANK = 4


def without_int8_kernel(name: str) -> bool:
    return name in ELEMENTWISE_UNARY and "int8" not in TFLM_INPUT_TYPES.get(name, ())


def candidates(model: schema.ModelT) -> list[tuple[schema.SubGraphT, int]]:
    """(graph, operator position) of every op the pass would replace."""
    found = []
    for graph in model.subgraphs:
        for position, op in enumerate(graph.operators or []):
            if not without_int8_kernel(name_of(model, op)) or len(op.outputs) != 1:
                continue
            x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if x.type == y.type == schema.TensorType.INT8 and len(x.shape) <= _MAX_RANK:
                found.append((graph, position))
    return found


def rewrite_unary_luts(model: schema.ModelT) -> int:
    """Replace every candidate by CAST, ADD, GATHER over its LiteRT table; how many. Edits `model`
    in place; an op LiteRT cannot tabulate is left as it was (and said in the log)."""
    found = candidates(model)
    if not found:
        return 0
    content = pack(model)  # the tables are cut from the model before any edit
    tables = [(graph, position, _litert_table(model, content, graph, position)) for graph, position in found]
    count = 0
    # From the last op back, so that inserting operators leaves the earlier positions valid.
    for graph, position, table in reversed(tables):
        if table is not None:
            graph.operators[position:position + 1] = _as_gather(model, graph, graph.operators[position], table)
            count += 1
    return count


def _litert_table(model: schema.ModelT, content: bytes, graph: schema.SubGraphT, position: int) -> np.ndarray | None:
    """The op's int8 output for each input value -128..127, as LiteRT's kernel computes it."""
    from ai_edge_litert.interpreter import Interpreter

    name = name_of(model, graph.operators[position])
    if model.subgraphs.index(graph) != 0:
        return None  # one_op_model cuts from the main subgraph
    try:
        single = one_op_model(content, position, (1, 256))
        with native_stderr_silenced():
            interpreter = Interpreter(model_content=single)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                                   np.arange(-128, 128, dtype=np.int8).reshape(1, 256))
            interpreter.invoke()
            table = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    except (RuntimeError, ValueError) as exc:
        log.info("%s: LiteRT cannot tabulate int8 %s (%s), so it stays", NAME, name, str(exc).splitlines()[0][:80])
        return None
    return np.asarray(table, dtype=np.int8).reshape(256)


def _as_gather(model: schema.ModelT, graph: schema.SubGraphT, op: schema.OperatorT,
               table: np.ndarray) -> list[schema.OperatorT]:
    x, y = int(op.inputs[0]), int(op.outputs[0])
    stem = (graph.tensors[y].name or b"").decode(errors="replace")
    shape = [int(d) for d in graph.tensors[x].shape]
    as_int32 = _int32_tensor(graph, shape, f"{stem}/byte_as_int32")
    index = _int32_tensor(graph, shape, f"{stem}/table_index")
    offset = add_int32_constant(model, graph, f"{stem}/table_offset", [INDEX_OFFSET])
    table_tensor = _table_tensor(model, graph, y, table, f"{stem}/table")
    cast_options = schema.CastOptionsT()
    cast_options.inDataType, cast_options.outDataType = schema.TensorType.INT8, schema.TensorType.INT32
    gather_options = schema.GatherOptionsT()
    gather_options.axis, gather_options.batchDims = 0, 0
    return [
        new_operator(model, schema.BuiltinOperator.CAST, 1, [x], as_int32, cast_options,
                     schema.BuiltinOptions.CastOptions),
        new_operator(model, schema.BuiltinOperator.ADD, 1, [as_int32, offset], index, schema.AddOptionsT(),
                     schema.BuiltinOptions.AddOptions),
        new_operator(model, schema.BuiltinOperator.GATHER, 1, [table_tensor, index], y, gather_options,
                     schema.BuiltinOptions.GatherOptions),
    ]


def _int32_tensor(graph: schema.SubGraphT, shape: list[int], name: str) -> int:
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = shape, schema.TensorType.INT32, 0, name.encode()
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _table_tensor(model: schema.ModelT, graph: schema.SubGraphT, output: int, table: np.ndarray, name: str) -> int:
    """The table as a constant int8 [256] with the output's quantization (GATHER copies bytes)."""
    buffer = schema.BufferT()
    buffer.data = table.astype(np.int8).tobytes()
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name = [256], schema.TensorType.INT8, name.encode()
    tensor.buffer = len(model.buffers) - 1
    tensor.quantization = copy.deepcopy(graph.tensors[output].quantization)
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1

