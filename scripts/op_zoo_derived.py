"""The op zoo's derived cases: (op, type) pairs TFLM runs that the TensorFlow converter does not
make from a graph (it rewrites tf.squeeze into RESHAPE and folds tf.shape of a fixed shape, leaves
PADV2's int16 pad value in float32 and refuses PRELU in int16x8), each written from a
converter-made zoo model by a small edit of its flatbuffer (helpers/rewrite/edit's object API), so
its tensors keep the converter's quantization. Read by scripts/make_op_zoo.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import parse_model
from helpers.rewrite.edit import drop_orphans, opcode_index, pack

Edit = Callable[[schema.ModelT, schema.SubGraphT], None]
OP = schema.BuiltinOperator


@dataclass(frozen=True)
class Derived:
    """One derived zoo graph: its directory name, the op it holds, the zoo case it is edited from."""

    name: str
    op: str
    source: str
    edit: Edit


def _constant(model: schema.ModelT, graph: schema.SubGraphT, name: str, values: np.ndarray,
              kind: int, quantization: tuple[float, int] | None) -> int:
    buffer = schema.BufferT()
    buffer.data = np.ascontiguousarray(values).tobytes()
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.buffer = list(values.shape), kind, name.encode(), \
        len(model.buffers) - 1
    if quantization is not None:
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale, tensor.quantization.zeroPoint = [quantization[0]], [quantization[1]]
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _retarget(model: schema.ModelT, op: schema.OperatorT, builtin: int, options_type: int = 0,
              options: object = None) -> None:
    op.opcodeIndex = opcode_index(model, builtin, 1)
    op.builtinOptionsType, op.builtinOptions = options_type, options


def _squeeze(model: schema.ModelT, graph: schema.SubGraphT) -> None:
    """RESHAPE [1, 4, 6] -> [1, 3, 8] made SQUEEZE of axis 0: [1, 4, 6] -> [4, 6]."""
    op = graph.operators[0]
    x, shape = op.inputs[0], op.inputs[1]
    options = schema.SqueezeOptionsT()
    options.squeezeDims = [0]
    _retarget(model, op, OP.SQUEEZE, schema.BuiltinOptions.SqueezeOptions, options)
    op.inputs = [x]
    out = graph.tensors[op.outputs[0]]
    out.shape, out.shapeSignature = list(graph.tensors[x].shape[1:]), None
    drop_orphans(model, graph, {shape})


def _shape(model: schema.ModelT, graph: schema.SubGraphT) -> None:
    """RESHAPE [1, 4, 6] -> [1, 3, 8] given its new shape by a SHAPE of its input: [1, 4, 6] again."""
    reshape = graph.operators[0]
    x, old = reshape.inputs[0], reshape.inputs[1]
    dims = list(graph.tensors[x].shape)
    tensor = schema.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.buffer = [len(dims)], schema.TensorType.INT32, b"shape", 0
    graph.tensors.append(tensor)
    op = schema.OperatorT()
    options = schema.ShapeOptionsT()
    options.outType = schema.TensorType.INT32
    op.inputs, op.outputs = [x], [len(graph.tensors) - 1]
    _retarget(model, op, OP.SHAPE, schema.BuiltinOptions.ShapeOptions, options)
    graph.operators.insert(0, op)
    reshape.inputs = [x, len(graph.tensors) - 1]
    if reshape.builtinOptions is not None:
        reshape.builtinOptions.newShape = dims
    out = graph.tensors[reshape.outputs[0]]
    out.shape, out.shapeSignature = dims, None
    drop_orphans(model, graph, {old})


def _padv2(model: schema.ModelT, graph: schema.SubGraphT) -> None:
    """PAD made PADV2 padding with 0.75 in the input's quantization (an int16 constant)."""
    op = graph.operators[0]
    x = graph.tensors[op.inputs[0]]
    scale = float(x.quantization.scale[0])
    value = np.asarray([round(0.75 / scale)], dtype="<i2")
    op.inputs = [*op.inputs[:2], _constant(model, graph, "pad_value", value, schema.TensorType.INT16, (scale, 0))]
    _retarget(model, op, OP.PADV2, schema.BuiltinOptions.PadV2Options, schema.PadV2OptionsT())
    drop_orphans(model, graph, set())


# PRELU's alphas, one per channel shared over the rows (Keras' PReLU with shared_axes=[1]), one of
# them negative; int8 with a zero point that is not 0, as the converter quantizes them.
PRELU_ALPHAS = np.asarray([[0.05, -0.3, 0.4, 0.2, 0.1, 0.35]], dtype=np.float64)
PRELU_ALPHA_SCALE = 0.8 / 255
PRELU_ALPHA_ZERO_POINT = -32


def _prelu(model: schema.ModelT, graph: schema.SubGraphT) -> None:
    """LEAKY_RELU made PRELU with int8 alphas (TFLM's int16 PRELU takes int8 alphas only)."""
    op = graph.operators[0]
    q = np.clip(np.round(PRELU_ALPHAS / PRELU_ALPHA_SCALE) + PRELU_ALPHA_ZERO_POINT, -128, 127).astype(np.int8)
    alpha = _constant(model, graph, "alpha", q, schema.TensorType.INT8, (PRELU_ALPHA_SCALE, PRELU_ALPHA_ZERO_POINT))
    op.inputs = [op.inputs[0], alpha]
    _retarget(model, op, OP.PRELU)
    drop_orphans(model, graph, set())


DERIVED: tuple[Derived, ...] = (
    *(Derived(f"squeeze_{kind}", "SQUEEZE", f"reshape_{kind}", _squeeze) for kind in ("float32", "int8", "int16")),
    *(Derived(f"shape_{kind}", "SHAPE", f"reshape_{kind}", _shape) for kind in ("float32", "int8", "int16")),
    Derived("padv2_int16", "PADV2", "pad_int16", _padv2),
    Derived("prelu_int16", "PRELU", "leaky_relu_int16", _prelu),
)


def derive(case: Derived, source: bytes) -> bytes:
    """The derived case's model, from its source case's."""
    model = parse_model(source)
    case.edit(model, model.subgraphs[0])
    return pack(model)
