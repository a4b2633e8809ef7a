"""The facade main.py calls: check the inputs, load, then for every planned variant build ->
measure -> render, derive the twins, and write the report. Everything lands in a staged export
that replaces the previous one only when the run succeeds."""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from helpers import workers
from helpers.config import RunConfig
from helpers.config_trees import NO_TREE_GIVEN, not_built_notice
from helpers.convert import zygote
from helpers.core.checks import Status
from helpers.core.dataset import Dataset, SplitDataset, load_dataset, locate_dataset, split_dataset
from helpers.core.packing import split_labels
from helpers.core.paths import DEFAULT_EXPORT_ROOT
from helpers.core.results import RunReport, VariantReport, with_deltas
from helpers.core.specs import Specs, Task, load_specs
from helpers.core.timings import Timings
from helpers.emit.identifiers import identifier
from helpers.errors import CheckNotRunError, PipelineError, VariantFailedError
from helpers.measure import budgets, flashable, tolerance
from helpers.measure.metrics import guarded_metrics, output_parts, primary_metric
from helpers.native_output import native_stderr_silenced, set_verbose
from helpers.pipeline.staged_export import StagedExport, check_destination
from helpers.render.report_text import format_markdown

log = logging.getLogger("mcu_deploy")


@dataclass(frozen=True)
class RunSummary:
    """What main.py shows: the report and where it was written."""

    report: RunReport
    export_dir: Path


@dataclass(frozen=True)
class SweepSummary:
    """The sweep's table and where it was written."""

    table: Any
    export_dir: Path
    files: tuple[Path, ...]


def check_input_dir(input_dir: Path) -> None:
    """The model directory exists and holds something."""
    if not input_dir.exists():
        raise PipelineError("the input directory does not exist", "pass the model directory with --input_dir",
                            input_dir)
    if not input_dir.is_dir():
        raise PipelineError("--input_dir is not a directory", "pass the directory that holds the model", input_dir)
    if not any(input_dir.iterdir()):
        raise PipelineError("the input directory is empty",
                            "put the model, specs.json and the CSV dataset in it", input_dir)


def export_destination(config: RunConfig, specs: Specs) -> Path:
    """--export_dir, else export/<name>."""
    return config.export_dir if config.export_dir is not None else DEFAULT_EXPORT_ROOT / identifier(specs.name)


def run(config: RunConfig) -> RunSummary | SweepSummary:
    """Run the whole pipeline (or the sweep) for one model directory."""
    set_verbose(config.verbose)
    try:
        with native_stderr_silenced():
            return _sweep(config) if config.sweep else _run(config)
    finally:
        _remove_temporary_models()


def _remove_temporary_models() -> None:
    """onnx2tf's folders and the converter's SavedModels go on every exit path (only a run that
    made them has the modules loaded)."""
    import sys

    onnx_torch = sys.modules.get("helpers.frontend.onnx_torch")
    if onnx_torch is not None:
        onnx_torch.remove_workdirs()
    isolated = sys.modules.get("helpers.convert.isolated")
    if isolated is not None:
        isolated.remove_exports()
    zygote.stop()


def _checked_inputs(config: RunConfig) -> tuple[Specs, Path, SplitDataset]:
    """specs, export destination and the split dataset, or the first problem with them."""
    check_input_dir(config.input_dir)
    specs = load_specs(config.input_dir)
    destination = export_destination(config, specs)
    check_destination(destination, config.input_dir)
    return specs, destination, split_dataset(load_dataset(locate_dataset(config.input_dir, specs), specs))


def _sweep(config: RunConfig) -> SweepSummary:
    """Every combination of the grid for every model, as Dask tasks; the spreadsheet at the end."""
    import pandas as pd

    from helpers.sweep import engine, grid, spreadsheet, store

    models = []
    for model_dir in sweep_model_dirs(config.input_dirs or (config.input_dir,)):
        check_input_dir(model_dir)
        specs = load_specs(model_dir)
        split_dataset(load_dataset(locate_dataset(model_dir, specs), specs))  # fail fast on a bad CSV
        models.append((model_dir, specs))
    names = _unique_names([(specs.name, model_dir) for model_dir, specs in models])
    destination = config.export_dir or DEFAULT_EXPORT_ROOT / (identifier(models[0][1].name) if len(models) == 1
                                                               else "sweep")
    for model_dir, _ in models:
        check_destination(destination, model_dir)
    shared = _shared_flags(config)
    tasks = [engine.Task(model=name, model_dir=str(model_dir.resolve()), combination=combination,
                         key=store.task_key(model_dir, combination, shared), extra_flags=shared)
             for name, (model_dir, specs) in zip(names, models)
             for combination in grid.load_grid(config.sweep_grid, specs, config.sweep_sparsity).combinations()]
    log.info("sweep: %d models, %d combinations, on %s", len(models), len(tasks),
             config.scheduler or f"a local cluster of {config.jobs} workers")
    rows = engine.run_tasks(tasks, store.ResultStore.beside(destination), config.jobs, config.scheduler,
                            tls=config.tls)
    table = pd.DataFrame(rows)
    with StagedExport(destination) as staging:
        ods, csv = spreadsheet.write_tables(table, staging)
    return SweepSummary(table=table, export_dir=destination, files=(destination / ods.name, destination / csv.name))


def sweep_model_dirs(given: tuple[Path, ...]) -> list[Path]:
    """The model directories: each --input_dir, or the model directories inside it (a folder of
    models: subfolders holding a specs.json)."""
    found: list[Path] = []
    for directory in given:
        if directory.is_dir() and not (directory / "specs.json").is_file():
            inside = sorted(sub for sub in directory.iterdir() if (sub / "specs.json").is_file())
            if inside:
                found += inside
                continue
        found.append(directory)
    return found


def _unique_names(models: list[tuple[str, Path]]) -> list[str]:
    """Each model's name in the spreadsheet; a name two directories share gets its folder added."""
    counts: dict[str, int] = {}
    for name, _ in models:
        counts[name] = counts.get(name, 0) + 1
    return [f"{name} ({directory.name})" if counts[name] > 1 else name for name, directory in models]


def _shared_flags(config: RunConfig) -> tuple[str, ...]:
    """Flags of the sweep's command line every combination takes too."""
    flags: list[str] = []
    if config.max_drop is not None:
        flags += ["--max_drop", str(config.max_drop)]
    if config.targets and config.tflm_dir is not None:
        flags += ["--tflm_dir", str(config.tflm_dir.resolve()), "--target", ",".join(config.targets),
                  "--mcu_mhz", str(config.mcu_mhz)]
    if config.skip_firmware_checks:
        flags.append("--skip_firmware_checks")
    if config.trust_model_code:
        flags.append("--trust_model_code")
    return tuple(flags)


# --check measures on this many evaluation rows: enough for TFLM's arena and the rewrites' proofs,
# few enough for seconds.
CHECK_ROWS = 32


def _run(config: RunConfig) -> RunSummary:
    if not config.check:
        return _run_into(config, None)
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-check-") as scratch:  # --check writes nothing
        return _run_into(config, Path(scratch) / "check")


def _run_into(config: RunConfig, scratch: Path | None) -> RunSummary:
    """The run, exported to its destination; with --check to `scratch`, on CHECK_ROWS rows."""
    timings = Timings()
    with timings.phase("load"):
        specs, destination, data = _checked_inputs(config)
        if scratch is not None:
            destination = scratch
            data = replace(data, evaluation=Dataset(x=data.evaluation.x[:CHECK_ROWS], y=data.evaluation.y[:CHECK_ROWS],
                                                    path=data.evaluation.path))
        workers.start_early()  # the TFLM forkserver imports tflite_micro while this process imports TensorFlow
        from helpers.pipeline import build  # imports TensorFlow: only once the inputs are known good

        zygote.start()  # before the first TensorFlow op: the converter's children fork from it

        build.prepare(config)
        model = build.load(config.input_dir, specs, config)
    log.info("loaded %s: %d calibration rows, %d evaluation rows", model.path.name,
             len(data.calibration), len(data.evaluation))

    with StagedExport(destination) as staging:
        results = build.build_all(config, specs, model, data, staging, timings)
        variants = budgets.annotate([r.report for r in results], config.flash_budget, config.ram_budget)
        limit = tolerance.tolerance_for(primary_metric(specs), config.max_drop, guarded_metrics(specs)[1:])
        variants = tolerance.judge(variants, limit)
        firmware_notes = (firmware_notices(specs, variants) + recovery_notices(variants)
                          + recovery_skipped_notices(specs, variants, config))
        accuracy_notes = accuracy_notices(variants, limit)
        for note in firmware_notes:
            log.info("note: %s", note)
        for note in accuracy_notes:
            log.warning("warning: %s", note)
        notices = config.notices + target_notices(config) + trust_notices(config) + firmware_notes + accuracy_notes
        draft = _report(specs, config, data, variants, notices, timings)
        plot_files: list[str] = []
        if config.plot_results:
            with timings.phase("plots"):
                outputs = {r.report.name: r.measurement.outputs for r in results
                           if r.measurement is not None and r.measurement.outputs is not None}
                plot_files = write_plots(draft, specs, data, outputs, staging)
        with timings.phase("render"):
            (staging / "report.md").write_text(format_markdown(draft, plots=plot_files), encoding="utf-8")
        report = _report(specs, config, data, variants, notices, timings)  # with the final timings
        (staging / "report.json").write_text(report.to_json(), encoding="utf-8")
    return RunSummary(report=report, export_dir=destination)


def check_outcome(summary: RunSummary, config: RunConfig) -> None:
    """Exit 3 (the export is in place) when the one variant the flags asked for failed to build
    (with -q all a failed type is one row among several), when no variant can be flashed, or when
    the final one is outside the tolerance or does not fit the budgets."""
    variants = list(summary.report.variants)
    final = variants[-1] if variants else None
    one_asked_for = len(config.quantizations) <= 1
    if one_asked_for and final is not None and final.format == "tflite" and final.error:
        built = [v.name for v in variants if v.is_built_tflite]
        raise VariantFailedError(f"the variant asked for, {final.name}, could not be built: {final.error}",
                                 f"the export holds the others: use {built[-1]}" if built else "see report.md")
    not_built = [(v.name, r) for v in variants for r in v.firmware.targets or () if r.status is Status.NOT_BUILT]
    if not_built:
        result = not_built[0][1]
        raise CheckNotRunError(f"the self-test could not be built on {result.target} (the tool's own build, not the "
                               f"model: {result.message}); {len(not_built)} self-test(s) unchecked, the export is "
                               "written", "fix the toolchain or delete the cache ($MCU_DEPLOY_CACHE or "
                               "~/.cache/mcu-deploy) and run again")
    # before the guard: a suggestion of another variant means nothing when none can be flashed
    flashable.check_any_flashable(variants, config.input_dir if config.check else summary.export_dir,
                                  config.allow_select_ops, written=not config.check)
    tolerance.check_final(variants, tolerance.tolerance_for(summary.report.primary_metric, config.max_drop))
    budgets.check_final(variants, config.flash_budget, config.ram_budget)


def write_plots(report: RunReport, specs: Specs, data: SplitDataset, outputs: dict[str, np.ndarray],
                staging: Path) -> list[str]:
    """Every plot under <export>/plots; returns their paths relative to the export root."""
    from helpers.render import plots  # matplotlib: only when plots are asked for

    folder = staging / "plots"
    folder.mkdir(exist_ok=True)
    written = [plots.metric_bars(report, specs, folder / "metric_per_variant.png"),
               plots.size_vs_metric(report, specs, folder / "size_vs_metric.png")]
    built = [v.name for v in report.variants if v.format == "tflite" and v.name in outputs]
    if built:
        written += _output_plots(outputs, data.evaluation.y, specs, built[-1], folder)
    pruning = report.sparsity_search()
    if pruning is not None:
        written.append(plots.sparsity_search(pruning.search, report.primary_metric, pruning.final_sparsity,
                                             report.model, folder / "sparsity_search.png"))
    for variant in report.variants:
        if variant.optimization.recovery is not None:
            written.append(plots.recovery_search(variant.optimization.recovery, report.primary_metric, variant.name,
                                                 report.model, folder / f"recovery_{variant.name}.png"))
    firmware = plots.firmware_bars(report.variants, report.model, folder / "firmware_per_variant.png")
    if firmware:
        written.append(firmware)
    for variant in report.variants:
        for profile in variant.firmware.profile or ():
            written.append(plots.layer_profile(profile, variant.name, report.model,
                                               folder / f"profile_{variant.name}_{profile.target}.png"))
    layer_plots = sorted(staging.glob("*/layer_errors.png"))
    return [str(p.relative_to(staging)) for p in written + layer_plots]


def _output_plots(outputs: dict[str, np.ndarray], labels: np.ndarray, specs: Specs, final: str,
                  folder: Path) -> list[Path]:
    """The final variant's confusion matrix (a classification output) or its regression plots
    against float32's; a model with several outputs gets them per output, named after it."""
    from helpers.render import plots

    written = []
    for output, view, suffix in specs.output_views():
        def part(values: np.ndarray) -> np.ndarray:
            return values if not specs.multi_output else output_parts(values, specs)[output]

        truth = labels if not specs.multi_output else split_labels(labels, specs.outputs)[output]
        if view.task is Task.CLASSIFICATION:
            written.append(plots.confusion_matrix(part(outputs[final]), truth, view, final,
                                                  folder / f"confusion_matrix{suffix}.png"))
        else:
            chosen = {name: part(outputs[name]) for name in dict.fromkeys(["float32", final]) if name in outputs}
            written += plots.regression_plots(chosen, truth, view, folder, suffix)
    return written


def accuracy_notices(variants: list[VariantReport], limit: tolerance.Tolerance) -> tuple[str, ...]:
    """Every variant outside --max_drop, loudly: its firmware is written but must not be trusted."""
    wrecked = tolerance.outside(variants)
    if not wrecked:
        return ()
    reference = variants[0]
    listed = ", ".join(f"{v.name} ({limit.describe(limit.drop(v, reference) or 0.0)})" for v in wrecked)
    return (f"OUTSIDE THE ACCURACY TOLERANCE (--max_drop {limit.limit()} against {reference.name}): {listed}; "
            "do not ship these",)


def recovery_notices(variants: list[VariantReport]) -> tuple[str, ...]:
    """Each variant the accuracy recovery searched for: what it kept (its lineage, in a line)."""
    return tuple(_recovery_notice(v) for v in variants if v.optimization.recovery is not None)


def recovery_skipped_notices(specs: Specs, variants: list[VariantReport], config: RunConfig) -> tuple[str, ...]:
    """What the recovery would have searched for and did not: variants outside the guard of a
    model with several inputs or outputs, which it does not take yet."""
    if not (specs.multi_io and config.recovery):
        return ()
    return tuple(f"{v.name} is outside the accuracy tolerance, and the accuracy recovery does not take models with "
                 "several inputs or outputs yet: it was not tried" for v in tolerance.outside(variants)
                 if v.quantization in ("int8", "integer_with_float_fallback"))


def _recovery_notice(variant: VariantReport) -> str:
    recovery = variant.optimization.recovery
    assert recovery is not None
    if recovery.chosen is None:
        why = f"; {recovery.evaluation_check}" if recovery.evaluation_check else ""
        return (f"{variant.name}: the accuracy recovery tried {len(recovery.attempts)} strategies and kept the "
                f"converter's model{why} (report.md, \"Accuracy recovery\")")
    kept = next(a for a in recovery.attempts if a.kept)
    return (f"{variant.name} is recovered: {recovery.chosen} (validation rows {recovery.before_drop:+.1f} -> "
            f"{kept.validation_drop:+.1f} against the reference; report.md, \"Accuracy recovery\")")


def target_notices(config: RunConfig) -> tuple[str, ...]:
    """The one line that says the firmware was not taken to a target, when it was not."""
    if config.targets or config.skip_firmware_checks or not config.export:
        return ()
    return (not_built_notice(config.tflm_unfetched or NO_TREE_GIVEN),)


def trust_notices(config: RunConfig) -> tuple[str, ...]:
    """--trust_model_code, said in the report: the model file's own code was allowed to run."""
    if not config.trust_model_code:
        return ()
    return ("--trust_model_code: the model file's own code (Lambda layers, custom objects, side-effect ops, "
            "pickles) was allowed to run; nothing in it was checked",)


def firmware_notices(specs: Specs, variants: list[VariantReport]) -> tuple[str, ...]:
    """What the firmware author must know about the model that the measurements found."""
    if not any(variant.firmware.reset_before_invoke for variant in variants):
        return ()
    return ("the model keeps recurrent (LSTM/RNN) state between invokes: every row was run from reset "
            "state, and the firmware must call interpreter.Reset() before each Invoke() "
            f"({identifier(specs.name).upper()}_RESET_BEFORE_INVOKE in the header, RESET_BEFORE_INVOKE "
            "in the MicroPython module)",)


def _report(specs: Specs, config: RunConfig, data: SplitDataset, variants: list[VariantReport],
            notices: tuple[str, ...], timings: Timings) -> RunReport:
    reference = variants[0]
    return RunReport(model=specs.name, task=specs.task.value, source=str(config.input_dir),
                     trust_model_code=config.trust_model_code,
                     primary_metric=primary_metric(specs), evaluation_rows=len(data.evaluation),
                     calibration_rows=len(data.calibration), variants=tuple(with_deltas(variants, reference)),
                     notices=notices, timings=dict(timings.seconds))
