"""The settings optimization runs with: what the flags ask (OptimizeRequest, built by the facade),
what specs.json's `training` and `pruning` blocks add, and a fine-tuning's schedule."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers.core.specs import Specs, Task
from helpers.errors import ModelError

DEFAULT_EPOCHS = 5          # pruning schedule, clustering and QAT, unless specs say otherwise
OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop")


@dataclass(frozen=True)
class TrainingSettings:
    """How to fine-tune: from specs `training`, defaults from the task."""

    optimizer: str
    learning_rate: float
    batch_size: int
    loss: str


@dataclass(frozen=True)
class PruneSettings:
    """Pruning schedule and policy."""

    initial_sparsity: float
    final_sparsity: float
    epochs: int
    policy: str | None


@dataclass(frozen=True)
class OptimizeRequest:
    """What the flags ask of optimization (the facade derives it from the run's config)."""

    prune: bool = False
    sparsity: float | None = None          # --sparsity S (None: specs or the default)
    sparsity_auto: bool = False            # --sparsity auto
    prune_epochs: int | None = None
    prune_policy: str | None = None
    cluster: int | None = None
    qat: bool = False
    max_drop: float | None = None          # the guard --sparsity auto judges candidates by

    @property
    def any(self) -> bool:
        return self.prune or bool(self.cluster) or self.qat


def prune_settings(specs: Specs, config: OptimizeRequest) -> PruneSettings:
    """specs `pruning` overridden by --sparsity, --prune_epochs and --prune_policy."""
    block = specs.block("pruning")
    final = config.sparsity if config.sparsity is not None else specs.setting(
        "pruning", "final_sparsity", 0.5, float, 0.0, 0.99)
    initial = min(specs.setting("pruning", "initial_sparsity", 0.0, float, 0.0, 0.99), final)
    epochs = config.prune_epochs if config.prune_epochs is not None else specs.setting(
        "pruning", "epochs", DEFAULT_EPOCHS, int, 1, 1000)
    policy = config.prune_policy or block.get("policy")
    if policy not in (None, "xnnpack"):
        raise ModelError(f"unknown pruning policy {policy!r}", 'use "xnnpack" or leave it out', specs.path)
    return PruneSettings(initial, final, epochs, policy)


@dataclass(frozen=True)
class Schedule:
    """How long a fine-tuning runs: at most `epochs`, early stopping only after `settled`."""

    epochs: int
    callbacks: tuple[Any, ...] = ()
    learning_rate_scale: float = 1.0
    settled: int = 1


def training_settings(specs: Specs) -> TrainingSettings:
    """specs `training`, with defaults that suit the task."""
    block = specs.block("training")
    if specs.task is Task.CLASSIFICATION:
        default_loss = "binary_crossentropy" if specs.output.size == 1 else "sparse_categorical_crossentropy"
    else:
        default_loss = "mse"
    optimizer = str(block.get("optimizer", "adam")).lower()
    if optimizer not in OPTIMIZER_NAMES:
        raise ModelError(f"unknown optimizer {optimizer!r} in specs `training`",
                         f"use one of {', '.join(OPTIMIZER_NAMES)}", specs.path)
    return TrainingSettings(
        optimizer=optimizer,
        learning_rate=specs.setting("training", "learning_rate", 1e-3, float, 1e-7, 1.0),
        batch_size=specs.setting("training", "batch_size", 32, int, 1, 65536),
        loss=str(block.get("loss", default_loss)))
