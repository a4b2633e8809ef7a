"""TFLite builtin op names -> `tflite::MicroMutableOpResolver` Add methods."""
from __future__ import annotations

# Where TFLM's method name is not the plain CamelCase of the op name.
_SPECIAL = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "BATCH_MATMUL": "AddBatchMatMul",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "LSTM": "AddLSTM",
    "SVDF": "AddSvdf",
    "PRELU": "AddPrelu",
    "RELU_N1_TO_1": "AddReluN1To1",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "L2_POOL_2D": "AddL2Pool2D",
}


# Custom ops TFLM ships, and the resolver method that registers each.
CUSTOM = {"TFLM_DECODE": "AddDecode"}


def add_method(op_name: str) -> str:
    """`CONV_2D` -> `AddConv2D`, `FULLY_CONNECTED` -> `AddFullyConnected`."""
    if op_name in CUSTOM:
        return CUSTOM[op_name]
    if op_name in _SPECIAL:
        return _SPECIAL[op_name]
    parts = op_name.split("_")
    return "Add" + "".join(p if p[:1].isdigit() else p.capitalize() for p in parts)
