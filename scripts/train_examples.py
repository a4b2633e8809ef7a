"""Train the shipped example models from data sets that ship inside packages.

    python scripts/train_examples.py            # writes models/* and dataset/*.csv

Each model trains on 60% of its rows; the shipped CSV holds the other 40%, so every metric
the tool reports is measured on rows the model never saw. Deterministic (fixed seeds, single-threaded ops) and quick on 2 cores (about a minute).
- digits_cnn: a small CNN on scikit-learn's 8x8 digits, saved as Keras 2 `.h5`.
- co2_lstm:   an LSTM that predicts next week's CO2 (ppm) from the last 24 weeks of the
              Mauna Loa series in statsmodels, saved as a SavedModel directory.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers.frontend.tf_runtime import seed_everything, tf_keras  # noqa: E402

CO2_WINDOW = 24
HELD_OUT_FRACTION = 0.4  # the shipped CSV holds only rows the model never trained on


def held_out_split(n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split: (training rows, held-out rows that go into the shipped CSV)."""
    order = np.random.default_rng(7).permutation(n_rows)
    n_held_out = int(n_rows * HELD_OUT_FRACTION)
    return np.sort(order[n_held_out:]), np.sort(order[:n_held_out])


def _write_specs(model_dir: Path, specs: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "specs.json").write_text(json.dumps(specs, indent=2) + "\n", encoding="utf-8")


def digits_frame() -> pd.DataFrame:
    """scikit-learn digits: 64 pixel columns (0..16) and the label."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype(np.int64), columns=[f"px{i}" for i in range(64)])
    frame["label"] = digits.target
    return frame


def train_digits(models: Path, datasets: Path) -> None:
    frame = digits_frame()
    train_rows, held_out_rows = held_out_split(len(frame))
    frame.iloc[held_out_rows].to_csv(datasets / "digits.csv", index=False)
    train = frame.iloc[train_rows]
    x = (train.iloc[:, :64].to_numpy(np.float32) / 16.0).reshape(-1, 8, 8, 1)
    y = train["label"].to_numpy()
    seed_everything()
    model = tf_keras.Sequential([
        tf_keras.layers.Input((8, 8, 1)),
        tf_keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
        tf_keras.layers.MaxPooling2D(2),
        tf_keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        tf_keras.layers.MaxPooling2D(2),
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(32, activation="relu"),
        tf_keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(tf_keras.optimizers.Adam(0.003), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=25, batch_size=32, verbose=0, shuffle=True)
    model_dir = models / "digits_cnn"
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_dir / "digits_cnn.h5")
    _write_specs(model_dir, {
        "name": "digits_cnn",
        "task": "classification",
        "input": {"shape": [8, 8, 1], "mean": 0.0, "std": 16.0},
        "output": {"shape": [10], "classes": [str(i) for i in range(10)]},
        "dataset": "digits.csv",
        "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32,
                     "loss": "sparse_categorical_crossentropy"},
        "pruning": {"initial_sparsity": 0.0, "final_sparsity": 0.5, "epochs": 10},
        "clustering": {"clusters": 16, "epochs": 5},
        "qat": {"epochs": 5},
    })


def co2_frame() -> pd.DataFrame:
    """Weekly Mauna Loa CO2 (ppm), gaps interpolated, as 24-week windows and the next week."""
    import statsmodels.api as sm

    series = sm.datasets.co2.load_pandas().data["co2"].interpolate().to_numpy(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(series, CO2_WINDOW + 1)
    frame = pd.DataFrame(np.round(windows, 2), columns=[f"t{i - CO2_WINDOW}" for i in range(CO2_WINDOW)] + ["next"])
    return frame


def train_co2(models: Path, datasets: Path) -> None:
    frame = co2_frame()
    train_rows, held_out_rows = held_out_split(len(frame))
    frame.iloc[held_out_rows].to_csv(datasets / "co2_weekly.csv", index=False)
    values = frame.iloc[train_rows].to_numpy(np.float32)
    mean, std = float(np.round(values.mean(), 2)), float(np.round(values.std(), 2))
    x = ((values[:, :CO2_WINDOW] - mean) / std).reshape(-1, CO2_WINDOW, 1)
    y = (values[:, CO2_WINDOW] - mean) / std
    seed_everything()
    model = tf_keras.Sequential([
        tf_keras.layers.Input((CO2_WINDOW, 1)),
        tf_keras.layers.LSTM(16),
        tf_keras.layers.Dense(1),
    ])
    model.compile(tf_keras.optimizers.Adam(0.005), "mse")
    model.fit(x, y, epochs=30, batch_size=32, verbose=0, shuffle=True)
    model_dir = models / "co2_lstm"
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_dir / "tf_model", save_format="tf")
    _write_specs(model_dir, {
        "name": "co2_lstm",
        "task": "regression",
        "input": {"shape": [CO2_WINDOW, 1], "mean": mean, "std": std},
        "output": {"shape": [1], "mean": mean, "std": std, "unit": "ppm"},
        "dataset": "co2_weekly.csv",
        "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32, "loss": "mse"},
        "pruning": {"initial_sparsity": 0.0, "final_sparsity": 0.3, "epochs": 20},
        "clustering": {"clusters": 16, "epochs": 5},
        "qat": {"epochs": 5},
    })


def main() -> None:
    models, datasets = ROOT / "models", ROOT / "dataset"
    datasets.mkdir(exist_ok=True)
    train_digits(models, datasets)
    train_co2(models, datasets)


if __name__ == "__main__":
    main()
