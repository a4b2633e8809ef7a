"""A zoo of small models the tool was not tuned on, trained in seconds on data sets that ship inside
scikit-learn and statsmodels, with fixed seeds. `build_zoo(folder)` writes one model directory per
entry (model file, specs.json, data.csv) as a user would assemble it.

    python -m tests.zoo /tmp/zoo        # build them by hand, e.g. to try the tool on them

Every model trains on the first 60% of its rows (time series: the oldest 60%); the CSV holds
every row, so the tool's own split decides what it calibrates, fine-tunes and evaluates on.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _write(folder: Path, model, specs: dict, frame: pd.DataFrame, filename: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if filename == "saved_model":
        model.save(folder / "saved_model", save_format="tf")
    else:
        model.save(folder / filename)
    (folder / "specs.json").write_text(json.dumps(specs, indent=2), encoding="utf-8")
    frame.to_csv(folder / "data.csv", index=False)
    return folder


def _windows(series: np.ndarray, width: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(series.astype(np.float32), width + 1)


def _k2():
    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    seed_everything(7)
    return tf_keras


def mlp_iris(folder: Path) -> Path:
    """MLP classifier, class names in the CSV, Keras 2 `.h5`."""
    from sklearn.datasets import load_iris

    keras = _k2()
    data = load_iris()
    x = data.data.astype(np.float32)
    mean, std = x.mean(0), x.std(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:90]
    model.fit((x[order] - mean) / std, data.target[order], epochs=80, batch_size=16, verbose=0)
    frame = pd.DataFrame(x, columns=data.feature_names)
    frame["species"] = [str(data.target_names[t]) for t in data.target]
    specs = {"name": "zoo_mlp_iris", "task": "classification",
             "input": {"shape": [4], "mean": mean.tolist(), "std": std.tolist()},
             "output": {"shape": [3], "classes": [str(n) for n in data.target_names]}}
    return _write(folder, model, specs, frame, "model.h5")


def binary_cancer(folder: Path) -> Path:
    """Binary sigmoid classifier, Keras 3 `.keras`."""
    import keras
    from sklearn.datasets import load_breast_cancer

    keras.utils.set_random_seed(7)
    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    mean, std = x.mean(0), x.std(0)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:340]
    model.fit((x[order] - mean) / std, data.target[order], epochs=30, batch_size=32, verbose=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(30)])
    frame["malignant"] = data.target
    specs = {"name": "zoo_binary_cancer", "task": "classification",
             "input": {"shape": [30], "mean": mean.tolist(), "std": std.tolist()}, "output": {"shape": [1]}}
    return _write(folder, model, specs, frame, "model.keras")


def multi_output_diabetes(folder: Path) -> Path:
    """Regressor with three outputs, SavedModel directory."""
    from sklearn.datasets import load_diabetes

    keras = _k2()
    data = load_diabetes()
    x = data.data.astype(np.float32)
    # three targets a user might predict together: the disease progression and two of the blood serum measures
    y = np.stack([data.target, data.data[:, 4] * 1000, data.data[:, 5] * 1000], axis=1).astype(np.float32)
    features = np.delete(x, [4, 5], axis=1)
    y_mean, y_std = y.mean(0), y.std(0)
    model = keras.Sequential([keras.layers.Input((8,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    order = np.random.default_rng(0).permutation(len(x))[:265]
    model.fit(features[order] / 0.05, (y[order] - y_mean) / y_std, epochs=60, batch_size=32, verbose=0)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(8)])
    for i in range(3):
        frame[f"y{i}"] = y[:, i]
    specs = {"name": "zoo_multi_output", "task": "regression", "input": {"shape": [8], "std": 0.05},
             "output": {"shape": [3], "mean": y_mean.tolist(), "std": y_std.tolist()}}
    return _write(folder, model, specs, frame, "saved_model")


def cnn_bn_digits(folder: Path) -> Path:
    """CNN with BatchNormalization, DepthwiseConv2D, pooling, 1x1 conv, global pooling; Keras 3 `.keras`."""
    import keras
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(7)
    data = load_digits()
    x = data.data.astype(np.float32).reshape(-1, 8, 8, 1)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        layers.DepthwiseConv2D(3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(2), layers.Conv2D(32, 1, activation="relu"), layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.002), "sparse_categorical_crossentropy", metrics=["accuracy"])
    order = np.random.default_rng(0).permutation(len(x))[:1078]
    model.fit(x[order] / 16.0, data.target[order], epochs=25, batch_size=32, verbose=0)
    frame = pd.DataFrame(data.data.astype(np.float32), columns=[f"p{i}" for i in range(64)])
    frame["digit"] = data.target
    specs = {"name": "zoo_cnn_bn", "task": "classification", "input": {"shape": [8, 8, 1], "std": 16.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, frame, "model.keras")


def _series_model(folder: Path, name: str, series: np.ndarray, width: int, build: Callable, filename: str,
                  epochs: int) -> Path:
    keras = _k2()
    windows = _windows(series, width)
    mean, std = float(windows.mean()), float(windows.std())
    train = windows[: int(len(windows) * 0.6)]
    model = build(keras, width)
    model.compile(keras.optimizers.Adam(0.005), "mse")
    model.fit(((train[:, :width] - mean) / std)[..., None], (train[:, width] - mean) / std, epochs=epochs,
              batch_size=32, verbose=0)
    frame = pd.DataFrame(windows, columns=[f"t{i}" for i in range(width)] + ["next"])
    specs = {"name": name, "task": "regression", "input": {"shape": [width, 1], "mean": mean, "std": std},
             "output": {"shape": [1], "mean": mean, "std": std}}
    return _write(folder, model, specs, frame, filename)


def _co2() -> np.ndarray:
    import statsmodels.api as sm

    return sm.datasets.co2.load_pandas().data["co2"].interpolate().to_numpy(np.float64)


def _sunspots() -> np.ndarray:
    import statsmodels.api as sm

    return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)


def lstm_co2(folder: Path) -> Path:
    """LSTM(16) -> Dense(1) on weekly CO2, Keras 2 `.h5` (the CSV in time order)."""
    return _series_model(folder, "zoo_lstm_co2", _co2(), 24, lambda k, w: k.Sequential(
        [k.layers.Input((w, 1)), k.layers.LSTM(16), k.layers.Dense(1)]), "model.h5", epochs=8)


def gru_sunspots(folder: Path) -> Path:
    """GRU(12) -> Dense(8) -> Dense(1) on yearly sunspots, SavedModel."""
    return _series_model(folder, "zoo_gru_sunspots", _sunspots(), 12, lambda k, w: k.Sequential(
        [k.layers.Input((w, 1)), k.layers.GRU(12), k.layers.Dense(8, activation="relu"), k.layers.Dense(1)]),
        "saved_model", epochs=20)


def conv1d_sunspots(folder: Path) -> Path:
    """Conv1D over a time series, Keras 2 `.h5`."""
    return _series_model(folder, "zoo_conv1d_sunspots", _sunspots(), 16, lambda k, w: k.Sequential(
        [k.layers.Input((w, 1)), k.layers.Conv1D(8, 3, activation="relu"), k.layers.Conv1D(8, 3, activation="relu"),
         k.layers.Flatten(), k.layers.Dense(1)]), "model.h5", epochs=30)


def simple_rnn_co2(folder: Path) -> Path:
    """SimpleRNN(16) -> Dense(1) on weekly CO2, built and saved with Keras 3 (`.keras`)."""
    import keras

    keras.utils.set_random_seed(7)
    width = 16
    windows = _windows(_co2(), width)
    mean, std = float(windows.mean()), float(windows.std())
    train = windows[: int(len(windows) * 0.6)]
    model = keras.Sequential([keras.Input((width, 1)), keras.layers.SimpleRNN(16), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.005), "mse")
    model.fit(((train[:, :width] - mean) / std)[..., None], (train[:, width] - mean) / std, epochs=8,
              batch_size=32, verbose=0)
    frame = pd.DataFrame(windows, columns=[f"t{i}" for i in range(width)] + ["next"])
    specs = {"name": "zoo_simple_rnn_co2", "task": "regression",
             "input": {"shape": [width, 1], "mean": mean, "std": std}, "output": {"shape": [1], "mean": mean, "std": std}}
    return _write(folder, model, specs, frame, "model.keras")


ZOO: dict[str, Callable[[Path], Path]] = {
    "mlp_iris": mlp_iris, "binary_cancer": binary_cancer, "multi_output": multi_output_diabetes,
    "cnn_bn": cnn_bn_digits, "conv1d": conv1d_sunspots, "lstm": lstm_co2, "gru": gru_sunspots,
    "simple_rnn": simple_rnn_co2,
}


def build_zoo(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Build the named zoo models (default: all) under `folder`."""
    return {name: ZOO[name](folder / name) for name in (names or list(ZOO))}


if __name__ == "__main__":
    for name, path in build_zoo(Path(sys.argv[1])).items():
        print(name, path)
