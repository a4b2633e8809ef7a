"""Pruning, weight clustering and quantization-aware training with tensorflow-model-optimization.

Order: prune -> cluster (sparsity-preserving after pruning) -> QAT (pruning-preserving after
pruning). Each step fine-tunes with the specs `training` settings on the calibration and tuning
rows (core/dataset.py; never an evaluation row), holds out 20% of them to stop early on, keeps
the best weights, leaves BatchNormalization frozen, and strips its wrappers so that conversion
sees plain Keras layers.
"""
from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from helpers.core.dataset import SplitDataset
from helpers.core.details import Optimization, Pruning, SparsityCandidate
from helpers.core.specs import Specs, Task
from helpers.core.variant import Lineage
from helpers.errors import ModelError, first_line
from helpers.frontend.keras2_rebuild import to_keras2
from helpers.frontend.model_loader import LoadedModel
from helpers.frontend.optimize_settings import (
    DEFAULT_EPOCHS,
    OptimizeRequest,
    PruneSettings,
    Schedule,
    TrainingSettings,
    prune_settings,
    training_settings,
)
from helpers.frontend.tf_runtime import seed_everything, tf_keras
from helpers.measure.metrics import compute_metrics, primary_metric
from helpers.measure.tolerance import tolerance_for

log = logging.getLogger("mcu_deploy")

VALIDATION_FRACTION = 0.2   # of the fine-tuning rows, held out to stop early on
VALIDATION_SEED = 1
PATIENCE = 3                # epochs without a better validation loss before stopping
AUTO_SPARSITIES = (0.9, 0.8, 0.7, 0.5, 0.3)  # --sparsity auto, highest first
RECOVERY_EPOCHS = 10        # after a pruning schedule, at most this many more (early stopping decides)

_OPTIMIZERS: dict[str, Callable[[float], Any]] = {
    "adam": lambda lr: tf_keras.optimizers.Adam(lr),
    "sgd": lambda lr: tf_keras.optimizers.SGD(lr, momentum=0.9),
    "rmsprop": lambda lr: tf_keras.optimizers.RMSprop(lr),
}


@dataclass(frozen=True)
class OptimizedModel:
    """The optimized Keras model and what was done to it."""

    model: LoadedModel
    pruned: bool
    clustered: bool
    qat: bool
    prune: PruneSettings | None
    clusters: int | None
    qat_layers: tuple[str, ...]
    float_layers: tuple[str, ...]
    sparsity_search: tuple[SparsityCandidate, ...] = ()

    @property
    def lineage(self) -> Lineage:
        """What was done, as variant plans name it."""
        return Lineage(pruned=self.pruned, clustered=self.clustered, qat=self.qat)

    def details(self) -> Optimization:
        """report.json `optimization`: the pruning settings, clusters and quantization-aware layers."""
        pruning = None
        if self.prune:
            pruning = Pruning(final_sparsity=self.prune.final_sparsity, initial_sparsity=self.prune.initial_sparsity,
                              epochs=self.prune.epochs, policy=self.prune.policy,
                              search=tuple(self.sparsity_search or ()))
        return Optimization(pruning=pruning, clusters=self.clusters or None,
                            qat_layers=tuple(self.qat_layers) if self.qat else None,
                            float_layers=tuple(self.float_layers) if self.qat else None)


def _targets(specs: Specs, y: np.ndarray) -> np.ndarray:
    if specs.task is Task.CLASSIFICATION:
        return y.astype(np.float32) if specs.output.size == 1 else y
    mean, std = specs.output.normalisation.as_lists(specs.output.size)
    return ((y.reshape(len(y), -1) - np.asarray(mean)) / np.asarray(std)).astype(np.float32).reshape(
        (len(y),) + specs.output.shape)


def _train_and_validation(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fine-tuning rows to train on and to validate on (seeded, deterministic)."""
    order = np.random.default_rng(VALIDATION_SEED).permutation(rows)
    held_out = max(1, int(rows * VALIDATION_FRACTION))
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def fine_tuning_split(specs: Specs, data: SplitDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y) to train on and (x, y) to validate on: the calibration and tuning rows (never an
    evaluation row), a seeded VALIDATION_FRACTION of them held out for early stopping."""
    rows = data.fine_tuning
    train, validation = _train_and_validation(len(rows))
    y = _targets(specs, rows.y)
    return rows.x[train], y[train], rows.x[validation], y[validation]


class _EpochProgress(tf_keras.callbacks.Callback):
    """One log line per fine-tuning epoch (shown unless --quiet)."""

    def __init__(self, what: str, epochs: int) -> None:
        super().__init__()
        self.what, self.epochs = what, epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        losses = ", ".join(f"{name} {logs[key]:.4g}" for name, key in (("loss", "loss"), ("validation", "val_loss"))
                           if logs.get(key) is not None)
        log.info("  %s epoch %d/%d%s", self.what, epoch + 1, self.epochs, f": {losses}" if losses else "")


class _BestOnValidation(tf_keras.callbacks.Callback):
    """Early stopping on the validation loss, restoring the best weights; epochs before `settled`
    (a pruning schedule still raising the sparsity) neither count nor can be restored."""

    def __init__(self, settled: int, patience: int) -> None:
        super().__init__()
        self.settled, self.patience = settled, patience
        self.best: float | None = None
        self.best_weights: list[Any] | None = None
        self.waited = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if epoch + 1 < self.settled:
            return
        loss = (logs or {}).get("val_loss")
        if loss is None or not np.isfinite(loss):
            return
        if self.best is None or loss < self.best:
            self.best, self.best_weights, self.waited = loss, self.model.get_weights(), 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def freeze_batch_norm(keras_model: Any) -> int:
    """Keep BatchNormalization in inference mode with its trained statistics: re-estimating them
    from a few hundred rows in small batches is what wrecks a fine-tuned CNN. Returns how many."""
    frozen = 0
    for layer in keras_model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    return frozen


def _fine_tune(model: Any, specs: Specs, data: SplitDataset, settings: TrainingSettings, schedule: Schedule) -> None:
    """Fit on the fine-tuning rows for at most `schedule.epochs`, stopping early on the validation
    rows once `schedule.settled` epochs are done, and keep the best weights seen from then on."""
    seed_everything()
    x, y, x_val, y_val = fine_tuning_split(specs, data)
    rate = settings.learning_rate * schedule.learning_rate_scale
    model.compile(optimizer=_OPTIMIZERS[settings.optimizer](rate), loss=settings.loss)
    epochs = schedule.epochs
    try:
        model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=settings.batch_size, verbose=0,
                  shuffle=True, callbacks=[*schedule.callbacks, _BestOnValidation(schedule.settled, PATIENCE),
                                           _EpochProgress("fine-tuning", epochs)])
    except (ValueError, TypeError) as exc:
        raise ModelError(f"fine-tuning failed ({first_line(exc)})",
                         "check specs `training.loss` matches the labels and the output shape", specs.path) from None


def prune(keras_model: Any, specs: Specs, data: SplitDataset, settings: PruneSettings,
          training: TrainingSettings) -> Any:
    """prune_low_magnitude with a PolynomialDecay reaching the final sparsity on the last step."""
    tfmot = _tfmot()
    train_rows, _ = _train_and_validation(len(data.fine_tuning))
    steps = math.ceil(len(train_rows) / training.batch_size) * settings.epochs
    # frequency=1: fine-tuning is short, so prune on every step or the schedule never reaches its end
    schedule = tfmot.sparsity.keras.PolynomialDecay(settings.initial_sparsity, settings.final_sparsity,
                                                     begin_step=0, end_step=max(steps - 1, 1), frequency=1)
    kwargs: dict[str, Any] = {"pruning_schedule": schedule}
    if settings.policy == "xnnpack":
        kwargs["pruning_policy"] = tfmot.sparsity.keras.PruneForLatencyOnXNNPack()
    try:
        wrapped = tfmot.sparsity.keras.prune_low_magnitude(keras_model, **kwargs)
    except ValueError as exc:
        reason = first_line(exc, 200)
        fix = ("run without --prune_policy xnnpack (that policy needs a Conv2D stem and global pooling)"
               if settings.policy else "prune a model built from standard Keras layers")
        raise ModelError(f"cannot prune this model: {reason}", fix, specs.path) from None
    # the schedule reaches the final sparsity over `epochs`; up to RECOVERY_EPOCHS more let the pruned
    # model recover, stopping early on the validation rows
    _fine_tune(wrapped, specs, data, training, Schedule(settings.epochs + RECOVERY_EPOCHS,
                                                        (tfmot.sparsity.keras.UpdatePruningStep(),),
                                                        settled=settings.epochs))
    return tfmot.sparsity.keras.strip_pruning(wrapped)


def _zlib_weight_bytes(keras_model: Any) -> int:
    kernels = [w for w in keras_model.get_weights() if w.ndim >= 2]
    return len(zlib.compress(b"".join(np.asarray(k, np.float32).tobytes() for k in kernels), 9))


# --sparsity auto's judge of a candidate: the pruned Keras model and the validation rows in, the
# outputs (dequantized) of each variant that will be exported from it out, by variant name.
CandidateJudge = Callable[[Any, np.ndarray], dict[str, np.ndarray]]


def _worst(outputs: dict[str, np.ndarray], labels: np.ndarray, reference: dict[str, float], limit: Any,
           specs: Specs) -> tuple[float | None, str, dict[str, float]]:
    """The variant that drops most against `reference` (no metric counts as the worst): its drop,
    name and metrics."""
    judged = [(limit.metric_drop(metrics, reference), name, metrics)
              for name, metrics in ((name, compute_metrics(values, labels, specs)) for name, values in outputs.items())]
    return max(judged, key=lambda d: float("inf") if d[0] is None else d[0])


def search_sparsity(keras_model: Any, specs: Specs, data: SplitDataset, settings: PruneSettings,
                    training: TrainingSettings, max_drop: float | None,
                    judge: CandidateJudge | None = None) -> tuple[Any, PruneSettings, tuple[SparsityCandidate, ...]]:
    """--sparsity auto: prune fresh copies at AUTO_SPARSITIES, highest first, and keep the first
    within --max_drop of the unpruned model by the guard's rule, judged by its worst exported
    variant (with a `judge`: pruned_int8 and the like, converted and run; else the pruned Keras
    model). It is chosen on the validation rows; the evaluation rows then confirm it as the guard
    will judge it, so the guard never rejects the choice (a candidate they reject is passed over,
    and the report says so)."""
    rows = data.fine_tuning
    _, validation = _train_and_validation(len(rows))
    x_val, y_val = rows.x[validation], rows.y[validation]
    x_eval, y_eval = data.evaluation.x, data.evaluation.y
    limit = tolerance_for(primary_metric(specs), max_drop)
    reference = compute_metrics(keras_model.predict(x_val, verbose=0), y_val, specs)
    evaluation_reference = compute_metrics(keras_model.predict(x_eval, verbose=0), y_eval, specs)
    tried: list[SparsityCandidate] = []
    for sparsity in AUTO_SPARSITIES:
        candidate = replace(settings, final_sparsity=sparsity,
                            initial_sparsity=min(settings.initial_sparsity, sparsity))
        copy = tf_keras.models.clone_model(keras_model)
        copy.set_weights(keras_model.get_weights())
        log.info("  --sparsity auto: trying %.0f%%", sparsity * 100)
        pruned = prune(copy, specs, data, candidate, training)

        def outputs(x: np.ndarray) -> dict[str, np.ndarray]:
            return {"keras_pruned": pruned.predict(x, verbose=0), **(judge(pruned, x) if judge else {})}

        drop, judged_by, metrics = _worst(outputs(x_val), y_val, reference, limit, specs)
        within = drop is not None and drop <= limit.max_drop
        confirmed: dict[str, float] | None = None
        if within:
            eval_drop, eval_by, confirmed = _worst(outputs(x_eval), y_eval, evaluation_reference, limit, specs)
            within = eval_drop is not None and eval_drop <= limit.max_drop
            if not within:
                log.info("  --sparsity auto: %.0f%% is within tolerance on the validation rows, but %s gives %s on "
                         "the evaluation rows, as the guard will judge it", sparsity * 100, eval_by,
                         limit.describe(eval_drop or 0.0))
        tried.append(SparsityCandidate(sparsity, metrics, within, _zlib_weight_bytes(pruned), judged_by, confirmed))
        log.info("  --sparsity auto: %.0f%% gives %s on the validation rows, %s (%s)", sparsity * 100,
                 limit.describe(drop or 0.0), judged_by, "within tolerance" if within else "outside")
        if within:
            return pruned, candidate, tuple(tried)
    judged_by = "the exported variants" if judge else "the pruned model"
    raise ModelError(f"--sparsity auto: no sparsity from {AUTO_SPARSITIES[-1]:.0%} to {AUTO_SPARSITIES[0]:.0%} keeps "
                     f"{judged_by} within --max_drop {limit.limit()} (validation rows, then the evaluation rows)",
                     "prune less with --sparsity 0.2, or allow a larger --max_drop", specs.path)


def cluster(keras_model: Any, specs: Specs, data: SplitDataset, clusters: int, epochs: int,
            training: TrainingSettings, preserve_sparsity: bool) -> Any:
    """cluster_weights with k-means++ centroids; keeps zeros at zero after pruning."""
    tfmot = _tfmot()
    init = tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS
    try:
        wrapped = tfmot.clustering.keras.cluster_weights(keras_model, number_of_clusters=clusters,
                                                         cluster_centroids_init=init,
                                                         preserve_sparsity=preserve_sparsity)
    except ValueError as exc:
        raise ModelError(f"cannot cluster this model: {first_line(exc, 200)}",
                         "cluster a model built from standard Keras layers", specs.path) from None
    # A lower learning rate keeps the centroids from drifting far from the trained weights.
    _fine_tune(wrapped, specs, data, training, Schedule(epochs, learning_rate_scale=0.1))
    return tfmot.clustering.keras.strip_clustering(wrapped)


def _tfmot() -> Any:
    """tensorflow_model_optimization, imported on first use: it imports Keras 3 and scikit-learn
    (about 2 s of CPU), which a run that neither prunes, clusters nor trains aware never needs."""
    import tensorflow_model_optimization

    return tensorflow_model_optimization


def _quantizable(layer: Any) -> bool:
    registry = _tfmot().quantization.keras.default_8bit.Default8BitQuantizeRegistry()
    return bool(registry.supports(layer))


def quantization_aware(keras_model: Any, specs: Specs, data: SplitDataset, training: TrainingSettings,
                       preserve_sparsity: bool) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """quantize_model on the layers that can be annotated; the rest stay in float.

    Returns the fine-tuned model, the quantization-aware layer names and the float ones."""
    qkeras = _tfmot().quantization.keras
    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    aware = tuple(layer.name for layer in layers if _quantizable(layer))
    floating = tuple(layer.name for layer in layers if layer.name not in aware)
    if not aware:
        raise ModelError("no layer of this model can be quantization-aware trained "
                         f"(layers: {', '.join(type(layer).__name__ for layer in layers)})",
                         "use --PTQ instead of --QAT", specs.path)

    def annotate(layer: Any) -> Any:
        return qkeras.quantize_annotate_layer(layer) if layer.name in aware else layer

    scheme = None
    if preserve_sparsity:
        from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
            default_8bit_prune_preserve_quantize_scheme as prune_preserve,
        )

        scheme = prune_preserve.Default8BitPrunePreserveQuantizeScheme()
    try:
        annotated = tf_keras.models.clone_model(keras_model, clone_function=annotate)
        annotated.set_weights(keras_model.get_weights())
        with qkeras.quantize_scope():
            model = qkeras.quantize_apply(annotated, scheme) if scheme else qkeras.quantize_apply(annotated)
    except (ValueError, RuntimeError, TypeError) as exc:
        first = first_line(exc, 200)
        raise ModelError(f"quantization-aware training cannot wrap this model ({first}); float layers: "
                         f"{', '.join(floating) or 'none'}", "use --PTQ instead of --QAT", specs.path) from None
    epochs = specs.setting("qat", "epochs", DEFAULT_EPOCHS, int, 1, 1000)
    _fine_tune(model, specs, data, training, Schedule(epochs, learning_rate_scale=0.1))
    return model, aware, floating


def optimize(model: LoadedModel, specs: Specs, data: SplitDataset, config: OptimizeRequest,
             judge: CandidateJudge | None = None) -> OptimizedModel:
    """Apply the optimizations the flags ask for, in order, to a Keras 2 copy of the model
    (`judge`: how --sparsity auto judges a candidate, see search_sparsity)."""
    keras_model = model.keras
    if not model.is_keras2:
        keras_model = to_keras2(model.keras, specs.input.shape, data.calibration.x, model.path)
        log.info("rebuilt the Keras 3 model as Keras 2 for tensorflow-model-optimization (outputs match)")
    else:
        keras_model = tf_keras.models.clone_model(keras_model)  # never touch the loaded model's weights
        keras_model.set_weights(model.keras.get_weights())
    training = training_settings(specs)
    frozen = freeze_batch_norm(keras_model)
    if frozen:
        log.info("fine-tuning keeps %d BatchNormalization layer(s) frozen with their trained statistics", frozen)
    pruning = prune_settings(specs, config) if config.prune else None
    clusters = config.cluster or None
    qat_layers: tuple[str, ...] = ()
    float_layers: tuple[str, ...] = ()
    search: tuple[SparsityCandidate, ...] = ()
    if pruning and config.sparsity_auto:
        keras_model, pruning, search = search_sparsity(keras_model, specs, data, pruning, training, config.max_drop,
                                                         judge)
        log.info("--sparsity auto chose %.0f%%", pruning.final_sparsity * 100)
    elif pruning:
        log.info("pruning to %.0f%% sparsity over %d epochs", pruning.final_sparsity * 100, pruning.epochs)
        keras_model = prune(keras_model, specs, data, pruning, training)
    if clusters:
        epochs = specs.setting("clustering", "epochs", DEFAULT_EPOCHS, int, 1, 1000)
        log.info("clustering weights into %d centroids over %d epochs", clusters, epochs)
        keras_model = cluster(keras_model, specs, data, clusters, epochs, training, preserve_sparsity=bool(pruning))
    if config.qat:
        log.info("quantization-aware training")
        keras_model, qat_layers, float_layers = quantization_aware(keras_model, specs, data, training,
                                                                   preserve_sparsity=bool(pruning))
    return OptimizedModel(model=replace(model, keras=keras_model, is_keras2=True), pruned=bool(pruning),
                          clustered=bool(clusters), qat=config.qat, prune=pruning, clusters=clusters,
                          sparsity_search=search,
                          qat_layers=qat_layers, float_layers=float_layers)
