"""Which variants a run builds, decided from the flags alone (the plan is data; run.py executes it).

Every run builds `float32` from the model as loaded: the baseline of every comparison. With
--prune, --cluster or --QAT, the optimized Keras model gets its own row and the selected variants
are built from it (their names carry the lineage prefix). Twins (keep-float, LUT) are not
planned here: they derive from a built and measured base (pipeline/twins.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from helpers.config import RunConfig
from helpers.core.quantization import Quantization
from helpers.core.variant import Lineage, VariantPlan, converted_plan, qat_plan


@dataclass(frozen=True)
class RunPlan:
    """The variants of a run, by the model they are converted from."""

    from_original: tuple[VariantPlan, ...]
    lineage: Lineage                          # what optimization makes of the model (nothing: no row)
    from_optimized: tuple[VariantPlan, ...]
    comparing: bool   # several quantizations asked for: one that fails becomes a failed row, not the end


def _selected(quantizations: tuple[Quantization, ...], lineage: Lineage) -> list[VariantPlan]:
    """float32 first, then the selected quantizations, in the order asked."""
    return [converted_plan(Quantization.NONE, lineage)] + [
        converted_plan(q, lineage) for q in quantizations if q is not Quantization.NONE]


def plan_run(config: RunConfig) -> RunPlan:
    """The plans for this command line."""
    lineage = Lineage(pruned=config.prune, clustered=bool(config.cluster), qat=config.qat)
    comparing = len(config.quantizations) > 1
    if not lineage.optimized:
        return RunPlan(tuple(_selected(config.quantizations, lineage)), lineage, (), comparing)
    optimized = ([qat_plan(config.qat_int8_io, lineage)] if config.qat
                 else _selected(config.quantizations, lineage))
    return RunPlan((converted_plan(Quantization.NONE),), lineage, tuple(optimized), comparing)
