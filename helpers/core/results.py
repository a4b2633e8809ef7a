"""The typed results of a run: one VariantReport per row, its FirmwareResult, the RunReport.

report.json is written from these (`RunReport.to_json`), with the keys it has always had. Every
FirmwareResult field is written, `null` where that check did not run: nothing is implied by a
missing key. Text rendering (terminal table, report.md) lives in render/report_text.py.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class FirmwareResult:
    """What the firmware checks measured for one TFLite variant (None: not checked)."""

    reset_before_invoke: bool | None = None       # from the flatbuffer: variable (LSTM state) tensors
    tflm_runnable: bool | None = None
    tflm_reason: str | None = None
    select_ops: tuple[str, ...] | None = None     # TF Select ops that keep it off microcontrollers
    tflm_metrics: dict[str, float] | None = None
    tflm_max_difference: float | None = None
    tflm_difference_unit: str | None = None
    tensor_arena_measured_bytes: int | None = None
    tensor_arena_bytes: int | None = None
    flash_bytes: dict[str, int] | None = None     # per Cortex-M target
    flash_note: str | None = None
    mpy_bytes: int | None = None
    mpy_note: str | None = None
    # The self-test built against TFLM's library and run per target (helpers.targets.selftest.TargetResult
    # as dicts, by target name); None: no TFLM tree, so not built or run anywhere.
    targets: dict[str, dict[str, Any]] | None = None
    # The generated MicroPython engine (<id>_infer.py) run on a real MicroPython over every evaluation
    # row (helpers.micropython.runtime.MicroPythonResult as a dict); None: no engine was written.
    micropython: dict[str, Any] | None = None
    fits_flash: bool | None = None                # None: no budget, or nothing measured to judge by
    fits_ram: bool | None = None
    budget_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """report.json's `firmware` block."""
        data = asdict(self)
        if self.select_ops is not None:
            data["select_ops"] = list(self.select_ops)
        return data


@dataclass(frozen=True)
class VariantReport:
    """One row of the report. `metrics` holds accuracy, or mae and rmse in output units."""

    name: str
    path: str | None
    format: str                  # "keras", "tflite", or the runtime of a foreign reference
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
    firmware: FirmwareResult = field(default_factory=FirmwareResult)
    error: str | None = None
    clustered: bool = False
    optimization: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    strip: dict[str, Any] = field(default_factory=dict)
    reference_difference: dict[str, float] = field(default_factory=dict)
    within_tolerance: bool | None = None  # --max_drop against the reference; None: not judged

    @property
    def is_built_tflite(self) -> bool:
        """A TFLite variant that exists (not a Keras row, not a failed one)."""
        return self.format == "tflite" and not self.error

    def to_dict(self) -> dict[str, Any]:
        """One entry of report.json's `variants`."""
        data = {key: value for key, value in asdict(self).items() if key != "firmware"}
        data["ops"] = list(self.ops)
        data["firmware"] = self.firmware.to_dict() if self.format == "tflite" else {}
        return data


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
        """report.json text; timings (and the MicroPython engine's us_per_inference) are the only
        parts that change between identical runs."""
        data = {key: value for key, value in asdict(self).items() if key != "variants"}
        data["notices"] = list(self.notices)
        data["variants"] = [variant.to_dict() for variant in self.variants]
        return json.dumps(data, indent=2) + "\n"


def with_deltas(variants: list[VariantReport], reference: VariantReport) -> list[VariantReport]:
    """Each variant's metric change against the reference (the Keras model)."""
    return [replace(variant, delta={key: variant.metrics[key] - reference.metrics[key]
                                    for key in variant.metrics if key in reference.metrics})
            for variant in variants]


def failed_row(name: str, quantization: str, error: str) -> VariantReport:
    """A variant that could not be built: its name and the one-line reason."""
    return VariantReport(name=name, path=None, format="tflite", quantization=quantization, pruned=False,
                         qat=False, metrics={}, size_bytes=None, error=error)
