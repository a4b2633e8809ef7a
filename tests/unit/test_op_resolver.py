"""The generated op resolver calls only methods TFLM's MicroMutableOpResolver really has."""
from __future__ import annotations

import os
import re

import pytest

from helpers.core.flatbuffer import TFLM_DECODE_OP
from helpers.core.tflm_ops import TFLM_RESOLVER_METHODS, add_method, ops_without_kernel
from tests.conftest import ROOT

HEADER = ROOT.parent / "shared" / "tflm" / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"


def _header_methods() -> set[str]:
    if not HEADER.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"TFLM's header is missing under CI: {HEADER}")
        pytest.skip("no TFLM tree beside the project (../shared/tflm)")
    text = HEADER.read_text(encoding="utf-8")
    return set(re.findall(r"TfLiteStatus (Add[A-Za-z0-9]+)\(", text)) - {"AddCustom", "AddBuiltin"}


def test_method_table_is_tflms_own():
    assert TFLM_RESOLVER_METHODS == _header_methods()


@pytest.mark.parametrize("op, method", [
    ("CONV_2D", "AddConv2D"), ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"), ("FULLY_CONNECTED", "AddFullyConnected"),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "AddUnidirectionalSequenceLSTM"), ("MAX_POOL_2D", "AddMaxPool2D"),
    ("PADV2", "AddPadV2"), ("CUMSUM", "AddCumSum"), ("ADD_N", "AddAddN"), ("L2_NORMALIZATION", "AddL2Normalization"),
    (TFLM_DECODE_OP, "AddDecode"),
])
def test_known_ops_map_to_real_methods(op, method):
    assert add_method(op) == method
    assert method in _header_methods()


def test_ops_tflm_lacks_get_no_method():
    # AddLSTM and AddReluN1To1 were once generated: neither exists in TFLM.
    assert add_method("LSTM") is None and add_method("RELU_N1_TO_1") is None
    assert ops_without_kernel(("CONV_2D", "RELU_N1_TO_1", "LSTM")) == ("RELU_N1_TO_1", "LSTM")
