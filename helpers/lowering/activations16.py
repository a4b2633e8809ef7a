"""The Prepare arithmetic of the int16 activations: LOGISTIC and TANH (logistic_common.cc, tanh.cc:
the input's scaling onto the sigmoid table's 1/(3 * 4096) grid, for a power-of-two input scale or
a general one), RELU, RELU6 (activations_common.cc) and LEAKY_RELU (leaky_relu_common.cc)."""
from __future__ import annotations

import math

import numpy as np

from helpers.lowering.arith import SIGMOID_TABLE_UINT16, quantize_multiplier, tflite_round
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.program import Const

INPUT_INTEGER_BITS = 3
OUTPUT_FRACTIONAL_BITS = 15


def checked_log2(scale: float) -> tuple[int, bool]:
    """TFLM's CheckedLog2, in float32: log2 rounded, and whether the scale is a power of two."""
    f32 = np.float32
    value = f32(math.log(float(f32(scale)))) * (f32(1.0) / f32(math.log(2.0)))
    rounded = f32(math.copysign(math.floor(abs(float(value)) + 0.5), float(value)))
    return int(rounded), bool(abs(value - rounded) < f32(1e-3))


def sigmoid_scaling(op: Op, x: Tensor, y: Tensor, tanh: bool) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) as the kernel uses them: a power-of-two scale's
    multiplier 0 already replaced by 3 << shift (what the kernel does first)."""
    if x.zero_point != 0 or y.zero_point != 0:
        raise Unsupported(f"{op.name} on int16 tensors with a zero point (TFLM requires 0)")
    log2_out, pot_out = checked_log2(y.scale)
    if not pot_out or log2_out != -OUTPUT_FRACTIONAL_BITS:
        raise Unsupported(f"int16 {op.name} whose output scale is not 2**-15")
    log2_in, pot = checked_log2(x.scale)
    shift = (15 - INPUT_INTEGER_BITS) + log2_in
    pot = pot and (shift in (0, 1) if tanh else shift == 0)
    if pot:
        return 3 << shift, 0
    multiplier = float(x.scale) * 4096.0 * 3.0
    shift = 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return int(multiplier), shift


def sigmoid_table() -> Const:
    return Const(np.asarray(SIGMOID_TABLE_UINT16, dtype=np.uint16))


def activation_params(op: Op, x: Tensor, y: Tensor) -> dict[str, object]:
    """ActivationInt16's fields for RELU, RELU6, LEAKY_RELU or ABS, as TFLM's Prepare computes them."""
    f32 = np.float32
    if x.zero_point != 0 or y.zero_point != 0:
        raise Unsupported(f"{op.name} on int16 tensors with a zero point")
    # activations_common.cc and leaky_relu_common.cc divide the scales in float32
    identity = quantize_multiplier(float(f32(x.scale) / f32(y.scale)))
    if op.name == "ABS":
        # elementwise.cc: |x|, rescaled only when the scales differ (as float32 values)
        return {"rescale": bool(f32(x.scale) != f32(y.scale)), "multiplier": identity[0], "shift": identity[1],
                "negative_multiplier": identity[0], "negative_shift": identity[1], "negate": False,
                "act_min": -32768, "act_max": 32767, "absolute": True}
    if op.name == "RELU6":
        # Relu6Quantized clamps the raw value between zero and 6 quantized with the input's scale
        six = tflite_round(float(f32(6.0) / f32(x.scale)))
        return {"rescale": False, "multiplier": 0, "shift": 0, "negative_multiplier": 0, "negative_shift": 0,
                "negate": False, "act_min": 0, "act_max": min(six, 32767)}
    if op.name == "RELU":
        return {"rescale": True, "multiplier": identity[0], "shift": identity[1], "negative_multiplier": identity[0],
                "negative_shift": identity[1], "negate": False, "act_min": 0, "act_max": 32767}
    alpha = f32(op.options.alpha)
    negative = quantize_multiplier(float(f32(x.scale) * alpha / f32(y.scale)))
    return {"rescale": True, "multiplier": identity[0], "shift": identity[1],
            "negative_multiplier": abs(negative[0]), "negative_shift": negative[1], "negate": negative[0] < 0,
            "act_min": -32768, "act_max": 32767}
