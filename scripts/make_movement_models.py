"""Writes tests/golden/movement/<case>__<float32|int8|int16>.tflite: one tiny graph per data-movement or
binary op the engines lower, made by TensorFlow's converter so it carries real TFLite options and
quantization (tests/unit/test_movement_models.py runs them on TFLM, the C engine and MicroPython).

    python scripts/make_movement_models.py

Each graph has one input and one output (the engines' form); constants are folded into the file."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "movement"


def _cases(tf) -> dict[str, tuple[tuple[int, ...], Callable]]:
    """case -> (input shape, the graph as a function of its input)."""
    rng = np.random.default_rng(3)
    c4 = tf.constant(rng.uniform(0.5, 2.0, (1, 1, 4)).astype(np.float32) * np.array([1, -1, 1, -1], np.float32))
    v1 = tf.compat.v1
    return {
        "transpose": ((1, 3, 4, 2), lambda x: tf.transpose(x, [0, 2, 1, 3])),
        "transpose_3d": ((1, 5, 3), lambda x: tf.transpose(x, [0, 2, 1])),
        "slice": ((1, 5, 6, 2), lambda x: tf.slice(x, [0, 1, 2, 0], [1, 3, -1, 2])),
        "gather": ((1, 6, 4), lambda x: tf.gather(x, [3, 0, 0, 5, 1], axis=1)),
        "gather_nd": ((1, 4, 5, 2), lambda x: tf.gather_nd(x, [[0, 1, 2], [0, 3, 4], [0, 0, 0]])),
        "broadcast_to": ((1, 1, 4), lambda x: tf.broadcast_to(x, (1, 3, 4)) * 1.0),
        "mirror_pad_reflect": ((1, 4, 5, 2), lambda x: tf.pad(x, [[0, 0], [2, 1], [1, 3], [0, 0]], "REFLECT")),
        "mirror_pad_symmetric": ((1, 4, 5, 2), lambda x: tf.pad(x, [[0, 0], [3, 1], [1, 5], [0, 0]], "SYMMETRIC")),
        "space_to_depth": ((1, 4, 6, 2), lambda x: tf.nn.space_to_depth(x, 2)),
        "depth_to_space": ((1, 2, 3, 8), lambda x: tf.nn.depth_to_space(x, 2)),
        "space_to_batch_nd": ((1, 4, 6, 2), lambda x: tf.space_to_batch_nd(x, [2, 3], [[0, 0], [0, 0]])),
        "space_to_batch_nd_padded": ((1, 4, 5, 2), lambda x: tf.space_to_batch_nd(x, [2, 2], [[0, 2], [1, 0]])),
        # int8: the sum's zero point is -128, and TFLM pads with an offset it never sets (refused)
        "space_to_batch_nd_offset": ((1, 4, 5, 2), lambda x: tf.space_to_batch_nd(x + 1.0, [2, 2], [[0, 2], [1, 0]])),
        "batch_to_space_nd": ((1, 4, 6, 2), lambda x: tf.batch_to_space(
            tf.reverse(tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]]), [0]), [2, 2], [[1, 0], [0, 2]])),
        "reverse_v2": ((1, 3, 4, 2), lambda x: tf.reverse(x, [1, 2])),
        "resize_nearest": ((1, 3, 4, 2), lambda x: v1.image.resize_nearest_neighbor(x, (7, 5))),
        "resize_nearest_align": ((1, 3, 4, 2), lambda x: v1.image.resize_nearest_neighbor(
            x, (7, 9), align_corners=True)),
        "resize_nearest_half_pixel": ((1, 5, 4, 2), lambda x: v1.image.resize_nearest_neighbor(
            x, (3, 9), half_pixel_centers=True)),
        "tile": ((1, 2, 3), lambda x: tf.tile(x, [1, 3, 2])),  # not in TFLM: checked against LiteRT
        "pack": ((1, 4, 6), lambda x: tf.stack([x[:, 0], x[:, 2], x[:, 3]], axis=1)),
        "maximum": ((1, 3, 4), lambda x: tf.maximum(x, tf.reverse(x, [1]))),
        "minimum": ((1, 3, 4), lambda x: tf.minimum(tf.reverse(x, [2]), x)),
        "maximum_broadcast": ((1, 3, 4), lambda x: tf.maximum(x, c4)),
        # x / constant becomes a MUL by the reciprocal: only a divisor computed at run time stays DIV
        "div_by_input": ((1, 3, 4), lambda x: tf.math.divide(c4, x)),
        "squared_difference": ((1, 3, 4), lambda x: tf.math.squared_difference(x, c4)),
        "floor_div": ((1, 3, 4), lambda x: tf.math.floordiv(x * 4.0, c4)),
        "floor_mod": ((1, 3, 4), lambda x: tf.math.floormod(x * 4.0, c4)),
    }


# The cases also made as int16x8 graphs (int16 input and output): those whose int16 op TFLM runs.
INT16_CASES = ("transpose", "transpose_3d", "slice", "broadcast_to", "reverse_v2", "resize_nearest",
               "resize_nearest_align", "resize_nearest_half_pixel", "pack", "minimum")


def _convert(tf, shape: tuple[int, ...], graph: Callable, kind: str) -> bytes:
    function = tf.function(graph, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
    if kind != "float32":
        rng = np.random.default_rng(0)

        def rows():
            for _ in range(64):
                yield [rng.uniform(-1.0, 1.0, shape).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = rows
        ops = tf.lite.OpsSet
        converter.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8 if kind == "int8" else
                                               ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8 if kind == "int8" else tf.int16
    return converter.convert()


def main(selected: list[str]) -> int:
    import tensorflow as tf

    OUT.mkdir(parents=True, exist_ok=True)
    for case, (shape, graph) in _cases(tf).items():
        if selected and case not in selected:
            continue
        for kind in ("float32", "int8", "int16") if case in INT16_CASES else ("float32", "int8"):
            try:
                content = _convert(tf, shape, graph, kind)
            except Exception as exc:  # a pair the converter refuses: said, and left out
                print(f"{case} {kind}: not converted: {str(exc).splitlines()[0][:120]}")
                continue
            (OUT / f"{case}__{kind}.tflite").write_bytes(content)
            print(f"{case} {kind}: {len(content)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
