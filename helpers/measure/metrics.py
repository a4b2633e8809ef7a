"""Model outputs -> metrics: accuracy for classification, MAE and RMSE (output units) for regression."""
from __future__ import annotations

import numpy as np

from helpers.core.specs import Specs, Task


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Class index per row; a single output unit is a sigmoid thresholded at 0.5."""
    flat = outputs.reshape(len(outputs), -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] > 0.5).astype(np.int64)
    return np.argmax(flat, axis=1)


def denormalised(outputs: np.ndarray, specs: Specs) -> np.ndarray:
    """Regression outputs mapped back to output units with `y * std + mean`."""
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    mean, std = specs.output.normalisation.as_lists(flat.shape[1])
    values = flat * np.asarray(std) + np.asarray(mean)
    return values[:, 0] if values.shape[1] == 1 else values


def compute_metrics(outputs: np.ndarray, labels: np.ndarray, specs: Specs) -> dict[str, float]:
    """The metrics of one variant on the evaluation rows."""
    if specs.task is Task.CLASSIFICATION:
        return {"accuracy": float(np.mean(predicted_classes(outputs) == labels))}
    errors = denormalised(outputs, specs) - labels.astype(np.float64)
    return {"mae": float(np.mean(np.abs(errors))), "rmse": float(np.sqrt(np.mean(errors ** 2)))}


def primary_metric(specs: Specs) -> str:
    """The metric shown first and used for comparisons."""
    return "accuracy" if specs.task is Task.CLASSIFICATION else "mae"


def higher_is_better(metric: str) -> bool:
    """Accuracy rises with quality; errors fall."""
    return metric == "accuracy"
