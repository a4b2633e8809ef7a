"""One table: variant name -> how to configure the TFLite converter.

Naming scheme: a variant's name is also its export folder. `float32` is the plain conversion;
the quantized variants are named after what they store (`int8`, `int16x8`, ...), while
`quantization` keeps the `-q` value the user typed. Optimized models prefix the name
(`pruned_int8`, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from helpers.config import Quantization

Configure = Callable[[Any, Callable[[], Any] | None], None]


@dataclass(frozen=True)
class VariantRecipe:
    """How to build one TFLite variant."""

    name: str
    quantization: Quantization
    needs_calibration: bool
    configure: Configure
    description: str


def _float32(converter: Any, representative: Callable[[], Any] | None) -> None:
    converter.optimizations = []


def _dynamic_range(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float16(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _integer_with_float_fallback(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative


def _int8(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def _int16x8(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = tf.int16
    converter.inference_output_type = tf.int16


RECIPES: dict[Quantization, VariantRecipe] = {
    Quantization.NONE: VariantRecipe("float32", Quantization.NONE, False, _float32,
                                     "float32 weights and activations"),
    Quantization.DYNAMIC_RANGE: VariantRecipe("dynamic_range", Quantization.DYNAMIC_RANGE, False, _dynamic_range,
                                              "int8 weights, float activations computed at run time"),
    Quantization.FLOAT16: VariantRecipe("float16", Quantization.FLOAT16, False, _float16,
                                        "float16 weights, float32 compute"),
    Quantization.INTEGER_WITH_FLOAT_FALLBACK: VariantRecipe(
        "integer_with_float_fallback", Quantization.INTEGER_WITH_FLOAT_FALLBACK, True,
        _integer_with_float_fallback, "int8 weights and activations, float input/output, float ops where needed"),
    Quantization.INT8: VariantRecipe("int8", Quantization.INT8, True, _int8,
                                     "int8 everything, int8 input/output"),
    Quantization.INT16X8: VariantRecipe("int16x8", Quantization.INT16X8, True, _int16x8,
                                        "int8 weights, int16 activations, int16 input/output"),
}


def recipes_for(quantizations: tuple[Quantization, ...]) -> list[VariantRecipe]:
    """float32 first (always built: it is the baseline of every comparison), then the selected ones."""
    return [RECIPES[Quantization.NONE]] + [RECIPES[q] for q in quantizations if q is not Quantization.NONE]


def _qat_float_io(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    # The fake-quant ranges learnt in training replace calibration; layers that were not
    # quantization-aware stay in float.
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _qat_int8_io(converter: Any, representative: Callable[[], Any] | None) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


QAT_RECIPES = {
    False: VariantRecipe("qat", Quantization.INTEGER_WITH_FLOAT_FALLBACK, False, _qat_float_io,
                         "quantization-aware trained, int8 inside, float input/output"),
    True: VariantRecipe("qat_int8", Quantization.INT8, False, _qat_int8_io,
                        "quantization-aware trained, int8 inside, int8 input/output"),
}
