"""report.md's per-layer profile (--profile): per variant and Cortex-M target, every op's
instructions on TFLM and on the C engine, with the sums set against the whole inference."""
from __future__ import annotations

from helpers.core.profile import LayerRow, TargetProfile
from helpers.core.results import RunReport
from helpers.render.engine_text import ratio


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _share(value: int | None, total: int | None) -> str:
    return "-" if value is None or not total else f"{100 * value / total:.1f}%"


def _engine_cell(row: LayerRow) -> str:
    if row.engine_instructions is None:
        return "-"
    if row.engine_steps == 0:
        return "0 (no call)"
    calls = f" ({row.engine_steps} calls)" if row.engine_steps > 1 else ""
    return f"{row.engine_instructions:,}{calls}"


def profile_table(profile: TargetProfile) -> list[str]:
    """One target's table: a row per op, then the sums, the profiled inference and the ordinary one."""
    tflm_sum, engine_sum = profile.tflm_sum, profile.engine_sum
    lines = ["| # | op | TFLM instructions | share | C engine instructions | share | engine / TFLM |",
             "|---|---|---|---|---|---|---|"]
    for row in profile.layers:
        lines.append(f"| {row.position} | {row.op} | {_count(row.tflm_instructions)} | "
                     f"{_share(row.tflm_instructions, tflm_sum)} | {_engine_cell(row)} | "
                     f"{_share(row.engine_instructions, engine_sum)} | "
                     f"{ratio(row.engine_instructions, row.tflm_instructions)} |")
    lines += [f"| | sum of the ops | {_count(tflm_sum)} | | {_count(engine_sum)} | | {ratio(engine_sum, tflm_sum)} |",
              f"| | whole inference, profiling build | {_count(profile.tflm_profiled)} | | "
              f"{_count(profile.engine_profiled)} | | |",
              f"| | whole inference, ordinary self-test | {_count(profile.tflm_inference)} | | "
              f"{_count(profile.engine_inference)} | | {ratio(profile.engine_inference, profile.tflm_inference)} |"]
    notes = [f"- TFLM: {profile.tflm_note}" for _ in [0] if profile.tflm_note] + \
            [f"- C engine: {profile.engine_note}" for _ in [0] if profile.engine_note]
    return lines + ([""] + notes if notes else [])


def profile_markdown(report: RunReport) -> list[str]:
    """The section, when some variant was profiled."""
    profiled = [(v.name, p) for v in report.variants for p in v.firmware.profile or ()]
    if not profiled:
        return []
    lines = ["", "## Per-layer profile (--profile)", "",
             "Instructions per op of the first vector's inference, from a second build of each self-test that "
             "reads the board's timer around every op: TFLM through its MicroProfilerInterface hook (BeginEvent "
             "and EndEvent around each op's Invoke), the C engine through MCU_ENGINE_PROFILE_STEP before each "
             "kernel call. QEMU's -icount makes a tick a fixed number of instructions, so each row is within one "
             "tick. An op with no engine call was folded at export or is a RESHAPE the engine aliases. The sum "
             "leaves out what runs between the ops (TFLM's interpreter loop, the engine's input and output "
             "copies) and the timer reads are the profiling build's own cost: the last two rows show both."]
    for variant, profile in profiled:
        lines += ["", f"### `{variant}` on {profile.target} (a tick is {profile.instructions_per_tick:g} "
                  "instructions)", ""]
        lines += profile_table(profile)
    return lines
