"""The jobs the parent hands the converter's child process: frozen dataclasses, pickled through
the zygote's pipe, dispatched on their type by the child (convert/child/main.py). Files travel
by path: the batch-1 SavedModel and the rows as .npy (convert/isolated.py writes them)."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.core.variant import VariantPlan


@dataclass(frozen=True)
class ConvertJob:
    """The plan's flatbuffer."""

    saved_model: str
    plan: VariantPlan
    calibration_rows: str | None       # None: a plan that is not calibrated
    allow_select_ops: bool


@dataclass(frozen=True)
class LayerErrorsJob:
    """The quantization debugger's per-layer statistics for the plan, as CSV text."""

    saved_model: str
    plan: VariantPlan
    calibration_rows: str
    debug_rows: str


@dataclass(frozen=True)
class SelectiveJob:
    """The plan's model with the listed ops left in float."""

    saved_model: str
    plan: VariantPlan
    calibration_rows: str
    keep_float: tuple[str, ...]


@dataclass(frozen=True)
class RangesJob:
    """The plan's quantization with some activation ranges replaced (accuracy recovery): calibrated
    as the plan's conversion is, each named tensor's (min, max) set, then quantized. With
    calibrated_only, the calibrated float model itself: every tensor's range as the calibrator saw it."""

    saved_model: str
    plan: VariantPlan
    calibration_rows: str
    ranges: tuple[tuple[str, float, float], ...] = ()
    calibrated_only: bool = False


@dataclass(frozen=True)
class ProbeJob:
    """A .tflite from elsewhere, run once on LiteRT in the child (interpreter, allocation, one invoke
    on zeros) before the parent's own interpreter touches it: a malformed file that passes the
    flatbuffer reader can still abort or crash LiteRT, and that must end only the child."""

    model: str


Job = ConvertJob | LayerErrorsJob | SelectiveJob | RangesJob | ProbeJob

# What the child leaves in the job's folder: the answer's bytes, or the exception's text.
RESULT, ERROR = "result.bin", "error.txt"
