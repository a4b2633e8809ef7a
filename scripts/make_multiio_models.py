"""The multi-input, multi-output test models (tests/golden/multiio/<quantization>/model.tflite):
one tiny Keras functional model with two inputs, `imu` (6,) and `audio` (4, 3), and two outputs,
`kind` (a softmax of 3) and `level` (a linear value), trained a few steps on random data (fixed
seeds), converted to float32, int8 (int8 input and output) and int16x8. The graph's inputs and
outputs are put in that order (the converter orders them by name). Run with TensorFlow:

    python scripts/make_multiio_models.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "golden" / "multiio"
INPUTS = (("imu", (6,)), ("audio", (4, 3)))
OUTPUTS = ("kind", "level")


def _model():  # type: ignore[no-untyped-def]
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    imu = tf.keras.Input((6,), name="imu")
    audio = tf.keras.Input((4, 3), name="audio")
    a = tf.keras.layers.Conv1D(4, 2, activation="relu")(audio)
    a = tf.keras.layers.Flatten()(a)
    x = tf.keras.layers.Concatenate()([tf.keras.layers.Dense(8, activation="relu")(imu), a])
    x = tf.keras.layers.Dense(8, activation="relu")(x)
    kind = tf.keras.layers.Dense(3, activation="softmax", name="kind")(x)
    level = tf.keras.layers.Dense(1, name="level")(x)
    model = tf.keras.Model([imu, audio], [kind, level])
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 4, 3)).astype("float32")]
    ys = [rng.integers(0, 3, 64), rng.normal(size=(64, 1)).astype("float32")]
    model.fit(xs, ys, epochs=3, batch_size=16, verbose=0)
    return model, xs


def _reorder(content: bytes) -> bytes:
    """Graph inputs and outputs in the Keras model's order (imu, audio; kind, level), read off the
    signature's names (the converter orders them its own way)."""
    from helpers.core.flatbuffer import parse_model
    from helpers.rewrite.edit import pack

    model = parse_model(content)
    graph, signature = model.subgraphs[0], model.signatureDefs[0]

    def order(maps, names):  # type: ignore[no-untyped-def]
        index = {(m.name.decode() if isinstance(m.name, bytes) else m.name): m.tensorIndex for m in maps}
        # Keras 3 names a functional model's outputs output_0, output_1, ... in its own order
        return [index.get(name, index.get(f"output_{number}")) for number, name in enumerate(names)]

    graph.inputs = order(signature.inputs, [n for n, _ in INPUTS])
    graph.outputs = order(signature.outputs, list(OUTPUTS))
    return pack(model)


def _convert(model, xs, quantization: str) -> bytes:  # type: ignore[no-untyped-def]
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != "float32":
        def representative():  # type: ignore[no-untyped-def]
            for i in range(32):
                yield [xs[0][i:i + 1], xs[1][i:i + 1]]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        if quantization == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return converter.convert()


def main() -> None:
    model, xs = _model()
    for quantization in ("float32", "int8", "int16x8"):
        content = _reorder(_convert(model, xs, quantization))
        folder = OUT / quantization
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.tflite").write_bytes(content)
        print(quantization, len(content), "bytes")


if __name__ == "__main__":
    main()
