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


if __name__ == "__main__":
    print(make(Path(sys.argv[1])))
