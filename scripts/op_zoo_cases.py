"""The op zoo's cases: one tiny TensorFlow graph per op (and per broadcasting form of the binary
ops), each made of the op alone, or of the op and the few ops the converter needs around it.
Constants (a second operand, indices, axes, weights) are baked in, so every graph has one input
and one output, as the engines need. Read by scripts/make_op_zoo.py (TensorFlow is imported only
inside the builders' calls)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

Builder = Callable[[Any, Any, np.random.Generator], Any]  # (tf, x, rng) -> y
Rewrite = Callable[[bytes], bytes]  # the converted model -> the zoo's
LayerMaker = Callable[[Any, np.random.Generator], Any]  # (keras, rng) -> a layer


@dataclass(frozen=True)
class Case:
    """One zoo graph: its directory stem, the TFLite op it must contain, its input and how it is made.

    `low`..`high` is the float range the representative data is drawn from, so the int8 and int16
    inputs' scale and zero point come from it (asymmetric ranges give int8 a non-zero zero point)."""

    name: str
    op: str
    shape: tuple[int, ...]
    build: Builder | None
    low: float = -2.0
    high: float = 3.0
    # A Keras layer instead of `build`, for the ops the converter makes only from a Keras model.
    layer: LayerMaker | None = None
    # Quantized by scripts/zoo_hand_quant.py, not the converter (which leaves the op in float).
    by_hand: bool = False
    # The converter's op (and whether it becomes a lookup) that scripts/zoo_hand_quant.swap_op makes
    # `op`: for ops no converter makes from a TensorFlow graph (L2_POOL_2D, EMBEDDING_LOOKUP).
    swap: tuple[str, bool] | None = None
    # A model made without the converter, per type: (kind, low, high, seed) -> the flatbuffer (SVDF).
    make: Callable[[str, float, float, int], bytes] | None = None
    # The types to make (None: every type), and a rewrite of the converted model, for a pair TFLM
    # runs but the converter does not make (it leaves int8 NOT_EQUAL in float).
    types: tuple[str, ...] | None = None
    rewrite: Rewrite | None = None
    convert_as: str | None = None  # the type the converter makes (the rewrite then changes it)


def renamed_op(old: str, new: str, options: str) -> Rewrite:
    """A rewrite that makes every `old` op of a model a `new` one with the same tensors (two ops
    that take the same inputs, such as EQUAL and NOT_EQUAL), its options table `options`."""
    def rewrite(content: bytes) -> bytes:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema

        model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
        old_code, new_code = getattr(schema.BuiltinOperator, old), getattr(schema.BuiltinOperator, new)
        renamed = {i for i, code in enumerate(model.operatorCodes)
                   if max(code.builtinCode, code.deprecatedBuiltinCode) == old_code}
        for i in renamed:
            model.operatorCodes[i].builtinCode = new_code
            model.operatorCodes[i].deprecatedBuiltinCode = min(new_code, 127)
        for op in (op for graph in model.subgraphs for op in graph.operators or [] if op.opcodeIndex in renamed):
            op.builtinOptionsType = getattr(schema.BuiltinOptions, options)
            op.builtinOptions = getattr(schema, options + "T")()
        builder = flatbuffers.Builder(len(content) + 1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    return rewrite


def _const(rng: np.random.Generator, shape: tuple[int, ...], low: float = -1.5, high: float = 2.0) -> np.ndarray:
    return rng.uniform(low, high, size=shape).astype(np.float32)


def _unary(name: str, op: str, fn: Callable[[Any, Any], Any], low: float = -2.0, high: float = 3.0,
           shape: tuple[int, ...] = (1, 4, 6), by_hand: bool = False) -> Case:
    return Case(name, op, shape, lambda tf, x, rng: fn(tf, x), low, high, by_hand=by_hand)


def _binary(name: str, op: str, fn: Callable[[Any, Any, Any], Any], low: float = -2.0, high: float = 3.0,
            const_low: float = -1.5, const_high: float = 2.0) -> list[Case]:
    """The op with a constant second operand: the same shape, broadcast over the last axis, a
    [4, 1] constant broadcast over the first, and the input itself broadcast against a larger
    constant (each way a kernel's broadcast loops can go)."""
    forms = (("", (1, 4, 6), (4, 6)), ("_bcast_last", (1, 4, 6), (6,)), ("_bcast_rows", (1, 4, 6), (4, 1)),
             ("_bcast_input", (1, 1, 6), (4, 6)))
    return [Case(name + suffix, op, shape,
                 lambda tf, x, rng, s=const: fn(tf, x, tf.constant(_const(rng, s, const_low, const_high))),
                 low, high) for suffix, shape, const in forms]


def widened_to_int16(content: bytes) -> bytes:
    """The int8 model with its int8 tensors int16: the same scales, zero point 0, each constant's
    values less its old zero point. For an op that only copies stored values (SELECT_V2), whose
    int16 form TFLM runs but the converter refuses to make."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    for tensor in (t for graph in model.subgraphs for t in graph.tensors if t.type == schema.TensorType.INT8):
        zero_point = int(tensor.quantization.zeroPoint[0])
        tensor.type = schema.TensorType.INT16
        tensor.quantization.zeroPoint = [0] * len(tensor.quantization.zeroPoint)
        buffer = model.buffers[tensor.buffer]
        if buffer.data is not None and len(buffer.data):
            values = np.frombuffer(bytes(bytearray(buffer.data)), np.int8).astype(np.int16) - zero_point
            buffer.data = np.frombuffer(values.astype("<i2").tobytes(), np.uint8)
    builder = flatbuffers.Builder(len(content) * 2 + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _activations() -> list[Case]:
    def hard_swish(tf: Any, x: Any) -> Any:
        return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

    def prelu(keras: Any, rng: np.random.Generator) -> Any:
        # The converter fuses PRELU from a Keras model only (the same formula in a tf.function
        # stays RELU, NEG, MUL, SUB); one alpha per channel, shared over the rows.
        alpha = keras.initializers.Constant(rng.uniform(0.05, 0.4, size=(6,)))
        return keras.layers.PReLU(alpha_initializer=alpha, shared_axes=[1])

    return [
        _unary("relu", "RELU", lambda tf, x: tf.nn.relu(x)),
        _unary("relu6", "RELU6", lambda tf, x: tf.nn.relu6(x), -3.0, 8.0),
        _unary("relu_n1_to_1", "RELU_N1_TO_1", lambda tf, x: tf.minimum(tf.maximum(x, -1.0), 1.0)),
        _unary("relu_0_to_1", "RELU_0_TO_1", lambda tf, x: tf.minimum(tf.maximum(x, 0.0), 1.0)),
        _unary("leaky_relu", "LEAKY_RELU", lambda tf, x: tf.nn.leaky_relu(x, alpha=0.2)),
        Case("prelu", "PRELU", (1, 4, 6), None, layer=prelu),
        _unary("hard_swish", "HARD_SWISH", hard_swish, -4.0, 4.0),
        _unary("elu", "ELU", lambda tf, x: tf.nn.elu(x)),
        _unary("logistic", "LOGISTIC", lambda tf, x: tf.math.sigmoid(x), -6.0, 5.0),
        _unary("tanh", "TANH", lambda tf, x: tf.math.tanh(x), -3.0, 2.5),
        _unary("softmax", "SOFTMAX", lambda tf, x: tf.nn.softmax(x), -4.0, 3.0),
        _unary("log_softmax", "LOG_SOFTMAX", lambda tf, x: tf.nn.log_softmax(x), -4.0, 3.0),
        # differences past diff_min and the output's floor (log_softmax.h's kMinT8 branch)
        _unary("log_softmax_wide", "LOG_SOFTMAX", lambda tf, x: tf.nn.log_softmax(x), -30.0, 30.0),
    ]


def _elementwise() -> list[Case]:
    return [
        _unary("exp", "EXP", lambda tf, x: tf.math.exp(x), -3.0, 2.0),
        _unary("log", "LOG", lambda tf, x: tf.math.log(x), 0.05, 6.0),
        _unary("sqrt", "SQRT", lambda tf, x: tf.math.sqrt(x), 0.0, 5.0),
        _unary("rsqrt", "RSQRT", lambda tf, x: tf.math.rsqrt(x), 0.1, 5.0),
        _unary("square", "SQUARE", lambda tf, x: tf.math.square(x)),
        _unary("abs", "ABS", lambda tf, x: tf.math.abs(x)),
        _unary("neg", "NEG", lambda tf, x: tf.math.negative(x)),
        _unary("floor", "FLOOR", lambda tf, x: tf.math.floor(x)),
        _unary("ceil", "CEIL", lambda tf, x: tf.math.ceil(x)),
        _unary("round", "ROUND", lambda tf, x: tf.math.round(x)),
        _unary("sin", "SIN", lambda tf, x: tf.math.sin(x), -4.0, 4.0),
        _unary("cos", "COS", lambda tf, x: tf.math.cos(x), -4.0, 4.0),
    ]


def _binaries() -> list[Case]:
    cases = []
    for name, op, fn in (
        ("add", "ADD", lambda tf, x, c: x + c),
        ("sub", "SUB", lambda tf, x, c: x - c),
        ("mul", "MUL", lambda tf, x, c: x * c),
        ("maximum", "MAXIMUM", lambda tf, x, c: tf.maximum(x, c)),
        ("minimum", "MINIMUM", lambda tf, x, c: tf.minimum(x, c)),
        ("squared_difference", "SQUARED_DIFFERENCE", lambda tf, x, c: tf.math.squared_difference(x, c)),
        ("floor_div", "FLOOR_DIV", lambda tf, x, c: tf.math.floordiv(x, c)),
        ("floor_mod", "FLOOR_MOD", lambda tf, x, c: tf.math.floormod(x, c)),
        # The comparisons against whole numbers, which the inputs hit (whole float rows; int8's zero
        # point is 0.0): each reaches its equal-values branch.
        ("greater", "GREATER", lambda tf, x, c: tf.math.greater(x, tf.math.round(c))),
        ("greater_equal", "GREATER_EQUAL", lambda tf, x, c: tf.math.greater_equal(x, tf.math.round(c))),
        ("less", "LESS", lambda tf, x, c: tf.math.less(x, tf.math.round(c))),
        ("less_equal", "LESS_EQUAL", lambda tf, x, c: tf.math.less_equal(x, tf.math.round(c))),
        ("equal", "EQUAL", lambda tf, x, c: tf.math.equal(x, tf.math.round(c))),
        ("not_equal", "NOT_EQUAL", lambda tf, x, c: tf.math.not_equal(x, tf.math.round(c))),
    ):
        # FLOOR_DIV and FLOOR_MOD by a divisor away from zero: the quotient stays small.
        const_low = 0.5 if op in ("FLOOR_DIV", "FLOOR_MOD") else -1.5
        cases += _binary(name, op, fn, const_low=const_low)
    # int8 NOT_EQUAL, which TFLM runs: the int8 EQUAL graphs with the op renamed
    cases += [replace(case, name=case.name.replace("equal", "not_equal_renamed", 1), op="NOT_EQUAL", types=("int8",),
                      rewrite=renamed_op("EQUAL", "NOT_EQUAL", "NotEqualOptions"))
              for case in cases if case.op == "EQUAL"]
    # Fused activations: the kernels' output clamps narrower than the type.
    cases.append(Case("add_relu6", "ADD", (1, 4, 6),
                      lambda tf, x, rng: tf.nn.relu6(x + tf.constant(_const(rng, (6,), -2.0, 4.0)))))
    cases.append(Case("mul_relu", "MUL", (1, 4, 6),
                      lambda tf, x, rng: tf.nn.relu(x * tf.constant(_const(rng, (4, 1))))))
    # A Normalization layer's SUB of its mean from pixels in 0..1: int8's outputs are all near ties,
    # so its multipliers must be TFLM's to the last bit (sub_common.cc divides in double).
    cases.append(Case("sub_mean_tie", "SUB", (1, 8, 8, 1),
                      lambda tf, x, rng: x - tf.constant(np.full((1, 1, 1, 1), 0.3, np.float32)), 0.0, 1.0))
    # DIV with the input as divisor: a constant divisor is folded into a MUL by the converter.
    cases += _binary("div", "DIV", lambda tf, x, c: c / x, 0.25, 4.0)
    # ADD_N of inputs quantized alike (TFLM requires it): the input and two reversals of it
    cases.append(_unary("add_n", "ADD_N", lambda tf, x: tf.math.add_n([x, tf.reverse(x, [2]), tf.reverse(x, [1])]),
                        by_hand=True))
    cases.append(Case("select_v2", "SELECT_V2", (1, 4, 6),
                      lambda tf, x, rng: tf.where(x > 0.5, x, tf.constant(_const(rng, (6,))))))
    # A constant condition (broadcast over the rows): the int16 form too, from the int8 graph
    def masked(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        return tf.where(tf.constant([[True], [False], [False], [True]]), x, tf.constant(_const(rng, (6,))))

    cases.append(Case("select_v2_constant_condition", "SELECT_V2", (1, 4, 6), masked, types=("float32", "int8")))
    cases.append(Case("select_v2_constant_condition", "SELECT_V2", (1, 4, 6), masked, types=("int16",),
                      rewrite=widened_to_int16, convert_as="int8"))
    return cases


def _casts() -> list[Case]:
    """CAST between the types: the converter quantizes no CAST, so each is a float32 graph whose
    casts read int8, int16, int32 and bool tensors (the values stay within the narrower type, where
    static_cast is defined; a float truncates toward zero, and the halves of the float rows reach it)."""
    def through(dtype: str, factor: float) -> Builder:
        return lambda tf, x, rng: tf.cast(tf.cast(x * factor, getattr(tf, dtype)), tf.float32) * (1.0 / factor)

    return [
        Case("cast_through_int8", "CAST", (1, 4, 6), through("int8", 30.0)),
        Case("cast_through_int16", "CAST", (1, 4, 6), through("int16", 5000.0)),
        # int8 into int16 and int32, and int16 into int8 (whose low byte CAST keeps, in range here)
        Case("cast_between_ints", "CAST", (1, 4, 6), lambda tf, x, rng: tf.cast(tf.cast(tf.cast(tf.cast(
            tf.cast(x * 30.0, tf.int8), tf.int16), tf.int32), tf.int8), tf.float32)),
        _unary("cast_to_int32", "CAST", lambda tf, x: tf.cast(x * 7.0, tf.int32)),
        _unary("cast_from_bool", "CAST", lambda tf, x: tf.cast(x > 0.5, tf.float32) * x),
    ]


def _reductions() -> list[Case]:
    return [
        _unary("mean", "MEAN", lambda tf, x: tf.reduce_mean(x, axis=1, keepdims=True)),
        _unary("mean_last_axis", "MEAN", lambda tf, x: tf.reduce_mean(x, axis=2)),
        _unary("sum", "SUM", lambda tf, x: tf.reduce_sum(x, axis=1)),
        _unary("reduce_max", "REDUCE_MAX", lambda tf, x: tf.reduce_max(x, axis=2)),
        _unary("reduce_min", "REDUCE_MIN", lambda tf, x: tf.reduce_min(x, axis=1)),
        _unary("arg_max", "ARG_MAX", lambda tf, x: tf.math.argmax(x, axis=2, output_type=tf.int32)),
        _unary("arg_min", "ARG_MIN", lambda tf, x: tf.math.argmin(x, axis=1, output_type=tf.int32)),
        _unary("cumsum", "CUMSUM", lambda tf, x: tf.math.cumsum(x, axis=2), by_hand=True),
        # cumsum.h's other loops: the middle axis, exclusive, reversed
        _unary("cumsum_exclusive_reverse", "CUMSUM",
               lambda tf, x: tf.math.cumsum(x, axis=1, exclusive=True, reverse=True), by_hand=True),
        _unary("l2_normalization", "L2_NORMALIZATION", lambda tf, x: tf.math.l2_normalize(x, axis=-1)),
    ]


def _split_halves(tf: Any, x: Any) -> Any:
    first, second = tf.split(x, 2, axis=2)
    return first - second


def _split_sizes(tf: Any, x: Any) -> Any:
    first, second = tf.split(x, [2, 4], axis=2)
    return tf.concat([second, first], axis=2)


def _unpack(tf: Any, x: Any) -> Any:
    rows = tf.unstack(x, axis=1)
    return rows[0] - rows[3]


def _movement() -> list[Case]:
    image = (1, 4, 4, 3)
    return [
        _unary("reshape", "RESHAPE", lambda tf, x: tf.reshape(x, (1, 3, 8))),
        _unary("pad", "PAD", lambda tf, x: tf.pad(x, [[0, 0], [1, 0], [2, 1]])),
        _unary("concatenation", "CONCATENATION", lambda tf, x: tf.concat([x, x * 0.5], axis=2)),
        _unary("strided_slice", "STRIDED_SLICE", lambda tf, x: x[:, 1:4, 0:6:2]),
        _unary("split", "SPLIT", _split_halves),
        _unary("split_v", "SPLIT_V", _split_sizes),
        _unary("unpack", "UNPACK", _unpack),
        _unary("padv2", "PADV2", lambda tf, x: tf.pad(x, [[0, 0], [0, 2], [1, 1]], constant_values=0.75)),
        _unary("transpose", "TRANSPOSE", lambda tf, x: tf.transpose(x, (0, 2, 1))),
        _unary("slice", "SLICE", lambda tf, x: tf.slice(x, (0, 1, 2), (1, 2, 3))),
        _unary("gather", "GATHER", lambda tf, x: tf.gather(x, [5, 0, 3, 3], axis=2)),
        _unary("gather_nd", "GATHER_ND", lambda tf, x: tf.gather_nd(x[0], [[3, 1], [0, 5], [2, 2]])),
        _unary("pack", "PACK", lambda tf, x: tf.stack([x, x], axis=1)),
        _unary("broadcast_to", "BROADCAST_TO", lambda tf, x: tf.broadcast_to(x, (1, 3, 4, 6)), shape=(1, 1, 4, 6)),
        _unary("mirror_pad_reflect", "MIRROR_PAD", lambda tf, x: tf.pad(x, [[0, 0], [1, 2], [2, 1]], "REFLECT")),
        _unary("mirror_pad_symmetric", "MIRROR_PAD",
               lambda tf, x: tf.pad(x, [[0, 0], [2, 1], [1, 2]], "SYMMETRIC")),
        _unary("reverse_v2", "REVERSE_V2", lambda tf, x: tf.reverse(x, axis=[2])),
        _unary("space_to_depth", "SPACE_TO_DEPTH", lambda tf, x: tf.nn.space_to_depth(x, 2), shape=image),
        _unary("depth_to_space", "DEPTH_TO_SPACE", lambda tf, x: tf.nn.depth_to_space(x, 2), shape=(1, 2, 3, 8)),
        _unary("space_to_batch_nd", "SPACE_TO_BATCH_ND",
               lambda tf, x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [1, 1]]), shape=(1, 2, 4, 3)),
        # A batch of 4 from a batch-1 input: the engines take one row at a time.
        _unary("batch_to_space_nd", "BATCH_TO_SPACE_ND",
               lambda tf, x: tf.batch_to_space(tf.reshape(x, (4, 2, 2, 3)), [2, 2], [[0, 0], [1, 0]]),
               shape=(1, 48)),
        _unary("resize_nearest_neighbor", "RESIZE_NEAREST_NEIGHBOR",
               lambda tf, x: tf.image.resize(x, (7, 6), method="nearest"), shape=image),
        _unary("resize_bilinear", "RESIZE_BILINEAR", lambda tf, x: tf.image.resize(x, (7, 6)), shape=image),
        _unary("resize_bilinear_align_corners", "RESIZE_BILINEAR",
               lambda tf, x: tf.compat.v1.image.resize_bilinear(x, (7, 6), align_corners=True), shape=image),
        # rows of the input looked up by constant ids
        Case("embedding_lookup", "EMBEDDING_LOOKUP", (1, 4, 6),
             lambda tf, x, rng: tf.gather(tf.reshape(x, (4, 6)), [3, 0, 2, 2]), swap=("GATHER", True)),
        # a slice of the input written over the input at constant offsets
        _unary("dynamic_update_slice", "DYNAMIC_UPDATE_SLICE", _dynamic_update_slice, by_hand=True),
    ]


def _dynamic_update_slice(tf: Any, x: Any) -> Any:
    from tensorflow.compiler.tf2xla.python import xla  # noqa: PLC0415 - TensorFlow only inside the builders

    return xla.dynamic_update_slice(x, tf.reverse(x[:, 0:2, 0:3], [2]), tf.constant([0, 2, 1]))


def _svdf(kind: str, low: float, high: float, seed: int) -> bytes:
    from scripts.zoo_svdf import svdf_model  # noqa: PLC0415 - the schema only for this case

    return svdf_model(kind, low, high, seed)


def _svdf_state8(kind: str, low: float, high: float, seed: int) -> bytes:
    from scripts.zoo_svdf import svdf_model  # noqa: PLC0415 - the schema only for this case

    return svdf_model(kind, low, high, seed, state_bits=8)


def _layers() -> list[Case]:
    def dense(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        return tf.matmul(x, tf.constant(_const(rng, (12, 5), -0.6, 0.6))) + tf.constant(_const(rng, (5,)))

    def conv(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        kernel = tf.constant(_const(rng, (3, 3, 3, 4), -0.5, 0.5))
        return tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + tf.constant(_const(rng, (4,))))

    def dense_relu6(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        return tf.nn.relu6(dense(tf, x, rng) * 3.0)

    def conv_strided(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        kernel = tf.constant(_const(rng, (2, 2, 3, 5), -0.5, 0.5))
        return tf.nn.conv2d(x, kernel, 2, "VALID") + tf.constant(_const(rng, (5,)))

    def depthwise(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        kernel = tf.constant(_const(rng, (3, 3, 3, 2), -0.5, 0.5))
        return tf.nn.depthwise_conv2d(x, kernel, (1, 1, 1, 1), "VALID") + tf.constant(_const(rng, (6,)))

    def transpose_conv(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        kernel = tf.constant(_const(rng, (3, 3, 2, 3), -0.5, 0.5))  # (h, w, out, in)
        return tf.nn.conv2d_transpose(x, kernel, (1, 8, 8, 2), 2, "SAME") + tf.constant(_const(rng, (2,)))

    def transpose_conv_deep(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        # more than 16 input channels: CMSIS-NN runs it as a convolution over the upscaled input
        # (VALID and an odd output: TFLM's padding offsets)
        kernel = tf.constant(_const(rng, (3, 3, 4, 20), -0.3, 0.3))
        return tf.nn.conv2d_transpose(x, kernel, (1, 7, 7, 4), 2, "VALID") + tf.constant(_const(rng, (4,)))

    def transpose_conv_wide(tf: Any, x: Any, rng: np.random.Generator) -> Any:
        # many output channels from one pixel: the reversed kernel CMSIS-NN copies (20 x 9 x 24
        # bytes) outgrows the grid, so the C engine lends it its shared scratch instead
        kernel = tf.constant(_const(rng, (3, 3, 24, 20), -0.3, 0.3))
        return tf.nn.conv2d_transpose(x, kernel, (1, 3, 3, 24), 2, "VALID")

    image = (1, 4, 4, 3)
    return [
        Case("fully_connected", "FULLY_CONNECTED", (1, 12), dense),
        Case("fully_connected_relu6", "FULLY_CONNECTED", (1, 12), dense_relu6),
        Case("conv_2d", "CONV_2D", image, conv),
        Case("conv_2d_strided", "CONV_2D", image, conv_strided),
        Case("depthwise_conv_2d", "DEPTHWISE_CONV_2D", image, depthwise),
        _unary("max_pool_2d", "MAX_POOL_2D", lambda tf, x: tf.nn.max_pool2d(x, 2, 2, "VALID"), shape=image),
        _unary("average_pool_2d", "AVERAGE_POOL_2D", lambda tf, x: tf.nn.avg_pool2d(x, 3, 1, "SAME"), shape=image),
        Case("l2_pool_2d", "L2_POOL_2D", image, lambda tf, x, rng: tf.nn.avg_pool2d(x, 3, 2, "SAME"),
             swap=("AVERAGE_POOL_2D", False)),
        Case("transpose_conv", "TRANSPOSE_CONV", image, transpose_conv),
        Case("transpose_conv_deep", "TRANSPOSE_CONV", (1, 3, 3, 20), transpose_conv_deep),
        Case("transpose_conv_wide", "TRANSPOSE_CONV", (1, 1, 1, 20), transpose_conv_wide),
        Case("svdf", "SVDF", (1, 12), None, make=_svdf),
        Case("svdf_state8", "SVDF", (1, 12), None, make=_svdf_state8),
        # Both operands from the input, as in attention: a constant one becomes a FULLY_CONNECTED.
        _unary("batch_matmul", "BATCH_MATMUL", lambda tf, x: tf.matmul(x, x, transpose_b=True)),
    ]


def all_cases() -> list[Case]:
    """Every zoo graph, in a fixed order."""
    return _activations() + _elementwise() + _binaries() + _casts() + _reductions() + _movement() + _layers()
