"""Wires the steps: load -> convert -> evaluate -> firmware checks -> render -> summarise."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from helpers import budget
from helpers.config import RunConfig
from helpers.dataset import PROJECT_ROOT, SplitDataset, load_dataset, locate_dataset, split_dataset
from helpers.errors import PipelineError
from helpers.export import StagedExport, check_destination
from helpers.identifiers import identifier
from helpers.metrics import primary_metric
from helpers.native_output import native_stderr_silenced, set_verbose
from helpers.report import RunReport, VariantReport, format_markdown, with_deltas
from helpers.specs import Specs, Task, load_specs

log = logging.getLogger("mcu_deploy")

DEFAULT_EXPORT_ROOT = PROJECT_ROOT / "export"


@dataclass(frozen=True)
class RunSummary:
    """What main.py shows: the report and where it was written."""

    report: RunReport
    export_dir: Path


class Timings:
    """Wall time per phase, for the report and the benchmarks."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


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
    with native_stderr_silenced():
        return _sweep(config) if config.sweep else _run(config)


@dataclass(frozen=True)
class SweepSummary:
    """The sweep's table and where it was written."""

    table: Any
    export_dir: Path
    files: tuple[Path, ...]


def _sweep(config: RunConfig) -> SweepSummary:
    from helpers import sweep

    check_input_dir(config.input_dir)
    specs = load_specs(config.input_dir)
    destination = export_destination(config, specs)
    check_destination(destination, config.input_dir)
    split_dataset(load_dataset(locate_dataset(config.input_dir, specs), specs))  # fail fast on a bad CSV
    combinations = sweep.grid(specs, config)
    log.info("sweep: %d combinations, %d at a time", len(combinations), config.jobs)
    table = sweep.run_combinations(config.input_dir.resolve(), combinations, config.jobs)
    with StagedExport(destination) as staging:
        ods, csv = sweep.write_tables(table, staging)
    return SweepSummary(table=table, export_dir=destination, files=(destination / ods.name, destination / csv.name))


def _run(config: RunConfig) -> RunSummary:
    timings = Timings()
    model_dir = config.input_dir
    with timings.phase("load"):
        check_input_dir(model_dir)
        specs = load_specs(model_dir)
        destination = export_destination(config, specs)
        check_destination(destination, model_dir)
        data = split_dataset(load_dataset(locate_dataset(model_dir, specs), specs))
        from helpers import run_builder  # imports TensorFlow: only once the inputs are known good

        run_builder.prepare(config)
        model = run_builder.load(model_dir, specs, config)
    log.info("loaded %s: %d calibration rows, %d evaluation rows", model.path.name,
             len(data.calibration), len(data.evaluation))

    with StagedExport(destination) as staging:
        built = run_builder.build_all(config, specs, model, data, staging, timings)
        variants = budget.annotate(built.reports, config.flash_budget, config.ram_budget)
        model_notes = firmware_notices(specs, variants)
        for note in model_notes:
            log.info("note: %s", note)
        notices = config.notices + model_notes
        report = _report(specs, model_dir, data, variants, notices, timings)
        plot_files: list[str] = []
        if config.plot_results:
            with timings.phase("plots"):
                plot_files = write_plots(report, specs, data, built.outputs, staging)
        with timings.phase("render"):
            (staging / "report.md").write_text(format_markdown(report, plots=plot_files), encoding="utf-8")
        report = _report(specs, model_dir, data, variants, notices, timings)  # again, for the final timings
        (staging / "report.json").write_text(report.to_json(), encoding="utf-8")
    return RunSummary(report=report, export_dir=destination)


def check_budgets(summary: RunSummary, config: RunConfig) -> None:
    """BudgetError (exit 3) when the final variant does not fit; called after the export is in place."""
    budget.check_final(list(summary.report.variants), config.flash_budget, config.ram_budget)


def write_plots(report: RunReport, specs: Specs, data: SplitDataset, outputs: dict, staging: Path) -> list[str]:
    """Every plot under <export>/plots; returns their paths relative to the export root."""
    from helpers import plots  # matplotlib: only when plots are asked for

    folder = staging / "plots"
    folder.mkdir(exist_ok=True)
    written = [plots.metric_bars(report, specs, folder / "metric_per_variant.png"),
               plots.size_vs_metric(report, specs, folder / "size_vs_metric.png")]
    built = [v.name for v in report.variants if v.format == "tflite" and v.name in outputs]
    if built:
        final = built[-1]
        labels = data.evaluation.y
        if specs.task is Task.CLASSIFICATION:
            written.append(plots.confusion_matrix(outputs[final], labels, specs, final,
                                                  folder / "confusion_matrix.png"))
        else:
            chosen = {name: outputs[name] for name in dict.fromkeys(["float32", final]) if name in outputs}
            written += plots.regression_plots(chosen, labels, specs, folder)
    firmware = plots.firmware_bars(report.variants, report.model, folder / "firmware_per_variant.png")
    if firmware:
        written.append(firmware)
    layer_plots = sorted(staging.glob("*/layer_errors.png"))
    return [str(p.relative_to(staging)) for p in written + layer_plots]


def firmware_notices(specs: Specs, variants: list[VariantReport]) -> tuple[str, ...]:
    """What the firmware author must know about the model that the measurements found."""
    if not any(variant.firmware.get("reset_before_invoke") for variant in variants):
        return ()
    return ("the model keeps recurrent (LSTM/RNN) state between invokes: every row was run from reset "
            "state, and the firmware must call interpreter.Reset() before each Invoke() "
            f"({identifier(specs.name).upper()}_RESET_BEFORE_INVOKE in the header, RESET_BEFORE_INVOKE "
            "in the MicroPython module)",)


def _report(specs: Specs, model_dir: Path, data: SplitDataset, variants: list[VariantReport],
            notices: tuple[str, ...], timings: Timings) -> RunReport:
    reference = variants[0]
    return RunReport(model=specs.name, task=specs.task.value, source=str(model_dir),
                     primary_metric=primary_metric(specs), evaluation_rows=len(data.evaluation),
                     calibration_rows=len(data.calibration), variants=tuple(with_deltas(variants, reference)),
                     notices=notices, timings=dict(timings.seconds))
