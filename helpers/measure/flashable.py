"""Whether anything the run built can be flashed: a run whose every variant TFLM refuses (and no
engine takes) produced no firmware, so it must not exit 0 (issue 35: an attention block with GELU
and a U-Net with TILE exited 0 under `-q all` with nothing to flash).

TFLM's verdict is known from the op list alone (measure/tflm.static_reason), so it holds with
--skip_firmware_checks and without a TFLM tree too; only a variant nothing was learnt about
(`tflm_runnable` None) keeps the run from being judged.
"""
from __future__ import annotations

from pathlib import Path

from helpers.core.checks import Status
from helpers.core.results import VariantReport
from helpers.core.tflm_ops import ops_without_kernel
from helpers.errors import PipelineError

# An engine that was written and did not fail takes the variant even where TFLM does not.
_ENGINE_TAKES = (Status.PASS, Status.NOT_CHECKED)

# The way out per op TFLM has no kernel for, where one is known: the layer that makes the op and
# what to use instead (each checked on a model of its own: docs/layer_zoo.md).
_WAY_OUT = {
    "GELU": "use activation \"relu\" or \"swish\" where the model uses gelu",
    "TILE": "UpSampling1D/2D (nearest) and RepeatVector lower to it; UpSampling2D(interpolation=\"bilinear\") "
            "and Resizing run on TFLM",
    "SELECT": "TFLM has SELECT_V2 only, and selu and Keras 3's Embedding lower to SELECT: use activation "
              "\"relu\" or \"leaky_relu\" in place of selu",
}


class NothingFlashableError(PipelineError):
    """No variant of the run can run on a microcontroller (the export is still written)."""

    exit_code = 3


def flashable(variant: VariantReport) -> bool | None:
    """True: TFLM or one of the engines runs the variant; False: neither does; None: not known
    (TFLM was not checked and the op list names nothing it lacks)."""
    firmware = variant.firmware
    engines = (firmware.c_engine, firmware.micropython)
    if any(engine is not None and engine.status in _ENGINE_TAKES for engine in engines):
        return True
    return firmware.tflm_runnable


def blocking_ops(variant: VariantReport) -> tuple[str, ...]:
    """The ops that keep the variant off TFLM: builtins its resolver has no kernel for, and custom
    ops TFLM does not ship (TF Select's Flex ops): the report's op list holds both."""
    return ops_without_kernel(variant.ops)


def check_any_flashable(variants: list[VariantReport], export_dir: Path, select_ops_allowed: bool,
                        written: bool = True) -> None:
    """NothingFlashableError when every built TFLite variant is known not to run on a microcontroller
    (`written`: the export is in place, as after a full run; --check writes none)."""
    built = [v for v in variants if v.is_built_tflite]
    if not built or any(flashable(v) is not False for v in built):
        return
    reasons: dict[str, list[str]] = {}
    for variant in built:
        reasons.setdefault(_why(variant), []).append(variant.name)
    said = "; ".join(f"{why} ({', '.join(names)})" for why, names in reasons.items())
    failed = [v.name for v in variants if v.format == "tflite" and v.error]
    if failed:
        said += f"; {', '.join(failed)} could not be built (report.md says why)"
    raise NothingFlashableError(f"no variant of the run can be flashed: {said}" +
                                ("; the export is written" if written else ""),
                                _way_out(built, select_ops_allowed), export_dir)


def _why(variant: VariantReport) -> str:
    ops = blocking_ops(variant)
    if ops:
        return f"TFLM has no kernel for {', '.join(ops)}"
    return f"TFLM cannot run it: {variant.firmware.tflm_reason or 'the check failed'}"


def _way_out(built: list[VariantReport], select_ops_allowed: bool) -> str:
    """What to change: per blocking op the known replacement, else the layer that makes it."""
    ops = list(dict.fromkeys(op for v in built for op in blocking_ops(v)))
    steps = [f"{op}: {_WAY_OUT[op]}" for op in ops if op in _WAY_OUT]
    unknown = [op for op in ops if op not in _WAY_OUT]
    if select_ops_allowed and any(v.firmware.select_ops for v in built):
        steps.append("drop --allow_select_ops and replace the layers that need TensorFlow ops")
        unknown = [op for op in unknown if not op.startswith("Flex")]
    if unknown:
        steps.append(f"replace the layers that make {', '.join(unknown)} (report.md lists each variant's ops)")
    quantizations = {v.quantization for v in built}
    if not ops and "integer_with_float_fallback" not in quantizations:
        steps.append("try `-q integer_with_float_fallback`, which quantizes the ops TFLM runs in integers")
    return "; ".join(steps) or "change the model's layers to ones TFLM runs (docs/layer_zoo.md lists which do)"
