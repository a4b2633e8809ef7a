"""Variants derived from a built and measured base: the quantization debugger's per-layer errors,
the --keep_float twin, and the LUT-compressed twin of a clustered integer variant."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from helpers.convert import lut_compression
from helpers.convert.quant_debug import RMSE_SCALE_THRESHOLD, LayerErrors, layer_errors, match_layers, selective_model
from helpers.core.details import CompressedTwin, Compression, LeftUncompressed, LutCompressed, NotApplied
from helpers.core.flatbuffer import inspect_tflite
from helpers.core.results import failed_row
from helpers.core.variant import TfliteModel, VariantPlan, lut_plan
from helpers.errors import ModelError, first_line
from helpers.frontend.model_loader import LoadedModel
from helpers.frontend.optimize import OptimizedModel
from helpers.pipeline.rows import tflite_row
from helpers.pipeline.variants import VariantResult, VariantRunner
from helpers.render.variant_folder import write_layer_errors

log = logging.getLogger("mcu_deploy")


def debuggable(plan: VariantPlan) -> bool:
    """The quantization debugger analyses calibrated integer variants (it says so when it cannot)."""
    return plan.calibrated and plan.traits.integer_activations


def debug_layers(runner: VariantRunner, plan: VariantPlan, model: LoadedModel) -> LayerErrors | None:
    """Per-layer quantization errors of `plan`, written to <variant>/layer_errors.csv and .png."""
    log.info("  quantization debugger on %s", plan.name)
    with runner.timings.phase("debugger"):
        try:
            errors = layer_errors(model, runner.specs, plan, runner.data.calibration.x)
        except Exception as exc:  # noqa: BLE001 - the debugger raises whatever its interpreters raise
            log.warning("warning: the quantization debugger cannot run on %s (%s); carrying on",
                        plan.name, first_line(exc, 120))
            return None
    write_layer_errors(runner.staging, plan.name, errors.table, RMSE_SCALE_THRESHOLD,
                       f"{runner.specs.name}, {plan.name}: quantization error per layer")
    return errors


def keep_float_twin(runner: VariantRunner, base: tuple[VariantPlan, LayerErrors] | None, model: LoadedModel,
                    optimized: OptimizedModel | None) -> list[VariantResult]:
    """--keep_float: the base with the worst (auto) or the named layers left in float."""
    if base is None:
        raise ModelError("--keep_float needs an integer variant the quantization debugger can analyse",
                         "use --PTQ -q int8 or -q integer_with_float_fallback", runner.specs.path)
    plan, errors = base
    if runner.config.keep_float == ("auto",):
        layers = errors.worst()
        if not layers:
            log.info("  --keep_float auto: no layer of %s above RMSE/scale %.1f (largest %.2f), no selective "
                     "variant needed", plan.name, RMSE_SCALE_THRESHOLD, float(errors.table["rmse/scale"].max()))
            return []
    else:
        layers = match_layers(errors, runner.config.keep_float, runner.specs)
    log.info("  keeping %d op(s) of %s in float: %s", len(layers), plan.name, ", ".join(layers))
    with runner.timings.phase("convert"):
        selective = selective_model(model, runner.specs, plan, runner.data.calibration.x, layers)
    result = runner.run(selective.plan, model, optimized, prepared=selective)
    report = replace(result.report, optimization=replace(result.report.optimization, kept_in_float=tuple(layers)))
    return [replace(result, report=report)]


def _lut_eligible(runner: VariantRunner, result: VariantResult) -> str | None:
    """Why `result` gets no LUT twin, or None when it may."""
    assert result.tflite is not None
    clusters = runner.config.cluster if result.report.clustered else None
    reason = lut_compression.why_not(clusters, result.tflite.plan.traits.integer_activations)
    if reason is None and runner.config.skip_firmware_checks:
        reason = "LUT compression needs the TFLM checks to prove it lossless (run without --skip_firmware_checks)"
    if reason is None and result.measurement is not None and result.measurement.tflm.raw_outputs is None:
        reason = "TFLM did not run the base variant, so a compressed twin could not be proven lossless"
    return reason


def lut_twin(runner: VariantRunner, base: VariantResult,
             optimized: OptimizedModel | None) -> tuple[Compression, VariantResult | None]:
    """The base's `compression` block, and its LUT-compressed twin: emitted only when TFLM gives
    outputs identical to the base's on every evaluation row, else a failed row with the reason."""
    reason = _lut_eligible(runner, base)
    if reason is not None:
        return NotApplied(reason), None
    assert base.tflite is not None and base.measurement is not None
    content = base.tflite.content
    plan = lut_compression.plan_compression(content, runner.config.cluster or 0)
    if not plan.compressed:
        return NotApplied("no weight tensor fits the lookup table: " + "; ".join(
            f"{t.name}: {t.reason}" for t in plan.skipped)), None
    with runner.timings.phase("convert"):
        compressed = lut_compression.compress_model(content, plan)
    if len(compressed) >= len(content):
        return NotApplied(f"LUT compression would not shrink this model ({len(content):,} -> {len(compressed):,} "
                          "bytes: tables and alignment outweigh the saving on so few weights)"), None
    twin_plan = lut_plan(base.tflite.plan, plan.bits)
    log.info("converting %s (LUT compression of %s)", twin_plan.name, base.tflite.plan.name)
    tflite = TfliteModel(plan=twin_plan, content=compressed, info=inspect_tflite(compressed),
                         rewrites=base.tflite.rewrites)
    measurement = runner.measure(tflite)
    base_outputs, twin_outputs = base.measurement.tflm.raw_outputs, measurement.tflm.raw_outputs
    if twin_outputs is None or not np.array_equal(base_outputs, twin_outputs):
        why = (f"TFLM cannot run it: {measurement.tflm.reason}" if twin_outputs is None
               else f"TFLM's outputs differ from the uncompressed variant's on {_rows_differing(base_outputs, twin_outputs)} "
               "evaluation rows, so the compression is not lossless")
        log.warning("warning: %s not emitted: %s", twin_plan.name, why)
        failed = failed_row(twin_plan.name, twin_plan.quantization.value, f"{twin_plan.name}: {why}")
        return NotApplied(why), VariantResult(report=failed)
    rendered, measurement = runner.render(tflite, measurement)
    weights = sum(t.elements for t in plan.compressed)
    saving = len(content) - len(compressed)
    details = LutCompressed(
        base_variant=base.tflite.plan.name, bits=plan.bits,
        # int8 weights take 8 bits each; what the whole file saved, spread over them:
        effective_bits_per_weight=round(8 - 8 * saving / weights, 2) if weights else None,
        saving_bytes=saving, saving_fraction=round(saving / len(content), 4),
        compressed_tensors=tuple(t.name for t in plan.compressed),
        left_uncompressed=tuple(LeftUncompressed(tensor=t.name, reason=t.reason) for t in plan.skipped))
    report = replace(tflite_row(tflite, measurement, rendered, optimized, None), compression=details)
    return CompressedTwin(twin_plan.name), VariantResult(report, tflite, measurement)


def _rows_differing(first: np.ndarray, second: np.ndarray) -> int:
    """How many rows of two output arrays are not identical."""
    if first.shape != second.shape:
        return len(first)
    return int(np.sum(np.any(first.reshape(len(first), -1) != second.reshape(len(second), -1), axis=1)))


def with_lut_twins(runner: VariantRunner, results: list[VariantResult],
                   optimized: OptimizedModel | None) -> list[VariantResult]:
    """After each built TFLite variant, its compression block and (when it pays and is lossless) its twin."""
    combined: list[VariantResult] = []
    for result in results:
        if not result.report.is_built_tflite or result.tflite is None:
            combined.append(result)
            continue
        block, twin = lut_twin(runner, result, optimized)
        combined.append(replace(result, report=replace(result.report, compression=block)))
        if twin is not None:
            combined.append(twin)
    return combined


def failed_variant(plan: VariantPlan, error: ModelError) -> VariantResult:
    """A plan whose conversion failed, as a row with the reason."""
    return VariantResult(report=failed_row(plan.name, plan.quantization.value, error.one_line()))

