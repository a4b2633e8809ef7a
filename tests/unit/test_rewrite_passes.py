"""The passes on a converted flatbuffer (helpers/rewrite/), on flatbuffers built here with the
schema's object API. upsampling_to_resize_nearest: in the exact shape Keras 3's UpSampling2D
converts to (RESHAPE -> TILE -> RESHAPE -> TILE -> RESHAPE), rewritten into one
RESIZE_NEAREST_NEIGHBOR that LiteRT and TFLM run with outputs identical to the original's; runs
that are not an upsampling are left alone. select_to_select_v2: Keras' selu's SELECT.
space_to_batch_padding_as_pad: the converter's padding SPACE_TO_BATCH_ND (tests/golden/movement).
int16_per_channel_fc_as_conv: test_rewrite_fc_int16.py."""
from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from helpers.core.flatbuffer import inspect_tflite, parse_model
from helpers.core.quantization import Quantization
from helpers.core.rewrites import Rewrite, RewriteStage
from helpers.core.variant import TfliteModel, converted_plan
from helpers.measure.litert import LiteRtRunner
from helpers.measure.tflm import check_variant
from helpers.rewrite.edit import pack
from helpers.rewrite.passes import rewrite_after_conversion
from helpers.rewrite.space_to_batch_pad import as_tflm_should_run_it, padded_space_to_batch
from helpers.rewrite.upsampling import kernel_picks_repeats, rewrite_upsamplings

_TYPES = {"float32": schema.TensorType.FLOAT32, "int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16}


class _Builder:
    def __init__(self, dtype: str) -> None:
        self.model = schema.ModelT()
        self.model.version, self.model.buffers, self.model.operatorCodes = 3, [schema.BufferT()], []
        self.graph = schema.SubGraphT()
        self.graph.tensors, self.graph.operators = [], []
        self.dtype = dtype

    def tensor(self, shape, scale: float = 0.5, data: np.ndarray | None = None, kind: str = "<i4") -> int:
        tensor = schema.TensorT()
        tensor.shape, tensor.name, tensor.buffer = list(shape), f"t{len(self.graph.tensors)}".encode(), 0
        if kind == "bool":
            tensor.type = schema.TensorType.BOOL
        elif data is not None:
            buffer = schema.BufferT()
            buffer.data = np.asarray(data, kind).tobytes()
            self.model.buffers.append(buffer)
            tensor.buffer = len(self.model.buffers) - 1
            tensor.type = schema.TensorType.INT32 if kind == "<i4" else schema.TensorType.FLOAT32
        else:
            tensor.type = _TYPES[self.dtype]
            if self.dtype != "float32":
                tensor.quantization = schema.QuantizationParametersT()
                tensor.quantization.scale, tensor.quantization.zeroPoint = [scale], [1 if self.dtype == "int8" else 0]
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def op(self, builtin: int, inputs: list[int], output: int, options=None, options_type: int = 0) -> None:
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in self.model.operatorCodes]
        if builtin not in codes:
            code = schema.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = builtin
            code.version = 1
            self.model.operatorCodes.append(code)
            codes.append(builtin)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes.index(builtin), inputs, [output]
        op.builtinOptionsType, op.builtinOptions = options_type, options
        self.graph.operators.append(op)

    def reshape(self, source: int, shape, scale: float = 0.5) -> int:
        out = self.tensor(shape, scale)
        self.op(schema.BuiltinOperator.RESHAPE, [source, self.tensor([len(shape)], data=np.array(shape))], out)
        return out

    def tile(self, source: int, multiples) -> int:
        shape = [d * m for d, m in zip(self.graph.tensors[source].shape, multiples)]
        out = self.tensor(shape)
        self.op(schema.BuiltinOperator.TILE, [source, self.tensor([len(multiples)], data=np.array(multiples))], out)
        return out

    def finish(self, source: int, result: int) -> bytes:
        self.graph.inputs, self.graph.outputs = [source], [result]
        self.model.subgraphs = [self.graph]
        builder = flatbuffers.Builder(1024)
        builder.Finish(self.model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def keras3_upsampling(dtype: str = "int8", last_scale: float = 0.5) -> bytes:
    """[1,2,3,4] upsampled by (2, 3) the way Keras 3's UpSampling2D converts."""
    b = _Builder(dtype)
    x = b.tensor([1, 2, 3, 4])
    y = b.tile(b.reshape(x, [1, 2, 1, 3, 4]), [1, 1, 2, 1, 1])
    y = b.tile(b.reshape(y, [1, 4, 3, 1, 4]), [1, 1, 1, 3, 1])
    return b.finish(x, b.reshape(y, [1, 4, 9, 4], scale=last_scale))


def upsampling_2d_flattened(dtype: str = "int8") -> bytes:
    """[1,2,3,4] upsampled by (2, 2) and flattened: the converter folds the Flatten into the last RESHAPE."""
    b = _Builder(dtype)
    x = b.tensor([1, 2, 3, 4])
    y = b.tile(b.reshape(x, [1, 2, 1, 3, 4]), [1, 1, 2, 1, 1])
    y = b.tile(b.reshape(y, [1, 4, 3, 1, 4]), [1, 1, 1, 2, 1])
    return b.finish(x, b.reshape(y, [1, 96]))


def upsampling_1d(dtype: str = "int8") -> bytes:
    """[1,5,3] -> [1,10,3], as Keras 3's UpSampling1D(2) converts."""
    b = _Builder(dtype)
    x = b.tensor([1, 5, 3])
    return b.finish(x, b.reshape(b.tile(b.reshape(x, [1, 5, 1, 3]), [1, 1, 2, 1]), [1, 10, 3]))


def repeat_vector(dtype: str = "int8") -> bytes:
    """[1,4] -> [1,3,4], as Keras 3's RepeatVector(3) converts."""
    b = _Builder(dtype)
    x = b.tensor([1, 4])
    return b.finish(x, b.tile(b.reshape(x, [1, 1, 4]), [1, 3, 1]))


def _rows(info, count: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    if info.input.dtype == "float32":
        return rng.normal(size=(count, *info.input.shape[1:])).astype(np.float32)
    limits = np.iinfo(info.input.dtype)
    return rng.integers(limits.min, limits.max, size=(count, *info.input.shape[1:])).astype(info.input.dtype)


@pytest.mark.parametrize("dtype", ["float32", "int8", "int16"])
def test_keras3_upsampling_becomes_one_resize_with_identical_outputs(dtype):
    content = keras3_upsampling(dtype)
    model = parse_model(content)
    assert rewrite_upsamplings(model) == 1
    rewritten = pack(model)
    before, after = inspect_tflite(content), inspect_tflite(rewritten)
    assert before.ops == ("RESHAPE", "TILE") and after.ops == ("RESIZE_NEAREST_NEIGHBOR",)
    graph = parse_model(rewritten).subgraphs[0]
    assert len(graph.tensors) == 3  # input, output, the size constant: the run's tensors and buffers are gone
    rows = _rows(before)
    expected = LiteRtRunner(content, before).run_quantized(rows)
    assert np.array_equal(expected, rows.repeat(2, axis=1).repeat(3, axis=2))
    assert np.array_equal(LiteRtRunner(rewritten, after).run_quantized(rows), expected)
    tflm = check_variant(rewritten, after, rows)
    assert tflm.runnable, tflm.reason
    assert np.array_equal(tflm.outputs, expected)


@pytest.mark.parametrize("dtype", ["float32", "int8", "int16"])
@pytest.mark.parametrize("build, repeat", [(upsampling_1d, lambda r: r.repeat(2, axis=1)),
                                           (repeat_vector, lambda r: np.repeat(r[:, np.newaxis, :], 3, axis=1)),
                                           (upsampling_2d_flattened,
                                            lambda r: r.repeat(2, axis=1).repeat(2, axis=2).reshape(len(r), -1))])
def test_sequences_vectors_and_flattened_results_are_resized_as_images(build, repeat, dtype):
    content = build(dtype)
    model = parse_model(content)
    assert rewrite_upsamplings(model) == 1
    rewritten = pack(model)
    after = inspect_tflite(rewritten)
    assert after.ops == ("RESHAPE", "RESIZE_NEAREST_NEIGHBOR")
    assert after.output.shape == inspect_tflite(content).output.shape
    rows = _rows(after)
    assert np.array_equal(LiteRtRunner(rewritten, after).run_quantized(rows), repeat(rows))
    tflm = check_variant(rewritten, after, rows)
    assert tflm.runnable, tflm.reason
    assert np.array_equal(tflm.outputs, repeat(rows))


def test_the_pipeline_step_records_the_pass_and_leaves_other_models_alone():
    content = keras3_upsampling("int8")
    tflite = TfliteModel(plan=converted_plan(Quantization.INT8), content=content, info=inspect_tflite(content))
    rewritten = rewrite_after_conversion(tflite, _rows(tflite.info))
    assert rewritten.info.ops == ("RESIZE_NEAREST_NEIGHBOR",)
    (record,) = rewritten.rewrites
    assert record.name == "upsampling_to_resize_nearest" and record.stage is RewriteStage.AFTER_CONVERSION
    assert record.exact and record.ops == 1 and "16 evaluation rows" in record.proof
    assert Rewrite.from_dict(record.to_dict()) == record
    assert rewrite_after_conversion(rewritten, _rows(rewritten.info)) is rewritten  # nothing left to rewrite


def test_a_channel_repeat_is_not_an_upsampling():
    b = _Builder("int8")
    x = b.tensor([1, 2, 3, 4])
    y = b.tile(b.reshape(x, [1, 2, 3, 1, 4]), [1, 1, 1, 2, 1])  # reshaped to [1,2,6,4] it would be W x2,
    content = b.finish(x, b.reshape(y, [1, 2, 3, 8]))               # but this repeats the channels
    model = parse_model(content)
    assert rewrite_upsamplings(model) == 0
    assert inspect_tflite(pack(model)).ops == ("RESHAPE", "TILE")


def test_a_run_that_requantizes_is_left_alone():
    model = parse_model(keras3_upsampling("int8", last_scale=0.25))
    assert rewrite_upsamplings(model) == 0


@pytest.mark.parametrize("size", range(1, 40))
def test_the_resize_kernel_picks_the_repeated_element_for_every_integer_factor(size):
    assert all(kernel_picks_repeats(size, size * factor) for factor in range(1, 17))
    assert not kernel_picks_repeats(size + 1, 2 * size + 1)


def _select_model() -> bytes:
    b = _Builder("float32")
    x = b.tensor([1, 6])
    condition, scaled, out = b.tensor([1, 6], kind="bool"), b.tensor([1, 6]), b.tensor([1, 6])
    b.op(schema.BuiltinOperator.GREATER, [x, b.tensor([], data=np.float32(0), kind="<f4")], condition)
    b.op(schema.BuiltinOperator.MUL, [x, b.tensor([], data=np.float32(0.25), kind="<f4")], scaled,
         schema.MulOptionsT(), schema.BuiltinOptions.MulOptions)
    b.op(schema.BuiltinOperator.SELECT, [condition, x, scaled], out, schema.SelectOptionsT(),
         schema.BuiltinOptions.SelectOptions)
    return b.finish(x, out)


def test_a_same_shape_select_becomes_select_v2_which_tflm_runs():
    """x > 0 ? x : x * 0.25, written as selu's SELECT is."""
    content = _select_model()
    tflite = TfliteModel(plan=converted_plan(Quantization.NONE), content=content, info=inspect_tflite(content))
    rows = _rows(tflite.info)
    assert "SELECT" in tflite.info.ops and not check_variant(content, tflite.info, rows).runnable
    rewritten = rewrite_after_conversion(tflite, rows)
    assert rewritten.info.ops == ("GREATER", "MUL", "SELECT_V2")
    assert [(r.name, r.ops, r.exact) for r in rewritten.rewrites] == [("select_to_select_v2", 1, True)]
    expected = np.where(rows > 0, rows, rows * np.float32(0.25))
    assert np.array_equal(LiteRtRunner(rewritten.content, rewritten.info).run_quantized(rows), expected)
    tflm = check_variant(rewritten.content, rewritten.info, rows)
    assert tflm.runnable, tflm.reason
    assert np.array_equal(tflm.outputs, expected)


def _zero_minus_x() -> bytes:
    """0 - x in int16, the constant 0 with scale 0, as the converter writes tf_keras' LayerNorm offset."""
    b = _Builder("int16")
    x, out = b.tensor([1, 8], scale=0.01), b.tensor([1, 8], scale=0.01)
    zero = b.tensor([8], scale=0.01)
    buffer = schema.BufferT()
    buffer.data = np.zeros(8, "<i2").tobytes()
    b.model.buffers.append(buffer)
    b.graph.tensors[zero].buffer = len(b.model.buffers) - 1
    b.graph.tensors[zero].quantization.scale = [0.0]
    b.op(schema.BuiltinOperator.SUB, [zero, x], out, schema.SubOptionsT(), schema.BuiltinOptions.SubOptions)
    return b.finish(x, out)


def test_a_zero_constant_with_scale_zero_gets_a_scale_and_litert_no_longer_aborts(tmp_path):
    import subprocess
    import sys

    content = _zero_minus_x()
    (tmp_path / "model.tflite").write_bytes(content)
    probe = ("from ai_edge_litert.interpreter import Interpreter; import numpy as np; "
             f"i = Interpreter(model_path={str(tmp_path / 'model.tflite')!r}); i.allocate_tensors(); "
             "i.set_tensor(i.get_input_details()[0]['index'], np.ones((1, 8), np.int16)); i.invoke()")
    crashed = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
    assert crashed.returncode < 0  # the converter's model kills LiteRT's process with a signal
    tflite = TfliteModel(plan=converted_plan(Quantization.INT16X8), content=content, info=inspect_tflite(content))
    rows = np.arange(-8, 8, dtype=np.int16).reshape(2, 8) * 100
    fixed = rewrite_after_conversion(tflite, rows)
    assert [(r.name, r.ops, r.exact) for r in fixed.rewrites] == [("zero_constant_scale", 1, True)]
    assert np.array_equal(LiteRtRunner(fixed.content, fixed.info).run_quantized(rows), -rows)
    tflm = check_variant(fixed.content, fixed.info, rows)
    assert tflm.runnable, tflm.reason
    assert np.array_equal(tflm.outputs, -rows)


def test_the_engines_lower_resize_nearest_to_the_kernels_index_map():
    """The C and MicroPython engines run RESIZE_NEAREST_NEIGHBOR as a Gather whose index map is
    TFLite's GetNearestNeighbor: the rewritten upsampling gives the repeated elements."""
    from helpers.lowering.lower import lower_model
    from helpers.lowering.ops_movement import nearest_neighbor
    from helpers.lowering.steps import GatherRuns

    model = parse_model(keras3_upsampling("int8"))
    rewrite_upsamplings(model)
    (program_step,) = lower_model(pack(model)).program.steps
    assert isinstance(program_step, GatherRuns)
    # one index per run of channels: the starts of the repeated pixels' channel vectors
    starts = program_step.index.values.reshape(-1, 1) + np.arange(program_step.run)
    expected = np.arange(24).reshape(1, 2, 3, 4).repeat(2, axis=1).repeat(3, axis=2).reshape(-1)
    assert np.array_equal(starts.reshape(-1), expected)
    for size in range(1, 20):
        for factor in range(1, 9):
            repeated = np.arange(size * factor) // factor
            picked = [nearest_neighbor(v, size, size * factor, False, True) for v in range(size * factor)]
            assert np.array_equal(picked, repeated)
        # aligned corners map the first and last pixels onto each other
        assert [nearest_neighbor(v, size, 2 * size, True, False) for v in (0, 2 * size - 1)] == [0, size - 1]


def test_a_pass_that_changed_litert_outputs_would_be_refused(monkeypatch):
    """The LiteRT comparison is a real check: a (deliberately wrong) pass that also swaps the
    select's branches is refused, and the converter's model is kept."""
    from helpers.rewrite import passes, select

    def wrong(model):
        count = select.rewrite_selects(model)
        op = model.subgraphs[0].operators[-1]
        op.inputs = [op.inputs[0], op.inputs[2], op.inputs[1]]
        return count

    monkeypatch.setattr(passes, "AFTER_CONVERSION", (("wrong", wrong, "no reason"),))
    content = _select_model()
    tflite = TfliteModel(plan=converted_plan(Quantization.NONE), content=content, info=inspect_tflite(content))
    assert passes.rewrite_after_conversion(tflite, _rows(tflite.info)) is tflite


MOVEMENT = Path(__file__).resolve().parent.parent / "golden" / "movement"


@pytest.mark.parametrize("case", ["space_to_batch_nd_padded__float32", "space_to_batch_nd_padded__int8",
                                  "space_to_batch_nd_offset__int8"])
def test_a_padding_space_to_batch_gets_a_pad_before_it_and_tflm_then_gives_litert_s_outputs(case):
    """TFLM's SPACE_TO_BATCH_ND pads with a field it never sets; after the pass its paddings are 0
    and TFLM's outputs are LiteRT's on the original model (int8: padded with the zero point)."""
    content = (MOVEMENT / f"{case}.tflite").read_bytes()
    info = inspect_tflite(content)
    tflite = TfliteModel(plan=converted_plan(Quantization.INT8 if "int8" in case else Quantization.NONE),
                         content=content, info=info)
    rows = _rows(info)
    rewritten = rewrite_after_conversion(tflite, rows)
    assert rewritten.info.ops[-2:] == ("PAD", "SPACE_TO_BATCH_ND"), rewritten.info.ops  # (offset: an ADD first)
    (record,) = rewritten.rewrites
    assert (record.name, record.ops, record.exact) == ("space_to_batch_padding_as_pad", 1, True)
    assert f"identical LiteRT outputs on {len(rows)} evaluation rows" in record.proof
    model = parse_model(rewritten.content)
    assert not padded_space_to_batch(model)
    want = LiteRtRunner(content, info).run_quantized(rows)
    tflm = check_variant(rewritten.content, rewritten.info, rows)
    assert tflm.runnable, tflm.reason
    assert np.array_equal(np.asarray(tflm.outputs).reshape(want.shape), want)
    assert as_tflm_should_run_it(content) != content and as_tflm_should_run_it(rewritten.content) == rewritten.content


def test_a_space_to_batch_without_padding_is_left_alone():
    content = (MOVEMENT / "space_to_batch_nd__int8.tflite").read_bytes()
    tflite = TfliteModel(plan=converted_plan(Quantization.INT8), content=content, info=inspect_tflite(content))
    assert rewrite_after_conversion(tflite, _rows(tflite.info)) is tflite
