"""One variant's self-test on one target: compile, link against TFLM's library, run it, read what
it printed, and measure flash, RAM and instructions per inference."""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from helpers.core.checks import Status, TargetResult
from helpers.targets.library import BuildError, Library, ToolBuildError
from helpers.targets.linkmap import read_map
from helpers.targets.program import Program, SelfTestObjects, compile_self_test
from helpers.targets.runner import INSTRUCTIONS_PER_TICK, ProgramRun, qemu_available, run_program
from helpers.targets.target import Target

# When AllocateTensors fails with the header's arena, one retry with this much tells "arena too
# small" (a figure for the header) from "cannot run" (TFLM's own message).
RETRY_ARENA_BYTES = 1024 * 1024
_OWN_LINES = re.compile(r"^(arena used:|accuracy:|mae:|accuracy \w+:|mae \w+:|outputs digest:|engine scratch:|first inference:|PASS:|"
                        r"FAIL: \d)")
_TICKS = re.compile(r"^first inference: (\d+) ticks", re.M)
_DIGEST = re.compile(r"outputs digest: ([0-9a-f]{8}) over (\d+) vectors")


def missing_tools(target: Target) -> str | None:
    """Why the target cannot be built or run on this machine, or None."""
    compiler = f"{target.toolchain}g++"
    if shutil.which(compiler) is None:
        return f"{compiler} not installed (apt-get install {target.packages or 'g++'})"
    headers = [flag for flag in target.cxx_extra if flag.startswith("/") and not Path(flag).is_dir()]
    if headers:
        return f"{headers[0]} missing (apt-get install {target.packages})"
    if target.emulated and not qemu_available(target):
        package = "qemu-system-arm" if target.qemu == "qemu-system-arm" else "qemu-system-misc"
        return f"{target.qemu} not installed (apt-get install {package})"
    return None


def run_self_test(library: Library, folder: Path, model_id: str, work: Path, mcu_mhz: float,
                  arena_bytes: int | None, count: bool = True) -> TargetResult:
    """Build the variant's self-test for the library's target with an arena of `arena_bytes` (the
    one the header will recommend; None: the header's own), run it, and measure it."""
    target = library.target
    base = {"target": target.name, "kernels": target.kernels,
            "machine": target.qemu_machine or "this machine (native)"}
    started = time.monotonic()
    built_program = build_and_link(lambda: compile_self_test(library, folder, model_id, work, arena_bytes), base)
    if isinstance(built_program, TargetResult):
        return built_program
    build, program = built_program
    built = time.monotonic()
    run = run_program(target, program.path)
    arena_linked = arena_bytes
    if "FAIL: AllocateTensors" in run.output:
        first_message = _tflm_message(run)
        built_program = build_and_link(lambda: compile_self_test(library, folder, model_id, work / "large-arena",
                                                                 RETRY_ARENA_BYTES), base)
        if isinstance(built_program, TargetResult):
            return built_program
        build, program = built_program
        run = run_program(target, program.path)
        arena_linked = RETRY_ARENA_BYTES
        if "FAIL: AllocateTensors" in run.output:
            return TargetResult(status=Status.FAIL, message=first_message, build_seconds=built - started, **base)
    ran = time.monotonic()
    result = parse_run(run, base)
    fields: dict[str, Any] = {"arena_linked_bytes": arena_linked, "build_seconds": round(built - started, 2),
                              "run_seconds": round(ran - built, 2)}
    if target.emulated:
        fields.update(board_figures(build, program, model_id, mcu_mhz, run if count and result.passed else None))
    return TargetResult(**{**asdict(result), **fields})


def build_and_link(compile_objects: Callable[[], SelfTestObjects],
                   base: dict[str, Any]) -> tuple[SelfTestObjects, Program] | TargetResult:
    """Compile a self-test's objects and link them; a failure becomes the target's verdict: not
    built when the tool's own part failed, build failed when the variant's program did."""
    try:
        build = compile_objects()
        return build, build.link()
    except ToolBuildError as error:
        return TargetResult(status=Status.NOT_BUILT, message=f"not built: {error}", **base)
    except BuildError as error:
        return TargetResult(status=Status.BUILD_FAILED, message=str(error), **base)


def board_figures(build: Any, program: Any, model_id: str, mcu_mhz: float, run: ProgramRun | None) -> dict[str, Any]:
    """A Cortex-M program's flash and RAM from its link map and, from its `run` (None: not
    counted), its instructions per inference and the latency estimate: the figures both self-tests
    (TFLM's, the C engine's) report."""
    target = build.library.target
    memory = read_map(program.map_path, model_id)
    fields: dict[str, Any] = {
        "flash_bytes": memory.flash_bytes, "flash_bytes_without_self_test": memory.flash_without_self_test,
        "flash_breakdown": memory.flash_breakdown, "ram_bytes": memory.ram_bytes, "ram_breakdown": memory.ram_breakdown}
    instructions = instructions_per_inference(run, target.instructions_per_tick) if run is not None else None
    if instructions is not None:
        fields.update(instructions_per_inference=instructions, cycles_per_instruction=target.cycles_per_instruction,
                      mcu_mhz=mcu_mhz,
                      latency_ms=round(instructions * target.cycles_per_instruction / (mcu_mhz * 1e3), 3))
    return fields


def instructions_per_inference(run: ProgramRun, per_tick: float = INSTRUCTIONS_PER_TICK) -> int | None:
    """The first vector's inference, from the ticks the self-test printed (QEMU's -icount makes
    a tick `per_tick` instructions, the board timer's period in ns; the figure is within one tick)."""
    ticks = _TICKS.search(run.output)
    return round(int(ticks.group(1)) * per_tick) if ticks else None


def parse_run(run: ProgramRun, base: dict[str, Any]) -> TargetResult:
    """The self-test's own lines: arena used, the metric, PASS/FAIL with the vector counts."""
    output = run.output
    arena = re.search(r"arena used: (\d+) of (\d+) bytes", output)
    verdict = re.search(r"^(PASS|FAIL): (\d+) of (\d+) vectors match", output, re.M)
    metrics: dict[str, float] = {}
    accuracy = re.search(r"accuracy: (\d+) of (\d+) correct", output)
    if accuracy and int(accuracy.group(2)):
        metrics["accuracy"] = int(accuracy.group(1)) / int(accuracy.group(2))
    mae = re.search(r"mae: ([-+0-9.eE]+|nan|inf) over (\d+) vectors", output)
    if mae:
        metrics["mae"] = float(mae.group(1))
    metrics.update(_output_metrics(output))
    passed = verdict is not None and verdict.group(1) == "PASS" and run.returncode == 0
    message = None if passed else _tflm_message(run)
    digest = _DIGEST.search(output)
    return TargetResult(status=Status.PASS if passed else Status.FAIL, message=message,
                        vectors=int(verdict.group(3)) if verdict else None,
                        vectors_matching=int(verdict.group(2)) if verdict else None,
                        metrics=metrics or None, arena_used_bytes=int(arena.group(1)) if arena else None,
                        outputs_digest=digest.group(1) if digest else None, **base)


def _output_metrics(output: str) -> dict[str, float]:
    """A model with several outputs: each output's metric, as `<output>.accuracy` or `<output>.mae`."""
    metrics = {}
    for name, correct, total in re.findall(r"^accuracy (\w+): (\d+) of (\d+) correct", output, re.M):
        if int(total):
            metrics[f"{name}.accuracy"] = int(correct) / int(total)
    for name, value in re.findall(r"^mae (\w+): ([-+0-9.eE]+|nan|inf) over \d+ vectors", output, re.M):
        metrics[f"{name}.mae"] = float(value)
    return metrics


def _tflm_message(run: ProgramRun) -> str:
    """TFLM's own words (and the self-test's FAIL line), without the self-test's figures."""
    if run.timed_out:
        return "the self-test did not finish in time"
    lines = [line.strip().replace("tensorflow/lite/micro/kernels/", "") for line in run.output.splitlines()
             if line.strip() and not _OWN_LINES.match(line.strip())]
    unique = list(dict.fromkeys(lines))
    if not unique:
        return f"the self-test stopped with exit code {run.returncode} and printed nothing to explain it"
    return "; ".join(unique[:3])[:400]
