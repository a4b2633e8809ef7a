"""The layer steps (steps/layers.py, int16 RSQRT among them) as C calls on c_kernels/layers.c. `n` is
c_names.CNames."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.emit.c_names import C_TYPES, CNames, c_int, c_real
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Step

FAMILY = "layers"


def _ints(n: CNames, values: list[int]) -> str:
    return n.array(Const(np.asarray(values, dtype=np.int32)))


def _row_f(n: CNames, t: s.RowFloat) -> str:
    return (f"mcu_row_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.rows}, {t.depth}, "
            f"{int(t.kind == 'log_softmax')});")


def _log_softmax_i8(n: CNames, t: s.LogSoftmaxInt8) -> str:
    params = _ints(n, [t.diff_min, t.reverse_multiplier, t.reverse_shift])
    return (f"mcu_log_softmax_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.rows}, {t.depth}, {n.array(t.diffs)}, "
            f"{n.array(t.exps)}, {params});")


def _l2_norm_i8(n: CNames, t: s.L2NormInt8) -> str:
    return f"mcu_l2_norm_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.rows}, {t.depth}, {t.input_zero_point});"


def _rsqrt_i16(n: CNames, t: s.RsqrtInt16) -> str:
    # the kernel fails on a negative input, as TFLM's Eval does
    return (f"if (mcu_rsqrt_i16({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_int(t.multiplier)}, "
            f"{c_int(t.shift)}) != 0) return -1;")


def _resize_bilinear(n: CNames, t: s.ResizeBilinear) -> str:
    suffix = "i8" if t.dtype == "int8" else "f"
    return (f"mcu_resize_bilinear_{suffix}({n.operand(t.x)}, {n.buffer(t.y)}, {t.corners.values.size // 4}, "
            f"{t.depth}, {n.array(t.corners)}, {n.array(t.weights)});")


def _params(n: CNames, t: s.AddN | s.Cumsum) -> str:
    return _ints(n, [t.start, t.output_multiplier, t.output_shift, t.output_zero_point])


def _add_n(n: CNames, t: s.AddN) -> str:
    ctype = C_TYPES[t.dtype]
    xs = ", ".join(n.operand(x, t.dtype) for x in t.xs)
    head = f"{{ const {ctype} *xs[{len(t.xs)}] = {{{xs}}}; "
    if t.dtype == "float32":
        return head + f"mcu_add_n_f(xs, {len(t.xs)}, {n.buffer(t.y)}, {t.count}); }}"
    return head + (f"mcu_add_n_i8(xs, {len(t.xs)}, {n.buffer(t.y)}, {t.count}, {n.array(t.table)}, "
                   f"{_params(n, t)}); }}")


def _cumsum(n: CNames, t: s.Cumsum) -> str:
    shape = _ints(n, [t.before, t.length, t.after, int(t.exclusive), int(t.reverse)])
    if t.dtype == "float32":
        return f"mcu_cumsum_f({n.operand(t.x)}, {n.buffer(t.y)}, {shape});"
    return f"mcu_cumsum_i8({n.operand(t.x)}, {n.buffer(t.y)}, {shape}, {n.array(t.table)}, {_params(n, t)});"


def _div_i8(n: CNames, t: s.DivInt8) -> str:
    params = _ints(n, [t.input1_offset, t.input2_offset, t.output_multiplier, t.output_shift, t.output_zero_point,
                       t.act_min, t.act_max])
    return (f"mcu_div_i8({n.operand(t.x1)}, {n.index(t.x1_index)}, {n.operand(t.x2)}, {n.index(t.x2_index)}, "
            f"{n.buffer(t.y)}, {t.count}, {params});")


def svdf_in_cmsis(t: Step) -> bool:
    """An int8 SVDF with int16 state at zero point 0 is CMSIS-NN's arm_svdf_state_s16_s8 (which takes
    the state's zero point as 0), called as TFLM's cmsis_nn/svdf.cc calls it."""
    return isinstance(t, s.Svdf) and t.dtype == "int16" and t.state_zero_point == 0


def _svdf_cmsis(n: CNames, t: s.Svdf) -> str:
    g = t.shape
    units = g.filters // g.rank
    n.uses_cmsis = True
    n.need_scratch(4 * (g.filters + units))
    contexts = [n.record("cmsis_nn_context", ["mcu_scratch", str(4 * g.filters)]),
                n.record("cmsis_nn_context", [f"mcu_scratch + {4 * g.filters}", str(4 * units)])]
    params = n.record("cmsis_nn_svdf_params", [str(g.rank), str(t.input_zero_point), str(t.output_zero_point),
                                               "{-32768, 32767}", "{-128, 127}"])
    quants = [n.record("cmsis_nn_per_tensor_quant_params", [c_int(m), c_int(sh)]) for m, sh in (t.scale1, t.scale2)]
    dims = [n.record("cmsis_nn_dims", [str(v) for v in shape]) for shape in (
        (1, g.n_input, 1, 1), (units, 1, 1, 1), (g.filters, g.n_input, 1, 1), (g.filters, g.memory, 1, 1),
        (units, 1, 1, 1), (1, units, 1, 1))]
    return (f"if (arm_svdf_state_s16_s8(&{contexts[0]}, &{contexts[1]}, &{params}, &{quants[0]}, &{quants[1]}, "
            f"&{dims[0]}, {n.operand(t.x)}, &{dims[1]}, {n.buffer(t.state)}, &{dims[2]}, "
            f"{n.array(t.weights_feature)}, &{dims[3]}, {n.array(t.weights_time)}, &{dims[4]}, {n.array(t.bias)}, "
            f"&{dims[5]}, {n.buffer(t.y)}) != ARM_CMSIS_NN_SUCCESS) return -1;")


def _svdf(n: CNames, t: s.Svdf) -> str:
    if svdf_in_cmsis(t):
        return _svdf_cmsis(n, t)
    g = t.shape
    params = n.record("mcu_svdf_params", [str(v) for v in (
        g.n_input, g.filters, g.rank, g.memory, t.input_zero_point, t.state_zero_point, *t.scale1, *t.scale2,
        t.output_zero_point)] + [c_real(t.act_min), c_real(t.act_max)])
    kernel = "mcu_svdf_f" if t.dtype == "float32" else f"mcu_svdf_{t.dtype}"
    return (f"{kernel}({n.operand(t.x)}, {n.buffer(t.y)}, {n.buffer(t.state)}, {n.array(t.weights_feature)}, "
            f"{n.array(t.weights_time)}, {n.array(t.bias)}, &{params});")


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s.RowFloat: _row_f, s.LogSoftmaxInt8: _log_softmax_i8, s.L2NormInt8: _l2_norm_i8, s.RsqrtInt16: _rsqrt_i16,
    s.ResizeBilinear: _resize_bilinear, s.AddN: _add_n, s.Cumsum: _cumsum, s.DivInt8: _div_i8,
    s.Svdf: _svdf,
}
OWN_FAMILIES: dict[type, str] = {step: FAMILY for step in FORMATTERS}
