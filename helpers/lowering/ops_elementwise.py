"""Lowering of the elementwise ops: QUANTIZE, DEQUANTIZE, ADD, SUB, MUL, LOGISTIC, TANH and MEAN."""
from __future__ import annotations

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import activation, int32, is_int8
from helpers.lowering.program import Const
from helpers.lowering.steps import (
    AddInt8,
    BinaryFloat,
    DequantizeInt8,
    LookupInt8,
    MeanFloat,
    MeanInt8,
    MulInt8,
    QuantizeFloatToInt8,
    ReduceFloat,
    ReduceInt8,
    RequantizeInt8,
    UnaryFloat,
)


def lower_quantize(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if not is_int8(y):
        raise Unsupported(f"QUANTIZE to {y.dtype}")
    low, high = arith.INT_RANGES["int8"]
    if x.dtype == "float32":
        source = b.operand(op.inputs[0])
        b.emit(QuantizeFloatToInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, scale=y.scale,
                                   zero_point=y.zero_point, act_min=low, act_max=high))
        return
    if is_int8(x):
        mult, shift = arith.quantize_multiplier(float(x.scale) / float(y.scale))
        source = b.operand(op.inputs[0])
        b.emit(RequantizeInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size,
                              input_zero_point=x.zero_point, multiplier=mult, shift=shift,
                              output_zero_point=y.zero_point, act_min=low, act_max=high))
        return
    raise Unsupported(f"QUANTIZE from {x.dtype}")


def lower_dequantize(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    values = b.data(op.inputs[0])
    if values is not None:  # float16 or int8 weights: dequantized once, here
        real = values.astype(np.float32) if x.dtype == "float16" else \
            ((values.astype(np.float64) - x.zero_point) * x.scale).astype(np.float32)
        b.folded[op.outputs[0]] = real
        return
    if not is_int8(x):
        raise Unsupported(f"DEQUANTIZE of {x.dtype}")
    source = b.operand(op.inputs[0])
    b.emit(DequantizeInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, scale=x.scale,
                          zero_point=x.zero_point))


def broadcast_index(tensor: Tensor, out_shape: tuple[int, ...]) -> Const | None:
    """For an input smaller than the output: the input position of every output element. None
    when there is nothing to broadcast: the same shape, or the same element count (the shapes
    then differ only by 1s, as PReLU's alpha [16] against [1, 16], and the map is the identity)."""
    if tensor.shape == out_shape or tensor.size == int(np.prod(out_shape, dtype=np.int64)):
        return None
    return int32(np.broadcast_to(np.arange(tensor.size).reshape(tensor.shape), out_shape))


ADD_SUB_LEFT_SHIFT = {"int8": 20, "int16": 15}  # add_common.cc's and sub_common.cc's left_shift


def add_sub_multipliers(x1: Tensor, x2: Tensor, y: Tensor) -> list[int]:
    """ADD's and SUB's three (multiplier, shift) pairs, flat: each input's scale over twice the larger
    one, and twice the larger over 2**left_shift times the output's, divided in double: so
    add_common.cc, and SUB as the tool's TFLM interpreter (the tflite-micro wheel) and LiteRT run it
    (twice a float32 scale is exact in float32 and double alike). The pinned tree's sub_common.cc
    divides in float32, which moves a multiplier by up to an ulp of float32 and a near tie by one
    step: a Normalization layer's SUB of its mean, every int8 output a near tie (the layer zoo)."""
    twice_max = 2 * max(float(x1.scale), float(x2.scale))
    left_shift = ADD_SUB_LEFT_SHIFT[y.dtype]
    reals = (float(x1.scale) / twice_max, float(x2.scale) / twice_max,
             twice_max / ((1 << left_shift) * float(y.scale)))
    return [value for real in reals for value in arith.quantize_multiplier(real)]


def lower_arithmetic(b: Builder, op: Op, kind: str) -> None:
    """ADD, SUB or MUL; an input smaller than the output is broadcast through an index map."""
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    fused = activation(op.options)
    indices = {"x1_index": broadcast_index(x1, y.shape), "x2_index": broadcast_index(x2, y.shape)}
    if is_int8(x1) and is_int8(x2) and is_int8(y):
        operands = {**indices, "x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1])}
        low, high = arith.activation_range(fused, "int8", y.scale, y.zero_point)
        common = {"input1_offset": -x1.zero_point, "input2_offset": -x2.zero_point,
                  "output_zero_point": y.zero_point, "act_min": low, "act_max": high}
        out = b.allocate(op.outputs[0])
        if kind in ("add", "sub"):
            m1, s1, m2, s2, mo, so = add_sub_multipliers(x1, x2, y)
            b.emit(AddInt8(op=op.name, y=out, count=y.size, input1_multiplier=m1, input1_shift=s1,
                           input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so,
                           sign=1 if kind == "add" else -1, **operands, **common))
        else:
            mo, so = arith.quantize_multiplier(float(x1.scale) * float(x2.scale) / float(y.scale))
            b.emit(MulInt8(op=op.name, y=out, count=y.size, output_multiplier=mo, output_shift=so,
                           **operands, **common))
        return
    if x1.dtype == x2.dtype == y.dtype == "float32":
        operands = {**indices, "x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1])}
        low_f, high_f = arith.float_activation_range(fused)
        b.emit(BinaryFloat(op=op.name, kind=kind, y=b.allocate(op.outputs[0]), count=y.size, act_min=low_f,
                           act_max=high_f, **operands))
        return
    raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype}")


def lower_elementwise(b: Builder, op: Op, kind: str) -> None:
    """LOGISTIC or TANH: int8 through TFLM's table, float32 directly."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if is_int8(x) and is_int8(y):
        table = arith.elementwise_int8_table(op.name, x.scale, x.zero_point, y.zero_point)
        source = b.operand(op.inputs[0])
        b.emit(LookupInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size,
                          table=Const(np.frombuffer(table, dtype=np.uint8).copy())))
        return
    if x.dtype != "float32":
        raise Unsupported(f"{op.name} on {x.dtype} tensors")
    source = b.operand(op.inputs[0])
    b.emit(UnaryFloat(op=op.name, kind=kind, x=source, y=b.allocate(op.outputs[0]), count=x.size))


def _reduced_groups(b: Builder, op: Op) -> np.ndarray:
    """For each output element, the input positions it reduces (in the input's order)."""
    x = b.graph.tensor(op.inputs[0])
    if x.dtype not in ("float32", "int8"):
        raise Unsupported(f"{op.name} on {x.dtype} tensors")
    axes = b.data(op.inputs[1])
    if axes is None:
        raise Unsupported(f"{op.name} over axes computed at run time")
    reduced = sorted({int(a) % len(x.shape) for a in np.asarray(axes).reshape(-1)})
    kept = [a for a in range(len(x.shape)) if a not in reduced]
    positions = np.transpose(np.arange(x.size).reshape(x.shape), kept + reduced)
    return positions.reshape(int(np.prod([x.shape[a] for a in kept])) if kept else 1, -1)


def lower_mean(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    groups = _reduced_groups(b, op)
    table = Const(np.asarray(groups, dtype=np.int32))
    source = b.operand(op.inputs[0])
    if is_int8(x):
        mult, shift = arith.mean_multiplier(x.scale, y.scale, groups.shape[1])
        b.emit(MeanInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), groups=table,
                        input_zero_point=x.zero_point, multiplier=mult, shift=shift, output_zero_point=y.zero_point))
        return
    b.emit(MeanFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), groups=table))


def lower_reduce(b: Builder, op: Op, kind: str) -> None:
    """SUM, REDUCE_MAX, REDUCE_MIN. An int8 SUM is TFLM's QuantizedMeanOrSum without the 1 / count:
    MEAN's step with the plain input-to-output multiplier."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    table = Const(np.asarray(_reduced_groups(b, op), dtype=np.int32))
    source = b.operand(op.inputs[0])
    if x.dtype == "float32":
        b.emit(ReduceFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), kind=kind, groups=table))
        return
    if kind == "sum":
        mult, shift = arith.quantize_multiplier(float(x.scale) / float(y.scale))
        b.emit(MeanInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), groups=table,
                        input_zero_point=x.zero_point, multiplier=mult, shift=shift, output_zero_point=y.zero_point))
        return
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise Unsupported(f"{op.name} whose output is quantized unlike its input")
    b.emit(ReduceInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), kind=kind, groups=table))
