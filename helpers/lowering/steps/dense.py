"""The steps of the layers that sum products or windows: fully connected, convolution, transpose
convolution, pooling, softmax and the batched matrix product."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const, Operand, Step
from helpers.lowering.steps.base import Unary, ConvGeometry, PoolGeometry, Requantization
from helpers.lowering.steps.movement import Gather


@dataclass(frozen=True)
class FullyConnectedInt8(Unary):
    weights: Const            # int8 [n_out, n_in]
    bias: Const               # int32 [n_out]
    quant: Requantization
    batches: int
    n_in: int
    n_out: int


@dataclass(frozen=True)
class FullyConnectedFloat(Unary):
    weights: Const            # float32 [n_out, n_in]
    bias: Const
    batches: int
    n_in: int
    n_out: int
    act_min: float            # -inf / inf: no clamp
    act_max: float


@dataclass(frozen=True)
class ConvInt8(Unary):
    depthwise: bool
    weights: Const            # int8 [out_c, k_h, k_w, in_c] (depthwise: [1, k_h, k_w, out_c])
    bias: Const
    quant: Requantization
    geometry: ConvGeometry


@dataclass(frozen=True)
class TransposePadding:
    """TFLM's padding of a transpose convolution (ComputePaddingHeightWidth on the output's size):
    before the first element, and the extra one after the last when the total is odd."""

    pad_h: int
    pad_w: int
    offset_h: int
    offset_w: int


@dataclass(frozen=True)
class TransposeConvInt8(Unary):
    """TRANSPOSE_CONV in int8. The C engine and the kernels module call CMSIS-NN's
    arm_transpose_conv_wrapper_s8 on the weights as the model holds them, as TFLM's Cortex-M
    kernel does. The portable paths run the same op as `spread` (a Gather onto the zero-inserted
    grid) and `conv` (a stride-1 convolution with the kernel flipped). `grid`, the buffer those two
    pass between them, is CMSIS-NN's scratch in the C engine when it is large enough."""

    weights: Const            # int8 [out_c, k_h, k_w, in_c], not flipped
    bias: Const
    quant: Requantization
    geometry: ConvGeometry    # the transpose convolution's: input, output, kernel, strides
    padding: TransposePadding
    grid: int
    spread: Gather            # x -> grid
    conv: ConvInt8            # grid -> y


@dataclass(frozen=True)
class ConvFloat(Unary):
    depthwise: bool
    weights: Const
    bias: Const
    geometry: ConvGeometry
    act_min: float
    act_max: float


@dataclass(frozen=True)
class PoolInt8(Unary):
    average: bool
    geometry: PoolGeometry
    act_min: int
    act_max: int


@dataclass(frozen=True)
class PoolFloat(Unary):
    average: bool
    geometry: PoolGeometry
    act_min: float
    act_max: float


@dataclass(frozen=True)
class SoftmaxInt8(Unary):
    """Output scale 1/256, zero point -128; the exp tables indexed by the distance to the row's max."""

    rows: int
    depth: int
    exp_table: Const          # int32 [256], Q0.31
    rescaled_table: Const     # int32 [256], Q12.19
    input_multiplier: int     # the same scaling as CMSIS-NN's arm_softmax_s8 takes it
    input_left_shift: int
    diff_min: int


@dataclass(frozen=True)
class SoftmaxFloat(Unary):
    rows: int
    depth: int
    beta: float


@dataclass(frozen=True)
class BatchMatMulFloat(Step):
    """x1 [..., M, K] times x2 [..., K, N] through strides (ops_matmul.matmul_layout's `layout`)."""

    x1: Operand
    x2: Operand
    y: int
    layout: Const             # int32: M, N, K, four strides, batches, then two bases per batch


@dataclass(frozen=True)
class BatchMatMulInt8(BatchMatMulFloat):
    lhs_offset: int
    rhs_offset: int
    multiplier: int
    shift: int
    output_zero_point: int
