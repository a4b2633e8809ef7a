"""--flash_budget and --ram_budget: which variants fit, and whether the final one does."""
from __future__ import annotations

from dataclasses import replace

from helpers.errors import BudgetError
from helpers.report import VariantReport


def flash_needed(variant: VariantReport) -> int | None:
    """Flash the model takes: the largest cross-compiled figure, else the raw .tflite size."""
    flash = variant.firmware.get("flash_bytes") or {}
    return max(flash.values()) if flash else variant.size_bytes


def ram_needed(variant: VariantReport) -> int | None:
    """RAM the model takes: the recommended tensor arena."""
    return variant.firmware.get("tensor_arena_bytes")


def _fits(needed: int | None, budget: int | None) -> bool | None:
    if budget is None or needed is None:
        return None
    return needed <= budget


def annotate(variants: list[VariantReport], flash_budget: int | None, ram_budget: int | None) -> list[VariantReport]:
    """Add fits_flash / fits_ram to each TFLite variant's firmware block."""
    if flash_budget is None and ram_budget is None:
        return variants
    result = []
    for variant in variants:
        if variant.format != "tflite" or variant.error:
            result.append(variant)
            continue
        firmware = dict(variant.firmware)
        runnable = firmware.get("tflm_runnable", True)
        if flash_budget is not None:
            firmware["fits_flash"] = runnable and bool(_fits(flash_needed(variant), flash_budget))
        if ram_budget is not None:
            ram = _fits(ram_needed(variant), ram_budget)
            firmware["fits_ram"] = runnable and ram is not False
        result.append(replace(variant, firmware=firmware))
    return result


def _fits_all(variant: VariantReport) -> bool:
    return variant.firmware.get("fits_flash", True) is not False and variant.firmware.get("fits_ram", True) is not False


def check_final(variants: list[VariantReport], flash_budget: int | None, ram_budget: int | None) -> None:
    """Raise BudgetError when the final variant (the last one built) does not fit."""
    built = [v for v in variants if v.format == "tflite" and not v.error]
    if not built or (flash_budget is None and ram_budget is None):
        return
    final = built[-1]
    if _fits_all(final):
        return
    problems = []
    if final.firmware.get("fits_flash") is False:
        needed = flash_needed(final) or 0
        problems.append(f"flash {needed:,} B is {needed - (flash_budget or 0):,} B over the {flash_budget:,} B budget"
                        if final.firmware.get("tflm_runnable", True) else "it does not run on TFLM")
    if final.firmware.get("fits_ram") is False:
        needed = ram_needed(final) or 0
        problems.append(f"tensor arena {needed:,} B is {needed - (ram_budget or 0):,} B over the {ram_budget:,} B budget"
                        if final.firmware.get("tflm_runnable", True) else "it does not run on TFLM")
    fitting = [v.name for v in built if _fits_all(v)]
    fix = (f"use a variant that fits: {', '.join(fitting)}" if fitting
           else "no variant fits: prune, cluster, shrink the model or raise the budget")
    raise BudgetError(f"the final variant {final.name} does not fit: " + "; ".join(dict.fromkeys(problems)), fix)
