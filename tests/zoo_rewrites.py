"""Models whose converted graph holds ops TFLM has no kernel for, so the tool's graph rewrites
(helpers/rewrite/) have to act: trained in seconds on scikit-learn's digits (8x8x1), fixed seeds.

- `unet_digits`: a U-Net-like classifier, UpSampling2D (nearest) + Concatenate; Keras 3 lowers
  the upsampling to TILE + RESHAPE.
- `attention_digits`: a tiny attention block over the 8 image rows: MultiHeadAttention,
  LayerNormalization (Keras 3's has a float NEG) and Dense layers with `gelu`.
- `smooth_iris`: an iris MLP with `mish` and `selu` activations, which convert to int8 EXP and
  LOG, ops TFLM has in float only. (With `softplus` stacked on them the converter's own int8
  model falls to a third of the rows right: its EXP's range swamps the LOG.)

    python -m tests.zoo_rewrites DIR    # build them by hand
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tests.zoo import _write


def _digits() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    from sklearn.datasets import load_digits

    data = load_digits()
    frame = pd.DataFrame(data.data.astype(np.float32), columns=[f"p{i}" for i in range(64)])
    frame["digit"] = data.target
    return data.data.astype(np.float32) / 16.0, data.target, frame


def unet_digits(folder: Path) -> Path:
    """Conv, pool, conv, UpSampling2D(2), Concatenate with the skip, conv, pooled head; `.keras`."""
    import keras

    keras.utils.set_random_seed(7)
    x, y, frame = _digits()
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    skip = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    down = layers.Conv2D(16, 3, padding="same", activation="relu")(layers.MaxPooling2D(2)(skip))
    up = layers.UpSampling2D(2)(down)
    merged = layers.Concatenate()([up, skip])
    head = layers.GlobalAveragePooling2D()(layers.Conv2D(16, 3, padding="same", activation="relu")(merged))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(head))
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:1078]
    model.fit(x[order].reshape(-1, 8, 8, 1), y[order], epochs=15, batch_size=32, verbose=0)
    specs = {"name": "zoo_unet", "task": "classification", "input": {"shape": [8, 8, 1], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, frame, "model.keras")


def attention_digits(folder: Path) -> Path:
    """The 8 rows of a digit as 8 tokens of 8 features: Dense, MultiHeadAttention, residual,
    LayerNormalization, two Dense(gelu), pooled head; `.keras` (Keras 3 saves gelu's exact,
    erf form; the tanh form is tested on a traced function, tests/e2e/test_rewrites.py)."""
    import keras

    keras.utils.set_random_seed(7)
    x, y, frame = _digits()
    layers = keras.layers
    inputs = keras.Input((8, 8))
    tokens = layers.Dense(16)(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8)(tokens, tokens)
    normed = layers.LayerNormalization()(layers.Add()([tokens, attended]))
    hidden = layers.Dense(32, activation="gelu")(normed)
    hidden = layers.Dense(16, activation=keras.activations.gelu)(hidden)
    pooled = layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(pooled))
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:1078]
    model.fit(x[order].reshape(-1, 8, 8), y[order], epochs=15, batch_size=32, verbose=0)
    specs = {"name": "zoo_attention", "task": "classification", "input": {"shape": [8, 8], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, frame, "model.keras")


def smooth_iris(folder: Path) -> Path:
    """Dense(mish), Dense(selu), softmax head on iris; `.keras`."""
    import keras
    from sklearn.datasets import load_iris

    keras.utils.set_random_seed(7)
    data = load_iris()
    x = data.data.astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0)
    layers = keras.layers
    model = keras.Sequential([keras.Input((4,)), layers.Dense(12, activation="mish"),
                              layers.Dense(12, activation="selu"), layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit((x - mean) / std, data.target, epochs=40, batch_size=16, verbose=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame["species"] = data.target
    specs = {"name": "zoo_smooth", "task": "classification",
             "input": {"shape": [4], "mean": mean.round(4).tolist(), "std": std.round(4).tolist()},
             "output": {"shape": [3]}}
    return _write(folder, model, specs, frame, "model.keras")


REWRITE_ZOO = {"unet": unet_digits, "attention": attention_digits, "smooth": smooth_iris}

if __name__ == "__main__":
    for name, build in REWRITE_ZOO.items():
        print(name, build(Path(sys.argv[1]) / name))
