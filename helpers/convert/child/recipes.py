"""How the TFLite converter is configured for each variant plan: one function per setting.

The plan (core/variant.py) says what to build; this module is the only one that knows which
converter attributes that takes.
"""
from __future__ import annotations

from typing import Any, Callable

from helpers.core.quantization import Quantization
from helpers.core.variant import VariantPlan

Representative = Callable[[], Any] | None


def _float32(converter: Any, representative: Representative) -> None:
    converter.optimizations = []


def _dynamic_range(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float16(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _integer_with_float_fallback(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative


def _int8(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def _int16x8(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = tf.int16
    converter.inference_output_type = tf.int16


def _qat(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    # The fake-quant ranges learnt in training replace calibration; layers that were not
    # quantization-aware stay in float.
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _qat_int8_io(converter: Any, representative: Representative) -> None:
    import tensorflow as tf

    _qat(converter, representative)
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


_POST_TRAINING: dict[Quantization, Callable[[Any, Representative], None]] = {
    Quantization.NONE: _float32,
    Quantization.DYNAMIC_RANGE: _dynamic_range,
    Quantization.FLOAT16: _float16,
    Quantization.INTEGER_WITH_FLOAT_FALLBACK: _integer_with_float_fallback,
    Quantization.INT8: _int8,
    Quantization.INT16X8: _int16x8,
}


def configure(converter: Any, plan: VariantPlan, representative: Representative) -> None:
    """Set the converter up for `plan` (quantization-aware trained models skip calibration)."""
    if plan.lineage.qat:
        (_qat_int8_io if plan.quantization is Quantization.INT8 else _qat)(converter, representative)
    else:
        _POST_TRAINING[plan.quantization](converter, representative)
