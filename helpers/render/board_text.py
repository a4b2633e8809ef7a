"""report.md's section on the engine on MicroPython's own 32-bit bare-metal port (Cortex-M and
RISC-V boards): per variant, board and engine path (native, viper, plain), the rows checked against
TFLM, the instructions per inference with their ratio to TFLM + CMSIS-NN on the board's own core
(the Cortex-M4 target's where the run had no target for it), and the heap."""
from __future__ import annotations

from helpers.core.checks import BoardRun, EnginePathRun, MicroPythonResult, Status
from helpers.core.results import RunReport

_STATUS = {Status.PASS: "identical", Status.FAIL: "FAIL", Status.NOT_BUILT: "not built",
           Status.NOT_CHECKED: "not checked"}


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _rows(run: EnginePathRun, board: BoardRun) -> str:
    text = f"{run.rows - run.mismatched_rows} / {run.rows}"
    return text + (f" (of {board.evaluation_rows:,})" if (board.evaluation_rows or 0) > run.rows else "")


def _ratio(run: EnginePathRun, board: BoardRun) -> str:
    """The ratio, naming the TFLM target it divides by where that is not the Cortex-M4."""
    if run.ratio_to_tflm is None:
        return "-"
    return f"{run.ratio_to_tflm:.2f}x" + (f" ({board.compared_with})" if board.compared_with != "cortex-m4" else "")


def _engine(run: EnginePathRun, board: BoardRun) -> str:
    """The path, with the native module it ran on: the model's own or the kernels module."""
    if run.path == "native" and board.native_module:
        return f"native ({board.native_module})"
    if run.path == "kernels":
        return f"kernels (mcu_kernels_{board.arch})"
    return run.path


def board_lines(name: str, result: MicroPythonResult) -> list[str]:
    lines = []
    for board in result.boards:
        if not board.paths:
            lines.append(f"| `{name}` | {board.core} | - | {_STATUS.get(board.status, board.status)}: {board.reason} "
                         "| - | - | - | - |")
            continue
        for run in board.paths:
            verdict = "identical" if run.identical else "FAIL"
            lines.append(f"| `{name}` | {board.core} | {_engine(run, board)} | {verdict}, {_rows(run, board)} | "
                         f"{_int(run.instructions_per_inference)} | {_ratio(run, board)} | {_int(board.module_heap_bytes)} | "
                         f"{_int(run.invoke_alloc_bytes)} |")
    return lines


def boards_markdown(report: RunReport) -> list[str]:
    """The section, or one line saying it did not run (and why)."""
    engines = [(v.name, v.firmware.micropython) for v in report.variants
               if v.firmware.micropython and v.firmware.micropython.status is not Status.UNSUPPORTED]
    if not engines:
        return []
    rows = [line for name, result in engines for line in board_lines(name, result)]
    reasons = sorted({r.boards_reason for _, r in engines if r.boards_reason})
    lines = ["", "## On MicroPython's 32-bit bare-metal port (ports/qemu under QEMU)", ""]
    if not rows:
        return lines + [f"Not run: {'; '.join(reasons) or 'no engine was checked'}."]
    lines += ["Each engine path ran the evaluation rows its budget allows (all when they fit) from a ROMFS "
              "image; instructions are exact (`-icount shift=0`); the ratio is to TFLM + CMSIS-NN's count "
              "for the same variant on the board's core where the run had that target, else on the Cortex-M4 "
              "target (named where it is not the M4's); native: one call into the model's own native module "
              "(the C engine, built by `<id>_native.mk`) where it was built, else the kernels module, one call "
              "per layer; kernels: the kernels module beside the model's own; heap: after importing the "
              "engine (and the native module it loads first); allocated: by one `run()`.", "",
              "| variant | board | engine | rows identical / checked | instructions / inference | vs TFLM "
              "| heap after import (B) | allocated per run (B) |",
              "|---|---|---|---|---|---|---|---|"]
    notes = [f"- `{name}` on {b.core}: {b.reason}" for name, r in engines for b in r.boards if b.reason and b.paths]
    notes += [f"- `{name}`: native ran on the kernels module, not on a native module of the model's own: "
              f"{r.native_model_reason}" for name, r in engines if r.native_model_reason and r.boards]
    return lines + rows + ([""] + notes if notes else [])
