"""Every variant of a run: the reference row, the optional optimized Keras row, each planned
TFLite variant through build -> measure -> render, then the twins derived from measured bases.
Imports TensorFlow; pipeline/run.py imports this module only once the inputs check out."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from helpers.config import RunConfig
from helpers.convert.converter import ConverterCrashError, convert
from helpers.convert.quant_debug import LayerErrors
from helpers.core.dataset import SplitDataset
from helpers.core.details import Unrolled
from helpers.core.quantization import Quantization
from helpers.core.specs import Specs
from helpers.core.timings import Timings
from helpers.core.variant import VariantPlan
from helpers.errors import ModelError
from helpers.frontend import unroll
from helpers.frontend.model_loader import LoadedModel, ModelFormat
from helpers.frontend.optimize import CandidateJudge, OptimizedModel, optimize
from helpers.frontend.optimize_settings import OptimizeRequest
from helpers.frontend.tf_runtime import quiet_tensorflow, seed_everything
from helpers.measure.litert import LiteRtRunner, dequantize_outputs, quantize_inputs
from helpers.native_output import set_verbose
from helpers.pipeline import given, twins
from helpers.pipeline.plan import RunPlan, plan_run
from helpers.pipeline.reference import (
    in_model_layout,
    keras_row,
    layout_details,
    load,
    reference_row,
    with_reference_difference,
)
from helpers.pipeline.variants import VariantResult, VariantRunner, VariantSettings
from helpers.render.variant_folder import FolderSettings
from helpers.targets.bench import TargetBench
from helpers.targets.cmsis_sources import cmsis_nn_revision

log = logging.getLogger("mcu_deploy")

__all__ = ["prepare", "load", "build_all"]


def prepare(config: RunConfig) -> None:
    """Seed everything and set TensorFlow's verbosity."""
    quiet_tensorflow(config.verbose)
    set_verbose(config.verbose)
    seed_everything()


def _build_plans(runner: VariantRunner, plans: tuple[VariantPlan, ...], model: LoadedModel,
                 optimized: OptimizedModel | None, run_plan: RunPlan) -> list[VariantResult]:
    """Each plan through the stages; with several quantizations a failed one becomes its row.
    The quantization debugger runs after each calibrated integer variant when asked for, and
    --keep_float derives its twin from the int8 one (else integer_with_float_fallback)."""
    results: list[VariantResult] = []
    keep_float_base: tuple[VariantPlan, LayerErrors] | None = None
    wanted = runner.config.plot_results or bool(runner.config.keep_float)
    for plan in plans:
        log.info("converting %s", plan.name)
        try:
            results.append(runner.run(plan, model, optimized))
        except ConverterCrashError as crash:
            retried = _unrolled_retry(runner, plan, model, optimized, crash)
            if retried is not None:
                results.append(retried)
                continue
            log.warning("warning: %s skipped: %s", plan.name, crash.problem)
            results.append(twins.failed_variant(plan, crash))
            continue
        except ModelError as exc:
            if not run_plan.comparing or plan.quantization is Quantization.NONE:
                raise
            log.warning("warning: %s skipped: %s", plan.name, exc.problem)
            results.append(twins.failed_variant(plan, exc))
            continue
        if wanted and twins.debuggable(plan):
            errors = twins.debug_layers(runner, plan, model)
            if errors is not None and plan.traits.keep_float_base and (
                    keep_float_base is None or plan.quantization is Quantization.INT8):
                keep_float_base = (plan, errors)
    if runner.config.keep_float:
        results += twins.keep_float_twin(runner, keep_float_base, model, optimized)
    return twins.with_lut_twins(runner, results, optimized)


def _unrolled_retry(runner: VariantRunner, plan: VariantPlan, model: LoadedModel,
                    optimized: OptimizedModel | None, crash: ConverterCrashError) -> VariantResult | None:
    """After a converter crash on a model with recurrent layers: the same plan with those layers
    unrolled, or None (a crash is TensorFlow's, not the user's: the run keeps its other variants and
    its report either way, and main.py exits non-zero only if the crashed variant was asked for)."""
    layers = unroll.recurrent_layers(model)
    rebuilt = unroll.unrolled(model)
    if rebuilt is None:
        return None
    log.warning("warning: %s: %s; retrying with %s unrolled", plan.name, crash.problem, ", ".join(layers))
    try:
        result = runner.run(plan, rebuilt, optimized)
    except ModelError as exc:
        log.warning("warning: the unrolled %s failed too: %s", plan.name, exc.problem)
        return None
    note = Unrolled(layers=tuple(layers), why=crash.problem)
    return replace(result, report=replace(result.report, optimization=replace(result.report.optimization,
                                                                              recurrent_unrolled=note)))


def sparsity_judge(specs: Specs, model: LoadedModel, plans: tuple[VariantPlan, ...],
                   calibration_x) -> CandidateJudge | None:  # type: ignore[no-untyped-def]
    """How --sparsity auto judges a pruned candidate: each quantized variant the run will export
    from it, converted (calibrated on the run's calibration rows) and run on LiteRT. None when
    no quantized variant follows the pruning directly (float32 alone: the pruned model is it).
    A variant that does not convert is left out of the judging: it fails at every sparsity, and
    the run reports it as its own failed row."""
    quantized = [plan for plan in plans if plan.quantization is not Quantization.NONE]
    if not quantized:
        return None

    def judge(candidate, x):  # type: ignore[no-untyped-def]
        loaded = replace(model, keras=candidate, is_keras2=True)
        outputs = {}
        for plan in quantized:
            try:
                tflite = convert(loaded, specs, plan, calibration_x)
            except ModelError as exc:
                log.info("  --sparsity auto: %s left out of the judging: %s", plan.name, exc.problem)
                continue
            raw = LiteRtRunner(tflite.content, tflite.info).run_quantized(quantize_inputs(x, tflite.info))
            outputs[plan.name] = dequantize_outputs(raw, tflite.info)
        return outputs

    return judge


def optimize_request(config: RunConfig) -> OptimizeRequest:
    """The optimization flags, for frontend/optimize (which never reads the whole config)."""
    return OptimizeRequest(prune=config.prune, sparsity=config.sparsity, sparsity_auto=config.sparsity_auto,
                           prune_epochs=config.prune_epochs, prune_policy=config.prune_policy,
                           cluster=config.cluster, qat=config.qat, max_drop=config.max_drop)


def build_all(config: RunConfig, specs: Specs, model: LoadedModel, data: SplitDataset, staging: Path,
              timings: Timings) -> list[VariantResult]:
    """Reference row first, then one row per TFLite variant (and twin).

    With --prune, --cluster or --QAT the original model still gives the float32 baseline, the
    optimized Keras model gets its own row, and the selected variants are built from it."""
    bench = TargetBench.create(config.tflm_dir, config.targets, config.mcu_mhz, config.profile)
    tree = bench.tree if bench is not None else None
    folder = FolderSettings(export_firmware=config.export, source=model.path.name,
                            layout=layout_details(model, specs), evaluation_rows=len(data.evaluation),
                            tflm_root=tree.root if tree else None,
                            cmsis_nn_revision=cmsis_nn_revision(tree.root) if tree else "unknown",
                            packages=config.packages)
    runner = VariantRunner(VariantSettings.of(config), specs, in_model_layout(model, data), staging, folder, timings,
                           bench)
    if model.format is ModelFormat.TFLITE:
        given_model = given.read_given(model.path, specs)
        given.refuse_source_flags(config, given_model, model.path)
        return given.build_given(runner, given_model)
    run_plan = plan_run(config)
    runner.reference_model = model   # what the guard compares with: recovery judges against it too
    with timings.phase("evaluate"):
        reference, reference_outputs = reference_row(model, specs, data)
    results = [VariantResult(report=reference)]
    if not run_plan.lineage.optimized:
        built = _build_plans(runner, run_plan.from_original, model, None, run_plan)
        if reference_outputs is not None:
            built = [replace(r, report=with_reference_difference(r.report, r.measurement.outputs, reference_outputs))
                     if r.report.name == "float32" and r.measurement is not None else r for r in built]
        return results + built
    with timings.phase("optimize"):  # first: a model the optimization cannot handle fails before other work
        pruning_alone = config.prune and not config.cluster and not config.qat
        judge = sparsity_judge(specs, model, run_plan.from_optimized, data.calibration.x) if (
            config.sparsity_auto and pruning_alone) else None
        optimized = optimize(model, specs, data, optimize_request(config), judge)
    results += _build_plans(runner, run_plan.from_original, model, None, run_plan)
    with timings.phase("evaluate"):
        results.append(VariantResult(report=keras_row(optimized.model, specs, data, optimized)))
    return results + _build_plans(runner, run_plan.from_optimized, optimized.model, optimized, run_plan)
