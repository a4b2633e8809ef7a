"""The `-q` choices and what each one means, in one table.

Every other module asks this table (`TRAITS[q].calibrated`, `.integer_only`, ...) instead of
keeping its own list of quantization groups.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Quantization(str, Enum):
    """The `-q` choices. The values are the names users of the original scripts know."""

    NONE = "None"
    DYNAMIC_RANGE = "dynamic_range"
    FLOAT16 = "float16"
    INTEGER_WITH_FLOAT_FALLBACK = "integer_with_float_fallback"
    INT8 = "int8"
    INT16X8 = "integer_with_8bits_weights_and_16bit_activations"
    ALL = "all"


@dataclass(frozen=True)
class QuantizationTraits:
    """What a quantization stores and what the pipeline may do with it."""

    variant_name: str          # the variant's folder and report name (named after what it stores)
    description: str
    calibrated: bool           # the converter needs the representative dataset
    integer_only: bool         # every op must compute in integers: a float op left behind fails the variant
    integer_activations: bool  # integer weights and activations: LUT-compressible, debuggable
    keep_float_base: bool      # --keep_float may start from it (int8 activations)


TRAITS: dict[Quantization, QuantizationTraits] = {
    Quantization.NONE: QuantizationTraits(
        "float32", "float32 weights and activations", False, False, False, False),
    Quantization.DYNAMIC_RANGE: QuantizationTraits(
        "dynamic_range", "int8 weights, float activations computed at run time", False, False, False, False),
    Quantization.FLOAT16: QuantizationTraits(
        "float16", "float16 weights, float32 compute", False, False, False, False),
    Quantization.INTEGER_WITH_FLOAT_FALLBACK: QuantizationTraits(
        "integer_with_float_fallback", "int8 weights and activations, float input/output, float ops where needed",
        True, False, True, True),
    Quantization.INT8: QuantizationTraits(
        "int8", "int8 everything, int8 input/output", True, True, True, True),
    Quantization.INT16X8: QuantizationTraits(
        "int16x8", "int8 weights, int16 activations, int16 input/output", True, True, True, False),
}

# Every post-training quantization `-q all` expands to, in the order they are reported.
ALL_PTQ: tuple[Quantization, ...] = (
    Quantization.DYNAMIC_RANGE,
    Quantization.FLOAT16,
    Quantization.INTEGER_WITH_FLOAT_FALLBACK,
    Quantization.INT8,
    Quantization.INT16X8,
)
DEFAULT_PTQ = Quantization.INTEGER_WITH_FLOAT_FALLBACK
# What --QAT converts to: float input/output (NONE: no -q) or int8 input/output (-q int8).
QAT_OUTPUTS = (Quantization.NONE, Quantization.INT8)

