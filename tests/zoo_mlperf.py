"""MLPerf Tiny's four reference networks at their published sizes, trained in seconds to a minute
on data that ships inside scikit-learn or is generated here, with fixed seeds. They are the
real-size counterpart of tests/zoo.py: `build_mlperf(folder)` writes one model directory each
(model file, specs.json, data.csv) as a user would assemble it.

    python -m tests.zoo_mlperf /tmp/mlperf            # all four
    python -m tests.zoo_mlperf /tmp/mlperf ds_cnn     # one

- ds_cnn (keyword spotting): 49x10x1 in, a 10x4 stride-2 convolution, then four
  depthwise-separable blocks of 64, 12 classes; synthetic MFCC words (below).
- resnet8 (image classification): 32x32x3 in, residual stacks of 16, 32 and 64, 10 classes;
  scikit-learn's digits, scaled to 32x32 and coloured.
- autoencoder (anomaly detection): 640 in, four dense 128, a bottleneck of 8, four dense 128,
  640 out; 20x32 grey patches of scikit-learn's two sample photos.
- mobilenet (visual wake words): Keras's MobileNetV1 with alpha 0.25, 96x96x3 in, 2 classes;
  96x96 colour patches of those photos, labelled by photo.

The keyword-spotting data is synthetic because no spoken-word set ships in a package: each of the
12 classes is a "word" of three formant segments (a fixed random 10-coefficient template per
segment and class) placed at a random onset with random segment lengths and loudness, over
Gaussian noise; class 0 is noise alone ("silence") and class 1 a fresh random template per row
("unknown"), as in the Speech Commands task. Every model trains on the first 60% of its rows;
the CSV holds every row.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.zoo import _write  # noqa: E402  (one writer of a model directory for both zoos)

TRAIN_FRACTION = 0.6


def _keras():
    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    seed_everything(7)
    return tf_keras


def _pixel_frame(pixels: np.ndarray, labels: dict[str, np.ndarray]) -> pd.DataFrame:
    """Integer pixels (0..255) as columns p0..pN, then the label columns: a compact CSV."""
    flat = pixels.reshape(len(pixels), -1).astype(np.uint8)
    frame = pd.DataFrame(flat, columns=[f"p{i}" for i in range(flat.shape[1])])
    for name, values in labels.items():
        frame[name] = values
    return frame


def _train_rows(count: int) -> int:
    return int(count * TRAIN_FRACTION)


def _fit(keras, model, x: np.ndarray, y: np.ndarray, loss: str, epochs: int, learning_rate: float,
         batch_size: int = 32) -> None:
    """Train on the first 60% of the rows. The batch-norm layers' moving statistics follow the
    batches faster than Keras's default (momentum 0.99 needs thousands of steps; these models get
    a few hundred), so the saved model's inference matches what it learnt."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    train = _train_rows(len(x))
    model.compile(keras.optimizers.Adam(learning_rate), loss)
    model.fit(x[:train], y[:train], epochs=epochs, batch_size=batch_size, verbose=0)


# ---------------------------------------------------------------- keyword spotting: DS-CNN

KWS_FRAMES, KWS_COEFFS, KWS_CLASSES = 49, 10, 12


def _kws_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    templates = rng.normal(0.0, 1.0, (KWS_CLASSES, 3, KWS_COEFFS)).astype(np.float32)
    x = rng.normal(0.0, 1.0, (rows, KWS_FRAMES, KWS_COEFFS)).astype(np.float32)
    y = np.arange(rows) % KWS_CLASSES
    rng.shuffle(y)
    for row, label in enumerate(y):
        if label == 0:
            continue  # silence: the noise floor alone
        word = templates[label] if label > 1 else rng.normal(0.0, 1.0, (3, KWS_COEFFS))
        lengths = rng.integers(6, 11, 3)
        onset = int(rng.integers(0, KWS_FRAMES - lengths.sum()))
        loudness = float(rng.uniform(0.4, 1.2))
        for segment, length in enumerate(lengths):
            x[row, onset:onset + length] += loudness * word[segment]
            onset += int(length)
    return x, y


def ds_cnn(folder: Path) -> Path:
    """MLPerf Tiny's keyword-spotting DS-CNN (about 25 k parameters, 2.7 M MACs), a SavedModel."""
    keras = _keras()
    layers = keras.layers
    x, y = _kws_data(1800)
    inputs = keras.Input((KWS_FRAMES, KWS_COEFFS, 1))
    h = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inputs)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    for _ in range(4):
        h = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
        h = layers.Conv2D(64, 1, use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.AveragePooling2D(pool_size=(25, 5))(h)
    outputs = layers.Dense(KWS_CLASSES, activation="softmax")(layers.Flatten()(h))
    model = keras.Model(inputs, outputs, name="ds_cnn")
    mean, std = float(x.mean()), float(x.std())
    _fit(keras, model, ((x - mean) / std)[..., None], y, "sparse_categorical_crossentropy", 12, 0.003, 64)
    frame = pd.DataFrame(x.reshape(len(x), -1).round(3), columns=[f"c{i}" for i in range(KWS_FRAMES * KWS_COEFFS)])
    frame["word"] = y
    specs = {"name": "mlperf_ds_cnn", "task": "classification",
             "input": {"shape": [KWS_FRAMES, KWS_COEFFS, 1], "mean": round(mean, 4), "std": round(std, 4)},
             "output": {"shape": [KWS_CLASSES]}}
    return _write(folder, model, specs, frame, "saved_model")


# ---------------------------------------------------------------- image classification: ResNet-8

def _coloured_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits scaled to 32x32, a random ink and paper colour per image."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(0)
    ink = np.kron(data.images / 16.0, np.ones((4, 4)))[..., None]          # [n, 32, 32, 1] in 0..1
    paper_colour = rng.uniform(0, 0.5, (len(ink), 1, 1, 3))
    ink_colour = rng.uniform(0.5, 1.0, (len(ink), 1, 1, 3))
    image = paper_colour * (1 - ink) + ink_colour * ink
    return np.round(image * 255).astype(np.uint8), data.target


def resnet8(folder: Path) -> Path:
    """MLPerf Tiny's image-classification ResNet-8 (about 78 k parameters), Keras 2 `.keras`."""
    keras = _keras()
    layers = keras.layers
    images, labels = _coloured_digits()

    def block(h, filters: int, stride: int):
        shortcut = h if stride == 1 else layers.Conv2D(filters, 1, strides=stride)(h)
        h = layers.Conv2D(filters, 3, strides=stride, padding="same")(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
        h = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(h))
        return layers.ReLU()(layers.Add()([h, shortcut]))

    inputs = keras.Input((32, 32, 3))
    h = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(16, 3, padding="same")(inputs)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        h = block(h, filters, stride)
    h = layers.Flatten()(layers.AveragePooling2D(pool_size=8)(h))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h), name="resnet8")
    _fit(keras, model, images / 255.0, labels, "sparse_categorical_crossentropy", 6, 0.003)
    specs = {"name": "mlperf_resnet8", "task": "classification", "input": {"shape": [32, 32, 3], "std": 255.0},
             "output": {"shape": [10]}}
    return _write(folder, model, specs, _pixel_frame(images, {"digit": labels}), "model.keras")


# ---------------------------------------------------------------- photo patches (anomaly detection, wake words)

def _photo_patches(count: int, height: int, width: int, grey: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Patches at random places of scikit-learn's two sample photos (china.jpg, flower.jpg),
    alternating between them; the label says which photo."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    patches, which = [], np.arange(count) % 2
    for photo_index in which:
        photo = photos[photo_index]
        top = int(rng.integers(0, photo.shape[0] - height))
        left = int(rng.integers(0, photo.shape[1] - width))
        patch = photo[top:top + height, left:left + width]
        patches.append(patch.mean(axis=2, keepdims=True) if grey else patch)
    return np.round(np.stack(patches)).astype(np.uint8), which


def autoencoder(folder: Path) -> Path:
    """MLPerf Tiny's anomaly-detection FC autoencoder (640-128x4-8-128x4-640, about 270 k
    parameters) on 20x32 grey photo patches; a regression with the input as its target, `.h5`."""
    keras = _keras()
    layers = keras.layers
    patches, _ = _photo_patches(2400, 20, 32, grey=True, seed=1)
    x = patches.reshape(len(patches), 640).astype(np.float32)
    mean, std = float(x.mean()), float(x.std())
    inputs = keras.Input((640,))
    h = inputs
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        h = layers.ReLU()(layers.BatchNormalization()(layers.Dense(units)(h)))
    model = keras.Model(inputs, layers.Dense(640)(h), name="fc_autoencoder")
    normalised = (x - mean) / std
    _fit(keras, model, normalised, normalised, "mse", 25, 0.002, 64)
    pixels = x.astype(np.uint8)
    frame = pd.DataFrame(np.concatenate([pixels, pixels], axis=1),
                         columns=[f"p{i}" for i in range(640)] + [f"r{i}" for i in range(640)])
    specs = {"name": "mlperf_autoencoder", "task": "regression",
             "input": {"shape": [640], "mean": round(mean, 3), "std": round(std, 3)},
             "output": {"shape": [640], "mean": round(mean, 3), "std": round(std, 3)}}
    return _write(folder, model, specs, frame, "model.h5")


def mobilenet(folder: Path) -> Path:
    """MLPerf Tiny's visual-wake-words MobileNetV1 (Keras's, alpha 0.25, about 220 k parameters,
    7.5 M MACs) on 96x96 colour patches: which of the two photos; Keras 2 `.keras`."""
    keras = _keras()
    patches, which = _photo_patches(500, 96, 96, grey=False, seed=2)
    model = keras.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=2,
                                         dropout=0.1)
    _fit(keras, model, patches / 127.5 - 1.0, which, "sparse_categorical_crossentropy", 6, 0.002)
    specs = {"name": "mlperf_mobilenet", "task": "classification",
             "input": {"shape": [96, 96, 3], "mean": 127.5, "std": 127.5},
             "output": {"shape": [2], "classes": ["china", "flower"]}}
    return _write(folder, model, specs, _pixel_frame(patches, {"photo": which}), "model.keras")


MLPERF: dict[str, Callable[[Path], Path]] = {
    "ds_cnn": ds_cnn, "resnet8": resnet8, "autoencoder": autoencoder, "mobilenet": mobilenet,
}


def build_mlperf(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Build the named models (default: all four) under `folder`."""
    return {name: MLPERF[name](folder / name) for name in (names or list(MLPERF))}


if __name__ == "__main__":
    for name, path in build_mlperf(Path(sys.argv[1]), sys.argv[2:] or None).items():
        print(name, path)
