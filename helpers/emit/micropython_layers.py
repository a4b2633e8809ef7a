"""The layer steps (steps/layers.py, int16 RSQRT among them) as MicroPython calls on
device/layers.py's plain kernels. `n` is micropython_calls.Names (not imported: that module
imports this one)."""
from __future__ import annotations

from typing import Any, Callable

from helpers.emit.micropython_names import clamp_literal
from helpers.lowering import steps as s
from helpers.lowering.program import Step

FAMILY = "layers"


def _call(kernel: str, *args: object) -> str:
    return f"{kernel}({', '.join(str(a) for a in args)})"


def _row_f(n: Any, t: s.RowFloat) -> str:
    return _call("row_f", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, repr(t.kind))


def _log_softmax_i8(n: Any, t: s.LogSoftmaxInt8) -> str:
    return _call("log_softmax_i8", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, n.array(t.diffs), n.array(t.exps),
                 t.diff_min, t.reverse_multiplier, t.reverse_shift)


def _l2_norm_i8(n: Any, t: s.L2NormInt8) -> str:
    return _call("l2_norm_i8", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, t.input_zero_point)


def _rsqrt_i16(n: Any, t: s.RsqrtInt16) -> str:
    return _call("rsqrt_i16", n.operand(t.x), n.buffer(t.y), t.count, t.multiplier, t.shift)


def _resize_bilinear(n: Any, t: s.ResizeBilinear) -> str:
    return _call("resize_bilinear", n.operand(t.x), n.buffer(t.y), t.depth, n.array(t.corners), n.array(t.weights),
                 int(t.dtype == "int8"))


def _scaling(n: Any, t: s.AddN | s.Cumsum) -> list[object]:
    if t.table is None:
        return ["None", 0, 0, 0, 0]
    return [n.array(t.table), t.start, t.output_multiplier, t.output_shift, t.output_zero_point]


def _add_n(n: Any, t: s.AddN) -> str:
    xs = [n.operand(x) for x in t.xs]
    return _call("add_n", "(" + ", ".join(xs) + ",)", n.buffer(t.y), t.count, *_scaling(n, t))


def _cumsum(n: Any, t: s.Cumsum) -> str:
    shape = n.small_tuple([t.before, t.length, t.after])
    flags = n.small_tuple([int(t.exclusive), int(t.reverse)])
    return _call("cumsum", n.operand(t.x), n.buffer(t.y), shape, flags, *_scaling(n, t))


def _div_i8(n: Any, t: s.DivInt8) -> str:
    # the index maps first: the lowering computes them before it reads the inputs
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    params = n.small_tuple([t.input1_offset, t.input2_offset, t.output_multiplier, t.output_shift,
                            t.output_zero_point, t.act_min, t.act_max])
    return _call("div_i8", n.operand(t.x1), i1, n.operand(t.x2), i2, n.buffer(t.y), t.count, params)


def _svdf(n: Any, t: s.Svdf) -> str:
    g = t.shape
    if t.dtype == "float32":
        params = n.constant("p", f"({clamp_literal(t.act_min)}, {clamp_literal(t.act_max)})")
    else:
        params = n.small_tuple([t.input_zero_point, t.state_zero_point, *t.scale1, *t.scale2, t.output_zero_point,
                                int(t.dtype == "int8")])
    return _call("svdf", n.operand(t.x), n.buffer(t.y), n.small_tuple([g.n_input, g.filters, g.rank, g.memory]),
                 n.buffer(t.state), n.array(t.weights_feature), n.array(t.weights_time), n.array(t.bias), params)


FORMATTERS: dict[type, Callable[[Any, Step], str]] = {  # type: ignore[dict-item]
    s.RowFloat: _row_f, s.LogSoftmaxInt8: _log_softmax_i8, s.L2NormInt8: _l2_norm_i8, s.RsqrtInt16: _rsqrt_i16,
    s.ResizeBilinear: _resize_bilinear, s.AddN: _add_n, s.Cumsum: _cumsum, s.DivInt8: _div_i8,
    s.Svdf: _svdf,
}
FAMILIES: dict[type, str] = {step: FAMILY for step in FORMATTERS}
