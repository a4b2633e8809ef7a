"""The kernel steps a Program is made of, one frozen dataclass per kernel, with the parameters TFLM's
Prepare step would compute. Integer fields are exactly what the kernel uses (offsets are already
negated where TFLM negates them); float fields are the float32 values TFLM holds.

One module per family (base, dense, elementwise, movement, compare, lstm); the package re-exports them all, so
`from helpers.lowering import steps as s` reads every step as `s.Name`."""
from __future__ import annotations

from helpers.lowering.steps.base import ConvGeometry, PoolGeometry, Requantization, Unary, Binary
from helpers.lowering.steps.dense import FullyConnectedInt8, FullyConnectedFloat, ConvInt8, TransposeConvInt8, TransposePadding, ConvFloat, PoolInt8, PoolFloat, SoftmaxInt8, SoftmaxFloat, BatchMatMulFloat, BatchMatMulInt8
from helpers.lowering.steps.elementwise import QuantizeFloatToInt8, RequantizeInt8, DequantizeInt8, AddInt8, MulInt8, BinaryFloat, BinaryMath, SquaredDifferenceInt8, LookupInt8, UnaryFloat, ChannelLookupInt8, PreluFloat, MathFloat, MeanInt8, MeanFloat, ReduceFloat, ReduceInt8
from helpers.lowering.steps.movement import Gather, GatherRuns, Transpose, Scatter
from helpers.lowering.steps.layers import RowFloat, LogSoftmaxInt8, L2NormInt8, RsqrtInt16, ResizeBilinear, AddN, Cumsum, DivInt8, SvdfShape, Svdf
from helpers.lowering.steps.compare import CompareInt8, CompareRaw, Select, Cast, ArgMinMax
from helpers.lowering.steps.lstm import LstmGate, LstmGateQuant, LstmCellQuant, LstmState, LstmInt8, LstmFloat

__all__ = [
    "ConvGeometry",
    "PoolGeometry",
    "Requantization",
    "Unary",
    "Binary",
    "FullyConnectedInt8",
    "FullyConnectedFloat",
    "ConvInt8",
    "TransposeConvInt8",
    "TransposePadding",
    "ConvFloat",
    "PoolInt8",
    "PoolFloat",
    "SoftmaxInt8",
    "SoftmaxFloat",
    "BatchMatMulFloat",
    "BatchMatMulInt8",
    "QuantizeFloatToInt8",
    "RequantizeInt8",
    "DequantizeInt8",
    "AddInt8",
    "MulInt8",
    "BinaryFloat",
    "BinaryMath",
    "SquaredDifferenceInt8",
    "LookupInt8",
    "UnaryFloat",
    "ChannelLookupInt8",
    "PreluFloat",
    "MathFloat",
    "MeanInt8",
    "MeanFloat",
    "ReduceFloat",
    "ReduceInt8",
    "Gather",
    "GatherRuns",
    "Transpose",
    "Scatter",
    "RowFloat",
    "LogSoftmaxInt8",
    "L2NormInt8",
    "RsqrtInt16",
    "ResizeBilinear",
    "AddN",
    "Cumsum",
    "DivInt8",
    "SvdfShape",
    "Svdf",
    "CompareInt8",
    "CompareRaw",
    "Select",
    "Cast",
    "ArgMinMax",
    "LstmGate",
    "LstmGateQuant",
    "LstmCellQuant",
    "LstmState",
    "LstmInt8",
    "LstmFloat",
]
