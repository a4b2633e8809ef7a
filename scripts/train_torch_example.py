"""Train the shipped PyTorch example: a channels-first CNN on scikit-learn's 8x8 digits.

    python scripts/train_torch_example.py    # needs requirements-torch.txt; seconds on 2 cores

Writes the same trained network twice, as a user would hand it over:
- models/digits_torch_pt2/model.pt2    (torch.export.save of an ExportedProgram)
- models/digits_torch_onnx/model.onnx  (torch.onnx.export, opset 17, dynamic batch)
Both take input of shape [1, 8, 8] (channels first) and read dataset/digits.csv, the rows
the Keras example was not trained on either (same held-out split as train_examples.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scripts.train_examples import digits_frame, held_out_split  # noqa: E402

SPECS = {
    "task": "classification",
    "input": {"shape": [1, 8, 8], "mean": 0.0, "std": 16.0, "layout": "NCHW"},
    "output": {"shape": [10], "classes": [str(i) for i in range(10)]},
    "dataset": "digits.csv",
}


class DigitsNet(torch.nn.Module):
    """Conv(8) -> ReLU -> MaxPool -> Conv(16) -> ReLU -> MaxPool -> Linear(10), channels first."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.classifier = torch.nn.Linear(16 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def main() -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    frame = digits_frame()
    train_rows, _ = held_out_split(len(frame))
    train = frame.iloc[train_rows]
    x = torch.tensor(train.iloc[:, :64].to_numpy(np.float32).reshape(-1, 1, 8, 8) / 16.0)
    y = torch.tensor(train["label"].to_numpy())
    model = DigitsNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(40):
        for start in range(0, len(x), 64):
            optimizer.zero_grad()
            probabilities = model(x[start:start + 64])
            loss = torch.nn.functional.nll_loss(torch.log(probabilities + 1e-9), y[start:start + 64])
            loss.backward()
            optimizer.step()
    model.eval()
    example = (x[:1],)
    for folder, name in (("digits_torch_pt2", "digits_torch"), ("digits_torch_onnx", "digits_torch")):
        directory = ROOT / "models" / folder
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "specs.json").write_text(json.dumps({"name": name, **SPECS}, indent=2) + "\n")
    torch.export.save(torch.export.export(model, example), ROOT / "models" / "digits_torch_pt2" / "model.pt2")
    torch.onnx.export(model, example, ROOT / "models" / "digits_torch_onnx" / "model.onnx", dynamo=False,
                      opset_version=17, input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}})


if __name__ == "__main__":
    main()
