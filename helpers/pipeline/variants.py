"""One variant through the flow: build (convert), measure (LiteRT, TFLM), verify (the firmware
checks on a scratch copy: flash, targets, arena proof, MicroPython), then render its folder once.
Each stage is one typed call; this module only wires them. Imports TensorFlow (convert/)."""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from helpers.config import RunConfig
from helpers.convert.converter import convert
from helpers.convert.strip import strip_model
from helpers.core.checks import MicroPythonResult, Status, TargetResult
from helpers.core.dataset import SplitDataset
from helpers.core.details import NotApplied, Stripped, StripResult
from helpers.core.flatbuffer import inspect_tflite
from helpers.core.kernel_choice import KernelChoice, given_back
from helpers.core.quantization import Quantization
from helpers.core.recovery import Recovery
from helpers.core.results import VariantReport
from helpers.core.rewrites import rewrites_line
from helpers.core.specs import Specs
from helpers.core.timings import Timings
from helpers.core.variant import TfliteModel, VariantPlan
from helpers.errors import first_line
from helpers.frontend.model_loader import LoadedModel
from helpers.frontend.optimize import OptimizedModel
from helpers.emit.placement import placements
from helpers.lowering.lower import Lowered, lower_model
from helpers.measure.litert import quantize_inputs
from helpers.measure.metrics import compute_metrics, guarded_metrics, primary_metric
from helpers.measure.tflm import MicroCheck, check_variant
from helpers.measure.tolerance import tolerance_for
from helpers.measure.toolchains import MpyResult, ToolchainFigures, flash_size
from helpers.measure.variant import Measurement, TflmVerdict, measure_variant, select_ops
from helpers.micropython.bench import MicroPythonBench
from helpers.micropython.runtime import EngineInputs
from helpers.pipeline.rows import RenderOutcome, c_engine_result, tflite_row
from helpers.pipeline.verify import EngineDraft, check_python, check_targets
from helpers.recover.search import RecoveryTask, recover
from helpers.render.report_text import format_metrics
from helpers.render.variant_folder import FolderContent, FolderSettings, TargetsSeen, render_folder, write_folder
from helpers.rewrite.passes import rewrite_after_conversion
from helpers.targets.bench import TargetBench

log = logging.getLogger("mcu_deploy")


@dataclass(frozen=True)
class VariantResult:
    """A variant carried through the flow: its report row and, once built, its model and measurement
    (the raw outputs the plots and the LUT twin's proof need travel inside the measurement)."""

    report: VariantReport
    tflite: TfliteModel | None = None
    measurement: Measurement | None = None


@dataclass(frozen=True)
class VariantSettings:
    """The flags the variants of a run share (the facade derives them from the run's config)."""

    skip_firmware_checks: bool = False
    allow_select_ops: bool = False
    strip: bool = False
    cluster: int | None = None                 # the LUT twin's table size
    keep_float: tuple[str, ...] = ()           # --keep_float layers, or ("auto",)
    plot_results: bool = False                 # the debugger's per-layer tables and plots
    max_drop: float | None = None              # the accuracy guard (None: the task's default)
    recovery: bool = True                      # accuracy recovery for quantized variants outside the guard
    recovery_seconds: float = 180.0
    check_only: bool = False                   # --check: the folder is rendered and its C array sized, nothing run
    # The MicroPython trees and budgets (the kernels module is built once per run, on first use).
    micropython: MicroPythonBench = field(default_factory=lambda: MicroPythonBench(None, None))

    @classmethod
    def of(cls, config: RunConfig) -> "VariantSettings":
        return cls(skip_firmware_checks=config.skip_firmware_checks, allow_select_ops=config.allow_select_ops,
                   strip=config.strip, cluster=config.cluster,
                   keep_float=tuple(config.keep_float),
                   plot_results=config.plot_results, max_drop=config.max_drop,
                   recovery=config.recovery, recovery_seconds=config.recovery_seconds, check_only=config.check,
                   micropython=MicroPythonBench(micropython_dir=config.micropython_dir, tflm_root=config.tflm_dir,
                                                unix_seconds=config.micropython_seconds,
                                                board_names=config.micropython_boards))


def _tflm_counts(targets: tuple[TargetResult, ...]) -> dict[str, int]:
    """TFLM's instructions per inference on each emulated target it passed on: what the boards'
    engine paths are compared with (each board with its own core's, else the Cortex-M4's)."""
    return {r.target: r.instructions_per_inference for r in targets if r.passed and r.instructions_per_inference}


class VariantRunner:
    """Runs plans through build -> measure -> verify -> render for one run (the settings they share)."""

    def __init__(self, config: VariantSettings, specs: Specs, data: SplitDataset, staging: Path,
                 folder: FolderSettings, timings: Timings, bench: TargetBench | None = None) -> None:
        self.config, self.specs, self.data, self.staging = config, specs, data, staging
        self.folder, self.timings, self.bench = folder, timings, bench
        # The model the guard compares with (set by the pipeline), and its validation-row metrics.
        self.reference_model: LoadedModel | None = None
        self._reference_validation: dict[str, float] | None = None

    def measure(self, tflite: TfliteModel, tflm_check: MicroCheck | None = None) -> Measurement:
        """Stage 2: LiteRT metric and TFLM's verdict."""
        return measure_variant(tflite, self.specs, self.data, not self.config.skip_firmware_checks,
                               self.timings, tflm_check)

    def render(self, tflite: TfliteModel, measurement: Measurement) -> tuple[RenderOutcome, Measurement]:
        """Stages 3 and 4: the firmware checks on scratch copies, then the variant's folder, written
        once from their verdicts. A target's arena figure replaces the host's, so the measurement
        comes back with it. The outcome says where each op runs (TFLM, C engine, MicroPython)."""
        # Lowered only where firmware is written (the engines are emitted beside it).
        lowered = (lower_model(tflite.content) if self.folder.export_firmware and measurement.tflm.gets_firmware
                   else Lowered(program=None))
        outcome, measurement = self._render(tflite, measurement, lowered)
        engine = outcome.c_engine
        steps, steps_v6m = ((given_back(engine.kernel_choice), given_back(engine.kernel_choice_v6m)) if engine is not None
                            else (frozenset(), frozenset()))
        return replace(outcome, placement=placements(tflite.content, lowered.program, steps, steps_v6m)), measurement

    def _render(self, tflite: TfliteModel, measurement: Measurement,
                lowered: Lowered) -> tuple[RenderOutcome, Measurement]:
        draft = render_folder(self.specs, tflite, measurement.tflm, self.folder, lowered)
        if draft.firmware and self.config.check_only:
            return self._check_only(draft), measurement
        if not draft.firmware or self.config.skip_firmware_checks:
            write_folder(self.staging, draft)
            if not draft.firmware:
                return RenderOutcome(), measurement
            skipped = MicroPythonResult(status=Status.NOT_CHECKED, reason="--skip_firmware_checks")
            engine = c_engine_result(draft.c_engine, draft.c_engine_reason, (), self.folder.cmsis_nn_revision,
                                     "--skip_firmware_checks: written, not built or run", draft.packages)
            return RenderOutcome(micropython=skipped, c_engine=engine), measurement
        with tempfile.TemporaryDirectory(prefix="mcu-deploy-verify-") as tmp:
            outcome, final, tflm = self._verify(Path(tmp), draft, tflite, measurement, lowered)
        with self.timings.phase("render"):
            write_folder(self.staging, final)
        return outcome, replace(measurement, tflm=tflm)

    def _check_only(self, draft: FolderContent) -> RenderOutcome:
        """--check: the C array's flash on the Cortex-M targets; the engines written, not run."""
        folder = write_folder(self.staging, draft)
        flash = flash_size(folder / f"{draft.model_id}_model_data.c", folder)
        unrun = "--check: written, not built or run"
        python = (MicroPythonResult(status=Status.NOT_CHECKED, reason=unrun) if draft.engine_module is not None
                  else MicroPythonResult(status=Status.UNSUPPORTED, reason=draft.c_engine_reason))
        return RenderOutcome(toolchain=ToolchainFigures(flash=flash, mpy=MpyResult(None, None, "--check")),
                             micropython=python,
                             c_engine=c_engine_result(draft.c_engine, draft.c_engine_reason, (),
                                                      self.folder.cmsis_nn_revision, unrun, draft.packages))

    def _verify(self, scratch: Path, draft: FolderContent, tflite: TfliteModel, measurement: Measurement,
                lowered: Lowered) -> tuple[RenderOutcome, FolderContent, TflmVerdict]:
        """Every check, each on a scratch copy: the draft's C files first (their verdicts decide the
        arena and whether firmware is handed out), then the final folder's MicroPython files."""
        tflm, targets, engine_targets, profiles = measurement.tflm, (), (), None
        with self.timings.phase("render"):
            first = write_folder(scratch / "draft", draft)
            flash = flash_size(first / f"{draft.model_id}_model_data.c", first)
        final, second = draft, first  # without targets nothing the folder depends on changes
        if self.bench is not None and tflm.checked:
            def chosen(verdict: TflmVerdict, choice: KernelChoice | None, choice_v6m: KernelChoice | None) -> Path:
                """The draft again, its engine's kernels as measured."""
                again = render_folder(self.specs, tflite, verdict, self.folder, lowered,
                                      TargetsSeen(kernel_choice=choice, kernel_choice_v6m=choice_v6m))
                return write_folder(scratch / "chosen", again)

            engine_draft = EngineDraft(draft.c_engine, chosen) if draft.c_engine is not None else None
            with self.timings.phase("targets"):
                verdicts = check_targets(self.bench, first, draft.model_id, tflite, tflm, lowered.program,
                                         engine_draft)
            tflm, targets, engine_targets = verdicts.tflm, verdicts.results, verdicts.engine_results
            profiles = verdicts.profiles
            final = render_folder(self.specs, tflite, tflm, self.folder, lowered,
                                  TargetsSeen(results=targets, revision=self.bench.tree.revision,
                                              engine_results=engine_targets, kernel_choice=verdicts.kernel_choice,
                                              kernel_choice_v6m=verdicts.kernel_choice_v6m))
            if not final.firmware:
                return RenderOutcome(targets=targets), final, tflm
            second = write_folder(scratch / "final", final)
        with self.timings.phase("micropython"):
            inputs = EngineInputs(rows=quantize_inputs(self.data.evaluation.x, tflite.info),
                                  expected=tflm.raw_outputs if tflm.runnable else None,
                                  labels=self.data.evaluation.y, task=self.specs.task.value)
            python = check_python(final, second, lowered, tflite, inputs, self.config.micropython,
                                  _tflm_counts(targets))
        toolchain = ToolchainFigures(flash=flash, mpy=python.model_mpy)
        unchecked = ("no --tflm_dir (or no --target): written, not built or run" if self.bench is None else
                     "TFLM did not run the variant: no outputs to compare with")
        engine = c_engine_result(final.c_engine, final.c_engine_reason, engine_targets, self.folder.cmsis_nn_revision,
                                 unchecked, final.packages)
        outcome = RenderOutcome(toolchain=toolchain, targets=targets, micropython=python.engine, c_engine=engine,
                                profile=profiles)
        return outcome, final.with_binaries(python.compiled), tflm

    def run(self, plan: VariantPlan, model: LoadedModel, optimized: OptimizedModel | None,
            prepared: TfliteModel | None = None) -> VariantResult:
        """A variant through every stage: build (unless `prepared`, as twins come), measure, verify and
        render. With --strip, the stripped model is kept when TFLM gives identical outputs for it."""
        if prepared is None:
            with self.timings.phase("convert"):
                tflite = convert(model, self.specs, plan, self.data.calibration.x, self.config.allow_select_ops)
        else:
            tflite = prepared
        recovery = None
        if prepared is None and self._recoverable(plan):
            with self.timings.phase("recovery"):
                recovered, recovery = self._recovered(plan, model, tflite)
                # the recovery converts the same traced function: the same passes made it
                tflite = replace(recovered, rewrites=tflite.rewrites)
        with self.timings.phase("convert"):
            tflite = rewrite_after_conversion(tflite, quantize_inputs(self.data.evaluation.x, tflite.info))
        strip: StripResult | None = None
        tflm_check = None
        if self.config.strip and prepared is None:
            with self.timings.phase("tflm_checks"):
                tflite, strip, tflm_check = stripped(tflite, quantize_inputs(self.data.evaluation.x, tflite.info))
        measurement = self.measure(tflite, tflm_check)
        rendered, measurement = self.render(tflite, measurement)
        flex = select_ops(tflite)
        if flex:
            log.warning("warning: %s uses TF Select ops %s: not for microcontrollers, and not evaluated (the "
                        "LiteRT interpreter here has no Flex delegate)", plan.name, ", ".join(flex))
        else:
            log.info("  %s: %s B, %s%s%s", plan.name, f"{tflite.size_bytes:,}", format_metrics(measurement.metrics),
                     "" if measurement.tflm.gets_firmware else f"; not for MCUs: {measurement.tflm.reason}",
                     f"; {rewrites_line(tflite.rewrites)}" if tflite.rewrites else "")
        report = tflite_row(tflite, measurement, rendered, optimized, strip)
        if recovery is not None:
            report = replace(report, optimization=replace(report.optimization, recovery=recovery))
        return VariantResult(report=report, tflite=tflite, measurement=measurement)

    def _recoverable(self, plan: VariantPlan) -> bool:
        """Recovery applies to calibrated int8 plans (their activation ranges and biases can move), of
        models with one input and one output (its searches feed and read one tensor)."""
        return (self.config.recovery and self.reference_model is not None and plan.calibrated
                and not self.specs.multi_io
                and plan.quantization in (Quantization.INT8, Quantization.INTEGER_WITH_FLOAT_FALLBACK)
                and len(self.data.tuning) > 0)

    def _recovered(self, plan: VariantPlan, model: LoadedModel,
                   tflite: TfliteModel) -> tuple[TfliteModel, Recovery | None]:
        """The recovery's model and record; where the search itself breaks (TensorFlow's converter
        or interpreter failing on an edited model), the converter's model, said in a warning."""
        try:
            return recover(self._recovery_task(plan, model), tflite)
        except Exception as exc:  # noqa: BLE001 - recovery is an extra: it never loses the variant
            log.warning("warning: %s: the accuracy recovery failed (%s); the converter's model is kept",
                        plan.name, first_line(exc, 160))
            return tflite, None

    def _recovery_task(self, plan: VariantPlan, model: LoadedModel) -> RecoveryTask:
        assert self.reference_model is not None
        if self._reference_validation is None:
            outputs = _predicted(self.reference_model, self.data.tuning.x)
            self._reference_validation = compute_metrics(outputs, self.data.tuning.y, self.specs)
        tolerance = tolerance_for(primary_metric(self.specs), self.config.max_drop, guarded_metrics(self.specs)[1:])
        return RecoveryTask(model=model, specs=self.specs, plan=plan, data=self.data,
                            reference_validation=self._reference_validation, tolerance=tolerance,
                            budget_seconds=self.config.recovery_seconds)


def _predicted(model: LoadedModel, x: np.ndarray) -> np.ndarray:
    """The float model's outputs on `x`: batched, or one row at a time for a model whose graph
    fixes the batch at 1 (an ONNX or PyTorch model through onnx2tf)."""
    try:
        return model.predict(x)
    except Exception:  # noqa: BLE001 - TensorFlow raises TypeError or InvalidArgumentError here
        return np.concatenate([model.predict(x[i:i + 1]) for i in range(len(x))], axis=0)


def stripped(tflite: TfliteModel,
             quantized_inputs: np.ndarray) -> tuple[TfliteModel, StripResult, MicroCheck | None]:
    """The model without names, signatures and metadata, if TFLM gives identical outputs for it.

    Also returns the TFLM run of the model kept, so the firmware checks need not run it again."""
    if tflite.info.custom_ops:
        return tflite, NotApplied("models with custom ops are not stripped"), None
    original = check_variant(tflite.content, tflite.info, quantized_inputs)
    if not original.runnable:
        return tflite, NotApplied(f"TFLM cannot run the variant: {original.reason}"), original
    content = strip_model(tflite.content)
    candidate = check_variant(content, tflite.info, quantized_inputs)
    if not candidate.runnable or not np.array_equal(candidate.outputs, original.outputs):
        return tflite, NotApplied("the stripped model did not give identical TFLM outputs"), original
    details = Stripped(bytes_before=len(tflite.content), bytes_after=len(content))
    return replace(tflite, content=content, info=inspect_tflite(content)), details, candidate
