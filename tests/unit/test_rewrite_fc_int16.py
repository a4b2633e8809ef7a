"""int16_per_channel_fc_as_conv (helpers/rewrite/fc_int16_conv.py): TFLM's CMSIS-NN
FULLY_CONNECTED refuses per-channel int16 weights, so each such FC becomes RESHAPE, a 1x1 CONV_2D
over the same weight buffer and RESHAPE, kept when TFLM's reference kernels give identical outputs.
On Dense layers trained on iris and converted `-q int16x8` (tests/golden/int16/iris_dense.tflite,
made by make_models.py there), and on the two-input, two-output model of tests/golden/multiio."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import inspect_tflite, parse_model
from helpers.core.quantization import Quantization
from helpers.core.rewrites import Rewrite
from helpers.core.variant import TfliteModel, converted_plan
from helpers.measure.tflm import run_in_tflm
from helpers.rewrite.edit import name_of, pack
from helpers.rewrite.fc_int16_conv import candidates, rewrite_int16_fcs
from helpers.rewrite.passes import rewrite_after_conversion

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
INT16 = GOLDEN / "int16"


def _rows(info, count: int = 32) -> np.ndarray:
    """Half over the input type's whole range (int16: the int64 accumulators reached), half near 0."""
    rng = np.random.default_rng(16)
    limits = np.iinfo(info.input.dtype)
    shape = (count // 2, *info.input.shape[1:])
    return np.concatenate([rng.integers(limits.min, limits.max + 1, size=shape),
                           rng.integers(-100, 101, size=shape)]).astype(info.input.dtype)


def _op_names(content: bytes) -> list[str]:
    model = parse_model(content)
    return [name_of(model, op) for op in model.subgraphs[0].operators]


def test_int16_per_channel_fcs_become_1x1_convolutions_over_the_same_weights():
    """TFLM's CMSIS-NN FULLY_CONNECTED refuses per-channel int16; each FC of the iris model (one of
    2 rows, one without a bias) becomes RESHAPE, CONV_2D 1x1, RESHAPE, whose filter views the FC's
    own weight buffer, and TFLM's reference kernels give identical outputs."""
    content = (INT16 / "iris_dense.tflite").read_bytes()
    tflite = TfliteModel(plan=converted_plan(Quantization.INT16X8), content=content, info=inspect_tflite(content))
    rows = _rows(tflite.info)
    rewritten = rewrite_after_conversion(tflite, rows)
    assert _op_names(content) == ["RESHAPE", "FULLY_CONNECTED", "RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED",
                                  "SOFTMAX"]
    fc_as_conv = ["RESHAPE", "CONV_2D", "RESHAPE"]
    assert _op_names(rewritten.content) == ["RESHAPE", *fc_as_conv, "RESHAPE", *fc_as_conv, *fc_as_conv, "SOFTMAX"]
    (record,) = rewritten.rewrites
    assert (record.name, record.ops, record.exact) == ("int16_per_channel_fc_as_conv", 3, True)
    assert f"identical TFLM outputs (reference kernels) on {len(rows)} evaluation rows" in record.proof
    assert Rewrite.from_dict(record.to_dict()) == record

    before, after = parse_model(content), parse_model(rewritten.content)
    graph, new_graph = before.subgraphs[0], after.subgraphs[0]
    fcs = [op for op in graph.operators if name_of(before, op) == "FULLY_CONNECTED"]
    convs = [op for op in new_graph.operators if name_of(after, op) == "CONV_2D"]
    for fc, conv in zip(fcs, convs):
        weights, kernel = graph.tensors[fc.inputs[1]], new_graph.tensors[conv.inputs[1]]
        n_out, depth = weights.shape
        assert list(kernel.shape) == [n_out, 1, 1, depth] and kernel.type == schema.TensorType.INT8
        assert bytes(after.buffers[kernel.buffer].data) == bytes(before.buffers[weights.buffer].data)
        assert list(kernel.quantization.scale) == list(weights.quantization.scale)
        assert len(kernel.quantization.scale) == n_out > 1
        assert kernel.quantization.quantizedDimension == 0
        options = conv.builtinOptions
        assert (options.strideW, options.strideH, options.padding) == (1, 1, schema.Padding.VALID)
        assert options.fusedActivationFunction == fc.builtinOptions.fusedActivationFunction
        bias = new_graph.tensors[conv.inputs[2]]
        assert bias.type == schema.TensorType.INT64 and list(bias.shape) == [n_out]
    # the new tensors (view in and out, filter, two shapes; one bias) have short names: the
    # converter's run to hundreds of characters
    new_names = {t.name for t in new_graph.tensors} - {t.name for t in graph.tensors}
    assert len(new_names) == 3 * 5 + 1 and max(map(len, new_names)) < 16, new_names
    # no copy: the int8 weights take the same bytes; the FC without a bias got 12 int64 zeros
    def int8_bytes(model):
        return sum(len(model.buffers[t.buffer].data) for t in model.subgraphs[0].tensors
                   if t.type == schema.TensorType.INT8 and model.buffers[t.buffer].data is not None)
    assert int8_bytes(after) == int8_bytes(before)
    zero_bias = new_graph.tensors[convs[1].inputs[2]]
    assert not np.any(np.frombuffer(bytes(after.buffers[zero_bias.buffer].data), "<i8"))
    assert len(fcs[1].inputs) < 3 or fcs[1].inputs[2] == -1
    # the FC of 2 rows: its input viewed as [1, 1, 2, 2], its output [2, 6] again after the conv
    assert list(new_graph.tensors[convs[0].inputs[0]].shape) == [1, 1, 2, 2]
    assert rewritten.info.output == tflite.info.output and not candidates(after)
    assert np.array_equal(run_in_tflm(rewritten.content, rows), run_in_tflm(content, rows))
    assert rewrite_after_conversion(rewritten, rows) is rewritten  # nothing left to rewrite


def test_a_model_with_two_inputs_and_two_outputs_is_proven_on_its_packed_rows():
    """tests/golden/multiio's int16x8 (float inputs, QUANTIZE inside): TFLM runs both models on
    each input's rows; its FC of one output channel has one scale, which CMSIS-NN takes, and stays."""
    content = (GOLDEN / "multiio" / "int16x8" / "model.tflite").read_bytes()
    info = inspect_tflite(content)
    rows = np.random.default_rng(4).normal(size=(12, 6 + 12)).astype(np.float32)  # imu (6,), audio (4, 3)
    tflite = TfliteModel(plan=converted_plan(Quantization.INT16X8), content=content, info=info)
    rewritten = rewrite_after_conversion(tflite, rows)
    assert [(r.name, r.ops) for r in rewritten.rewrites] == [("int16_per_channel_fc_as_conv", 3)]
    assert "on 12 evaluation rows" in rewritten.rewrites[0].proof
    assert _op_names(rewritten.content).count("FULLY_CONNECTED") == 1
    assert np.array_equal(run_in_tflm(rewritten.content, rows, info=rewritten.info),
                          run_in_tflm(content, rows, info=info))


def test_the_engines_lower_the_rewritten_fcs_to_int16_convolutions():
    from helpers.lowering.lower import lower_model
    from helpers.lowering.steps_int16 import ConvInt16, FullyConnectedInt16

    model = parse_model((INT16 / "iris_dense.tflite").read_bytes())
    assert rewrite_int16_fcs(model) == 3
    steps = lower_model(pack(model)).program.steps
    assert [type(step).__name__ for step in steps] == ["ConvInt16"] * 3 + ["SoftmaxInt16"]
    assert not any(isinstance(step, FullyConnectedInt16) for step in steps)
    assert all(step.geometry.k_h == step.geometry.k_w == 1 for step in steps if isinstance(step, ConvInt16))


@pytest.mark.parametrize("path", [INT16 / "fc_per_tensor.tflite",                             # per-tensor int16
                                  GOLDEN / "engines" / "zoo_mlp_iris__int8" / "model.tflite"])  # int8
def test_int8_and_per_tensor_int16_fcs_are_left_alone(path, monkeypatch):
    """CMSIS-NN's FULLY_CONNECTED takes per-channel int8 and per-tensor int16: nothing to rewrite,
    and TFLM runs nothing."""
    from helpers.rewrite import passes

    def no_run(*args, **kwargs):
        raise AssertionError("TFLM ran for a model with nothing to rewrite")

    monkeypatch.setattr(passes, "run_in_tflm", no_run)
    content = path.read_bytes()
    assert "FULLY_CONNECTED" in inspect_tflite(content).ops and not candidates(parse_model(content))
    quantization = Quantization.INT8 if "int8" in str(path) else Quantization.INT16X8
    tflite = TfliteModel(plan=converted_plan(quantization), content=content, info=inspect_tflite(content))
    assert rewrite_after_conversion(tflite, _rows(tflite.info)) is tflite


def test_a_rewrite_tflm_does_not_confirm_keeps_the_converter_s_model(monkeypatch):
    """TFLM's outputs are the proof: a (deliberately wrong) pass that also raises the first conv's
    bias changes them, and the converter's model is kept."""
    from helpers.rewrite import passes

    def wrong(model):
        count = rewrite_int16_fcs(model)
        graph = model.subgraphs[0]
        conv = next(op for op in graph.operators if name_of(model, op) == "CONV_2D")
        bias = graph.tensors[conv.inputs[2]]
        model.buffers[bias.buffer].data = np.full(int(bias.shape[0]), 1 << 20, "<i8").tobytes()
        return count

    monkeypatch.setattr(passes, "ON_TFLMS_KERNELS", (("wrong", wrong, "no reason"),))
    content = (INT16 / "iris_dense.tflite").read_bytes()
    tflite = TfliteModel(plan=converted_plan(Quantization.INT16X8), content=content, info=inspect_tflite(content))
    warnings: list[str] = []  # main.py's handler may own the logger (no propagation to caplog)
    monkeypatch.setattr(passes.log, "warning", lambda text, *args: warnings.append(text % args))
    assert passes.rewrite_after_conversion(tflite, _rows(tflite.info)) is tflite
    assert warnings == ["warning: int16x8: the rewrite wrong changed TFLM's outputs, so the converter's model is kept"]
