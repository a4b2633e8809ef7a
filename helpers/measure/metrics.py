"""Model outputs -> metrics: accuracy for classification, MAE and RMSE (output units) for regression.

A model with several outputs gets each output's metrics, named `<output>.<metric>`
(`activity.accuracy`, `speed.mae`); its primary metric is the first output's."""
from __future__ import annotations

import numpy as np

from helpers.core.packing import cut, split_labels
from helpers.core.specs import Specs, Task, TensorSpecs


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Class index per row; a single output unit is a sigmoid thresholded at 0.5."""
    flat = outputs.reshape(len(outputs), -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] > 0.5).astype(np.int64)
    return np.argmax(flat, axis=1)


def denormalised(outputs: np.ndarray, specs: Specs | TensorSpecs) -> np.ndarray:
    """Regression outputs mapped back to output units with `y * std + mean` (the specs' first
    output, or the given one)."""
    tensor = specs.output if isinstance(specs, Specs) else specs
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    mean, std = tensor.normalisation.as_lists(flat.shape[1])
    values = flat * np.asarray(std) + np.asarray(mean)
    return values[:, 0] if values.shape[1] == 1 else values


def _tensor_metrics(outputs: np.ndarray, labels: np.ndarray, output: TensorSpecs) -> dict[str, float]:
    if output.task is Task.CLASSIFICATION:
        return {"accuracy": float(np.mean(predicted_classes(outputs) == labels))}
    errors = denormalised(outputs, output) - labels.astype(np.float64)
    return {"mae": float(np.mean(np.abs(errors))), "rmse": float(np.sqrt(np.mean(errors ** 2)))}


def output_parts(outputs: np.ndarray, specs: Specs) -> tuple[np.ndarray, ...]:
    """Each output's rows: the packed outputs of a model with several cut per output."""
    if not specs.multi_output:
        return (outputs,)
    return cut(outputs, [output.shape for output in specs.outputs])


def compute_metrics(outputs: np.ndarray, labels: np.ndarray, specs: Specs) -> dict[str, float]:
    """The metrics of one variant on the evaluation rows."""
    if not specs.multi_output:
        return _tensor_metrics(outputs, labels, specs.output)
    metrics: dict[str, float] = {}
    for output, part, label in zip(specs.outputs, output_parts(outputs, specs), split_labels(labels, specs.outputs)):
        metrics.update({f"{output.name}.{name}": value for name, value in _tensor_metrics(part, label, output).items()})
    return metrics


def _primary(output: TensorSpecs) -> str:
    return "accuracy" if output.task is Task.CLASSIFICATION else "mae"


def primary_metric(specs: Specs) -> str:
    """The metric shown first and used for comparisons."""
    return guarded_metrics(specs)[0]


def guarded_metrics(specs: Specs) -> tuple[str, ...]:
    """The metric of each output the accuracy guard judges (the primary first)."""
    if not specs.multi_output:
        return (_primary(specs.output),)
    return tuple(f"{output.name}.{_primary(output)}" for output in specs.outputs)


def metric_kind(metric: str) -> str:
    """`accuracy` or `mae` (or `rmse`) of a metric's name, with or without its output's name."""
    return metric.rsplit(".", 1)[-1]


def higher_is_better(metric: str) -> bool:
    """Accuracy rises with quality; errors fall."""
    return metric_kind(metric) == "accuracy"
