"""The recovery search (issue 28): a quantized variant outside the accuracy guard on the validation
rows is rebuilt with other calibrations, cheapest first, each judged on the validation rows with
the guard's own rule; the first within tolerance is kept, else the best that improved, and the
evaluation rows judge the choice (a candidate worse there than the converter's own model is refused).
Every candidate is an ordinary flatbuffer of the same ops: TFLM, the engines and the targets run
it unchanged, and the pipeline proves it like any other variant."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from helpers.convert.quant_debug import layer_errors, selective_model
from helpers.core.dataset import SplitDataset
from helpers.core.recovery import Recovery, RecoveryAttempt
from helpers.core.specs import Specs
from helpers.core.variant import TfliteModel, VariantPlan
from helpers.errors import ModelError
from helpers.frontend.model_loader import LoadedModel
from helpers.measure.litert import LiteRtRunner, dequantize_outputs, quantize_inputs
from helpers.measure.metrics import compute_metrics
from helpers.measure.tolerance import Tolerance
from helpers.recover import bias, ranges

log = logging.getLogger("mcu_deploy")

# Rows the range rules and the bias correction look at (from the calibration rows, spread over them).
STATISTICS_ROWS = 200
# The tuned search: factors tried on each activation tensor's range, and the most tensors it visits.
TUNE_FACTORS = (0.8, 0.9, 1.1, 1.25)
TUNE_TENSORS = 12


@dataclass(frozen=True)
class RecoveryTask:
    """What the search needs to know about the variant and the run."""

    model: LoadedModel
    specs: Specs
    plan: VariantPlan
    data: SplitDataset
    reference_validation: dict[str, float]    # the float model's metrics on the validation rows
    tolerance: Tolerance
    budget_seconds: float


@dataclass
class _State:
    """The search so far: the best model and its validation drop, the calibrated model's data."""

    task: RecoveryTask
    best: TfliteModel
    best_drop: float
    best_name: str | None = None
    calibrated: bytes | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    attempts: list[RecoveryAttempt] = field(default_factory=list)

    def statistics_rows(self) -> np.ndarray:
        x = self.task.data.calibration.x
        return x if len(x) <= STATISTICS_ROWS else x[np.linspace(0, len(x) - 1, STATISTICS_ROWS).astype(np.int64)]

    def ensure_calibrated(self) -> None:
        if self.calibrated is None:
            self.calibrated = ranges.calibrated_model(self.task.model, self.task.plan, self.task.data.calibration.x)
            self.samples = ranges.activation_samples(self.calibrated, self.statistics_rows())


def validation_metrics(tflite: TfliteModel, x: np.ndarray, y: np.ndarray, specs: Specs) -> dict[str, float]:
    """The variant's metrics on rows `x` (LiteRT)."""
    raw = LiteRtRunner(tflite.content, tflite.info).run_quantized(quantize_inputs(x, tflite.info))
    return compute_metrics(dequantize_outputs(raw, tflite.info), y, specs)


def _with_ranges(rule: Callable[[dict[str, np.ndarray]], ranges.Ranges]) -> Callable[[_State], TfliteModel | None]:
    def build(state: _State) -> TfliteModel | None:
        state.ensure_calibrated()
        chosen = rule(state.samples)
        return ranges.quantized_with(state.task.model, state.task.plan, state.task.data.calibration.x, chosen) \
            if chosen else None
    return build


def _bias_corrected(state: _State) -> TfliteModel | None:
    state.ensure_calibrated()
    assert state.calibrated is not None
    return bias.corrected(state.best, state.calibrated, state.statistics_rows())


def _tuned(state: _State, deadline: float) -> TfliteModel | None:
    """Greedy, tensor by tensor in graph order: each range scaled by the factor that most lowers the
    validation drop, kept only when it does."""
    state.ensure_calibrated()
    task = state.task
    chosen: ranges.Ranges = {}
    best, best_drop = None, state.best_drop
    for name in list(state.samples)[:TUNE_TENSORS]:
        for factor in TUNE_FACTORS:
            if time.monotonic() > deadline or best_drop <= task.tolerance.max_drop:
                return best
            trial = {**chosen, name: ranges.scaled_range(state.samples, name, factor)}
            candidate = ranges.quantized_with(task.model, task.plan, task.data.calibration.x, trial)
            drop = _drop(task, candidate)
            if drop is not None and drop < best_drop:
                best, best_drop, chosen = candidate, drop, trial
    return best


def _selective_float(state: _State) -> TfliteModel | None:
    """The last resort, --keep_float auto's: the layers whose quantization error is above the
    debugger's threshold left in float (integer_with_float_fallback only: an int8-only variant
    has no float ops by definition, and --keep_float auto gives it a twin instead)."""
    task = state.task
    if task.plan.traits.integer_only:
        raise ModelError("not for an int8-only variant (it has no float ops; --keep_float auto adds a twin)",
                         "use --keep_float auto", task.specs.path)
    errors = layer_errors(task.model, task.specs, task.plan, task.data.calibration.x)
    worst = errors.worst()
    if not worst:
        return None
    kept = selective_model(task.model, task.specs, task.plan, task.data.calibration.x, worst)
    return TfliteModel(plan=task.plan, content=kept.content, info=kept.info)


def _drop(task: RecoveryTask, tflite: TfliteModel) -> float | None:
    metrics = validation_metrics(tflite, task.data.tuning.x, task.data.tuning.y, task.specs)
    return task.tolerance.metric_drop(metrics, task.reference_validation)


# Cheapest first. Each builds a candidate from the search's state (None: nothing to change).
STRATEGIES: tuple[tuple[str, Callable[..., TfliteModel | None]], ...] = (
    ("ranges: MSE-optimal clipping", _with_ranges(ranges.mse_ranges)),
    ("ranges: 99.99th percentile", _with_ranges(lambda samples: ranges.percentile_ranges(samples, 99.99))),
    ("bias correction", _bias_corrected),
    ("ranges: tuned on the validation rows", _tuned),
    ("selective float (the debugger's worst layers)", _selective_float),
)


def recover(task: RecoveryTask, tflite: TfliteModel) -> tuple[TfliteModel, Recovery | None]:
    """The variant, or a recovered one, and the search's record (None: the variant was within
    tolerance on the validation rows, so nothing was tried)."""
    started = time.monotonic()
    deadline = started + task.budget_seconds
    before = validation_metrics(tflite, task.data.tuning.x, task.data.tuning.y, task.specs)
    before_drop = task.tolerance.metric_drop(before, task.reference_validation)
    if before_drop is None or before_drop <= task.tolerance.max_drop:
        return tflite, None
    log.info("  %s: %s on the validation rows, outside --max_drop %s: trying to recover", task.plan.name,
             task.tolerance.describe(before_drop), task.tolerance.limit())
    state = _State(task=task, best=tflite, best_drop=before_drop)
    stopped = None
    for name, build in STRATEGIES:
        if time.monotonic() > deadline:
            stopped = "time budget"
            break
        if state.best_drop <= task.tolerance.max_drop:
            break
        _attempt(state, name, build, deadline)
    chosen, check = _judged_on_evaluation(task, tflite, state)
    record = Recovery(validation_rows=len(task.data.tuning.x), limit=task.tolerance.max_drop, before_metrics=before,
                      before_drop=before_drop, attempts=tuple(state.attempts), chosen=chosen,
                      stopped=stopped, evaluation_check=check)
    log.info("  %s: recovery %s in %.1f s", task.plan.name,
             f"kept {chosen}" if chosen else "kept the converter's model", time.monotonic() - started)
    return (state.best if chosen else tflite), record


def _attempt(state: _State, name: str, build: Callable[..., TfliteModel | None], deadline: float) -> None:
    task = state.task
    started = time.monotonic()
    try:
        candidate = build(state, deadline) if build is _tuned else build(state)
    except ModelError as exc:
        state.attempts.append(RecoveryAttempt(strategy=name, seconds=round(time.monotonic() - started, 2),
                                              note=exc.problem))
        return
    if candidate is None:
        state.attempts.append(RecoveryAttempt(strategy=name, seconds=round(time.monotonic() - started, 2),
                                              note="nothing to change"))
        return
    metrics = validation_metrics(candidate, task.data.tuning.x, task.data.tuning.y, task.specs)
    drop = task.tolerance.metric_drop(metrics, task.reference_validation)
    better = drop is not None and drop < state.best_drop
    if better:
        state.best, state.best_drop, state.best_name = candidate, drop, name
        # an earlier kept attempt is superseded
        state.attempts = [replace(a, kept=False) for a in state.attempts]
    state.attempts.append(RecoveryAttempt(strategy=name, validation_metrics=metrics, validation_drop=drop,
                                          seconds=round(time.monotonic() - started, 2), kept=better))
    log.info("    %s: %s on the validation rows (%.1f s)%s", name, task.tolerance.describe(drop or 0.0),
             time.monotonic() - started, ", kept" if better else "")


def _judged_on_evaluation(task: RecoveryTask, original: TfliteModel, state: _State) -> tuple[str | None, str | None]:
    """The kept strategy, unless the evaluation rows find it worse than the converter's model."""
    if state.best_name is None:
        return None, None
    x, y = task.data.evaluation.x, task.data.evaluation.y
    reference = validation_metrics(original, x, y, task.specs)
    recovered = validation_metrics(state.best, x, y, task.specs)
    # the drop of the recovered model against the original's own metrics: positive is worse
    worse = task.tolerance.metric_drop(recovered, reference)
    if worse is not None and worse > 0:
        for i, attempt in enumerate(state.attempts):
            if attempt.kept:
                state.attempts[i] = replace(attempt, kept=False)
        return None, (f"{state.best_name} was better on the validation rows but worse on the evaluation rows "
                      f"({task.tolerance.describe(worse)} against the converter's model): not kept")
    return state.best_name, None
