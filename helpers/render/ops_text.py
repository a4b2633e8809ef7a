"""report.md's "Where each op runs": per variant, each op of its graph, how many times it occurs,
and which code runs it on TFLM, in the C engine and on MicroPython (emit/placement.py)."""
from __future__ import annotations

from helpers.core.checks import OpPlacement
from helpers.core.results import RunReport

_HEADER = ["op", "count", "TFLM (Cortex-M)", "C engine", "MicroPython"]


def placement_rows(placement: tuple[OpPlacement, ...]) -> list[list[str]]:
    return [[p.op, str(p.count), p.tflm, p.c_engine, p.micropython] for p in placement]


def ops_markdown(report: RunReport) -> list[str]:
    """One table per TFLite variant whose placement was worked out."""
    placed = [v for v in report.tflite_variants if v.firmware.ops_placement]
    if not placed:
        return []
    lines = ["", "## Where each op runs", "",
             "TFLM: `cmsis-nn` where TFLM's Cortex-M build has a CMSIS-NN kernel for the op's type, else "
             "`reference` (on the host every op is the reference kernel). C engine: a CMSIS-NN call, the "
             "engine's `own kernel`; `own on Armv7E-M, else cmsis-nn`: the own kernel on the M4, M7 and M33, "
             "CMSIS-NN's call on the other cores. MicroPython: the fastest path the engine has, `native` (the kernels "
             "module), `viper` or `plain`. `no code`: folded or aliased at export; `-`: no engine."]
    for variant in placed:
        lines += ["", f"`{variant.name}`:", "", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in placement_rows(variant.firmware.ops_placement or ())]
    return lines
