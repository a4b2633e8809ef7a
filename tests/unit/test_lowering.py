"""Each lowering step on a small hand-built graph (no TensorFlow, no flatbuffer): the step the op
becomes, and its constants against TFLM's Prepare arithmetic written out here independently
(QuantizeMultiplier as frexp, CalculateActivationRangeQuantized, ComputePaddingHeightWidth,
add_common's left shift of 20, QuantizedMeanOrSum), and the buffer plan's invariants."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.lowering import steps as s
from helpers.lowering.builder import step_buffers
from helpers.lowering.graph import Graph, Op, Tensor, Unsupported
from helpers.lowering.lower import lower
from helpers.lowering.program import ARENA_ALIGNMENT


def tensor(index, shape, dtype="int8", scale=0.0, zero_point=0, data=None, scales=None, variable=False):
    scales = tuple(scales) if scales is not None else ((scale,) if scale else ())
    return Tensor(index=index, name=f"t{index}", shape=tuple(shape), dtype=dtype, scales=scales,
                  zero_points=(zero_point,) * len(scales), quantized_axis=0,
                  data=None if data is None else np.asarray(data), variable=variable)


def graph(tensors, ops, inputs=(0,), outputs=None):
    ops = tuple(Op(position=i, name=name, inputs=tuple(ins), outputs=tuple(outs), options=options)
                for i, (name, ins, outs, options) in enumerate(ops))
    return Graph(tensors=tuple(tensors), ops=ops, inputs=tuple(inputs),
                 outputs=tuple(outputs if outputs is not None else (ops[-1].outputs[0],)), subgraphs=1)


def tflm_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc): q = round(frexp significand * 2^31)."""
    significand, shift = math.frexp(real)
    q = int(round(significand * 2**31))  # no .5 ties for these scales
    if q == 2**31:
        q, shift = q // 2, shift + 1
    return q, shift


def options(**fields):
    defaults = dict(fusedActivationFunction=0, padding=1, strideH=1, strideW=1, dilationHFactor=1,
                    dilationWFactor=1)
    return SimpleNamespace(**{**defaults, **fields})


def only_step(program, kind):
    found = [step for step in program.steps if isinstance(step, kind)]
    assert len(found) == 1, program.steps
    return found[0]


def test_fully_connected_int8_per_channel_multipliers_and_relu_clamp():
    weights = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    g = graph([tensor(0, (1, 4), scale=0.5, zero_point=3),
               tensor(1, (3, 4), data=weights, scales=(0.01, 0.02, 0.04)),
               tensor(2, (3,), dtype="int32", data=np.array([7, -7, 1], np.int32), scale=0.005),
               tensor(3, (1, 3), scale=0.25, zero_point=-10)],
              [("FULLY_CONNECTED", (0, 1, 2), (3,), options(fusedActivationFunction=1))])
    step = only_step(lower(g), s.FullyConnectedInt8)
    assert (step.batches, step.n_in, step.n_out) == (1, 4, 3)
    assert step.weights.values.tolist() == weights.reshape(-1).tolist()
    assert step.bias.values.tolist() == [7, -7, 1]
    expected = [tflm_multiplier(0.5 * w / 0.25) for w in (0.01, 0.02, 0.04)]
    assert list(zip(step.quant.multipliers.values.tolist(), step.quant.shifts.values.tolist())) == expected
    assert step.quant.input_offset == -3 and step.quant.output_zero_point == -10
    # RELU: the clamp starts at the quantized 0.0, the output's zero point.
    assert (step.quant.act_min, step.quant.act_max) == (-10, 127)


def test_fully_connected_with_a_per_tensor_scale_repeats_it_per_channel():
    g = graph([tensor(0, (1, 2), scale=1.0), tensor(1, (2, 2), data=np.ones((2, 2), np.int8), scale=0.5),
               tensor(2, (1, 2), scale=2.0)], [("FULLY_CONNECTED", (0, 1, -1), (2,), options())])
    step = only_step(lower(g), s.FullyConnectedInt8)
    assert step.quant.multipliers.values.tolist() == [tflm_multiplier(0.25)[0]] * 2
    assert step.bias.values.tolist() == [0, 0]


def test_conv_same_padding_and_relu6_follow_tflm():
    x = tensor(0, (1, 5, 5, 2), scale=0.1, zero_point=0)
    w = tensor(1, (4, 3, 3, 2), data=np.ones((4, 3, 3, 2), np.int8), scales=(0.2,) * 4)
    y = tensor(2, (1, 3, 3, 4), scale=0.05, zero_point=-128)
    g = graph([x, w, y], [("CONV_2D", (0, 1, -1), (2,), options(padding=0, strideH=2, strideW=2,
                                                                fusedActivationFunction=3))])
    program = lower(g)
    step = only_step(program, s.ConvInt8)
    geo = step.geometry
    # ComputePaddingHeightWidth: ((out - 1) * stride + kernel - in) / 2 = (4 + 3 - 5) / 2
    assert (geo.pad_top, geo.pad_left, geo.out_h, geo.out_w, geo.out_c) == (1, 1, 3, 3, 4)
    # RELU6: [quantize(0), quantize(6)] = [-128, -128 + 120]
    assert (step.quant.act_min, step.quant.act_max) == (-128, -8)
    assert program.accumulator_elements == geo.out_w * geo.out_c


def test_depthwise_conv_keeps_its_depth_multiplier():
    x = tensor(0, (1, 4, 4, 2), scale=0.1)
    w = tensor(1, (1, 3, 3, 4), data=np.ones((1, 3, 3, 4), np.int8), scales=(0.1,) * 4)
    y = tensor(2, (1, 2, 2, 4), scale=0.1)
    program = lower(graph([x, w, y], [("DEPTHWISE_CONV_2D", (0, 1, -1), (2,), options())]))
    step = only_step(program, s.ConvInt8)
    assert step.depthwise and step.geometry.depth_multiplier == 2
    assert (step.geometry.pad_top, step.geometry.pad_left) == (0, 0)  # VALID


def test_float_conv_folds_float16_weights_through_dequantize():
    half = np.full((2, 1, 1, 1), 0.5, np.float16)
    g = graph([tensor(0, (1, 2, 2, 1), "float32"), tensor(1, (2, 1, 1, 1), "float16", data=half),
               tensor(2, (2, 1, 1, 1), "float32"), tensor(3, (1, 2, 2, 2), "float32")],
              [("DEQUANTIZE", (1,), (2,), None), ("CONV_2D", (0, 2, -1), (3,), options())])
    program = lower(g)
    step = only_step(program, s.ConvFloat)
    assert step.weights.dtype == "float32" and step.weights.values.tolist() == [0.5, 0.5]
    assert len(program.steps) == 1  # the DEQUANTIZE of a constant happens at export
    assert (step.act_min, step.act_max) == (-math.inf, math.inf)


def test_pooling_geometry():
    g = graph([tensor(0, (1, 4, 4, 3), scale=0.1), tensor(1, (1, 2, 2, 3), scale=0.1)],
              [("MAX_POOL_2D", (0,), (1,), options(filterHeight=2, filterWidth=2, strideH=2, strideW=2))])
    step = only_step(lower(g), s.PoolInt8)
    assert not step.average and step.geometry.k_h == 2 and step.geometry.channels == 3
    assert (step.act_min, step.act_max) == (-128, 127)


def test_int8_softmax_needs_tflms_output_quantization():
    good = graph([tensor(0, (1, 10), scale=0.1), tensor(1, (1, 10), scale=1 / 256, zero_point=-128)],
                 [("SOFTMAX", (0,), (1,), SimpleNamespace(beta=1.0))])
    step = only_step(lower(good), s.SoftmaxInt8)
    assert step.exp_table.values[0] == 2**31 - 1  # exp(0) in Q0.31, saturated
    assert step.exp_table.values.shape == (256,) and (step.rows, step.depth) == (1, 10)
    bad = graph([tensor(0, (1, 10), scale=0.1), tensor(1, (1, 10), scale=0.1)],
                [("SOFTMAX", (0,), (1,), SimpleNamespace(beta=1.0))])
    with pytest.raises(Unsupported, match="scale 1/256"):
        lower(bad)


def test_quantize_and_requantize():
    g = graph([tensor(0, (1, 4), "float32"), tensor(1, (1, 4), scale=0.5, zero_point=1),
               tensor(2, (1, 4), scale=0.25, zero_point=-3)],
              [("QUANTIZE", (0,), (1,), None), ("QUANTIZE", (1,), (2,), None)])
    program = lower(g)
    first = only_step(program, s.QuantizeFloatToInt8)
    assert (first.scale, first.zero_point) == (0.5, 1)
    second = only_step(program, s.RequantizeInt8)
    assert (second.multiplier, second.shift) == tflm_multiplier(2.0)
    assert (second.input_zero_point, second.output_zero_point) == (1, -3)


def test_int8_add_uses_add_commons_left_shift_and_broadcasts():
    g = graph([tensor(0, (1, 2, 3), scale=0.1, zero_point=2), tensor(1, (3,), scale=0.3, zero_point=-1,
                                                                         data=np.array([1, 2, 3], np.int8)),
               tensor(2, (1, 2, 3), scale=0.2, zero_point=0)],
              [("ADD", (0, 1), (2,), options())])
    step = only_step(lower(g), s.AddInt8)
    twice_max = 2 * 0.3
    assert (step.input1_multiplier, step.input1_shift) == tflm_multiplier(0.1 / twice_max)
    assert (step.input2_multiplier, step.input2_shift) == tflm_multiplier(0.3 / twice_max)
    assert (step.output_multiplier, step.output_shift) == tflm_multiplier(twice_max / (2**20 * 0.2))
    assert (step.input1_offset, step.input2_offset, step.sign) == (-2, 1, 1)
    assert step.x1_index is None and step.x2_index.values.tolist() == [0, 1, 2, 0, 1, 2]
    assert step.x2.values.tolist() == [1, 2, 3]  # a constant operand is read from flash


def test_int8_mul_multiplier():
    g = graph([tensor(0, (1, 4), scale=0.1, zero_point=4), tensor(1, (1, 4), scale=0.2, data=np.ones((1, 4), np.int8)),
               tensor(2, (1, 4), scale=0.05)], [("MUL", (0, 1), (2,), options())])
    step = only_step(lower(g), s.MulInt8)
    assert (step.output_multiplier, step.output_shift) == tflm_multiplier(0.1 * 0.2 / 0.05)
    assert step.x1_index is None and step.x2_index is None and step.input1_offset == -4


def test_a_tensor_nothing_computes_is_named():
    g = graph([tensor(0, (1, 4), scale=0.1), tensor(1, (1, 4), scale=0.2), tensor(2, (1, 4), scale=0.05)],
              [("MUL", (0, 1), (2,), options())])
    with pytest.raises(Unsupported, match="'t1' is read before any op writes it"):
        lower(g)


def test_mean_groups_and_multiplier():
    g = graph([tensor(0, (1, 2, 2, 3), scale=0.1, zero_point=1), tensor(1, (2,), "int32", data=np.array([1, 2])),
               tensor(2, (1, 3), scale=0.1, zero_point=1)], [("MEAN", (0, 1), (2,), None)])
    step = only_step(lower(g), s.MeanInt8)
    assert step.groups.values.tolist() == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    multiplier, shift = tflm_multiplier(1.0)
    # QuantizedMeanOrSum: the multiplier shifted left by floor(log2(count)), then divided by count
    assert (step.multiplier, step.shift) == ((multiplier << 2) // 4, shift - 2)


def test_pad_strided_slice_concatenation_and_split_are_index_maps():
    g = graph([tensor(0, (1, 4), scale=0.1, zero_point=5), tensor(1, (2, 2), "int32", data=[[0, 0], [1, 0]]),
               tensor(2, (1, 4), scale=0.1, zero_point=5),
               tensor(3, (2,), "int32", data=[0, 1]), tensor(4, (2,), "int32", data=[1, 3]),
               tensor(5, (2,), "int32", data=[1, 1]), tensor(6, (1, 2), scale=0.1, zero_point=5),
               tensor(7, (1, 6), scale=0.1, zero_point=5)],
              [("PAD", (0, 1), (2,), None),
               ("STRIDED_SLICE", (0, 3, 4, 5), (6,), SimpleNamespace(ellipsisMask=0, newAxisMask=0, shrinkAxisMask=0,
                                                                      beginMask=0, endMask=0, offset=False)),
               ("CONCATENATION", (6, 2), (7,), SimpleNamespace(axis=1, fusedActivationFunction=0))])
    g = Graph(tensors=g.tensors, ops=g.ops, inputs=(0,), outputs=(7,), subgraphs=1)
    program = lower(g)
    pad, sliced = [step for step in program.steps if isinstance(step, s.Gather)]
    assert pad.index.values.tolist() == [-1, 0, 1, 2, 3] and pad.pad == 5  # the zero point pads
    assert sliced.index.values.tolist() == [1, 2]
    scatters = [step for step in program.steps if isinstance(step, s.Scatter)]
    assert [sc.index.values.tolist() for sc in scatters] == [[0, 1], [2, 3, 4, 5]]


def test_int8_logistic_is_a_256_entry_table():
    g = graph([tensor(0, (1, 3), scale=0.1, zero_point=0), tensor(1, (1, 3), scale=1 / 256, zero_point=-128)],
              [("LOGISTIC", (0,), (1,), None)])
    step = only_step(lower(g), s.LookupInt8)
    table = step.table.values.view(np.int8)
    assert table[0] == 0  # sigmoid(0) = 0.5 -> 128 - 128
    assert table[127] > 100 and table[128] < -100  # raw 127 is +12.7, raw -128 is -12.8


def test_lstm_int8_cell_state_constants():
    n_in, n_state, steps = 2, 3, 4
    tensors = [tensor(0, (1, steps, n_in), scale=0.1)]
    for i in range(1, 9):
        width = n_in if i <= 4 else n_state
        tensors.append(tensor(i, (n_state, width), data=np.ones((n_state, width), np.int8), scale=0.01))
    tensors += [tensor(i, (), "int8") for i in range(9, 12)]
    tensors += [tensor(i, (n_state,), "int32", data=np.zeros(n_state, np.int32)) for i in range(12, 16)]
    tensors += [tensor(16, ()), tensor(17, ()),
                tensor(18, (1, n_state), scale=1 / 128, zero_point=-1, variable=True),
                tensor(19, (1, n_state), "int16", scale=2.0**-11, variable=True),
                tensor(20, (1, steps, n_state), scale=1 / 128, zero_point=-1)]
    inputs = tuple(range(9)) + (-1, -1, -1) + (12, 13, 14, 15) + (-1, -1) + (18, 19)
    g = graph(tensors, [("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, (20,),
                         SimpleNamespace(timeMajor=False, fusedActivationFunction=4, cellClip=0.0))])
    program = lower(g)
    step = only_step(program, s.LstmInt8)
    quant = step.gate_quant[0]
    assert (quant.input_multiplier, quant.input_shift) == tflm_multiplier(0.1 * 0.01 / 2**-12)
    assert (quant.recurrent_multiplier, quant.recurrent_shift) == tflm_multiplier((1 / 128) * 0.01 / 2**-12)
    assert [q.sigmoid for q in step.gate_quant] == [True, True, False, True]  # the cell gate uses tanh
    cell = step.cell_quant
    assert (cell.input_multiplier, cell.input_shift) == tflm_multiplier(2**-15 * 2**-15 / 2**-11)
    # the cell's tanh input: Q(15 + log2(scale) - 3) -> 3 << (15 - 11 - 3)
    assert (cell.tanh_multiplier, cell.tanh_shift) == (3 << 1, 0)
    # the recurrent state lives in persistent buffers, reset to the hidden zero point and to 0
    assert [(program.buffer(r.buffer).dtype, r.value) for r in program.resets] == [("int8", 255), ("int16", 0)]
    assert program.buffer(step.state.hidden).persistent and program.buffer(step.state.cell).persistent


def test_unsupported_ops_and_forms_are_named():
    g = graph([tensor(0, (1, 4), "float32"), tensor(1, (1, 4), "float32")], [("LSH_PROJECTION", (0,), (1,), None)])
    with pytest.raises(Unsupported, match="LSH_PROJECTION"):
        lower(g)
    two = Graph(tensors=g.tensors, ops=g.ops, inputs=(0,), outputs=(1,), subgraphs=2)
    with pytest.raises(Unsupported, match="control flow"):
        lower(two)


def test_buffer_plan_reuses_memory_and_never_overlaps_live_buffers():
    # A chain of five float FCs: buffers are shared by dtype; the arena holds them at offsets that
    # never overlap for two buffers live at one step.
    tensors = [tensor(0, (1, 8), "float32")]
    for layer in range(5):  # layer k: weights at 2k + 1, output at 2k + 2
        tensors += [tensor(2 * layer + 1, (8, 8), "float32", data=np.eye(8, dtype=np.float32)),
                    tensor(2 * layer + 2, (1, 8), "float32")]
    ops = [("FULLY_CONNECTED", (0 if layer == 0 else 2 * layer, 2 * layer + 1, -1), (2 * layer + 2,), options())
           for layer in range(5)]
    program = lower(graph(tensors, ops))
    assert len(program.buffers) == 3  # the persistent input and two buffers that alternate
    for position, step in enumerate(program.steps):
        live = [program.buffer(b) for b in set(step_buffers(step))]
        for a in live:
            for b in live:
                if a.id < b.id:
                    assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset
    assert all(b.offset % ARENA_ALIGNMENT == 0 for b in program.buffers)
    assert program.arena_bytes >= max(b.offset + b.nbytes for b in program.buffers)
    assert program.arena_bytes <= sum(-(-b.nbytes // ARENA_ALIGNMENT) * ARENA_ALIGNMENT for b in program.buffers)


def test_every_missing_op_is_named_not_only_the_first():
    # the ops after a missing one are still tried: the user learns the whole list in one run
    g = graph([tensor(i, (1, 4), "float32") for i in range(4)],
              [("LSH_PROJECTION", (0,), (1,), None), ("RELU", (1,), (2,), None), ("HASHTABLE_LOOKUP", (2,), (3,), None)])
    with pytest.raises(Unsupported) as caught:
        lower(g)
    message = str(caught.value)
    assert "LSH_PROJECTION (float32) is not in the engines" in message
    assert "HASHTABLE_LOOKUP (float32) is not in the engines" in message
    assert "RELU" not in message


def test_float_activations_lower_to_their_kernels():
    g = graph([tensor(i, (1, 6), "float32") for i in range(3)],
              [("LEAKY_RELU", (0,), (1,), SimpleNamespace(alpha=0.25)), ("HARD_SWISH", (1,), (2,), None)])
    program = lower(g)
    leaky, swish = program.steps
    assert (type(leaky).__name__, leaky.kind, leaky.alpha, leaky.count) == ("MathFloat", "leaky_relu", 0.25, 6)
    assert (swish.kind, swish.alpha) == ("hard_swish", 0.0)
