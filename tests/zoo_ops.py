"""Models shaped like the ones users report in TFLM's and esp-tflite-micro's issues, for the
engines' op coverage (issue 34): MobileNetV3-Small (HARD_SWISH, squeeze-and-excite), a tabular MLP
with BatchNormalization, LeakyReLU and PReLU, a convolutional autoencoder (Conv2DTranspose) and an
attention block with LayerNormalization. Each trains in seconds on scikit-learn's digits with fixed
seeds and is written as a user would assemble it (tests/zoo.py's format).

    python -m tests.zoo_ops /tmp/zoo_ops
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from tests.zoo import _write


def _digits():
    import keras
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(7)
    data = load_digits()
    return keras, data.data.astype(np.float32), data.target, np.random.default_rng(0).permutation(len(data.target))


def _image_frame(x: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(x, columns=[f"p{i}" for i in range(x.shape[1])])
    frame["digit"] = labels
    return frame


def mobilenet_v3_small(folder: Path) -> Path:
    """keras.applications' MobileNetV3-Small (alpha 0.75) on digits upscaled to 32x32x3."""
    keras, x, y, order = _digits()
    images = np.repeat(np.repeat(x.reshape(-1, 8, 8, 1), 4, axis=1), 4, axis=2)
    images = np.repeat(images, 3, axis=3)
    model = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), alpha=0.75, weights=None, classes=10,
                                                include_preprocessing=False, dropout_rate=0.0)
    model.compile(keras.optimizers.Adam(0.003), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[order[:1000]] / 16.0, y[order[:1000]], epochs=3, batch_size=32, verbose=0)
    specs = {"name": "mobilenet_v3_small", "task": "classification", "input": {"shape": [32, 32, 3], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, _image_frame(images.reshape(len(y), -1), y), "model.keras")


def mlp_prelu(folder: Path) -> Path:
    """Tabular MLP: Dense, BatchNormalization, LeakyReLU, Dense, PReLU, softmax (the digits as 64 features)."""
    keras, x, y, order = _digits()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((64,)), layers.Dense(32), layers.BatchNormalization(), layers.LeakyReLU(negative_slope=0.1),
        layers.Dense(16), layers.PReLU(), layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[order[:1078]] / 16.0, y[order[:1078]], epochs=20, batch_size=32, verbose=0)
    specs = {"name": "mlp_prelu", "task": "classification", "input": {"shape": [64], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, _image_frame(x, y), "model.keras")


def autoencoder(folder: Path) -> Path:
    """Convolutional autoencoder: Conv2D down, Conv2DTranspose up, the 8x8 digit back (regression)."""
    keras, x, y, order = _digits()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(1, 3, padding="same")])
    model.compile(keras.optimizers.Adam(0.005), "mse")
    images = x.reshape(-1, 8, 8, 1) / 16.0
    model.fit(images[order[:1078]], images[order[:1078]], epochs=20, batch_size=32, verbose=0)
    frame = pd.DataFrame(x, columns=[f"p{i}" for i in range(64)])
    for i in range(64):
        frame[f"out{i}"] = x[:, i]
    specs = {"name": "autoencoder", "task": "regression", "input": {"shape": [8, 8, 1], "std": 16.0},
             "output": {"shape": [8, 8, 1], "std": 16.0}}
    return _write(folder, model, specs, frame, "model.keras")


def attention(folder: Path) -> Path:
    """A tiny transformer block on the digit's 8 rows as a sequence: MultiHeadAttention,
    LayerNormalization, a feed-forward Dense pair, global average pooling, softmax."""
    keras, x, y, order = _digits()
    layers = keras.layers
    inputs = keras.Input((8, 8))
    h = layers.Dense(16)(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    h = layers.LayerNormalization()(h + attended)
    h = layers.LayerNormalization()(h + layers.Dense(16)(layers.Dense(32, activation="relu")(h)))
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[order[:1078]].reshape(-1, 8, 8) / 16.0, y[order[:1078]], epochs=15, batch_size=32, verbose=0)
    specs = {"name": "attention", "task": "classification", "input": {"shape": [8, 8], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, _image_frame(x, y), "model.keras")


ZOO_OPS: dict[str, Callable[[Path], Path]] = {
    "mobilenet_v3_small": mobilenet_v3_small, "mlp_prelu": mlp_prelu, "autoencoder": autoencoder,
    "attention": attention,
}


if __name__ == "__main__":
    for name, build in ZOO_OPS.items():
        if len(sys.argv) < 3 or name in sys.argv[2:]:
            print(name, build(Path(sys.argv[1]) / name))
