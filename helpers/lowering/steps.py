"""The kernel steps a Program is made of, one frozen dataclass per kernel, with the parameters TFLM's
Prepare step would compute. Integer fields are exactly what the kernel uses (offsets are already
negated where TFLM negates them); float fields are the float32 values TFLM holds."""
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
class QuantizeFloatToInt8(Unary):
    count: int
    scale: float
    zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class RequantizeInt8(Unary):
    count: int
    input_zero_point: int
    multiplier: int
    shift: int
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class DequantizeInt8(Unary):
    count: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Gather(Unary):
    """y[i] = x[index[i]], or `pad` where index[i] is -1 (PAD, STRIDED_SLICE, SPLIT, UNPACK)."""

    index: Const              # int32, one per output element
    pad: int | float          # int8 tensors: the raw byte (0..255)


@dataclass(frozen=True)
class GatherRuns(Unary):
    """A Gather that copies runs of `run` consecutive elements: y[i * run + c] = x[index[i] + c], or
    `pad` for the whole run where index[i] is -1. The movement ops of channels-last tensors move
    whole channel vectors, so their map is `run` times shorter than one index per element."""

    index: Const              # int32, one per run
    run: int
    pad: int | float          # int8 tensors: the raw byte (0..255)


@dataclass(frozen=True)
class Transpose(GatherRuns):
    """TRANSPOSE: a GatherRuns (run 1 where the last axis moves), with the shape and permutation its
    map comes from (the C engine hands an int8 one of 3 or 4 axes to CMSIS-NN's arm_transpose_s8,
    which needs no map)."""

    in_shape: tuple[int, ...]
    perm: tuple[int, ...]


@dataclass(frozen=True)
class Scatter(Unary):
    """y[index[i]] = x[i] (one input of a CONCATENATION)."""

    index: Const


@dataclass(frozen=True)
class AddInt8(Binary):
    """ADD (sign 1) or SUB (sign -1) of int8 tensors, TFLM's add_common/sub_common arithmetic."""

    input1_offset: int
    input2_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int
    act_min: int
    act_max: int
    sign: int


@dataclass(frozen=True)
class MulInt8(Binary):
    input1_offset: int
    input2_offset: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class BinaryFloat(Binary):
    kind: str                 # "add", "sub" or "mul"
    act_min: float
    act_max: float


@dataclass(frozen=True)
class BinaryMath(Binary):
    """A binary op without rescaling: float32 DIV, SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD, MAXIMUM,
    MINIMUM; and MAXIMUM, MINIMUM on the raw values of int8 or int16 tensors quantized alike (TFLM
    compares the stored values)."""

    kind: str                 # "div", "squared_difference", "floor_div", "floor_mod", "maximum", "minimum"
    dtype: str                # "float32", "int8" or "int16"
    act_min: float            # DIV's fused activation (float32 only); -inf / inf: no clamp
    act_max: float
    shapes: tuple[tuple[int, ...], ...] = ()   # x1's, x2's and y's: CMSIS-NN broadcasts by shape


@dataclass(frozen=True)
class SquaredDifferenceInt8(Binary):
    """SQUARED_DIFFERENCE of int8 tensors (squared_difference.cc): each input << 7 and rescaled by
    its multiplier, the difference squared and rescaled to the output, clamped to int8."""

    input1_offset: int
    input2_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int


@dataclass(frozen=True)
class LookupInt8(Unary):
    """An int8 elementwise op (LOGISTIC, TANH) tabulated for the 256 inputs, indexed by the raw byte."""

    count: int
    table: Const              # uint8 [256]


@dataclass(frozen=True)
class UnaryFloat(Unary):
    kind: str                 # "logistic" or "tanh"
    count: int


@dataclass(frozen=True)
class MeanInt8(Unary):
    """groups[j]: the input positions averaged into output j."""

    groups: Const             # int32 [outputs, count]
    input_zero_point: int
    multiplier: int
    shift: int
    output_zero_point: int


@dataclass(frozen=True)
class MeanFloat(Unary):
    groups: Const


@dataclass(frozen=True)
class LstmGate:
    """One gate's weights (input and recurrent) and bias."""

    input_weights: Const
    recurrent_weights: Const
    bias: Const


@dataclass(frozen=True)
class LstmGateQuant:
    """One int8 gate's multipliers into Q3.12 and its nonlinearity."""

    input_multiplier: int
    input_shift: int
    recurrent_multiplier: int
    recurrent_shift: int
    input_offset: int
    hidden_offset: int
    sigmoid: bool


@dataclass(frozen=True)
class LstmCellQuant:
    """The int8 LSTM's cell and hidden-state update (CreateLstmCellStateInfo's constants)."""

    forget_multiplier: int
    forget_shift: int
    input_multiplier: int
    input_shift: int
    hidden_multiplier: int
    hidden_shift: int
    quantized_clip: int
    tanh_multiplier: int
    tanh_shift: int
    hidden_zero_point: int
    cell_scale_power: int     # log2 of the cell state's scale (CMSIS-NN takes this in place of the tanh scaling)


@dataclass(frozen=True)
class LstmState:
    """Where the recurrence lives: hidden and cell state, and the four gate outputs (forget, input,
    cell, output: the order lstm_eval.h computes them in)."""

    hidden: int
    cell: int
    gates: tuple[int, int, int, int]
    steps: int
    n_in: int
    n_state: int


@dataclass(frozen=True)
class LstmInt8(Unary):
    gates: tuple[LstmGate, ...]          # GATE_ORDER
    gate_quant: tuple[LstmGateQuant, ...]
    cell_quant: LstmCellQuant
    state: LstmState


@dataclass(frozen=True)
class LstmFloat(Unary):
    gates: tuple[LstmGate, ...]
    cell_sigmoid: bool
    clip: float
    state: LstmState
