"""A model with dead channels, for the engines' dead-channel pass (helpers/lowering/passes.py): the
shipped digits CNN with some filters and units zeroed after training (weights and bias), as
pruning by filter or a ReLU that never fires leaves them. Conv -> pool -> conv, conv -> pool ->
flatten -> dense and dense -> dense each carry some. `python -m tests.zoo_dead_channels DIR`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "models" / "digits_cnn"
DEAD = {"conv2d": (1, 5), "conv2d_1": (0, 3, 7, 12), "dense": (2, 9, 20)}


def make(directory: Path) -> Path:
    """The model directory (model, specs.json naming the shared digits.csv)."""
    from helpers.frontend.tf_runtime import tf_keras

    model = tf_keras.models.load_model(SOURCE / "digits_cnn.h5")
    for name, channels in DEAD.items():
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        kernel[..., list(channels)] = 0.0
        bias[list(channels)] = 0.0
        layer.set_weights([kernel, bias])
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "dead_channels.h5")
    specs = json.loads((SOURCE / "specs.json").read_text(encoding="utf-8"))
    specs["name"] = "dead_channels"
    (directory / "specs.json").write_text(json.dumps(specs, indent=2), encoding="utf-8")
    return directory


def make_depthwise(directory: Path) -> Path:
    """A small depthwise-separable CNN on the digits (conv -> depthwise -> 1x1 conv -> dense), trained
    in seconds, then 3 of the first convolution's 8 filters zeroed and the depthwise biases of those
    channels set positive: the depthwise layer turns each dead channel into a nonzero constant, which
    the pass folds into the 1x1 convolution's bias."""
    import numpy as np
    import pandas as pd

    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    seed_everything(0)
    frame = pd.read_csv(ROOT / "dataset" / "digits.csv")
    x = frame.drop(columns=[frame.columns[-1]]).to_numpy(np.float32).reshape(-1, 8, 8, 1) / 16.0
    y = frame[frame.columns[-1]].to_numpy()
    layers = tf_keras.layers
    model = tf_keras.Sequential([
        layers.Input((8, 8, 1)), layers.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
        layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise"),
        layers.Conv2D(16, 1, activation="relu", name="pointwise"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax", name="dense")], name="dead_depthwise")
    model.compile(tf_keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    dead = list(DEPTHWISE_DEAD)
    kernel, bias = model.get_layer("conv").get_weights()
    kernel[..., dead] = 0.0
    bias[dead] = 0.0
    model.get_layer("conv").set_weights([kernel, bias])
    kernel, bias = model.get_layer("depthwise").get_weights()
    bias[dead] = [0.3, 0.7, 1.1]
    model.get_layer("depthwise").set_weights([kernel, bias])
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "dead_depthwise.h5")
    specs = json.loads((SOURCE / "specs.json").read_text(encoding="utf-8"))
    specs["name"] = "dead_depthwise"
    (directory / "specs.json").write_text(json.dumps(specs, indent=2), encoding="utf-8")
    return directory


DEPTHWISE_DEAD = (2, 5, 6)

if __name__ == "__main__":
    print(make(Path(sys.argv[1])))
    print(make_depthwise(Path(sys.argv[1]) / "depthwise"))
