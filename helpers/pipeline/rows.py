"""A TFLite variant's report row, from its model, its measurement and the verdicts of the checks
on its firmware."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

from helpers.core.byte_account import account
from helpers.core.checks import CEngineResult, MicroPythonResult, OpPlacement, PackageResult, Status, TargetResult
from helpers.core.details import Optimization, StripResult
from helpers.core.profile import TargetProfile
from helpers.core.results import FirmwareResult, VariantReport
from helpers.core.variant import TfliteModel, VariantKind
from helpers.core.weights import weight_summary
from helpers.emit.c_engine import CEngine
from helpers.frontend.optimize import OptimizedModel
from helpers.measure.toolchains import ToolchainFigures
from helpers.measure.variant import Measurement, select_ops


@dataclass(frozen=True)
class RenderOutcome:
    """What rendering a variant's folder measured: the toolchains' figures and the targets' verdicts."""

    toolchain: ToolchainFigures | None = None
    targets: tuple[TargetResult, ...] = ()
    micropython: MicroPythonResult | None = None
    c_engine: CEngineResult | None = None
    placement: tuple[OpPlacement, ...] | None = None
    profile: tuple[TargetProfile, ...] | None = None   # --profile: per layer, per Cortex-M target


def c_engine_result(engine: CEngine | None, unsupported_reason: str | None, results: tuple[TargetResult, ...],
                    cmsis_nn_revision: str, unchecked_reason: str,
                    packages: tuple[PackageResult, ...] = ()) -> CEngineResult:
    """The C engine's verdict: FAIL if a target failed it, PASS if one passed it, else why nothing ran.
    `engine` is the emitter's CEngine (None: not written, for `unsupported_reason`)."""
    if engine is None:
        return CEngineResult(status=Status.UNSUPPORTED, reason=unsupported_reason)
    facts = {"arena_bytes": engine.arena_bytes, "constant_bytes": engine.constant_bytes,
             "kernel_calls": engine.kernel_calls, "uses_cmsis_nn": engine.uses_cmsis,
             "cmsis_nn_revision": cmsis_nn_revision if engine.uses_cmsis else None, "targets": results,
             "packages": packages, "graph_passes": engine.removed, "own_kernel_layers": engine.own_kernel_layers,
             "own_kernel_layers_v6m": engine.own_kernel_layers_v6m, "kernel_choice": engine.kernel_choice,
             "kernel_choice_v6m": engine.kernel_choice_v6m}
    failed = [r for r in results if r.failed]
    if failed:
        return CEngineResult(status=Status.FAIL, reason="; ".join(f"{r.target}: {r.message}" for r in failed), **facts)
    if any(r.passed for r in results):
        return CEngineResult(status=Status.PASS, **facts)
    if results:
        return CEngineResult(status=results[0].status, reason=results[0].message, **facts)
    return CEngineResult(status=Status.NOT_CHECKED, reason=unchecked_reason, **facts)


def compressed_size(content: bytes) -> int:
    """zlib size at level 9: what pruning and clustering actually save in a compressed image."""
    return len(zlib.compress(content, 9))


def firmware_result(tflite: TfliteModel, measurement: Measurement, toolchain: ToolchainFigures | None,
                    targets: tuple[TargetResult, ...] = (),
                    micropython: MicroPythonResult | None = None,
                    c_engine: CEngineResult | None = None) -> FirmwareResult:
    """The report's firmware block from TFLM's verdict and the toolchains' figures.

    `reset_before_invoke` is read from the flatbuffer, not from the checks: the generated firmware
    carries it even with --skip_firmware_checks."""
    tflm = measurement.tflm
    fields: dict[str, Any] = {"reset_before_invoke": tflite.info.stateful}
    if tflm.checked:
        fields.update(tflm_runnable=tflm.runnable, tflm_reason=tflm.reason or None)
    if tflm.runnable:
        fields.update(tflm_metrics=tflm.metrics, tflm_max_difference=tflm.max_difference,
                      tflm_difference_unit=tflm.difference_unit,
                      tensor_arena_measured_bytes=tflm.arena_measured, tensor_arena_bytes=tflm.arena_recommended)
    flex = select_ops(tflite)
    if flex:
        fields["select_ops"] = flex
    if toolchain is not None:
        fields.update(flash_bytes=toolchain.flash.bytes_per_target or None, flash_note=toolchain.flash.note or None,
                      mpy_bytes=toolchain.mpy.size_bytes, mpy_note=toolchain.mpy.note or None)
    if micropython is not None:
        fields["micropython"] = micropython
    if c_engine is not None:
        fields["c_engine"] = c_engine
    if targets:
        fields["targets"] = targets
        failing = [result for result in targets if result.failed]
        if failing and tflm.runnable:  # the targets' verdict decides: firmware that fails somewhere is not "runnable"
            fields.update(tflm_runnable=False, tflm_reason="; ".join(
                f"fails on {result.target} ({result.kernels}): {result.message}" for result in failing))
    return FirmwareResult(**fields)


def tflite_row(tflite: TfliteModel, measurement: Measurement, rendered: RenderOutcome,
               optimized: OptimizedModel | None, strip: StripResult | None) -> VariantReport:
    """A TFLite variant's report row."""
    lineage = tflite.plan.lineage
    # LUT twins hold index tensors and Select-op variants TensorFlow graphs: neither has plain weights to count
    plain = not select_ops(tflite) and tflite.plan.kind is not VariantKind.LUT
    return VariantReport(
        name=tflite.plan.name, path=tflite.plan.name, format="tflite", quantization=tflite.plan.quantization.value,
        pruned=lineage.pruned, qat=lineage.qat, clustered=lineage.clustered,
        metrics=measurement.metrics, size_bytes=tflite.size_bytes,
        compressed_size_bytes=compressed_size(tflite.content),
        input_dtype=tflite.info.input.dtype, output_dtype=tflite.info.output.dtype,
        ops=tflite.info.ops + tflite.info.custom_ops, evaluation=measurement.evaluation,
        firmware=replace(firmware_result(tflite, measurement, rendered.toolchain, rendered.targets,
                                         rendered.micropython, rendered.c_engine), ops_placement=rendered.placement,
                         profile=rendered.profile),
        optimization=optimized.details() if optimized else Optimization(),
        weights=weight_summary(tflite.content) if plain else None,
        bytes=account(tflite.content) if plain else None, strip=strip, rewrites=tflite.rewrites)
