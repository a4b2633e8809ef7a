"""Recurrent layers rebuilt unrolled over their fixed number of time steps.

TensorFlow converts a Keras GRU or SimpleRNN into a WHILE loop, and its int8 calibration of that
loop can crash (a GRU segfaults in TensorFlow 2.21). Unrolled, the same weights become plain
FULLY_CONNECTED, ADD, MUL, LOGISTIC and TANH ops per time step, which quantize and run on TFLM;
the cost is flash, since every step carries its own copy of the constants (the report shows the
size). The pipeline uses this only when converting the loop failed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from helpers.frontend.model_loader import LoadedModel

RECURRENT = ("GRU", "SimpleRNN", "LSTM")


def _rolled(layer: Any) -> bool:
    """A recurrent layer not unrolled yet, or a Bidirectional wrapper around one (Keras 3 converts
    both directions to WHILE loops, whose int8 calibration segfaults in TensorFlow 2.21)."""
    if type(layer).__name__ == "Bidirectional":
        return _rolled(layer.forward_layer)
    return type(layer).__name__ in RECURRENT and not layer.get_config().get("unroll", False)


def recurrent_layers(model: LoadedModel) -> list[str]:
    """Names of the model's recurrent layers that are not unrolled yet."""
    layers = getattr(model.keras, "layers", None) or []
    return [layer.name for layer in layers if _rolled(layer)]


def unrolled(model: LoadedModel) -> LoadedModel | None:
    """The model with every recurrent layer unrolled and the same weights, or None when it has none
    (or is not a Keras model, e.g. ONNX)."""
    if model.is_foreign or not recurrent_layers(model):
        return None
    if model.is_keras2:
        from helpers.frontend.tf_runtime import tf_keras as keras_module
    else:
        import keras as keras_module

    def rebuild(layer: Any) -> Any:
        config = layer.get_config()
        if type(layer).__name__ in RECURRENT:
            config["unroll"] = True
        elif type(layer).__name__ == "Bidirectional":  # both directions: the wrapped layer's config
            for key in ("layer", "backward_layer"):
                if isinstance(config.get(key), dict) and type(layer.forward_layer).__name__ in RECURRENT:
                    config[key]["config"]["unroll"] = True
        return type(layer).from_config(config)

    clone = keras_module.models.clone_model(model.keras, clone_function=rebuild)
    clone.set_weights(model.keras.get_weights())
    return replace(model, keras=clone)
