"""Per-variant results -> report.json, report.md and the terminal table."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from helpers.metrics import higher_is_better


@dataclass(frozen=True)
class VariantReport:
    """One row of the report. `metrics` holds accuracy, or mae and rmse in output units."""

    name: str
    path: str | None
    format: str
    quantization: str
    pruned: bool
    qat: bool
    metrics: dict[str, float]
    size_bytes: int | None
    compressed_size_bytes: int | None = None
    delta: dict[str, float] = field(default_factory=dict)
    input_dtype: str = "float32"
    output_dtype: str = "float32"
    ops: tuple[str, ...] = ()
    evaluation: str = ""
    firmware: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    clustered: bool = False
    optimization: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    strip: dict[str, Any] = field(default_factory=dict)
    reference_difference: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunReport:
    """Everything a run measured."""

    model: str
    task: str
    source: str
    primary_metric: str
    evaluation_rows: int
    calibration_rows: int
    variants: tuple[VariantReport, ...]
    notices: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        """report.json text; timings are the only part that changes between identical runs."""
        data = asdict(self)
        data["variants"] = [asdict(v) for v in self.variants]
        return json.dumps(data, indent=2) + "\n"


def with_deltas(variants: list[VariantReport], reference: VariantReport) -> list[VariantReport]:
    """Each variant's metric change against the reference (the Keras model)."""
    result = []
    for variant in variants:
        delta = {key: variant.metrics[key] - reference.metrics[key]
                 for key in variant.metrics if key in reference.metrics}
        result.append(replace(variant, delta=delta))
    return result


def _format_metric(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if name == "accuracy" else f"{value:.4g}"


def format_metrics(metrics: dict[str, float]) -> str:
    """`accuracy 98.14%` / `mae 0.388, rmse 0.4935` for log lines."""
    return ", ".join(f"{name} {_format_metric(name, value)}" for name, value in metrics.items())


def _format_delta(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name == "accuracy":
        return f"{value * 100:+.2f} pt"
    return f"{value:+.3g}"


def table_rows(report: RunReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows shared by the terminal table and report.md."""
    metric_names = list(report.variants[0].metrics) if report.variants else [report.primary_metric]
    header = ["variant", "size (B)", "zlib (B)"] + metric_names
    header += [f"Δ {report.primary_metric}", "TFLM", "arena (B)", "flash M4 (B)"]
    budgets = any("fits_flash" in v.firmware or "fits_ram" in v.firmware for v in report.variants)
    if budgets:
        header.append("fits")
    rows = []
    for v in report.variants:
        fw = v.firmware
        tflm = "-" if "tflm_runnable" not in fw else ("yes" if fw["tflm_runnable"] else "no")
        row = [v.name, _int(v.size_bytes), _int(v.compressed_size_bytes)]
        if v.error:  # the reason is in report.md and on stderr; keep the columns narrow
            rows.append(row + ["-"] * len(metric_names) + ["failed"] + ["-"] * (len(header) - len(row) - len(metric_names) - 1))
            continue
        row += [_format_metric(m, v.metrics.get(m)) for m in metric_names]
        row += [_format_delta(report.primary_metric, v.delta.get(report.primary_metric)) if v is not report.variants[0] else "ref",
                tflm, _int(fw.get("tensor_arena_bytes")), _int((fw.get("flash_bytes") or {}).get("cortex-m4"))]
        if budgets:
            fits = [fw.get("fits_flash"), fw.get("fits_ram")]
            row.append("-" if v.format == "keras" else "no" if False in fits else "yes")
        rows.append(row)
    return header, rows


def _int(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def format_table(report: RunReport) -> str:
    """The plain-text table printed at the end of a run."""
    header, rows = table_rows(report)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def format_markdown(report: RunReport, plots: list[str]) -> str:
    """report.md: the same table as the terminal, the notices, and the plots."""
    header, rows = table_rows(report)
    better = "higher" if higher_is_better(report.primary_metric) else "lower"
    lines = [f"# {report.model}: variant report", "",
             f"Task: {report.task}. Source: `{report.source}`. Evaluated on {report.evaluation_rows} rows "
             f"(calibration: {report.calibration_rows} rows). Primary metric: {report.primary_metric} "
             f"({better} is better); Δ is against the Keras reference.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    failed = [(v.name, v.error) for v in report.variants if v.error]
    if failed:
        lines += ["", "## Variants that could not be built", ""]
        lines += [f"- `{name}`: {error}" for name, error in failed]
    failures = [(v.name, v.firmware.get("tflm_reason")) for v in report.variants if v.firmware.get("tflm_reason")]
    if failures:
        lines += ["", "## Not runnable on TensorFlow Lite for Microcontrollers", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in failures]
    if report.notices:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notices]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
