"""--max_drop: the accuracy guard every run applies.

Every variant's metric is compared with the reference row (the Keras model, or the original
ONNX/PyTorch model): classification may lose at most `max_drop` accuracy points, regression may
raise its MAE by at most `max_drop` percent. A model with several outputs has each output judged so,
in its own unit: a variant is within tolerance when every output is. A variant outside is flagged in the table and the
reports; when the final variant (the one the flags asked for) is outside, the export is still
written and the run exits 3 naming the best variant that is within tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from helpers.core.results import VariantReport
from helpers.errors import PipelineError
from helpers.measure.metrics import metric_kind

DEFAULT_MAX_DROP = {"accuracy": 2.0, "mae": 5.0}  # accuracy points; percent of the reference MAE


class ToleranceError(PipelineError):
    """The final variant lost more than --max_drop against the reference (the export is still written)."""

    exit_code = 3


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the reference a variant may be, in the primary metric."""

    metric: str          # "accuracy" or "mae" (or "<output>.accuracy", ... for a model with several outputs)
    max_drop: float      # points (accuracy) or percent (mae)
    # The other outputs' metrics, each judged with its own limit (a model with several outputs).
    others: tuple[tuple[str, float], ...] = ()

    def drop(self, variant: VariantReport, reference: VariantReport) -> float | None:
        """Points lost (accuracy) or percent MAE added against the reference; None without metrics."""
        return self.metric_drop(variant.metrics, reference.metrics)

    def metric_drop(self, metrics: dict[str, float], reference: dict[str, float],
                    metric: str | None = None) -> float | None:
        """drop() on bare metric dicts (the sparsity search judges candidates on validation rows),
        of the primary metric or the one named."""
        metric = metric or self.metric
        if metric not in metrics or metric not in reference:
            return None
        if metric_kind(metric) == "accuracy":
            return (reference[metric] - metrics[metric]) * 100
        base = reference[metric]
        return (metrics[metric] - base) / base * 100 if base > 0 else 0.0

    def within(self, metrics: dict[str, float], reference: dict[str, float]) -> bool | None:
        """Whether every guarded metric is within its limit; None without the primary metric."""
        drop = self.metric_drop(metrics, reference)
        if drop is None:
            return None
        others = [(self.metric_drop(metrics, reference, metric), limit) for metric, limit in self.others]
        return drop <= self.max_drop and all(d is None or d <= limit for d, limit in others)

    def describe(self, drop: float) -> str:
        """`-69.1 accuracy points` / `+428% MAE` for messages."""
        prefix = self.metric[:-len(metric_kind(self.metric))]
        if metric_kind(self.metric) == "accuracy":
            return f"{-drop + 0.0:+.1f} {prefix}accuracy points"
        return f"{drop + 0.0:+.1f}% {prefix}MAE"

    def limit(self) -> str:
        """The tolerance in words."""
        return (f"{self.max_drop:g} accuracy points" if metric_kind(self.metric) == "accuracy"
                else f"{self.max_drop:g}% more MAE")


def tolerance_for(primary_metric: str, max_drop: float | None, others: tuple[str, ...] = ()) -> Tolerance:
    """--max_drop, or the task's default, for the primary metric and each other output's."""
    def limit(metric: str) -> float:
        return DEFAULT_MAX_DROP[metric_kind(metric)] if max_drop is None else max_drop

    return Tolerance(primary_metric, limit(primary_metric), tuple((metric, limit(metric)) for metric in others))


def judge(variants: list[VariantReport], tolerance: Tolerance) -> list[VariantReport]:
    """Every row but the reference gets `within_tolerance` (None when it has no metric)."""
    reference = variants[0]
    judged = [reference]
    for variant in variants[1:]:
        judged.append(replace(variant, within_tolerance=tolerance.within(variant.metrics, reference.metrics)))
    return judged


def outside(variants: list[VariantReport]) -> list[VariantReport]:
    """The variants that are outside the tolerance."""
    return [v for v in variants if v.within_tolerance is False]


def check_final(variants: list[VariantReport], tolerance: Tolerance) -> None:
    """ToleranceError when the final TFLite variant is outside the tolerance."""
    built = [v for v in variants if v.is_built_tflite]
    if not built or built[-1].within_tolerance is not False:
        return
    final, reference = built[-1], variants[0]
    raise ToleranceError(f"the final variant {final.name} is outside the accuracy tolerance: "
                         f"{tolerance.describe(tolerance.drop(final, reference) or 0.0)} against {reference.name}, "
                         f"more than --max_drop {tolerance.limit()}", _suggestion(built, reference, tolerance))


def flashable(variant: VariantReport) -> bool | None:
    """Whether the variant's firmware can run on a microcontroller as far as the checks know: its
    `tflm_runnable`, which the targets' verdict already decides (a target that failed makes it
    false); None when TFLM was not checked."""
    return variant.firmware.tflm_runnable


def _suggestion(built: list[VariantReport], reference: VariantReport, tolerance: Tolerance) -> str:
    """The best variant within tolerance that can be flashed; or, where none can, what can be said."""
    within = [v for v in built if v.within_tolerance]
    if not within:
        return "no variant is within tolerance: keep float32, prune less, or fine-tune longer"

    def text(v: VariantReport) -> str:
        return f"{v.name}, which is within tolerance ({tolerance.describe(tolerance.drop(v, reference) or 0.0)})"

    ranked = sorted(within, key=lambda v: tolerance.drop(v, reference) or 0.0)
    runnable = [v for v in ranked if flashable(v)]
    if runnable:
        return f"use {text(runnable[0])} and runs on TFLM"
    unchecked = [v for v in ranked if flashable(v) is None]
    if unchecked:
        return f"use {text(unchecked[0])}; whether TFLM runs it was not checked (--skip_firmware_checks)"
    return (f"none of the variants within tolerance runs on TFLM ({', '.join(v.name for v in ranked)}): "
            "keep float32 on a board with room for it, or prune less or fine-tune longer")
