"""Lower a Graph to kernel calls: for every op, the device kernel that runs it and its arguments,
with every constant TFLM's Prepare step would compute (multipliers, shifts, clamps, padding,
lookup tables, index maps) computed here. Activation buffers are shared between tensors whose
lifetimes do not overlap, and allocated once by the module."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from helpers.micropython import arith, lstm_params
from helpers.micropython.graph import Graph, Op, Tensor, Unsupported

# Buffer kinds: the array type that holds a tensor of each dtype on the board.
_KIND = {"int8": "b", "int16": "h", "float32": "f"}


@dataclass
class Program:
    """What the module template writes: constants, buffers, the calls in graph order."""

    constants: list[tuple[str, str]] = field(default_factory=list)
    buffers: dict[str, tuple[str, int]] = field(default_factory=dict)   # name -> (kind, elements)
    steps: list[tuple[str, str]] = field(default_factory=list)          # (op name, call)
    families: set[str] = field(default_factory=set)                     # device files needed
    resets: list[tuple[str, int]] = field(default_factory=list)         # (buffer, value) before each window
    acc_size: int = 1
    input_buffer: str = ""
    output_buffer: str = ""
    output_dtype: str = ""
    input_size: int = 0
    output_size: int = 0

    def heap_estimate(self) -> int:
        """Bytes of activation buffers and the accumulator (the weights sit in the module)."""
        width = {"b": 1, "h": 2, "f": 4, "i": 4}
        return sum(width[kind] * size for kind, size in self.buffers.values()) + 4 * self.acc_size


def _bytes_literal(data: bytes) -> str:
    return "b'" + "".join(f"\\x{b:02x}" for b in data) + "'"


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.program = Program()
        self.folded: dict[int, np.ndarray] = {}
        self.names: dict[str, str] = {}
        self.buffer_of: dict[int, str] = {}
        self.free: list[str] = []
        self.persistent: set[str] = set()   # the model input and recurrent state: never shared
        self.users = self._last_uses()

    # ---- constants
    def constant(self, prefix: str, expr: str) -> str:
        if expr in self.names:
            return self.names[expr]
        name = f"_{prefix}_{len(self.program.constants)}"
        self.program.constants.append((name, expr))
        self.names[expr] = name
        return name

    def int8_bytes(self, values: np.ndarray) -> str:
        return self.constant("w", _bytes_literal(np.asarray(values, dtype=np.int8).tobytes()))

    def int32_array(self, values) -> str:  # type: ignore[no-untyped-def]
        data = np.asarray(values, dtype="<i4").tobytes()
        return self.constant("i", f"_array('i', {_bytes_literal(data)})")

    def float_array(self, values) -> str:  # type: ignore[no-untyped-def]
        data = np.asarray(values, dtype="<f4").tobytes()
        return self.constant("f", f"_array('f', {_bytes_literal(data)})")

    def small_tuple(self, values) -> str:  # type: ignore[no-untyped-def]
        items = ", ".join(repr(v) for v in values)
        return self.constant("p", f"({items},)" if len(values) == 1 else f"({items})")

    def data(self, index: int) -> np.ndarray | None:
        if index in self.folded:
            return self.folded[index]
        return self.graph.tensor(index).data

    # ---- buffers
    def _last_uses(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for op in self.graph.ops:
            for index in op.inputs:
                if index >= 0:
                    last[index] = op.position
        for index in self.graph.outputs:
            last[index] = len(self.graph.ops)
        return last

    def buffer(self, index: int) -> str:
        if index in self.buffer_of:
            return self.buffer_of[index]
        tensor = self.graph.tensor(index)
        if tensor.constant or index in self.folded:
            return self.constant_tensor(index)
        raise Unsupported(f"tensor {tensor.name!r} is read before any op writes it")

    def constant_tensor(self, index: int) -> str:
        values = self.data(index)
        tensor = self.graph.tensor(index)
        if values is None:
            raise Unsupported(f"tensor {tensor.name!r} has no data")
        if values.dtype == np.int8:
            return self.int8_bytes(values.reshape(-1))
        if values.dtype in (np.float32, np.float16):
            return self.float_array(values.reshape(-1).astype(np.float32))
        raise Unsupported(f"constant tensor {tensor.name!r} of type {values.dtype}")

    def allocate(self, index: int, persistent: bool = False) -> str:
        tensor = self.graph.tensor(index)
        kind = _KIND.get(tensor.dtype)
        if kind is None:
            raise Unsupported(f"tensor {tensor.name!r} is {tensor.dtype}")
        chosen = None
        if not persistent:
            for name in self.free:
                if self.program.buffers[name][0] == kind:
                    chosen = name
                    break
        if chosen is None:
            chosen = f"_t{len(self.program.buffers)}"
            self.program.buffers[chosen] = (kind, 0)
        else:
            self.free.remove(chosen)
        if persistent:
            self.persistent.add(chosen)
        size = max(self.program.buffers[chosen][1], tensor.size)
        self.program.buffers[chosen] = (kind, size)
        self.buffer_of[index] = chosen
        return chosen

    def alias(self, output: int, source: int) -> None:
        self.buffer_of[output] = self.buffer(source)

    def release_after(self, op: Op) -> None:
        """Buffers no tensor needs after `op` go back to the pool (the persistent ones never do)."""
        alive = {self.buffer_of[i] for i, last in self.users.items() if last > op.position and i in self.buffer_of}
        for index in op.inputs:
            name = self.buffer_of.get(index)
            if name and name not in alive and name not in self.persistent and name not in self.free:
                self.free.append(name)

    def call(self, op: Op, kernel: str, *args: object, family: str) -> None:
        self.program.families.add(family)
        self.program.steps.append((op.name, f"{kernel}({', '.join(str(a) for a in args)})"))


def _activation(options: object) -> int:
    return int(getattr(options, "fusedActivationFunction", 0) or 0)


def _float_clamp(activation: int) -> tuple[str, str]:
    low, high = arith.float_activation_range(activation)
    return ("-3.4e38" if low == -np.inf else repr(low)), ("3.4e38" if high == np.inf else repr(high))


def _padding(padding: int, in_size: int, out_size: int, stride: int, dilation: int, kernel: int) -> int:
    if padding != 0:  # VALID
        return 0
    effective = (kernel - 1) * dilation + 1
    return max(0, (out_size - 1) * stride + effective - in_size) // 2


def _multipliers(input_scale: float, filter_scales: tuple[float, ...], output_scale: float,
                 channels: int) -> tuple[list[int], list[int]]:
    scales = filter_scales if len(filter_scales) == channels else filter_scales[:1] * channels
    pairs = [arith.quantize_multiplier(float(input_scale) * float(s) / float(output_scale)) for s in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def _is_int8(tensor: Tensor) -> bool:
    return tensor.dtype == "int8"


def _check_types(builder: _Builder, op: Op, allowed: tuple[str, ...]) -> str:
    tensor = builder.graph.tensor(op.inputs[0])
    if tensor.dtype not in allowed:
        raise Unsupported(f"{op.name} on {tensor.dtype} tensors")
    return tensor.dtype


def _bias(builder: _Builder, op: Op, position: int, channels: int, dtype: str) -> np.ndarray:
    if len(op.inputs) > position and op.inputs[position] >= 0:
        values = builder.data(op.inputs[position])
        if values is None:
            raise Unsupported(f"{op.name} with a bias computed at run time")
        return np.asarray(values).reshape(-1)
    return np.zeros(channels, dtype=dtype)


def lower_fully_connected(b: _Builder, op: Op) -> None:
    x, w, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1]), b.graph.tensor(op.outputs[0])
    weights = b.data(op.inputs[1])
    if weights is None:
        raise Unsupported("FULLY_CONNECTED with weights computed at run time")
    n_out, n_in = weights.shape[0], int(np.prod(weights.shape[1:]))
    batches = x.size // n_in
    act = _activation(op.options)
    if _is_int8(x) and w.dtype == "int8" and _is_int8(y):
        mult, shift = _multipliers(x.scale, w.scales, y.scale, n_out)
        low, high = arith.activation_range(act, "int8", y.scale, y.zero_point)
        b.program.acc_size = max(b.program.acc_size, n_out)
        b.call(op, "fully_connected_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.int8_bytes(weights),
               b.int32_array(_bias(b, op, 2, n_out, "int32")), b.int32_array(mult), b.int32_array(shift), "_ACC",
               batches, n_in, n_out, -x.zero_point, y.zero_point, low, high, family="ops_int8")
        return
    if x.dtype == "float32" and weights.dtype in (np.float32, np.float16) and y.dtype == "float32":
        low, high = _float_clamp(act)
        bias = _bias(b, op, 2, n_out, "float32").astype(np.float32)
        b.call(op, "fully_connected_f", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]),
               b.float_array(weights.reshape(-1).astype(np.float32)), b.float_array(bias), batches, n_in, n_out,
               low, high, family="ops_float")
        return
    raise Unsupported(f"FULLY_CONNECTED with {x.dtype} input, {w.dtype} weights and {y.dtype} output "
                      "(hybrid or int16 kernels)")


def _conv_geometry(b: _Builder, op: Op, k_h: int, k_w: int) -> tuple[list[int], int]:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported(f"{op.name} on a batch of {x.shape[0] if x.shape else '?'} (batch 1 only)")
    o = op.options
    s_h, s_w = o.strideH or 1, o.strideW or 1
    d_h, d_w = getattr(o, "dilationHFactor", 1) or 1, getattr(o, "dilationWFactor", 1) or 1
    in_h, in_w, in_c = x.shape[1:]
    out_h, out_w, out_c = y.shape[1:]
    pad_t = _padding(o.padding, in_h, out_h, s_h, d_h, k_h)
    pad_l = _padding(o.padding, in_w, out_w, s_w, d_w, k_w)
    return [in_h, in_w, in_c, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l], out_h


def lower_conv(b: _Builder, op: Op, depthwise: bool) -> None:
    x, w, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1]), b.graph.tensor(op.outputs[0])
    weights = b.data(op.inputs[1])
    if weights is None:
        raise Unsupported(f"{op.name} with weights computed at run time")
    geometry, out_h = _conv_geometry(b, op, weights.shape[1], weights.shape[2])
    out_c = y.shape[3]
    if depthwise:
        multiplier = out_c // x.shape[3]
        geometry[4] = multiplier
    elif weights.shape[3] != x.shape[3]:
        raise Unsupported("grouped CONV_2D")
    act = _activation(op.options)
    kernel = "depthwise_conv_2d" if depthwise else "conv_2d"
    if _is_int8(x) and w.dtype == "int8" and _is_int8(y):
        mult, shift = _multipliers(x.scale, w.scales, y.scale, out_c)
        low, high = arith.activation_range(act, "int8", y.scale, y.zero_point)
        b.program.acc_size = max(b.program.acc_size, geometry[3] * out_c)
        b.call(op, kernel + "_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.int8_bytes(weights),
               b.int32_array(_bias(b, op, 2, out_c, "int32")), b.int32_array(mult), b.int32_array(shift),
               b.int32_array(geometry), "_ACC", out_h, -x.zero_point, y.zero_point, low, high, family="ops_int8")
        return
    if x.dtype == "float32" and weights.dtype in (np.float32, np.float16):
        low, high = _float_clamp(act)
        b.call(op, kernel + "_f", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]),
               b.float_array(weights.reshape(-1).astype(np.float32)),
               b.float_array(_bias(b, op, 2, out_c, "float32").astype(np.float32)), b.small_tuple(geometry),
               out_h, low, high, family="ops_float")
        return
    raise Unsupported(f"{op.name} with {x.dtype} input and {w.dtype} weights")


def lower_pool(b: _Builder, op: Op, average: bool) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    o = op.options
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported(f"{op.name} on a batch (batch 1 only)")
    in_h, in_w, channels = x.shape[1:]
    out_h, out_w = y.shape[1:3]
    k_h, k_w = o.filterHeight, o.filterWidth
    geometry = [in_h, in_w, channels, out_h, out_w, k_h, k_w, o.strideH, o.strideW,
                _padding(o.padding, in_h, out_h, o.strideH, 1, k_h),
                _padding(o.padding, in_w, out_w, o.strideW, 1, k_w)]
    act = _activation(o)
    if _is_int8(x):
        low, high = arith.activation_range(act, "int8", y.scale, y.zero_point)
        if average:
            b.call(op, "average_pool_2d_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]),
                   b.small_tuple(geometry), low, high, family="ops_int8")
        else:
            b.call(op, "max_pool_2d_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]),
                   b.int32_array(geometry), low, high, family="ops_int8")
        return
    _check_types(b, op, ("float32",))
    low, high = _float_clamp(act)
    b.call(op, "pool_2d_f", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.small_tuple(geometry), average,
           low, high, family="ops_float")


def lower_softmax(b: _Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    depth = x.shape[-1]
    rows = x.size // depth
    beta = float(op.options.beta) if op.options is not None else 1.0
    if _is_int8(x) and _is_int8(y):
        if y.zero_point != -128 or y.scale != 1.0 / 256:
            raise Unsupported("int8 SOFTMAX whose output is not scale 1/256, zero point -128")
        exps, rescaled = arith.softmax_tables(x.scale, beta)
        b.call(op, "softmax_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), rows, depth,
               b.int32_array(exps), b.int32_array(rescaled), family="ops_int8")
        return
    _check_types(b, op, ("float32",))
    b.call(op, "softmax_f", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), rows, depth, repr(beta),
           family="ops_float")


def lower_reshape(b: _Builder, op: Op) -> None:
    b.alias(op.outputs[0], op.inputs[0])


def lower_quantize(b: _Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if not _is_int8(y):
        raise Unsupported(f"QUANTIZE to {y.dtype}")
    low, high = arith.INT_RANGES["int8"]
    if x.dtype == "float32":
        b.call(op, "quantize_f_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), x.size, repr(y.scale),
               y.zero_point, low, high, family="ops_int8")
        return
    if _is_int8(x):
        mult, shift = arith.quantize_multiplier(float(x.scale) / float(y.scale))
        b.call(op, "requantize_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), x.size, x.zero_point, mult,
               shift, y.zero_point, low, high, family="ops_int8")
        return
    raise Unsupported(f"QUANTIZE from {x.dtype}")


def lower_dequantize(b: _Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    values = b.data(op.inputs[0])
    if values is not None:  # float16 or int8 weights: dequantized once, here
        real = values.astype(np.float32) if x.dtype == "float16" else \
            ((values.astype(np.float64) - x.zero_point) * x.scale).astype(np.float32)
        b.folded[op.outputs[0]] = real
        return
    if not _is_int8(x):
        raise Unsupported(f"DEQUANTIZE of {x.dtype}")
    b.call(op, "dequantize_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), x.size, repr(x.scale),
           x.zero_point, family="ops_int8")


def lower_strided_slice(b: _Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    begin, end, strides = (b.data(i) for i in op.inputs[1:4])
    if begin is None or end is None or strides is None:
        raise Unsupported("STRIDED_SLICE with bounds computed at run time")
    o = op.options
    if o.ellipsisMask or o.newAxisMask:
        raise Unsupported("STRIDED_SLICE with an ellipsis or new-axis mask")
    slices: list[object] = []
    for axis in range(len(x.shape)):
        start, stop, step = int(begin[axis]), int(end[axis]), int(strides[axis])
        if getattr(o, "offset", False):
            stop = start + stop
        if o.shrinkAxisMask & (1 << axis):
            slices.append(start if start >= 0 else start + x.shape[axis])
            continue
        slices.append(slice(None if o.beginMask & (1 << axis) else start,
                            None if o.endMask & (1 << axis) else stop, step))
    index = np.arange(x.size).reshape(x.shape)[tuple(slices)]
    _gather(b, op, index, pad=None)


def _gather(b: _Builder, op: Op, index: np.ndarray, pad: object) -> None:
    x = b.graph.tensor(op.inputs[0])
    if x.dtype not in _KIND:
        raise Unsupported(f"{op.name} on {x.dtype}")
    pad_value = 0 if pad is None else pad
    b.call(op, "gather", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.int32_array(index), pad_value,
           family="gather")


def lower_pad(b: _Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    paddings = b.data(op.inputs[1])
    if paddings is None:
        raise Unsupported("PAD with paddings computed at run time")
    padded = np.pad(np.arange(x.size).reshape(x.shape), np.asarray(paddings, dtype=int), constant_values=-1)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = b.data(op.inputs[2])
        if value is None:
            raise Unsupported("PADV2 with a pad value computed at run time")
        pad = np.asarray(value).reshape(-1)[0].item()
    else:
        pad = x.zero_point if _is_int8(x) else 0.0
    _gather(b, op, padded, (int(pad) & 255) if _is_int8(x) else float(pad))


def _parts_along(positions: np.ndarray, axis: int, widths: list[int]) -> list[np.ndarray]:
    """The element positions of consecutive slices `widths` wide along `axis`."""
    starts = np.cumsum([0] + widths[:-1])
    return [np.take(positions, range(start, start + width), axis=axis) for start, width in zip(starts, widths)]


def lower_concatenation(b: _Builder, op: Op) -> None:
    y = b.graph.tensor(op.outputs[0])
    axis = op.options.axis % len(y.shape)
    inputs = [b.graph.tensor(i) for i in op.inputs]
    if _activation(op.options):
        raise Unsupported("CONCATENATION with a fused activation")
    for tensor in inputs:
        if tensor.dtype != y.dtype or (_is_int8(y) and (tensor.scale, tensor.zero_point) != (y.scale, y.zero_point)):
            raise Unsupported("CONCATENATION of inputs quantized differently from its output")
    out = b.allocate(op.outputs[0])
    parts = _parts_along(np.arange(y.size).reshape(y.shape), axis, [tensor.shape[axis] for tensor in inputs])
    for index, part in zip(op.inputs, parts):
        b.call(op, "scatter", b.buffer(index), out, b.int32_array(part), family="gather")


def _broadcast(b: _Builder, tensor: Tensor, out_shape: tuple[int, ...]) -> str:
    if tensor.shape == out_shape:
        return "None"
    index = np.broadcast_to(np.arange(tensor.size).reshape(tensor.shape), out_shape)
    return b.int32_array(index)


def _add_sub_multipliers(x1: Tensor, x2: Tensor, y: Tensor, is_add: bool) -> list[int]:
    """add_common.cc computes these in double; sub_common.cc divides in float first."""
    f32 = arith.float32
    if is_add:
        twice_max = 2 * max(float(x1.scale), float(x2.scale))
        reals = (float(x1.scale) / twice_max, float(x2.scale) / twice_max, twice_max / ((1 << 20) * float(y.scale)))
    else:
        twice_max = f32(2 * max(x1.scale, x2.scale))
        reals = (f32(x1.scale / twice_max), f32(x2.scale / twice_max), f32(twice_max / f32((1 << 20) * y.scale)))
    return [value for real in reals for value in arith.quantize_multiplier(real)]


def lower_arithmetic(b: _Builder, op: Op, kind: str) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    act = _activation(op.options)
    i1, i2 = _broadcast(b, x1, y.shape), _broadcast(b, x2, y.shape)
    if _is_int8(x1) and _is_int8(x2) and _is_int8(y):
        low, high = arith.activation_range(act, "int8", y.scale, y.zero_point)
        if kind in ("add", "sub"):
            m1, s1, m2, s2, mo, so = _add_sub_multipliers(x1, x2, y, kind == "add")
            q = [-x1.zero_point, -x2.zero_point, m1, s1, m2, s2, mo, so, y.zero_point, low, high,
                 1 if kind == "add" else -1]
        else:
            mo, so = arith.quantize_multiplier(float(x1.scale) * float(x2.scale) / float(y.scale))
            q = [-x1.zero_point, -x2.zero_point, mo, so, y.zero_point, low, high]
        b.call(op, "mul_i8" if kind == "mul" else "add_i8", b.buffer(op.inputs[0]), i1, b.buffer(op.inputs[1]), i2,
               b.allocate(op.outputs[0]), y.size, b.small_tuple(q), family="ops_int8")
        return
    if x1.dtype == x2.dtype == y.dtype == "float32":
        low, high = _float_clamp(act)
        b.call(op, f"{kind}_f", b.buffer(op.inputs[0]), i1, b.buffer(op.inputs[1]), i2,
               b.allocate(op.outputs[0]), y.size, low, high, family="ops_float")
        return
    raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype}")


def lower_elementwise(b: _Builder, op: Op, kernel: str) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if _is_int8(x) and _is_int8(y):
        table = arith.elementwise_int8_table(op.name, x.scale, x.zero_point, y.zero_point)
        b.call(op, "lookup_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), x.size,
               b.constant("w", _bytes_literal(table)), family="ops_int8")
        return
    if x.dtype != "float32":
        raise Unsupported(f"{op.name} on {x.dtype} tensors")
    b.call(op, kernel, b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), x.size, family="ops_float")


def lower_mean(b: _Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if x.dtype not in ("float32", "int8"):
        raise Unsupported(f"MEAN on {x.dtype} tensors")
    axes = b.data(op.inputs[1])
    if axes is None:
        raise Unsupported("MEAN over axes computed at run time")
    reduced = sorted({int(a) % len(x.shape) for a in np.asarray(axes).reshape(-1)})
    kept = [a for a in range(len(x.shape)) if a not in reduced]
    positions = np.transpose(np.arange(x.size).reshape(x.shape), kept + reduced)
    groups = positions.reshape(int(np.prod([x.shape[a] for a in kept])) if kept else 1, -1)
    text = "(" + ", ".join("(" + ", ".join(str(v) for v in row) + ",)" for row in groups.tolist()) + ",)"
    if _is_int8(x):
        mult, shift = arith.mean_multiplier(x.scale, y.scale, groups.shape[1])
        b.call(op, "mean_i8", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.constant("g", text),
               x.zero_point, mult, shift, y.zero_point, family="ops_int8")
        return
    b.call(op, "mean_f", b.buffer(op.inputs[0]), b.allocate(op.outputs[0]), b.constant("g", text),
           family="ops_float")


def lower_split(b: _Builder, op: Op) -> None:
    """SPLIT (axis first, then the input), SPLIT_V (input, sizes, axis) and UNPACK: one gather per output."""
    if op.name == "SPLIT":
        data_index, axis_value = op.inputs[1], b.data(op.inputs[0])
    elif op.name == "SPLIT_V":
        data_index, axis_value = op.inputs[0], b.data(op.inputs[2])
    else:
        data_index, axis_value = op.inputs[0], np.asarray(op.options.axis)
    if axis_value is None:
        raise Unsupported(f"{op.name} along an axis computed at run time")
    x = b.graph.tensor(data_index)
    axis = int(np.asarray(axis_value).reshape(-1)[0]) % len(x.shape)
    widths = [1 if op.name == "UNPACK" else b.graph.tensor(output).shape[axis] for output in op.outputs]
    parts = _parts_along(np.arange(x.size).reshape(x.shape), axis, widths)
    for output, part in zip(op.outputs, parts):
        b.call(op, "gather", b.buffer(data_index), b.allocate(output), b.int32_array(part), 0, family="gather")


LOWERINGS: dict[str, Callable[[_Builder, Op], None]] = {
    "FULLY_CONNECTED": lower_fully_connected,
    "CONV_2D": lambda b, op: lower_conv(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: lower_conv(b, op, depthwise=True),
    "MAX_POOL_2D": lambda b, op: lower_pool(b, op, average=False),
    "AVERAGE_POOL_2D": lambda b, op: lower_pool(b, op, average=True),
    "SOFTMAX": lower_softmax,
    "RESHAPE": lower_reshape,
    "SQUEEZE": lower_reshape,
    "EXPAND_DIMS": lower_reshape,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "STRIDED_SLICE": lower_strided_slice,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concatenation,
    "ADD": lambda b, op: lower_arithmetic(b, op, "add"),
    "SUB": lambda b, op: lower_arithmetic(b, op, "sub"),
    "MUL": lambda b, op: lower_arithmetic(b, op, "mul"),
    "LOGISTIC": lambda b, op: lower_elementwise(b, op, "logistic_f"),
    "TANH": lambda b, op: lower_elementwise(b, op, "tanh_f"),
    "SPLIT": lower_split,
    "SPLIT_V": lower_split,
    "UNPACK": lower_split,
    "MEAN": lower_mean,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm_params.lower,
}


def lower(graph: Graph) -> Program:
    """The graph as kernel calls; Unsupported names the first op (or form) that stops it."""
    if graph.subgraphs != 1:
        raise Unsupported("models with control flow (several subgraphs)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise Unsupported("models with several inputs or outputs")
    builder = _Builder(graph)
    program = builder.program
    source, sink = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    program.input_buffer = builder.allocate(graph.inputs[0], persistent=True)
    program.input_size = source.size
    for op in graph.ops:
        handler = LOWERINGS.get(op.name)
        if handler is None:
            raise Unsupported(f"{op.name} is not in the MicroPython engine")
        handler(builder, op)
        builder.release_after(op)
    program.output_buffer = builder.buffer(graph.outputs[0])
    program.output_dtype, program.output_size = sink.dtype, sink.size
    return program
