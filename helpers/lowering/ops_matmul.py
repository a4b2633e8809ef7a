"""BATCH_MATMUL (attention's Q.K^T and A.V, or a Dense on a sequence): lhs [..., M, K] times
rhs [..., K, N], each possibly stored transposed (adj_x, adj_y), batch axes broadcast.

The step reads both operands through strides, so neither is transposed at run time; the batch
broadcast is a table of each output batch's two base offsets. int8 follows TFLM's reference:
(lhs + offset) * (rhs + offset) summed in int32, one multiplier for the tensor, the output zero point
and int8's range."""
from __future__ import annotations

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import int32, is_int8
from helpers.lowering.steps import BatchMatMulFloat, BatchMatMulInt8


def _batch_bases(shape: tuple[int, ...], out_batches: tuple[int, ...], matrix: int) -> np.ndarray:
    """Each output batch's offset into an operand whose batch axes broadcast to `out_batches`."""
    batches = shape[:-2]
    padded = (1,) * (len(out_batches) - len(batches)) + tuple(batches)
    index = np.arange(int(np.prod(batches)) if batches else 1).reshape(padded)
    return np.broadcast_to(index, out_batches).reshape(-1) * matrix


def matmul_layout(lhs: Tensor, rhs: Tensor, y: Tensor, adj_x: bool, adj_y: bool) -> np.ndarray:
    """int32 [M, N, K, lhs row stride, lhs depth stride, rhs depth stride, rhs column stride,
    batches, then (lhs base, rhs base) per output batch]."""
    if len(lhs.shape) < 2 or len(rhs.shape) < 2:
        raise Unsupported("BATCH_MATMUL of a vector")
    a, b = lhs.shape[-2:]
    c, d = rhs.shape[-2:]
    rows, depth = (b, a) if adj_x else (a, b)
    cols = c if adj_y else d
    lhs_strides = (1, rows) if adj_x else (depth, 1)
    rhs_strides = (1, depth) if adj_y else (cols, 1)
    out_batches = tuple(y.shape[:-2])
    bases = np.stack([_batch_bases(lhs.shape, out_batches, a * b), _batch_bases(rhs.shape, out_batches, c * d)], 1)
    head = [rows, cols, depth, *lhs_strides, *rhs_strides, len(bases)]
    return np.concatenate([np.asarray(head), bases.reshape(-1)]).astype(np.int32)


def lower_batch_matmul(b: Builder, op: Op) -> None:
    lhs, rhs, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    o = op.options
    layout = int32(matmul_layout(lhs, rhs, y, bool(getattr(o, "adjX", False)), bool(getattr(o, "adjY", False))))
    operands = {"x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1])}
    if is_int8(lhs) and is_int8(rhs) and is_int8(y):
        multiplier, shift = arith.quantize_multiplier(float(lhs.scale) * float(rhs.scale) / float(y.scale))
        b.need_accumulator(int(layout.values[1]))
        b.emit(BatchMatMulInt8(op=op.name, y=b.allocate(op.outputs[0]), layout=layout, lhs_offset=-lhs.zero_point,
                               rhs_offset=-rhs.zero_point, multiplier=multiplier, shift=shift,
                               output_zero_point=y.zero_point, **operands))
        return
    if lhs.dtype == rhs.dtype == y.dtype == "float32":
        b.emit(BatchMatMulFloat(op=op.name, y=b.allocate(op.outputs[0]), layout=layout, **operands))
        return
    raise Unsupported(f"BATCH_MATMUL of {lhs.dtype} and {rhs.dtype}")
