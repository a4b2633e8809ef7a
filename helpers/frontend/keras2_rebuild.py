"""Keras 3 models -> Keras 2 (tf_keras) models with the same weights.

tensorflow-model-optimization only understands Keras 2 layers. A model saved by Keras 3
(`.keras`) is rebuilt layer by layer as a tf_keras Sequential model, its weights copied, and
its outputs compared with the original before anyone relies on it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers.errors import ModelError, first_line
from helpers.frontend.tf_runtime import tf_keras

# Config keys that only describe initialisation or Keras 3 internals; weights are copied afterwards.
_DROPPED_KEYS = {"kernel_initializer", "bias_initializer", "recurrent_initializer", "embeddings_initializer",
                 "depthwise_initializer", "pointwise_initializer", "beta_initializer", "gamma_initializer",
                 "moving_mean_initializer", "moving_variance_initializer", "kernel_regularizer",
                 "bias_regularizer", "activity_regularizer", "recurrent_regularizer", "kernel_constraint",
                 "bias_constraint", "recurrent_constraint", "quantization_config", "lora_rank", "lora_alpha",
                 "seed", "synchronized", "build_config", "gamma_regularizer", "beta_regularizer",
                 "gamma_constraint", "beta_constraint", "depthwise_regularizer", "depthwise_constraint"}
MAX_DIFFERENCE = 1e-4


def _clean_config(config: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for key, value in config.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "dtype" and isinstance(value, dict):  # Keras 3 DTypePolicy
            value = value.get("config", {}).get("name", "float32")
        if key == "activation" and isinstance(value, dict):
            value = value.get("config", {}).get("name", value.get("class_name"))
        cleaned[key] = value
    return cleaned


def to_keras2(model: Any, input_shape: tuple[int, ...], check_x: np.ndarray, path: Any) -> Any:
    """Rebuild a Keras 3 model as tf_keras with identical outputs, or raise ModelError."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    rebuilt = [tf_keras.layers.Input(input_shape)]
    for layer in layers:
        cls = getattr(tf_keras.layers, type(layer).__name__, None)
        if cls is None:
            raise ModelError(f"layer {layer.name!r} ({type(layer).__name__}) has no Keras 2 equivalent, so "
                             "tensorflow-model-optimization cannot process this Keras 3 model",
                             "save the model with tf_keras (.h5 or SavedModel), or use --PTQ only", path)
        try:
            rebuilt.append(cls.from_config(_clean_config(layer.get_config())))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"cannot rebuild Keras 3 layer {layer.name!r} as Keras 2 ({first_line(exc, 120)})",
                             "save the model with tf_keras (.h5 or SavedModel), or use --PTQ only", path) from None
    try:
        # A merge layer (Add, Concatenate) or a branch does not stack: building or loading the
        # weights fails, and a stack that builds but wires differently fails the comparison below.
        keras2 = tf_keras.Sequential(rebuilt)
        for source, target in zip(layers, keras2.layers):
            target.set_weights(source.get_weights())
    except (ValueError, TypeError):
        raise ModelError("the Keras 3 model is not a plain stack of layers, so it cannot be rebuilt as Keras 2",
                         "save the model with tf_keras (.h5 or SavedModel), or use --PTQ only", path) from None
    sample = check_x[:64]
    difference = float(np.max(np.abs(np.asarray(model(sample)) - keras2.predict(sample, verbose=0))))
    if difference > MAX_DIFFERENCE:
        raise ModelError(f"the Keras 2 rebuild of the Keras 3 model differs by {difference:.2g}",
                         "save the model with tf_keras (.h5 or SavedModel), or use --PTQ only", path)
    return keras2
