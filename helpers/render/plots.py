"""Comparison plots as PNG (matplotlib, Agg backend; never show()).

Every plot has a title, labelled axes with units, and the Keras reference marked where it applies.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from helpers.core.details import SparsityCandidate  # noqa: E402
from helpers.core.profile import TargetProfile  # noqa: E402
from helpers.core.recovery import Recovery  # noqa: E402
from helpers.core.results import RunReport, VariantReport  # noqa: E402
from helpers.core.specs import Specs  # noqa: E402
from helpers.measure.metrics import denormalised, higher_is_better, metric_kind, predicted_classes  # noqa: E402

DPI = 110


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _metric_label(metric: str, specs: Specs) -> str:
    if metric_kind(metric) == "accuracy":
        return "accuracy (%)"
    unit = specs.raw.get("output", {}).get("unit", "output units") if isinstance(specs.raw.get("output"), dict) \
        else "output units"
    return f"{metric.upper()} ({unit})"


def _scaled(metric: str, value: float) -> float:
    return value * 100 if metric_kind(metric) == "accuracy" else value


def metric_bars(report: RunReport, specs: Specs, path: Path) -> Path:
    """The primary metric of every variant, the Keras reference as a dashed line."""
    metric = report.primary_metric
    rows = [v for v in report.variants if metric in v.metrics]
    values = [_scaled(metric, v.metrics[metric]) for v in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 2), 4.2))
    colors = ["#7f7f7f" if v.format == "keras" else "#1f77b4" for v in rows]
    bars = ax.bar(range(len(rows)), values, color=colors)
    ax.bar_label(bars, fmt="%.2f" if metric_kind(metric) == "accuracy" else "%.3g", fontsize=8)
    reference = _scaled(metric, report.variants[0].metrics[metric])
    ax.axhline(reference, color="#d62728", linestyle="--", label=f"Keras reference ({reference:.4g})")
    ax.set_xticks(range(len(rows)), [v.name for v in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(_metric_label(metric, specs))
    low, high = min(values), max(values)
    margin = (high - low) * 0.5 + (0.5 if metric_kind(metric) == "accuracy" else 0.05 * high + 1e-9)
    ax.set_ylim(max(0.0, low - margin) if metric_kind(metric) == "accuracy" else 0.0, high + margin)
    better = "higher" if higher_is_better(metric) else "lower"
    ax.set_title(f"{report.model}: {metric} per variant ({better} is better)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def pareto_front(points: Sequence[tuple[float, float]], higher_better: bool) -> list[int]:
    """Indices of the points no other point beats in both size (smaller) and metric."""
    front = []
    for i, (size, value) in enumerate(points):
        dominated = False
        for j, (other_size, other_value) in enumerate(points):
            better_metric = other_value >= value if higher_better else other_value <= value
            strictly = other_size < size or (other_value > value if higher_better else other_value < value)
            if j != i and other_size <= size and better_metric and strictly:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def size_vs_metric(report: RunReport, specs: Specs, path: Path) -> Path:
    """Size (KiB) against the metric for every TFLite variant, the Pareto front joined."""
    metric = report.primary_metric
    rows = [v for v in report.variants if v.format == "tflite" and metric in v.metrics and v.size_bytes]
    sizes = [v.size_bytes / 1024 for v in rows]  # type: ignore[operator]
    values = [_scaled(metric, v.metrics[metric]) for v in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(sizes, values, color="#1f77b4", zorder=3)
    for size, value, v in zip(sizes, values, rows):
        ax.annotate(v.name, (size, value), textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = sorted(pareto_front(list(zip(sizes, values)), higher_is_better(metric)), key=lambda i: sizes[i])
    ax.plot([sizes[i] for i in front], [values[i] for i in front], color="#2ca02c", marker="o",
            label="Pareto front", zorder=2)
    ax.axhline(_scaled(metric, report.variants[0].metrics[metric]), color="#d62728", linestyle="--",
               label="Keras reference")
    ax.set_xlabel("model size (KiB)")
    ax.set_ylabel(_metric_label(metric, specs))
    ax.set_title(f"{report.model}: size against {metric}")
    ax.legend(fontsize=8)
    return _save(fig, path)


def confusion_matrix(outputs: np.ndarray, labels: np.ndarray, specs: Specs, variant: str, path: Path) -> Path:
    """Counts of true class (rows) against predicted class (columns)."""
    predicted = predicted_classes(outputs)
    n = max(len(specs.output.classes), int(labels.max()) + 1, int(predicted.max()) + 1)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    names = list(specs.output.classes) or [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(max(4.5, 0.45 * n + 2.5), max(4, 0.45 * n + 2)))
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{specs.name}: confusion matrix of {variant}")
    fig.colorbar(image, ax=ax, label="evaluation rows")
    return _save(fig, path)


def regression_plots(outputs: dict[str, np.ndarray], labels: np.ndarray, specs: Specs,
                     folder: Path, suffix: str = "") -> list[Path]:
    """Predicted against true, and the error distribution, for float32 and the final variant."""
    unit = _metric_label("mae", specs).split("(")[-1].rstrip(")")
    truth = labels.reshape(len(labels), -1)[:, 0]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    low, high = float(truth.min()), float(truth.max())
    ax.plot([low, high], [low, high], color="#7f7f7f", linestyle="--", label="ideal")
    for name, out in outputs.items():
        ax.scatter(truth, np.reshape(denormalised(out, specs), (len(truth), -1))[:, 0], s=6, alpha=0.6, label=name)
    ax.set_xlabel(f"true value ({unit})")
    ax.set_ylabel(f"predicted value ({unit})")
    ax.set_title(f"{specs.name}: predicted against true")
    ax.legend(fontsize=8)
    scatter = _save(fig, folder / f"predicted_vs_true{suffix}.png")

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, out in outputs.items():
        errors = np.reshape(denormalised(out, specs), (len(truth), -1))[:, 0] - truth
        ax.hist(errors, bins=40, alpha=0.55, label=f"{name} (MAE {np.mean(np.abs(errors)):.3g})")
    ax.set_xlabel(f"prediction error ({unit})")
    ax.set_ylabel("evaluation rows")
    ax.set_title(f"{specs.name}: error distribution")
    ax.legend(fontsize=8)
    return [scatter, _save(fig, folder / f"error_distribution{suffix}.png")]


def firmware_bars(variants: Sequence[VariantReport], model: str, path: Path) -> Path | None:
    """Tensor arena and Cortex-M4 flash per variant that runs on TFLM."""
    rows = [v for v in variants if v.firmware.tensor_arena_bytes]
    if not rows:
        return None
    arena = [(v.firmware.tensor_arena_bytes or 0) / 1024 for v in rows]
    flash = [((v.firmware.flash_bytes or {}).get("cortex-m4") or v.size_bytes or 0) / 1024 for v in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 2), 4.2))
    ax.bar(x - 0.2, flash, width=0.4, label="flash, Cortex-M4 (KiB)", color="#1f77b4")
    ax.bar(x + 0.2, arena, width=0.4, label="tensor arena, RAM (KiB)", color="#ff7f0e")
    ax.set_xticks(x, [v.name for v in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("KiB")
    ax.set_title(f"{model}: flash and RAM per variant on TFLM")
    ax.legend(fontsize=8)
    return _save(fig, path)


def layer_profile(profile: TargetProfile, variant: str, model: str, path: Path) -> Path:
    """--profile: instructions per op, TFLM's and the C engine's bars side by side, in graph order."""
    rows = profile.layers
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.32 * len(rows) + 1.6)))
    for offset, label, values, color in ((-0.2, "TFLM + CMSIS-NN", [r.tflm_instructions for r in rows], "#1f77b4"),
                                         (0.2, "C engine", [r.engine_instructions for r in rows], "#ff7f0e")):
        if any(v is not None for v in values):
            ax.barh(y + offset, [(v or 0) / 1e3 for v in values], height=0.4, label=label, color=color)
    ax.set_yticks(y, [f"{r.position} {r.op}" for r in rows], fontsize=7)
    ax.invert_yaxis()  # the first op on top
    ax.set_xlabel("thousands of instructions (first inference)")
    ax.set_title(f"{model} {variant} on {profile.target}: instructions per layer", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def sparsity_search(candidates: Sequence[SparsityCandidate], metric: str, chosen: float, model: str,
                    path: Path) -> Path:
    """--sparsity auto: the validation metric and the kernels' zlib size of every candidate tried."""
    sparsities = [c.sparsity * 100 for c in candidates]
    values = [_scaled(metric, c.validation_metrics.get(metric, float("nan"))) for c in candidates]
    sizes = [c.zlib_weight_bytes / 1024 for c in candidates]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(sparsities, values, "o-", color="#1f77b4", label=f"validation {metric}")
    for x, y, c in zip(sparsities, values, candidates):
        ax.annotate("within" if c.within_tolerance else "outside", (x, y), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7)
    ax.axvline(chosen * 100, color="#2ca02c", linestyle="--", label=f"chosen: {chosen:.0%}")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel(f"validation {metric}" + (" (%)" if metric == "accuracy" else ""))
    size_axis = ax.twinx()
    size_axis.plot(sparsities, sizes, "s--", color="#ff7f0e", label="zlib of the kernels (KiB)")
    size_axis.set_ylabel("zlib of the kernels (KiB)")
    lines = ax.get_legend_handles_labels()[0] + size_axis.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + size_axis.get_legend_handles_labels()[1]
    ax.legend(lines, labels, fontsize=8, loc="lower left")
    ax.set_title(f"{model}: --sparsity auto, candidates tried")
    return _save(fig, path)


def recovery_search(recovery: Recovery, metric: str, variant: str, model: str, path: Path) -> Path:
    """Accuracy recovery: each strategy's drop on the validation rows against the guard's limit."""
    tried = [a for a in recovery.attempts if a.validation_drop is not None]
    names = ["converter's model"] + [a.strategy for a in tried]
    drops = [recovery.before_drop or 0.0] + [a.validation_drop or 0.0 for a in tried]
    colours = ["#7f7f7f"] + ["#2ca02c" if a.kept else "#1f77b4" for a in tried]
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.45 * len(names)))
    ax.barh(range(len(names)), drops, color=colours)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(recovery.limit, color="#d62728", linestyle="--", label=f"--max_drop {recovery.limit:g}")
    unit = "accuracy points lost" if metric == "accuracy" else "% more MAE"
    ax.set_xlabel(f"validation rows: {unit} against the reference (green: kept)")
    ax.legend(fontsize=8)
    ax.set_title(f"{model} {variant}: accuracy recovery")
    return _save(fig, path)


def _short_layer(tensor_name: str) -> str:
    """`op: layer` from a tensor name such as `sequential/dense/MatMul;sequential/dense/BiasAdd`."""
    first = tensor_name.split(";")[0]
    parts = [p for p in first.split("/") if p]
    return "/".join(parts[1:3]) if len(parts) > 2 else first[-40:]


def layer_errors(ops: Sequence[str], names: Sequence[str], ratios: Sequence[float], threshold: float, title: str, path: Path) -> Path:
    """RMSE / scale per quantized layer, the keep-in-float threshold marked."""
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(names) + 1.5)))
    colors = ["#d62728" if r > threshold else "#1f77b4" for r in ratios]
    ax.barh(range(len(names)), ratios, color=colors)
    ax.set_yticks(range(len(names)), [f"{op}: {_short_layer(n)}" for op, n in zip(ops, names)], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(threshold, color="#7f7f7f", linestyle="--", label=f"keep-in-float threshold ({threshold})")
    ax.set_xlabel("RMSE / scale (quantization steps)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
