"""The data-movement ops' index maps on hand-built graphs (no TensorFlow): each Gather (or Scatter)
applied to arange data against numpy's own transpose, slice, take, pad, flip, tile and stack, or
against the loops of TFLM's reference headers written out here (space_to_depth.h, depth_to_space.h,
space_to_batch_nd.h, batch_to_space_nd.h, mirror_pad.cc's GetInputDimension), or values worked by
hand (resize_nearest_neighbor.h); the binary ops' steps; and the forms the engines refuse, with why."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.lowering import steps as s
from helpers.lowering.graph import Unsupported
from helpers.lowering.lower import lower
from tests.unit.test_lowering import graph, options, tensor

DEVICE = Path(__file__).resolve().parent.parent.parent / "helpers" / "micropython" / "device"


def _const(index, values):
    values = np.asarray(values, dtype=np.int32)
    return tensor(index, values.shape, dtype="int32", data=values)


def expanded(step):
    """A Gather's map, or a GatherRuns' map with every run written out (-1 rows stay -1)."""
    if isinstance(step, s.Gather):
        return step.index.values
    assert isinstance(step, s.GatherRuns)
    starts = step.index.values.reshape(-1, 1)
    return np.where(starts >= 0, starts + np.arange(step.run), -1).reshape(-1)


def moved(shape, op, operands, out_shape, opts=None, dtype="float32", scale=0.0, zero_point=0):
    """The op's output on arange input through the index map the lowering computed."""
    ins = [tensor(0, shape, dtype=dtype, scale=scale, zero_point=zero_point)]
    ins += [_const(1 + i, values) for i, values in enumerate(operands)]
    out = tensor(len(ins), out_shape, dtype=dtype, scale=scale, zero_point=zero_point)
    program = lower(graph([*ins, out], [(op, range(len(ins)), (len(ins),), opts or SimpleNamespace())]))
    (step,) = program.steps
    index = expanded(step)
    data = np.arange(int(np.prod(shape))) + 100
    return np.where(index >= 0, data[np.maximum(index, 0)], -1).reshape(out_shape)


def test_transpose_is_numpys():
    x = np.arange(24).reshape(1, 2, 3, 4) + 100
    assert np.array_equal(moved((1, 2, 3, 4), "TRANSPOSE", [[0, 3, 1, 2]], (1, 4, 2, 3)), x.transpose(0, 3, 1, 2))


def test_slice_with_a_size_to_the_end():
    x = np.arange(60).reshape(1, 5, 6, 2) + 100
    got = moved((1, 5, 6, 2), "SLICE", [[0, 1, 2, 1], [1, 3, -1, 1]], (1, 3, 4, 1))
    assert np.array_equal(got, x[:, 1:4, 2:, 1:2])


def test_gather_along_an_axis_repeats_and_reorders():
    x = np.arange(24).reshape(2, 6, 2) + 100
    got = moved((2, 6, 2), "GATHER", [[[3, 0], [5, 5]]], (2, 2, 2, 2), SimpleNamespace(axis=-2, batchDims=0))
    assert np.array_equal(got, np.take(x, [[3, 0], [5, 5]], axis=1))


def test_gather_nd_picks_slices():
    x = np.arange(40).reshape(4, 5, 2) + 100
    got = moved((4, 5, 2), "GATHER_ND", [[[1, 2], [3, 4], [0, 0]]], (3, 2))
    assert np.array_equal(got, np.stack([x[1, 2], x[3, 4], x[0, 0]]))


def test_broadcast_to_adds_and_stretches_axes():
    x = np.arange(4).reshape(1, 4) + 100
    assert np.array_equal(moved((1, 4), "BROADCAST_TO", [[2, 3, 4]], (2, 3, 4)), np.broadcast_to(x, (2, 3, 4)))


def _mirror_loop(shape, paddings, offset):
    """mirror_pad.cc's GetInputDimension per axis (offset 1: REFLECT, 0: SYMMETRIC)."""
    def source(i, left, size):
        if i < left:
            original = left + offset - 1
            return original - min(i, original - offset)
        i -= left
        if i >= size:
            i -= size
            original = size - (1 + offset)
            return original - min(i, original)
        return i
    out_shape = [size + low + high for size, (low, high) in zip(shape, paddings)]
    x = np.arange(int(np.prod(shape))).reshape(shape) + 100
    result = np.zeros(out_shape, dtype=int)
    for position in np.ndindex(*out_shape):
        result[position] = x[tuple(source(i, low, size) for i, (low, _), size in zip(position, paddings, shape))]
    return result


@pytest.mark.parametrize("mode, offset", [(0, 1), (1, 0)])
def test_mirror_pad_reflect_and_symmetric_follow_tflm(mode, offset):
    paddings = [[0, 0], [2, 1], [1, 3], [0, 0]] if mode == 0 else [[0, 0], [3, 1], [1, 5], [0, 0]]
    want = _mirror_loop((1, 4, 5, 2), paddings, offset)
    assert np.array_equal(moved((1, 4, 5, 2), "MIRROR_PAD", [paddings], want.shape, SimpleNamespace(mode=mode)), want)


def test_space_to_depth_and_depth_to_space_follow_the_reference_loops():
    n, h, w, c, b = 1, 4, 6, 3, 2
    x = np.arange(n * h * w * c).reshape(n, h, w, c) + 100
    want = np.zeros((n, h // b, w // b, b * b * c), dtype=int)
    for i, j, dy, dx, k in np.ndindex(h // b, w // b, b, b, c):
        want[0, i, j, (dy * b + dx) * c + k] = x[0, i * b + dy, j * b + dx, k]
    got = moved((n, h, w, c), "SPACE_TO_DEPTH", [], want.shape, SimpleNamespace(blockSize=b))
    assert np.array_equal(got, want)
    back = moved(want.shape, "DEPTH_TO_SPACE", [], x.shape, SimpleNamespace(blockSize=b))
    src = np.arange(want.size).reshape(want.shape) + 100
    want_back = np.zeros(x.shape, dtype=int)
    for i, j, dy, dx, k in np.ndindex(h // b, w // b, b, b, c):
        want_back[0, i * b + dy, j * b + dx, k] = src[0, i, j, (dy * b + dx) * c + k]
    assert np.array_equal(back, want_back)


@pytest.mark.parametrize("channels", [2, 1])  # 1: padding next to element 0 (no run may straddle them)
def test_space_to_batch_nd_and_back_follow_the_reference_loops(channels):
    shape, block, pads = (2, 3, 4, channels), (2, 3), [[1, 0], [0, 2]]
    x = np.arange(int(np.prod(shape))).reshape(shape) + 100
    ph, pw = shape[1] + 1, shape[2] + 2
    out = (shape[0] * 6, ph // 2, pw // 3, channels)
    want = np.full(out, -1)
    # space_to_batch_nd.h: output batch = (shift_h * block_w + shift_w) * batches + batch
    for ob, oh, ow, c in np.ndindex(*out):
        batch, shift = ob % shape[0], ob // shape[0]
        ih, iw = oh * 2 + shift // 3 - pads[0][0], ow * 3 + shift % 3 - pads[1][0]
        if 0 <= ih < shape[1] and 0 <= iw < shape[2]:
            want[ob, oh, ow, c] = x[batch, ih, iw, c]
    assert np.array_equal(moved(shape, "SPACE_TO_BATCH_ND", [block, pads], out), want)
    crops = [[1, 0], [0, 2]]
    src = np.arange(int(np.prod(out))).reshape(out) + 100
    back = np.zeros(shape, dtype=int)
    # batch_to_space_nd.h: out[b, h, w] = in[(shift_h * block_w + shift_w) * batches + b, ...] after the crops
    for ob, oh, ow, c in np.ndindex(*out):
        batch, shift = ob % shape[0], ob // shape[0]
        h, w = oh * 2 + shift // 3 - crops[0][0], ow * 3 + shift % 3 - crops[1][0]
        if 0 <= h < shape[1] and 0 <= w < shape[2]:
            back[batch, h, w, c] = src[ob, oh, ow, c]
    assert np.array_equal(moved(out, "BATCH_TO_SPACE_ND", [block, crops], shape), back)


def test_space_to_batch_nd_pads_an_offset_int8_tensor_with_its_zero_point():
    """LiteRT's padding is a real 0 (TFLM's kernel pads with a field it never sets: the tool gives
    TFLM a PAD before it, rewrite/space_to_batch_pad.py)."""
    (step,) = lower(graph([tensor(0, (1, 4, 4, 1), dtype="int8", scale=0.1, zero_point=-5),
                           _const(1, [2, 2]), _const(2, [[0, 2], [0, 0]]),
                           tensor(3, (4, 3, 2, 1), dtype="int8", scale=0.1, zero_point=-5)],
                          [("SPACE_TO_BATCH_ND", range(3), (3,), SimpleNamespace())])).steps
    assert step.pad == -5 and np.any(expanded(step) < 0)


def test_reverse_and_tile_are_numpys():
    x = np.arange(24).reshape(2, 3, 4) + 100
    assert np.array_equal(moved((2, 3, 4), "REVERSE_V2", [[0, -1]], (2, 3, 4)), x[::-1, :, ::-1])
    assert np.array_equal(moved((2, 3, 4), "TILE", [[2, 1, 3]], (4, 3, 12)), np.tile(x, (2, 1, 3)))


@pytest.mark.parametrize("size, flags, rows", [
    ((7, 1), (False, False), [0, 0, 0, 1, 1, 2, 2]),      # floor(y * 3 / 7)
    ((7, 1), (True, False), [0, 0, 1, 1, 1, 2, 2]),       # round(y * 2 / 6), halves away from zero
    ((5, 1), (True, False), [0, 1, 1, 2, 2]),             # round(y * 2 / 4): the ties 0.5, 1.5 go up
    ((2, 1), (False, True), [0, 2]),                      # floor((y + 0.5) * 3 / 2)
    ((5, 1), (True, True), [0, 1, 1, 2, 2]),              # round((y + 0.5) * 2 / 4)
])
def test_resize_nearest_neighbor_rows_worked_by_hand(size, flags, rows):
    opts = SimpleNamespace(alignCorners=flags[0], halfPixelCenters=flags[1])
    got = moved((1, 3, 1, 1), "RESIZE_NEAREST_NEIGHBOR", [list(size)], (1, size[0], 1, 1), opts)
    assert got.reshape(-1).tolist() == [100 + r for r in rows]


def test_movement_on_int16_and_a_quantization_change_refused():
    x = np.arange(6).reshape(2, 3) + 100
    got = moved((2, 3), "TRANSPOSE", [[1, 0]], (3, 2), dtype="int16", scale=0.5)
    assert np.array_equal(got, x.T)
    ins = [tensor(0, (2, 3), scale=0.5, zero_point=1), _const(1, [1, 0]), tensor(2, (3, 2), scale=0.5, zero_point=2)]
    with pytest.raises(Unsupported, match="quantized differently"):
        lower(graph(ins, [("TRANSPOSE", (0, 1), (2,), SimpleNamespace())]))


def test_gather_refuses_run_time_indices_batch_dims_and_out_of_range():
    cases = [([tensor(0, (4,), dtype="float32"), tensor(1, (2,), dtype="int32"), tensor(2, (2,), dtype="float32")],
              SimpleNamespace(axis=0, batchDims=0), "run time"),
             ([tensor(0, (4,), dtype="float32"), _const(1, [4, 0]), tensor(2, (2,), dtype="float32")],
              SimpleNamespace(axis=0, batchDims=0), "out of range"),
             ([tensor(0, (1, 4), dtype="float32"), _const(1, [[0]]), tensor(2, (1, 1), dtype="float32")],
              SimpleNamespace(axis=1, batchDims=1), "batch_dims")]
    for tensors, opts, reason in cases:
        with pytest.raises(Unsupported, match=reason):
            lower(graph(tensors, [("GATHER", (0, 1), (2,), opts)]))


def test_pack_scatters_each_input_into_its_slice():
    g = graph([tensor(0, (2, 3), dtype="float32"), tensor(1, (2, 3), dtype="float32"),
               tensor(2, (2, 2, 3), dtype="float32"), _const(3, [1])],
              [("REVERSE_V2", (0, 3), (1,), SimpleNamespace()), ("PACK", (0, 1), (2,), SimpleNamespace(axis=1))])
    scatters = [step for step in lower(g).steps if isinstance(step, s.Scatter)]
    out = np.zeros(12, dtype=int)
    parts = [np.arange(6) + 100, np.arange(6) + 200]
    for step, part in zip(scatters, parts):
        out[step.index.values] = part
    assert np.array_equal(out.reshape(2, 2, 3), np.stack([p.reshape(2, 3) for p in parts], axis=1))


def test_zeros_like_and_fill_fold_into_constants_the_next_op_reads():
    for op, operands, want in (("ZEROS_LIKE", (0,), 0.0), ("FILL", (1, 2), 2.5)):
        tensors = [tensor(0, (2, 3), dtype="float32"), _const(1, [2, 3]),
                   tensor(2, (), dtype="float32", data=np.float32(2.5)), tensor(3, (2, 3), dtype="float32"),
                   tensor(4, (2, 3), dtype="float32")]
        program = lower(graph(tensors, [(op, operands, (3,), SimpleNamespace()),
                                        ("ADD", (0, 3), (4,), options())]))
        (step,) = program.steps
        assert step.x2.values.tolist() == [want] * 6


def _binary(op, dtype="float32", quant=((0.0, 0), (0.0, 0), (0.0, 0)), shapes=((2, 3), (3,), (2, 3)), **opts):
    """The op's one step on a run-time input and a constant (broadcast) second input."""
    (x1, q1), (x2, q2), (y, q3) = zip(shapes, quant)
    tensors = [tensor(0, x1, dtype=dtype, scale=q1[0], zero_point=q1[1]),
               tensor(1, x2, dtype=dtype, scale=q2[0], zero_point=q2[1], data=np.ones(x2, dtype)),
               tensor(2, y, dtype=dtype, scale=q3[0], zero_point=q3[1])]
    (step,) = lower(graph(tensors, [(op, (0, 1), (2,), options(**opts))])).steps
    return step


def test_binary_math_steps_broadcast_and_clamp_only_div():
    step = _binary("DIV", fusedActivationFunction=1)
    assert (step.kind, step.dtype, step.act_min, step.act_max) == ("div", "float32", 0.0, math.inf)
    assert step.x1_index is None and step.x2_index.values.tolist() == [0, 1, 2, 0, 1, 2]
    for op, kind in (("SQUARED_DIFFERENCE", "squared_difference"), ("FLOOR_DIV", "floor_div"),
                     ("FLOOR_MOD", "floor_mod"), ("MINIMUM", "minimum")):
        assert _binary(op).kind == kind
    step = _binary("MAXIMUM", dtype="int8", quant=((0.5, 3),) * 3)
    assert (step.kind, step.dtype) == ("maximum", "int8")


def test_binary_math_refuses_what_tflm_rescales():
    with pytest.raises(Unsupported, match="quantized differently"):
        _binary("MAXIMUM", dtype="int8", quant=((0.5, 3), (0.5, 3), (0.25, 3)))
    # int8 DIV is div.h's own kernel (DivInt8); FLOOR_DIV has no int8 form in TFLM
    with pytest.raises(Unsupported, match="FLOOR_DIV of int8"):
        _binary("FLOOR_DIV", dtype="int8", quant=((0.5, 3),) * 3)


def _device(name):
    namespace = {"math": math}
    exec((DEVICE / f"{name}.py").read_text(), namespace)
    return namespace


def test_device_binary_kernels_match_float32_arithmetic():
    """The board's kernels on array-like inputs against numpy's float32 (and C's) definitions."""
    kernels = _device("binary")
    a = np.array([7.5, -7.5, 1.0, -0.0, 3.0, 0.0, -2.0, 5.0], np.float32)
    b = np.array([2.0, 2.0, -3.0, 1.0, 0.0, 0.0, 0.0, -2.5], np.float32)
    y = [0.0] * len(a)
    kernels["div_f"](a.tolist(), None, b.tolist(), None, y, len(a), -math.inf, math.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = a / b
    assert np.array_equal(np.asarray(y, np.float32), want, equal_nan=True)
    finite = slice(0, 4)
    kernels["floor_mod_f"](a[finite].tolist(), None, b[finite].tolist(), None, y, 4)
    assert np.array_equal(np.asarray(y[:4], np.float32), np.mod(a[finite], b[finite]))
    kernels["floor_div_f"](a[finite].tolist(), None, b[finite].tolist(), None, y, 4)
    assert np.array_equal(np.asarray(y[:4], np.float32), np.floor_divide(a[finite], b[finite]))


def test_hot_int8_extremum_compares_the_stored_values():
    """hot_ops.py's extremum_i8 as plain code (the engine's own substitutions), with and without maps."""
    text = (DEVICE / "hot_ops.py").read_text().replace("SIGN_UNIT", "0")
    namespace = {"ptr8": lambda b: b, "ptr32": lambda b: b}
    exec(text[text.index("def extremum_i8"):], namespace)
    raw = bytes([0x80, 0x7F, 0xFF, 0x01])  # -128, 127, -1, 1
    other = bytes([0x00, 0x80, 0x01, 0xFF])  # 0, -128, 1, -1
    out = bytearray(4)
    namespace["extremum_i8"](0, 0, 0, raw, raw, 0, other, [0, 1, 2, 3], 1, out, 4, 1)
    assert list(np.frombuffer(bytes(out), np.int8)) == [0, 127, 1, 1]
    namespace["extremum_i8"](0, 0, 0, raw, [3, 2, 1, 0], 1, other, other, 0, out, 4, 0)
    assert list(np.frombuffer(bytes(out), np.int8)) == [0, -128, 1, -128]


def test_int8_squared_difference_takes_tflms_prepare_constants():
    from tests.unit.test_lowering import tflm_multiplier

    s1, s2, s3 = (float(np.float32(v)) for v in (0.02, 0.05, 0.1))  # a flatbuffer's scales are float32
    step = _binary("SQUARED_DIFFERENCE", dtype="int8", quant=((s1, -3), (s2, 4), (s3, -128)))
    assert isinstance(step, s.SquaredDifferenceInt8)
    # PrepareQuantized: inputs to (scale / twice the larger), output (twice the larger)^2 / (2^14 * scale)
    twice = 2 * s2
    want = [*tflm_multiplier(s1 / twice), *tflm_multiplier(s2 / twice), *tflm_multiplier(twice * twice / (16384 * s3))]
    got = [step.input1_multiplier, step.input1_shift, step.input2_multiplier, step.input2_shift,
           step.output_multiplier, step.output_shift]
    assert got == want
    assert (step.input1_offset, step.input2_offset, step.output_zero_point) == (3, -4, -128)
    assert step.x2_index.values.tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("shape, perm, in_cmsis", [((1, 2, 3, 4), (0, 3, 1, 2), True), ((2, 3, 4), (2, 0, 1), True),
                                                    ((3, 4), (1, 0), False)])
def test_int8_transpose_of_3_or_4_axes_is_cmsis_nns_without_an_index_map(shape, perm, in_cmsis):
    from helpers.emit.c_calls import c_calls, own_families

    out = tuple(shape[p] for p in perm)
    program = lower(graph([tensor(0, shape, scale=0.5), _const(1, perm), tensor(2, out, scale=0.5)],
                          [("TRANSPOSE", (0, 1), (2,), SimpleNamespace())]))
    (step,) = program.steps
    assert isinstance(step, s.Transpose) and step.perm == perm and step.in_shape == shape
    ((_, call),), names = c_calls(program)
    assert ("arm_transpose_s8" in call) == in_cmsis and ("mcu_gather_runs_int8" in call) != in_cmsis
    assert ("gather" in own_families(program)) != in_cmsis
    if in_cmsis:  # the permutation is the only array: no per-element map in flash
        assert names.constant_bytes == 4 * len(perm)


def test_channels_last_maps_shrink_to_one_index_per_run():
    """A map that moves whole channel vectors keeps one index per vector (or longer run), padding included."""
    from helpers.lowering.ops_movement import run_length

    def step_of(shape, op, operands, out_shape, opts=None):
        ins = [tensor(0, shape, dtype="float32")] + [_const(1 + i, v) for i, v in enumerate(operands)]
        g = graph([*ins, tensor(len(ins), out_shape, dtype="float32")],
                  [(op, range(len(ins)), (len(ins),), opts or SimpleNamespace())])
        (step,) = lower(g).steps
        return step

    resized = step_of((1, 3, 4, 5), "RESIZE_NEAREST_NEIGHBOR", [[7, 9]], (1, 7, 9, 5),
                      SimpleNamespace(alignCorners=False, halfPixelCenters=True))
    assert (resized.run, resized.index.values.size) == (5, 63)
    padded = step_of((1, 4, 6, 3), "SPACE_TO_BATCH_ND", [[2, 2], [[0, 2], [1, 1]]], (4, 3, 4, 3))
    assert padded.run == 3 and -1 in padded.index.values.tolist()
    sliced = step_of((2, 5, 6), "SLICE", [[0, 1, 0], [2, 3, -1]], (2, 3, 6))  # whole rows: runs of 3 * 6
    assert (sliced.run, sliced.index.values.tolist()) == (18, [6, 36])
    assert run_length(np.array([3, 4, -1, -1, 0, 1])) == 2
    assert run_length(np.array([3, 4, -1, 0, 7, 8])) == 1  # a run half padding, half data is no run


def test_padding_before_element_zero_is_not_a_run():
    """The map [pad, 0, 1] would read as one run from -1 (all padding): it must stay a full map."""
    got = moved((1, 1, 2, 1), "SPACE_TO_BATCH_ND", [[1, 1], [[0, 0], [1, 0]]], (1, 1, 3, 1))
    assert got.reshape(-1).tolist() == [-1, 100, 101]


def test_int8_maximum_is_cmsis_nns_broadcasting_by_shape_without_index_maps():
    from helpers.emit.c_calls import c_calls, own_families

    quant = ((0.5, 3),) * 3
    for shapes, in_cmsis in ((((2, 3), (3,), (2, 3)), True), (((1, 2, 1, 2, 3), (3,), (1, 2, 1, 2, 3)), False)):
        step = _binary("MAXIMUM", dtype="int8", quant=quant, shapes=shapes)
        tensors = [tensor(0, shapes[0], scale=0.5, zero_point=3),
                   tensor(1, shapes[1], scale=0.5, zero_point=3, data=np.ones(shapes[1], np.int8)),
                   tensor(2, shapes[2], scale=0.5, zero_point=3)]
        program = lower(graph(tensors, [("MAXIMUM", (0, 1), (2,), options())]))
        ((_, call),), names = c_calls(program)
        assert ("arm_maximum_s8" in call) == in_cmsis and step.shapes == shapes
        assert ("binary" in own_families(program)) != in_cmsis
        if in_cmsis:  # the 3 constant bytes only: no index map
            assert names.constant_bytes == 3
