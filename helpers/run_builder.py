"""Builds every variant of a run (variant_builder.py builds each one): the reference row, the
optional optimized Keras model, the TFLite variants, --keep_float and LUT-compressed twins.
Imports TensorFlow; pipeline.py defers importing this module until the inputs check out."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from helpers import compression, foreign
from helpers.config import Quantization, RunConfig
from helpers.convert import TfliteModel
from helpers.dataset import SplitDataset
from helpers.errors import ConfigError, ModelError
from helpers.metrics import compute_metrics
from helpers.model_io import FOREIGN_FORMATS, LoadedModel, ModelFormat, find_model, load_model
from helpers.native_output import set_verbose
from helpers.optimize import OptimizedModel, optimize
from helpers.quant_debug import RMSE_SCALE_THRESHOLD, LayerErrors, layer_errors, match_layers, selective_model
from helpers.report import VariantReport
from helpers.specs import Specs
from helpers.tf_runtime import freeze_loaded_objects, quiet_tensorflow, seed_everything
from helpers.tflite_model import inspect_tflite
from helpers.variant_builder import build_variant, failed_row, optimization_details
from helpers.variant_writer import VariantWriter
from helpers.variants import QAT_RECIPES, RECIPES, VariantRecipe, recipes_for

log = logging.getLogger("mcu_deploy")

# Integer recipes the quantization debugger is tried on (it cannot handle 16x8 models and says so);
# only the int8 ones can be the base of a --keep_float variant.
DEBUGGABLE = (Quantization.INTEGER_WITH_FLOAT_FALLBACK, Quantization.INT8, Quantization.INT16X8)
KEEP_FLOAT_BASES = (Quantization.INTEGER_WITH_FLOAT_FALLBACK, Quantization.INT8)


def prepare(config: RunConfig) -> None:
    """Seed everything and set TensorFlow's verbosity."""
    quiet_tensorflow(config.verbose)
    set_verbose(config.verbose)
    seed_everything()


def load(model_dir: Path, specs: Specs, config: RunConfig) -> LoadedModel:
    """Load the model (model_io owns the formats); refuse Keras-only flags for ONNX/PyTorch first.

    What is alive once the model is loaded is frozen, so that the garbage collection after every
    conversion stays cheap (tf_runtime.freeze_loaded_objects)."""
    path, model_format = find_model(model_dir)
    if model_format in FOREIGN_FORMATS:
        flags = [flag for flag, on in (("--prune", config.prune), ("--cluster", config.cluster),
                                       ("--QAT", config.qat)) if on]
        if flags:
            raise ConfigError(f"{', '.join(flags)} need a Keras model, and {path.name} is "
                              f"{'ONNX' if model_format is ModelFormat.ONNX else 'PyTorch'}",
                              "use --PTQ, or optimize the model in its own framework before export")
    model = load_model(model_dir, specs, config.keep_layout)
    freeze_loaded_objects()
    return model


def in_model_layout(model: LoadedModel, data: SplitDataset) -> SplitDataset:
    """The rows as the converted model takes them (channels-last after onnx2tf, unless --keep_layout)."""
    if not model.transposes_input:
        return data
    return SplitDataset(calibration=data.calibration.with_features(model.to_model_layout(data.calibration.x)),
                        evaluation=data.evaluation.with_features(model.to_model_layout(data.evaluation.x)))


def evaluate_reference(model: LoadedModel, specs: Specs,
                       data: SplitDataset) -> tuple[VariantReport, np.ndarray | None]:
    """The reference row, with its outputs where float32 is compared against them: the Keras model
    (no outputs needed), or for ONNX/PyTorch the original model run by onnxruntime/PyTorch on the
    rows in their original layout."""
    if not model.is_foreign:
        return evaluate_keras(model, specs, data), None
    name, outputs = foreign.reference_outputs(model.path, model.onnx_path or model.path, data.evaluation.x)
    report = VariantReport(name=name, path=None, format=name, quantization="None", pruned=False, qat=False,
                           metrics=compute_metrics(outputs, data.evaluation.y, specs), size_bytes=None,
                           evaluation=f"{name} (the original model)")
    return report, outputs


def evaluate_keras(model: LoadedModel, specs: Specs, data: SplitDataset,
                   optimized: OptimizedModel | None = None) -> VariantReport:
    """A Keras row: the reference model itself, or the optimized Keras model, on the evaluation rows."""
    outputs = model.predict(data.evaluation.x)
    name = "keras" if optimized is None else f"keras_{optimized.prefix}{'qat_' if optimized.qat else ''}".rstrip("_")
    return VariantReport(name=name, path=None, format="keras", quantization="None",
                         pruned=bool(optimized and optimized.pruned), qat=bool(optimized and optimized.qat),
                         clustered=bool(optimized and optimized.clustered),
                         metrics=compute_metrics(outputs, data.evaluation.y, specs), size_bytes=None,
                         evaluation="keras (float32)", optimization=optimization_details(optimized))


def layout_details(model: LoadedModel, specs: Specs) -> dict[str, Any]:
    """What the firmware must feed, for models whose layout the converter changed (or kept)."""
    if not model.is_foreign:
        return {}
    transposed = model.transposes_input
    return {"firmware_shape": list(model.input_shape), "specs_shape": list(specs.input.shape),
            "permutation": list(model.permutation), "channels_last": transposed,
            "note": (f"onnx2tf made the model channels-last: feed values as {list(model.input_shape)}, the specs "
                     f"layout {list(specs.input.shape)} with its axes in the order {list(model.permutation)}")
            if transposed else f"the model keeps the original layout: feed values as {list(specs.input.shape)}"}


# A float32 TFLite further than this (relative to the reference's output range) from the original gets a warning.
REFERENCE_TOLERANCE = 1e-4


def _with_reference_difference(reports: list[VariantReport], outputs: dict[str, np.ndarray],
                               reference: np.ndarray) -> list[VariantReport]:
    """float32 against the original model: the conversion itself should change (almost) nothing."""
    result = []
    for report in reports:
        if report.name == "float32" and "float32" in outputs:
            got = outputs["float32"].reshape(len(reference), -1)
            expected = reference.reshape(len(reference), -1)
            difference = float(np.max(np.abs(got - expected)))
            span = float(np.max(expected) - np.min(expected)) or 1.0
            if difference / span > REFERENCE_TOLERANCE:
                log.warning("warning: float32 TFLite differs from the original model by %.3g (%.2g of its output "
                            "range); check the conversion", difference, difference / span)
            report = replace(report, reference_difference={"max_abs": difference, "relative_to_range":
                                                           difference / span, "tolerance": REFERENCE_TOLERANCE})
        result.append(report)
    return result


@dataclass(frozen=True)
class BuildResult:
    """Every report row, and the evaluation outputs of each TFLite variant (for the plots)."""

    reports: list[VariantReport]
    outputs: dict[str, np.ndarray]


class _Builder:
    """Shared state of one run's variant builds."""

    def __init__(self, config: RunConfig, specs: Specs, data: SplitDataset, writer: VariantWriter,
                 timings: Any) -> None:
        self.config, self.specs, self.data, self.writer, self.timings = config, specs, data, writer, timings
        self.outputs: dict[str, np.ndarray] = {}
        self.tflm_outputs: dict[str, np.ndarray] = {}

    def build(self, recipes: list[VariantRecipe], model: LoadedModel,
              optimized: OptimizedModel | None) -> list[VariantReport]:
        reports = []
        comparing = len(self.config.quantizations) > 1  # -q all: one type failing must not stop the others
        debug_base: tuple[VariantRecipe, LayerErrors] | None = None  # int8 preferred for --keep_float
        for recipe in recipes:
            log.info("converting %s", recipe.name)
            try:
                report = build_variant(recipe, self.config, self.specs, model, self.data, self.writer,
                                       self.timings, optimized, self.outputs, tflm_outputs=self.tflm_outputs)
                reports.append(report)
            except ModelError as exc:
                if not comparing or recipe.quantization is Quantization.NONE:
                    raise
                log.warning("warning: %s skipped: %s", recipe.name, exc.problem)
                reports.append(failed_row(recipe, exc))
                continue
            wanted = self.config.plot_results or self.config.keep_float
            if recipe.quantization in DEBUGGABLE and recipe.needs_calibration and wanted:
                errors = self._debug(recipe, model)
                if errors is not None and recipe.quantization in KEEP_FLOAT_BASES and (
                        debug_base is None or recipe.quantization is Quantization.INT8):
                    debug_base = (recipe, errors)
        if self.config.keep_float:
            reports += self._keep_float(debug_base, model, optimized)
        return self._add_compressed(reports, model, optimized)

    def _add_compressed(self, reports: list[VariantReport], model: LoadedModel,
                        optimized: OptimizedModel | None) -> list[VariantReport]:
        """After each clustered integer variant, its LUT-compressed twin, when that saves bytes."""
        result = []
        for report in reports:
            if report.format != "tflite" or report.error:
                result.append(report)
                continue
            integer = report.input_dtype != "float32" or report.quantization in (
                Quantization.INTEGER_WITH_FLOAT_FALLBACK.value, Quantization.INT8.value)
            reason = compression.why_not(self.config.cluster if report.clustered else None, integer)
            if reason is None and self.config.skip_firmware_checks:
                reason = "LUT compression needs the TFLM checks (run without --skip_firmware_checks)"
            twin = None
            if reason is None:
                twin, reason = self._compressed_twin(report, model, optimized)
            result.append(replace(report, compression={"applied": False, "reason": reason} if reason else
                                  {"applied": False, "compressed_variant": twin.name if twin else None}))
            if twin is not None:
                result.append(twin)
        return result

    def _compressed_twin(self, base: VariantReport, model: LoadedModel,
                         optimized: OptimizedModel | None) -> tuple[VariantReport | None, str | None]:
        content = (self.writer.staging / base.name / "model.tflite").read_bytes()
        plan = compression.plan_compression(content, self.config.cluster or 0)
        if not plan.compressed:
            return None, "no weight tensor fits the lookup table: " + "; ".join(
                f"{t.name}: {t.reason}" for t in plan.skipped)
        with self.timings.phase("convert"):
            compressed = compression.compress_model(content, plan)
        if len(compressed) >= len(content):
            return None, (f"LUT compression would not shrink this model ({len(content):,} -> {len(compressed):,} "
                          "bytes: tables and alignment outweigh the saving on so few weights)")
        recipe = next(r for r in RECIPES.values() if r.quantization.value == base.quantization)
        recipe = replace(recipe, name=f"{base.name}_lut{plan.bits}",
                         description=f"{recipe.description}, weights as {plan.bits}-bit LUT indices")
        tflite = TfliteModel(recipe=recipe, content=compressed, info=inspect_tflite(compressed))
        log.info("converting %s (LUT compression of %s)", recipe.name, base.name)
        report = build_variant(recipe, self.config, self.specs, model, self.data, self.writer, self.timings,
                               optimized, self.outputs, prepared=tflite, tflm_outputs=self.tflm_outputs)
        identical = None
        if base.name in self.tflm_outputs and recipe.name in self.tflm_outputs:
            identical = bool(np.array_equal(self.tflm_outputs[base.name], self.tflm_outputs[recipe.name]))
        weights = sum(t.elements for t in plan.compressed)
        details = {"applied": True, "base_variant": base.name, "bits": plan.bits,
                   "index_bits_per_weight": plan.bits,
                   # int8 weights take 8 bits each; what the whole file saved, spread over them:
                   "effective_bits_per_weight": round(8 - 8 * (len(content) - len(compressed)) / weights, 2)
                   if weights else None,
                   "saving_bytes": len(content) - len(compressed),
                   "saving_fraction": round((len(content) - len(compressed)) / len(content), 4),
                   "tflm_outputs_identical_to_base": identical,
                   "compressed_tensors": [t.name for t in plan.compressed],
                   "left_uncompressed": [{"tensor": t.name, "reason": t.reason} for t in plan.skipped]}
        return replace(report, compression=details), None

    def _debug(self, recipe: VariantRecipe, model: LoadedModel) -> LayerErrors | None:
        log.info("  quantization debugger on %s", recipe.name)
        with self.timings.phase("debugger"):
            try:
                errors = layer_errors(model, self.specs, recipe, self.data.calibration.x)
            except Exception as exc:  # the debugger raises whatever its interpreters raise
                log.warning("warning: the quantization debugger cannot run on %s (%s); carrying on",
                            recipe.name, str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__)
                return None
        self.writer.write_layer_errors(recipe.name, errors)
        return errors

    def _keep_float(self, debugged: tuple[VariantRecipe, LayerErrors] | None, model: LoadedModel,
                    optimized: OptimizedModel | None) -> list[VariantReport]:
        if debugged is None:
            raise ModelError("--keep_float needs an integer variant the quantization debugger can analyse",
                             "use --PTQ -q int8 or -q integer_with_float_fallback", self.specs.path)
        base, errors = debugged
        if self.config.keep_float == ("auto",):
            layers = errors.worst()
            if not layers:
                log.info("  --keep_float auto: no layer above RMSE/scale %.1f, no selective variant needed",
                         RMSE_SCALE_THRESHOLD)
                return []
        else:
            layers = match_layers(errors, self.config.keep_float, self.specs)
        log.info("  keeping %d op(s) in float: %s", len(layers), ", ".join(layers))
        with self.timings.phase("convert"):
            selective = selective_model(model, self.specs, base, self.data.calibration.x, layers,
                                        f"{base.name}_keep_float")
        report = build_variant(selective.recipe, self.config, self.specs, model, self.data, self.writer,
                               self.timings, optimized, self.outputs, prepared=selective)
        return [replace(report, optimization={**report.optimization, "kept_in_float": layers})]


def build_all(config: RunConfig, specs: Specs, model: LoadedModel, data: SplitDataset, staging: Path,
              timings: Any) -> BuildResult:
    """Reference row first, then one row per TFLite variant.

    With --prune, --cluster or --QAT the original model still gives the float32 baseline, the
    optimized Keras model gets its own row, and the selected variants are built from it."""
    with timings.phase("evaluate"):
        reference, reference_outputs = evaluate_reference(model, specs, data)
    reports = [reference]
    writer = VariantWriter(config, specs, model.path.name, staging, layout_details(model, specs))
    builder = _Builder(config, specs, in_model_layout(model, data), writer, timings)
    if not (config.prune or config.cluster or config.qat):
        reports += builder.build(recipes_for(config.quantizations), model, None)
        if model.is_foreign:
            reports = _with_reference_difference(reports, builder.outputs, reference_outputs)
        return BuildResult(reports, builder.outputs)
    with timings.phase("optimize"):  # first: a model the optimization cannot handle fails before other work
        optimized = optimize(model, specs, data, config)
    reports += builder.build([RECIPES[Quantization.NONE]], model, None)
    with timings.phase("evaluate"):
        reports.append(evaluate_keras(optimized.model, specs, data, optimized))
    recipes = [QAT_RECIPES[config.qat_int8_io]] if config.qat else recipes_for(config.quantizations)
    recipes = [replace(recipe, name=optimized.prefix + recipe.name) for recipe in recipes]
    reports += builder.build(recipes, optimized.model, optimized)
    return BuildResult(reports, builder.outputs)

