"""The engine on MicroPython's own 32-bit bare-metal port (Cortex-M and RISC-V boards): per board, a
ROMFS image with the engine's .mpy, the kernels module for the board's architecture and the
evaluation rows with TFLM's outputs; then, per engine path (native, viper, plain), the rows the
path's instruction budget allows, each compared with TFLM's outputs, the instructions per inference
(exact under -icount shift=0), the heap the import took and the bytes one run() allocated; then the
first path once more, after use_engine() went through the others and back to it."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from helpers.core.checks import BoardRun, EnginePathRun, Status
from helpers.emit.micropython import FLOAT_TOLERANCE
from helpers.micropython.native_model import ModelModule
from helpers.micropython.native_module import KernelsModule
from helpers.micropython.qemu_port import BOARDS, Board, PortError, RawRepl, build_firmware, romfs_image
from helpers.progress import Progress

# "kernels" is the kernels module's path where the model's own native module runs "native" (an engine
# without one answers use_engine("kernels") with "native", so that path is not run twice).
PATHS = ("native", "kernels", "viper", "plain")
# Each path's budget, in the board's instructions (board time at 1 ns per instruction): rows run
# until it is spent, all rows when they fit. Deterministic, unlike a wall-clock budget.
DEFAULT_BUDGET_INSTRUCTIONS = 600_000_000
# QEMU runs at well over this many instructions a second here; the timeout only catches a hang.
_SLOWEST_INSTRUCTIONS_PER_S = 5_000_000
_ROWS_PER_PROGRESS_LINE = 10

_DRIVER = '''
import gc, time
from array import array
gc.collect()
base = gc.mem_alloc()
import {module} as m
gc.collect()
print("MCU_DEPLOY_HEAP", gc.mem_alloc() - base)
print("MCU_DEPLOY_NATIVE", getattr(m, "NATIVE_MODULE", None))
# A model with several inputs and outputs: a row is every input's bytes in order, and the expected
# outputs every output's.
if hasattr(m, "INPUTS"):
    ins = [memoryview(b)[:n] for b, n in zip(m.INPUTS, m.INPUT_SIZES)]
    outs = [memoryview(b)[:n] for b, n in zip(m.OUTPUTS, m.OUTPUT_SIZES)]
else:
    ins = [memoryview(m.INPUT)[:{input_count}]]
    outs = [memoryview(m.OUTPUT)[:{output_count}]]
want = {want}
rows_file = open("/rom/rows.bin", "rb")
want_file = open("/rom/expected.bin", "rb")
# What reading the timer around a run costs: the sum of 1,000 readings' differences is their mean
# in ns, which is instructions (a reading is whole microseconds, and a small model's whole run on
# the native path takes one or two; the host subtracts the mean, not one reading).
timer_ns = 0
for i in range(1000):
    start = time.ticks_us()
    timer_ns += time.ticks_diff(time.ticks_us(), start)
print("MCU_DEPLOY_TIMER", timer_ns)


def check(budget_us):
    rows_file.seek(0)
    want_file.seek(0)
    rows = 0
    bad = 0
    spent = 0
    while rows < {rows} and spent < budget_us:
        for inp in ins:
            rows_file.readinto(inp)
        want_file.readinto(want)
        start = time.ticks_us()
        m.run()
        spent += time.ticks_diff(time.ticks_us(), start)
        rows += 1
        k = 0
        differs = False
        for out in outs:
            for i in range(len(out)):
                if {differs}:
                    differs = True
                k += 1
        bad += 1 if differs else 0
        if rows % {every} == 0:
            print("MCU_DEPLOY_ROWS", rows)
    gc.collect()
    before = gc.mem_alloc()
    m.run()
    return rows, bad, spent, gc.mem_alloc() - before


ran = []
for path in {paths}:
    if m.use_engine(path) != path:
        print("MCU_DEPLOY_PATH", path, "absent")
        continue
    rows, bad, spent, alloc = check({budget_us})
    print("MCU_DEPLOY_PATH", path, rows, bad, spent, alloc)
    ran.append(path)
# back to the fastest path after the slower ones (when there were others to switch to): the code
# they compiled must not linger in its way
first = ran[0] if len(ran) > 1 else None
if first is not None and m.use_engine(first) == first:
    rows, bad, spent, alloc = check({budget_us})
    print("MCU_DEPLOY_AGAIN", first, rows, bad, spent, alloc)
'''


@dataclass(frozen=True)
class BoardInputs:
    """What the boards check the engine against, in the engine's own tensor types."""

    engine_mpy: Path
    rows: np.ndarray            # [rows, input elements], the input tensor's dtype
    expected: np.ndarray        # [rows, output elements], TFLM's raw outputs
    kernels: dict[str, KernelsModule]   # by architecture; empty when the module was not built
    kernels_reason: str | None  # why there is no kernels module, when there is none
    # the model's own native module by architecture (helpers/micropython/native_model.py); empty
    # when it was not built
    model_modules: dict[str, ModelModule] = field(default_factory=dict)
    budget_instructions: int = DEFAULT_BUDGET_INSTRUCTIONS


def _buffer_kind(dtype: np.dtype) -> tuple[str, str]:
    """The driver's expected-output buffer and the comparison, for the output tensor's dtype."""
    if dtype == np.int8:
        return "bytearray({n})", "out[i] != want[k]"
    if dtype == np.int16:
        return "array('h', bytes({bytes}))", "out[i] != want[k]"
    return "array('f', bytes({bytes}))", f"abs(out[i] - want[k]) > {FLOAT_TOLERANCE!r} * (1.0 + abs(want[k]))"


def _driver(inputs: BoardInputs, rows: int) -> str:
    n_in, n_out = inputs.rows.shape[1], inputs.expected.shape[1]
    want, differs = _buffer_kind(inputs.expected.dtype)
    return _DRIVER.format(module=inputs.engine_mpy.stem, input_count=n_in, output_count=n_out,
                          want=want.format(n=n_out, bytes=n_out * inputs.expected.dtype.itemsize), rows=rows,
                          differs=differs, every=_ROWS_PER_PROGRESS_LINE, paths=repr(PATHS),
                          budget_us=inputs.budget_instructions // 1000)


def _rom_files(inputs: BoardInputs, board: Board) -> tuple[dict[str, bytes], int, KernelsModule | None]:
    files = {inputs.engine_mpy.name: inputs.engine_mpy.read_bytes()}
    kernels = inputs.kernels.get(board.arch)
    if kernels is not None:
        files[kernels.filename] = kernels.path.read_bytes()
    model = inputs.model_modules.get(board.arch)
    if model is not None:
        files[model.filename] = model.path.read_bytes()
    per_row = inputs.rows[0].nbytes + inputs.expected[0].nbytes
    # the same rows on every board: the smallest partition (4 MiB) less room for the image's own data
    room = (min(board.romfs_bytes, 4 << 20) - (1 << 20)) - sum(len(data) for data in files.values())
    rows = max(1, min(len(inputs.rows), room // per_row))
    files["rows.bin"] = np.ascontiguousarray(inputs.rows[:rows]).tobytes()
    files["expected.bin"] = np.ascontiguousarray(inputs.expected[:rows]).tobytes()
    return files, rows, kernels


# Instructions per inference the first path may differ by when run again. Under -icount the counts
# would be exact, but the board's UART interrupts (its output, drained by the host) land inside some
# timed runs at host-dependent moments: on a loaded 2-core machine the same native path measured
# 99,286 and 102,081 (2.8%) on the digits CNN. The fault this guards against took 3.4x.
SWITCH_BACK_TOLERANCE = 0.05


@dataclass(frozen=True)
class DriverReport:
    """What the board's driver printed."""

    heap: int | None                   # bytes the import took
    native_module: str | None          # the module the native path runs on
    timer_ns: int                      # reading the timer around a run, in instructions (a mean)
    # per path (and "again:<path>"): rows, rows that differ, us spent (the timer's readings
    # included), bytes one run() allocated; None where the engine lacks the path
    paths: dict[str, tuple[int, ...] | None]


def _parse(stdout: str) -> DriverReport:
    heap, native, timer_ns, paths = None, None, 0, {}
    for line in stdout.splitlines():
        words = line.split()
        if words[:1] == ["MCU_DEPLOY_HEAP"]:
            heap = int(words[1])
        elif words[:1] == ["MCU_DEPLOY_NATIVE"] and len(words) == 2 and words[1] != "None":
            native = words[1]
        elif words[:1] == ["MCU_DEPLOY_TIMER"]:
            timer_ns = int(words[1])
        elif words[:1] == ["MCU_DEPLOY_PATH"]:
            paths[words[1]] = None if words[2] == "absent" else tuple(int(w) for w in words[2:])
        elif words[:1] == ["MCU_DEPLOY_AGAIN"]:
            paths[f"again:{words[1]}"] = tuple(int(w) for w in words[2:])
    return DriverReport(heap=heap, native_module=native, timer_ns=timer_ns, paths=paths)


def _path_run(path: str, figures: tuple[int, ...], tflm_instructions: int | None, timer_ns: int) -> EnginePathRun:
    done, bad, spent_us, alloc = figures
    # None where the run came out no longer than reading the timer: too short to measure this way
    instructions = round(spent_us * 1000 / done - timer_ns) if done else None
    instructions = instructions if instructions is not None and instructions > 0 else None
    ratio = round(instructions / tflm_instructions, 2) if instructions and tflm_instructions else None
    return EnginePathRun(path=path, rows=done, mismatched_rows=bad, instructions_per_inference=instructions,
                         invoke_alloc_bytes=alloc, ratio_to_tflm=ratio)


def _switch_back_problem(first: EnginePathRun, again: EnginePathRun) -> str | None:
    """Why the first path run again is not what it was, or None. A path that allocates nothing must
    still allocate nothing and be as fast; one that allocates (floats are boxed) runs into the
    garbage collector at other moments, so only its outputs are compared."""
    before, after = first.instructions_per_inference or 0, again.instructions_per_inference or 0
    strict = first.invoke_alloc_bytes == 0
    slower = strict and before > 0 and after > (1 + SWITCH_BACK_TOLERANCE) * before  # both measured
    if again.mismatched_rows or (strict and again.invoke_alloc_bytes != 0) or slower:
        return (f"{first.path} after use_engine() switched to the other paths and back: {after} instructions per "
                f"inference (first {before}), {again.invoke_alloc_bytes} B allocated per run, "
                f"{again.mismatched_rows} rows differ from TFLM")
    return None


def tflm_count_for(board: Board, tflm_counts: dict[str, int]) -> tuple[str | None, int | None]:
    """The TFLM target a board's paths are compared with, and its instructions per inference: the
    board's own core where that target ran, else the Cortex-M4's, else none."""
    for target in (board.tflm_target, "cortex-m4"):
        if tflm_counts.get(target):
            return target, tflm_counts[target]
    return None, None


def run_board(board: Board, firmware: Path, micropython_dir: Path, inputs: BoardInputs,
              tflm_counts: dict[str, int]) -> BoardRun:
    """The engine's paths on one board, from a fresh QEMU."""
    base = {"board": board.name, "core": board.core, "machine": board.machine, "arch": board.arch,
            "evaluation_rows": len(inputs.rows)}
    files, rows, kernels = _rom_files(inputs, board)
    runs = len(PATHS) + 1  # and the first path again
    timeout = 60 + runs * (inputs.budget_instructions + 2 * 10**8) / _SLOWEST_INSTRUCTIONS_PER_S
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-romfs-") as tmp:
        image = Path(tmp) / "romfs.img"
        try:
            image.write_bytes(romfs_image(micropython_dir, files, board))
            with Progress(f"MicroPython engine on the {board.core} port", rows * runs, "rows") as progress:
                def on_line(line: str) -> None:
                    if line.startswith("MCU_DEPLOY_ROWS"):
                        progress.advance(_ROWS_PER_PROGRESS_LINE)
                with RawRepl(firmware, board, image) as repl:
                    stdout, errors = repl.execute(_driver(inputs, rows), timeout, on_line)
        except PortError as error:
            return BoardRun(**base, status=Status.NOT_BUILT, reason=str(error))
    report = _parse(stdout)
    if errors.strip() or report.heap is None:
        said = [line for line in errors.strip().splitlines() if line.strip()]
        return BoardRun(**base, status=Status.FAIL, module_heap_bytes=report.heap,
                        reason="MicroPython stopped: " + (said[-1][:300] if said else "no report"))
    target, tflm_instructions = tflm_count_for(board, tflm_counts)
    run = _judged(base, report, kernels, inputs.kernels_reason, tflm_instructions)
    model = inputs.model_modules.get(board.arch)
    native = report.native_module if run.path("native") else None
    # compared_with: None where no TFLM count was there to compare with
    return replace(run, compared_with=target, native_module=native,
                   model_mpy_bytes=model.size_bytes if model is not None and native == model.path.stem else None)


def _judged(base: dict, report: DriverReport, kernels: KernelsModule | None, kernels_reason: str | None,
            tflm_instructions: int | None) -> BoardRun:
    """The board's verdict: FAIL when a path's outputs differ from TFLM's, or when the first path,
    run again after the others, does not hold up (_switch_back_problem)."""
    paths, timer = report.paths, report.timer_ns
    runs = [_path_run(path, paths[path], tflm_instructions, timer) for path in PATHS if paths.get(path) is not None]
    again_figures = paths.get(f"again:{runs[0].path}") if runs else None
    again = _path_run(runs[0].path, again_figures, tflm_instructions, timer) if again_figures else None
    problems = [f"{run.path}: {run.mismatched_rows} of {run.rows} rows differ from TFLM" for run in runs
                if run.mismatched_rows]
    switch_problem = _switch_back_problem(runs[0], again) if again is not None else None
    problems += [switch_problem] if switch_problem else []
    status = Status.FAIL if problems or not runs else Status.PASS
    reason = "; ".join(problems) or None
    if kernels is None and not problems:
        reason = f"no native path: {kernels_reason or 'no kernels module for ' + base['arch']}"
    return BoardRun(**base, status=status, reason=reason, module_heap_bytes=report.heap,
                    kernels_mpy_bytes=kernels.size_bytes if kernels else None, paths=tuple(runs), switched_back=again)


def run_on_boards(micropython_dir: Path, cache_root: Path, inputs: BoardInputs, tflm_counts: dict[str, int],
                  boards: tuple[str, ...] = tuple(BOARDS)) -> tuple[BoardRun, ...]:
    """The engine on every board; a board whose port does not build says so and nothing else."""
    if np.float64 in (inputs.rows.dtype, inputs.expected.dtype):  # packed rows of int and float tensors
        return tuple(BoardRun(board=b.name, core=b.core, machine=b.machine, arch=b.arch, status=Status.NOT_CHECKED,
                              reason="integer and float tensors in one model: not run on the boards yet")
                     for b in (BOARDS[name] for name in boards))
    results = []
    for name in boards:
        board = BOARDS[name]
        try:
            firmware = build_firmware(micropython_dir, board, cache_root)
        except PortError as error:
            results.append(BoardRun(board=board.name, core=board.core, machine=board.machine, arch=board.arch,
                                    status=Status.NOT_BUILT, reason=str(error)))
            continue
        results.append(run_board(board, firmware, micropython_dir, inputs, tflm_counts))
    return tuple(results)
