"""The shapes every step family shares: the two step bases (one input, two inputs) and the geometry and
requantization records the dense steps carry."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const, Operand, Step


@dataclass(frozen=True)
class ConvGeometry:
    """A 2-D convolution's shape, strides, dilations and (top, left) padding; batch 1, NHWC."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int

    @property
    def depth_multiplier(self) -> int:
        return self.out_c // self.in_c


@dataclass(frozen=True)
class PoolGeometry:
    """A 2-D pooling window over a batch-1 NHWC tensor."""

    in_h: int
    in_w: int
    channels: int
    out_h: int
    out_w: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int


@dataclass(frozen=True)
class Requantization:
    """The int8 output stage: per-channel (or per-tensor, repeated) multipliers and shifts, the
    offsets and the activation clamp."""

    multipliers: Const        # int32, one per output channel
    shifts: Const             # int32
    input_offset: int         # -input zero point
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class Unary(Step):
    """A step that reads one tensor and writes another."""

    x: Operand
    y: int


@dataclass(frozen=True)
class Binary(Step):
    """A step that reads two tensors, each broadcast to the output through an index map when it is
    smaller (None: the output's shape), and writes `count` elements."""

    x1: Operand
    x1_index: Const | None
    x2: Operand
    x2_index: Const | None
    y: int
    count: int
