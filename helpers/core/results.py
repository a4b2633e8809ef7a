"""The typed results of a run: one VariantReport per row, its FirmwareResult, the RunReport.

report.json is written from these (`RunReport.to_json`), with the keys it has always had. Every
FirmwareResult field is written, `null` where that check did not run: nothing is implied by a
missing key. Text rendering (terminal table, report.md) lives in render/report_text.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from helpers.core.byte_account import ByteAccount
from helpers.core.checks import CEngineResult, MicroPythonResult, OpPlacement, TargetResult
from helpers.core.profile import TargetProfile
from helpers.core.details import (
    Compression,
    Optimization,
    Pruning,
    StripResult,
    WeightSummary,
    compression_from_dict,
    strip_from_dict,
)
from helpers.core.rewrites import Rewrite


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
    # The self-test built against TFLM's library and run per target, in the order they ran; None: no
    # TFLM tree, so not built or run anywhere.
    targets: tuple[TargetResult, ...] | None = None
    # The generated MicroPython engine (<id>_infer.py) run on a real MicroPython over every evaluation
    # row; None: no engine was written.
    micropython: MicroPythonResult | None = None
    # The generated C engine and its self-test per target; None: no engine was written.
    c_engine: CEngineResult | None = None
    fits_flash: bool | None = None                # None: no budget, or nothing measured to judge by
    fits_ram: bool | None = None
    budget_note: str | None = None
    # Where each op runs: TFLM's kernel, the C engine's call, the MicroPython engine's path; None: not
    # worked out (a report written before the table, or a variant that is not a built TFLite model).
    ops_placement: tuple[OpPlacement, ...] | None = None
    # --profile: instructions per layer, TFLM's and the C engine's, per Cortex-M target; None: not asked.
    profile: tuple[TargetProfile, ...] | None = None

    def target(self, name: str) -> TargetResult | None:
        """The result on one target, or None when it did not run there."""
        return next((result for result in self.targets or () if result.target == name), None)

    def cortex_m_results(self) -> tuple[TargetResult, ...]:
        return tuple(result for result in self.targets or () if result.on_32_bit_target)

    def to_dict(self) -> dict[str, Any]:
        """report.json's `firmware` block."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.select_ops is not None:
            data["select_ops"] = list(self.select_ops)
        if self.flash_bytes is not None:
            data["flash_bytes"] = dict(self.flash_bytes)
        if self.tflm_metrics is not None:
            data["tflm_metrics"] = dict(self.tflm_metrics)
        data["targets"] = None if self.targets is None else {r.target: r.to_dict() for r in self.targets}
        data["micropython"] = None if self.micropython is None else self.micropython.to_dict()
        data["c_engine"] = None if self.c_engine is None else self.c_engine.to_dict()
        # written only where it was worked out, so reports from before the table read back unchanged
        data.pop("ops_placement")
        if self.ops_placement is not None:
            data["ops_placement"] = [p.to_dict() for p in self.ops_placement]
        data.pop("profile")  # written only when asked for: reports without it read back unchanged
        if self.profile is not None:
            data["profile"] = {p.target: p.to_dict() for p in self.profile}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FirmwareResult":
        """A `firmware` block of report.json (an empty one: a row that is not a TFLite variant)."""
        values = {key: value for key, value in data.items() if key in {f.name for f in fields(cls)}}
        if values.get("select_ops") is not None:
            values["select_ops"] = tuple(values["select_ops"])
        if values.get("targets") is not None:
            values["targets"] = tuple(TargetResult.from_dict(r) for r in values["targets"].values())
        if values.get("micropython") is not None:
            values["micropython"] = MicroPythonResult.from_dict(values["micropython"])
        if values.get("c_engine") is not None:
            values["c_engine"] = CEngineResult.from_dict(values["c_engine"])
        if values.get("ops_placement") is not None:
            values["ops_placement"] = tuple(OpPlacement.from_dict(p) for p in values["ops_placement"])
        if values.get("profile") is not None:
            values["profile"] = tuple(TargetProfile.from_dict(p) for p in values["profile"].values())
        return cls(**values)


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
    optimization: Optimization = field(default_factory=Optimization)
    weights: WeightSummary | None = None       # None: no plain weights to count (LUT twin, TF Select)
    compression: Compression | None = None     # None: not considered (a Keras row)
    bytes: ByteAccount | None = None
    strip: StripResult | None = None           # None: --strip not given
    reference_difference: dict[str, float] = field(default_factory=dict)
    within_tolerance: bool | None = None  # --max_drop against the reference; None: not judged
    rewrites: tuple[Rewrite, ...] = ()         # graph rewrites where TFLM lacked a kernel (core/rewrites.py)

    @property
    def is_built_tflite(self) -> bool:
        """A TFLite variant that exists (not a Keras row, not a failed one)."""
        return self.format == "tflite" and not self.error

    def to_dict(self) -> dict[str, Any]:
        """One entry of report.json's `variants`."""
        data: dict[str, Any] = {}
        for name in _VARIANT_KEYS:
            value = getattr(self, name)
            data[name] = dict(value) if isinstance(value, dict) else value
        data["ops"] = list(self.ops)
        data["firmware"] = self.firmware.to_dict() if self.format == "tflite" else {}
        data["optimization"] = self.optimization.to_dict()
        for name in ("weights", "compression", "strip"):
            value = getattr(self, name)
            data[name] = {} if value is None else value.to_dict()
        data["bytes"] = {} if self.bytes is None else self.bytes.as_dict()
        ordered = {key: data[key] for key in _KEY_ORDER}
        if self.rewrites:  # only where a pass applied: reports of models that needed none keep their keys
            ordered["rewrites"] = [rewrite.to_dict() for rewrite in self.rewrites]
        return ordered

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VariantReport":
        """One entry of report.json's `variants` (written by this or an earlier version)."""
        values = {name: data[name] for name in _VARIANT_KEYS if name in data}
        values["ops"] = tuple(data.get("ops", ()))
        values["firmware"] = FirmwareResult.from_dict(data.get("firmware") or {})
        values["optimization"] = Optimization.from_dict(data.get("optimization") or {})
        values["weights"] = WeightSummary.from_dict(data["weights"]) if data.get("weights") else None
        values["compression"] = compression_from_dict(data.get("compression") or {})
        values["strip"] = strip_from_dict(data.get("strip") or {})
        values["bytes"] = ByteAccount.from_dict(data["bytes"]) if data.get("bytes") else None
        values["rewrites"] = tuple(Rewrite.from_dict(r) for r in data.get("rewrites", ()))
        return cls(**values)


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
    trust_model_code: bool = False   # --trust_model_code: the model file's own code was allowed to run

    def to_json(self) -> str:
        """report.json text; timings (and the MicroPython engine's us_per_inference) are the only
        parts that change between identical runs."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "variants"}
        data["notices"] = list(self.notices)
        data["timings"] = dict(self.timings)
        data["variants"] = [variant.to_dict() for variant in self.variants]
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "RunReport":
        """A report.json read back into typed values."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)} - {"variants", "notices"}
        return cls(**{key: value for key, value in data.items() if key in names},
                   notices=tuple(data.get("notices", ())),
                   variants=tuple(VariantReport.from_dict(v) for v in data.get("variants", ())))

    def sparsity_search(self) -> Pruning | None:
        """The pruning of the first variant whose sparsity --sparsity auto searched for, if any."""
        return next((v.optimization.pruning for v in self.variants
                     if v.optimization.pruning is not None and v.optimization.pruning.search), None)

    @property
    def tflite_variants(self) -> tuple[VariantReport, ...]:
        return tuple(v for v in self.variants if v.format == "tflite")


# report.json's variant keys, in the order they have always been written.
_KEY_ORDER = ("name", "path", "format", "quantization", "pruned", "qat", "metrics", "size_bytes",
              "compressed_size_bytes", "delta", "input_dtype", "output_dtype", "ops", "evaluation", "error",
              "clustered", "optimization", "weights", "compression", "bytes", "strip", "reference_difference",
              "within_tolerance", "firmware")
# The plain values among them (the rest are typed blocks with their own to_dict).
_VARIANT_KEYS = ("name", "path", "format", "quantization", "pruned", "qat", "metrics", "size_bytes",
                 "compressed_size_bytes", "delta", "input_dtype", "output_dtype", "evaluation", "error",
                 "clustered", "reference_difference", "within_tolerance")


def with_deltas(variants: list[VariantReport], reference: VariantReport) -> list[VariantReport]:
    """Each variant's metric change against the reference (the Keras model)."""
    return [replace(variant, delta={key: variant.metrics[key] - reference.metrics[key]
                                    for key in variant.metrics if key in reference.metrics})
            for variant in variants]


def failed_row(name: str, quantization: str, error: str) -> VariantReport:
    """A variant that could not be built: its name and the one-line reason."""
    return VariantReport(name=name, path=None, format="tflite", quantization=quantization, pruned=False,
                         qat=False, metrics={}, size_bytes=None, error=error)
