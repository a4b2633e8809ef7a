"""Two models with several inputs or outputs (issue 35), trained in seconds on scikit-learn's data
with fixed seeds, saved as a user saves them (`.keras`, specs.json with `inputs`/`outputs`, a CSV):

- `fusion`: sensor fusion, two inputs. The digits' 8x8 image into a small convolution, and a
  second "sensor", the image's 8 row sums and 8 column sums, into a dense branch; one class head.
- `two_heads`: one input, two outputs. Iris's sepal length, sepal width and petal length give the
  species (a classifier head) and the petal width (a regression head).

    python -m tests.zoo_multiio DIR     # builds both into DIR/fusion and DIR/two_heads
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 0


def _keras() -> Any:
    import keras

    keras.utils.set_random_seed(SEED)
    return keras


def _write(folder: Path, model: Any, specs: dict[str, Any], frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "specs.json").write_text(json.dumps(specs, indent=2))
    frame.to_csv(folder / "data.csv", index=False)
    return folder


def build_fusion(folder: Path, rows: int = 600, epochs: int = 12) -> Path:
    """Digits as an image and as row and column sums: two inputs, one classifier head."""
    from sklearn.datasets import load_digits

    keras = _keras()
    data = load_digits()
    picked = np.random.default_rng(SEED).permutation(len(data.data))[:rows]
    pixels, labels = data.data[picked].astype(np.float32), data.target[picked]
    images = pixels.reshape(-1, 8, 8)
    sums = np.concatenate([images.sum(axis=2), images.sum(axis=1)], axis=1)  # 8 row sums, 8 column sums
    sums_mean, sums_std = sums.mean(0), sums.std(0) + 1e-6
    image_in = keras.Input((8, 8, 1), name="image")
    sums_in = keras.Input((16,), name="sums")
    x = keras.layers.Conv2D(8, 3, activation="relu")(image_in)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    y = keras.layers.Dense(16, activation="relu")(sums_in)
    merged = keras.layers.Concatenate()([x, y])
    out = keras.layers.Dense(10, activation="softmax", name="digit")(merged)
    model = keras.Model([image_in, sums_in], out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit([images[..., None] / 16.0, (sums - sums_mean) / sums_std], labels, epochs=epochs, verbose=0,
              batch_size=32)
    specs = {"name": "fusion",
             "task": "classification",
             "inputs": [{"name": "image", "shape": [8, 8, 1], "std": 16.0},
                        {"name": "sums", "shape": [16], "mean": sums_mean.tolist(), "std": sums_std.tolist()}],
             "outputs": [{"name": "digit", "shape": [10], "classes": [str(i) for i in range(10)]}]}
    columns = [f"p{i}" for i in range(64)] + [f"s{i}" for i in range(16)] + ["digit"]
    frame = pd.DataFrame(np.concatenate([pixels, sums, labels[:, None]], axis=1), columns=columns)
    frame["digit"] = frame["digit"].astype(int)
    return _write(folder, model, specs, frame)


def build_two_heads(folder: Path, epochs: int = 150) -> Path:
    """Iris: three measurements in, the species and the petal width out."""
    from sklearn.datasets import load_iris

    keras = _keras()
    data = load_iris()
    x, species, width = data.data[:, :3].astype(np.float32), data.target, data.data[:, 3].astype(np.float32)
    mean, std = x.mean(0), x.std(0)
    w_mean, w_std = float(width.mean()), float(width.std())
    inputs = keras.Input((3,), name="measurements")
    h = keras.layers.Dense(16, activation="relu")(inputs)
    species_out = keras.layers.Dense(3, activation="softmax", name="species")(h)
    width_out = keras.layers.Dense(1, name="petal_width")(h)
    model = keras.Model(inputs, [species_out, width_out])
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    model.fit((x - mean) / std, [species, (width - w_mean) / w_std], epochs=epochs, verbose=0, batch_size=16)
    specs = {"name": "two_heads",
             "inputs": [{"name": "measurements", "shape": [3], "mean": mean.tolist(), "std": std.tolist()}],
             "outputs": [{"name": "species", "shape": [3], "task": "classification",
                          "classes": list(data.target_names)},
                         {"name": "petal_width", "shape": [1], "task": "regression", "mean": w_mean, "std": w_std}]}
    frame = pd.DataFrame(x, columns=["sepal_length", "sepal_width", "petal_length"])
    frame["species"] = [data.target_names[i] for i in species]
    frame["petal_width"] = width
    return _write(folder, model, specs, frame)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    build_fusion(target / "fusion")
    build_two_heads(target / "two_heads")
    print(f"built {target}/fusion and {target}/two_heads")
