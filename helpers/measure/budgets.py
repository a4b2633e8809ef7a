"""--flash_budget and --ram_budget: which variants fit, and whether the final one does.

A budget is judged only on what was measured: a variant whose flash or arena was not measured
(--skip_firmware_checks, no cross-compiler) is "not measured", never "fits", and a run whose
final variant cannot be judged exits 3 like one that does not fit.
"""
from __future__ import annotations

from dataclasses import replace

from helpers.core.results import VariantReport
from helpers.errors import BudgetError


def _cortex_m_figures(variant: VariantReport, key: str) -> list[int]:
    """A figure of every Cortex-M target whose linked self-test was measured."""
    return [getattr(result, key) for result in variant.firmware.cortex_m_results()
            if getattr(result, key) is not None]


def flash_needed(variant: VariantReport) -> int | None:
    """Flash the model takes: the linked firmware on the Cortex-M targets (model, TFLM runtime,
    kernels, C runtime; without the self-test's vectors) where they ran, else the largest
    cross-compiled C array; None when neither was measured."""
    linked = _cortex_m_figures(variant, "flash_bytes_without_self_test")
    if linked:
        return max(linked)
    flash = variant.firmware.flash_bytes or {}
    return max(flash.values()) if flash else None


def ram_needed(variant: VariantReport) -> int | None:
    """RAM the model takes: .data + .bss of the linked firmware on the Cortex-M targets (arena
    included) where they ran, else the recommended tensor arena; None when not measured."""
    linked = _cortex_m_figures(variant, "ram_bytes")
    return max(linked) if linked else variant.firmware.tensor_arena_bytes


def _verdict(needed: int | None, budget: int, runnable: bool | None) -> bool | None:
    """True/False against the budget; False when TFLM cannot run it; None when not measured."""
    if runnable is False:
        return False
    if needed is None:
        return None
    return needed <= budget


def annotate(variants: list[VariantReport], flash_budget: int | None, ram_budget: int | None) -> list[VariantReport]:
    """Add fits_flash / fits_ram (and a note for what could not be judged) to each TFLite variant."""
    if flash_budget is None and ram_budget is None:
        return variants
    result = []
    for variant in variants:
        if not variant.is_built_tflite:
            result.append(variant)
            continue
        firmware = variant.firmware
        fits_flash = (_verdict(flash_needed(variant), flash_budget, firmware.tflm_runnable)
                      if flash_budget is not None else None)
        fits_ram = (_verdict(ram_needed(variant), ram_budget, firmware.tflm_runnable)
                    if ram_budget is not None else None)
        unjudged = [what for what, budget, fits in (("flash", flash_budget, fits_flash), ("RAM", ram_budget, fits_ram))
                    if budget is not None and fits is None]
        note = (f"{' and '.join(unjudged)} not measured, so the budget cannot be judged "
                "(run without --skip_firmware_checks, with arm-none-eabi-gcc installed)") if unjudged else None
        result.append(replace(variant, firmware=replace(firmware, fits_flash=fits_flash, fits_ram=fits_ram,
                                                        budget_note=note)))
    return result


def fits_all(variant: VariantReport) -> bool:
    """Measured, and within every budget that was given."""
    return variant.firmware.fits_flash is not False and variant.firmware.fits_ram is not False and \
        variant.firmware.budget_note is None


def check_final(variants: list[VariantReport], flash_budget: int | None, ram_budget: int | None) -> None:
    """Raise BudgetError when the final variant (the last one built) does not fit or cannot be judged."""
    built = [v for v in variants if v.is_built_tflite]
    if not built or (flash_budget is None and ram_budget is None):
        return
    final = built[-1]
    if fits_all(final):
        return
    problems = []
    firmware = final.firmware
    if firmware.tflm_runnable is False:
        problems.append("it does not run on TFLM")
    if firmware.fits_flash is False and firmware.tflm_runnable is not False:
        needed = flash_needed(final) or 0
        problems.append(f"flash {needed:,} B is {needed - (flash_budget or 0):,} B over the {flash_budget:,} B budget")
    if firmware.fits_ram is False and firmware.tflm_runnable is not False:
        needed = ram_needed(final) or 0
        problems.append(f"tensor arena {needed:,} B is {needed - (ram_budget or 0):,} B over the {ram_budget:,} B budget")
    if firmware.budget_note:
        problems.append(firmware.budget_note)
    fitting = [v.name for v in built if fits_all(v)]
    fix = (f"use a variant that fits: {', '.join(fitting)}" if fitting
           else "no variant fits: prune, cluster, shrink the model or raise the budget")
    if firmware.budget_note and not fitting:
        fix = "run the firmware checks (drop --skip_firmware_checks) so the budget can be judged"
    raise BudgetError(f"the final variant {final.name} does not fit: " + "; ".join(problems), fix)
