"""Which ops TFLM can run: TFLite op names -> `tflite::MicroMutableOpResolver` Add methods
(the generated op resolver calls them; the TFLM checks refuse a model with an op that has none).

An op whose method TFLM does not have gets None: TFLM has no kernel for it, so the variant is not
runnable there and no firmware (which would not compile) is written for it.
"""
from __future__ import annotations

from helpers.core.flatbuffer import TFLM_DECODE_OP

# Every Add method of MicroMutableOpResolver in the pinned TFLM (../shared/tflm/PINNED.md), but
# AddCustom and AddBuiltin; tests/unit/test_render.py checks the list against TFLM's own header.
TFLM_RESOLVER_METHODS = frozenset("""
    AddAbs AddAdd AddAddN AddArgMax AddArgMin AddAssignVariable AddAveragePool2D AddBatchMatMul
    AddBatchToSpaceNd AddBroadcastArgs AddBroadcastTo AddCallOnce AddCast AddCeil AddCircularBuffer
    AddConcatenation AddConv2D AddCos AddCumSum AddDecode AddDelay AddDepthToSpace
    AddDepthwiseConv2D AddDequantize AddDetectionPostprocess AddDiv AddDynamicUpdateSlice AddElu
    AddEmbeddingLookup AddEnergy AddEqual AddEthosU AddExp AddExpandDims AddFftAutoScale AddFill
    AddFilterBank AddFilterBankLog AddFilterBankSpectralSubtraction AddFilterBankSquareRoot AddFloor
    AddFloorDiv AddFloorMod AddFramer AddFullyConnected AddGather AddGatherNd AddGreater
    AddGreaterEqual AddHardSwish AddIf AddIrfft AddL2Normalization AddL2Pool2D AddLeakyRelu AddLess
    AddLessEqual AddLog AddLogSoftmax AddLogicalAnd AddLogicalNot AddLogicalOr AddLogistic
    AddMaxPool2D AddMaximum AddMean AddMinimum AddMirrorPad AddMul AddNeg AddNotEqual AddOverlapAdd
    AddPCAN AddPack AddPad AddPadV2 AddPrelu AddQuantize AddReadVariable AddReduceAll AddReduceMax
    AddReduceMin AddRelu AddRelu6 AddReshape AddResizeBilinear AddResizeNearestNeighbor AddReverseV2
    AddRfft AddRound AddRsqrt AddSelectV2 AddShape AddSin AddSlice AddSoftmax AddSpaceToBatchNd
    AddSpaceToDepth AddSplit AddSplitV AddSqrt AddSquare AddSquaredDifference AddSqueeze AddStacker
    AddStridedSlice AddSub AddSum AddSvdf AddTanh AddTranspose AddTransposeConv
    AddUnidirectionalSequenceLSTM AddUnpack AddVarHandle AddWhile AddWindow AddZerosLike
""".split())

# The ops TFLM's Cortex-M build runs with a CMSIS-NN kernel (tensorflow/lite/micro/kernels/cmsis_nn/ in
# the pinned tree; tests/unit/test_op_placement.py checks the list against it); the rest run TFLM's
# reference kernels there too.
CMSIS_NN_OPS = frozenset({
    "ADD", "BATCH_MATMUL", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAXIMUM", "MINIMUM", "MUL", "PAD",
    "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX", "SVDF", "TRANSPOSE", "TRANSPOSE_CONV",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
})

# Where TFLM's method name is not the plain CamelCase of the op name.
_SPECIAL = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "BATCH_MATMUL": "AddBatchMatMul",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "PADV2": "AddPadV2",
    "CUMSUM": "AddCumSum",
    "SVDF": "AddSvdf",
    "PRELU": "AddPrelu",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "L2_POOL_2D": "AddL2Pool2D",
}

# Custom ops TFLM ships, and the resolver method that registers each.
CUSTOM = {TFLM_DECODE_OP: "AddDecode"}


def add_method(op_name: str) -> str | None:
    """`CONV_2D` -> `AddConv2D`, `FULLY_CONNECTED` -> `AddFullyConnected`; None when TFLM has no
    resolver method for the op (e.g. `RELU_N1_TO_1`, the non-sequence `LSTM`)."""
    if op_name in CUSTOM:
        return CUSTOM[op_name]
    if op_name in _SPECIAL:
        method = _SPECIAL[op_name]
    else:
        method = "Add" + "".join(p if p[:1].isdigit() else p.capitalize() for p in op_name.split("_"))
    return method if method in TFLM_RESOLVER_METHODS else None


def ops_without_kernel(ops: tuple[str, ...]) -> tuple[str, ...]:
    """The ops TFLM's op resolver cannot register."""
    return tuple(op for op in ops if add_method(op) is None)
