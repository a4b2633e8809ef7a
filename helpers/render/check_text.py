"""What `--check` prints: per TFLite variant whether TFLM runs it, its tensor arena and flash against
the budgets, which engines take it, the graph rewrites, and where every op runs."""
from __future__ import annotations

from helpers.core.checks import Status
from helpers.core.results import RunReport, VariantReport
from helpers.core.rewrites import rewrites_line
from helpers.measure.budgets import flash_needed, ram_needed
from helpers.render.ops_text import placement_rows

_HEADER = ("op", "count", "TFLM (Cortex-M)", "C engine", "MicroPython")


def _bytes(value: int | None) -> str:
    return "not measured" if value is None else f"{value:,} B"


def _fits(value: bool | None) -> str:
    return "" if value is None else " (fits)" if value else " (DOES NOT FIT)"


def _summary(variant: VariantReport) -> str:
    firmware = variant.firmware
    if firmware.tflm_runnable:
        tflm = f"TFLM runs it, tensor arena {_bytes(ram_needed(variant))}{_fits(firmware.fits_ram)}"
    else:
        tflm = f"TFLM cannot run it: {firmware.tflm_reason or 'not checked'}"
    engines = []
    c_engine, python = firmware.c_engine, firmware.micropython
    if c_engine is not None and c_engine.status is Status.UNSUPPORTED:
        engines.append(f"no engine: {c_engine.reason}")  # one lowering: neither engine takes it
    elif c_engine is not None or python is not None:
        engines.append("C and MicroPython engines written (not run)")
    flash = f"flash (the model's C array) {_bytes(flash_needed(variant))}{_fits(firmware.fits_flash)}"
    return f"{variant.name}: {tflm}; {flash}; " + "; ".join(engines or ["no firmware written"])


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [list(_HEADER), *rows]) for i in range(len(_HEADER))]
    return ["  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [list(_HEADER), *rows]]


def format_check(report: RunReport) -> str:
    """Every TFLite variant of a --check run, the one that failed to build with its reason."""
    lines = [f"{report.model}: --check (converted and placed; evaluated on no row, built on no target)"]
    for variant in report.tflite_variants:
        lines.append("")
        if variant.error:
            lines.append(f"{variant.name}: could not be built: {variant.error}")
            continue
        lines.append(_summary(variant))
        if variant.rewrites:
            lines.append(f"  {rewrites_line(variant.rewrites)}")
        if variant.firmware.ops_placement:
            lines += _table(placement_rows(variant.firmware.ops_placement))
    return "\n".join(lines)
