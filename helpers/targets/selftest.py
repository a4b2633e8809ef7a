"""One variant's self-test on one target: compile, link against TFLM's library, run it, read what
it printed, and measure flash, RAM and instructions per inference."""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.targets.library import BuildError, Library
from helpers.targets.linkmap import read_map
from helpers.targets.program import compile_self_test
from helpers.targets.runner import ProgramRun, count_instructions, qemu_available, run_program
from helpers.targets.target import Target

# When AllocateTensors fails with the header's arena, one retry with this much tells "arena too
# small" (a figure for the header) from "cannot run" (TFLM's own message).
RETRY_ARENA_BYTES = 1024 * 1024
_OWN_LINES = re.compile(r"^(arena used:|accuracy:|mae:|PASS:|FAIL: \d)")


@dataclass(frozen=True)
class TargetResult:
    """What one target did with a variant's self-test. `status`: pass, fail (it ran and TFLM or the
    comparison failed), build_failed, or not_run (with the reason)."""

    target: str
    kernels: str
    status: str
    message: str | None = None
    machine: str | None = None
    vectors: int | None = None
    vectors_matching: int | None = None
    metrics: dict[str, float] | None = None         # computed by the target on its vectors
    arena_used_bytes: int | None = None             # interpreter.arena_used_bytes() on the target
    arena_linked_bytes: int | None = None           # the arena the program was built with
    flash_bytes: int | None = None                  # text + rodata + data of the linked self-test
    flash_bytes_without_self_test: int | None = None  # minus main() and the test vectors
    flash_breakdown: dict[str, int] = field(default_factory=dict)
    ram_bytes: int | None = None                    # data + bss, the arena at the header's size
    ram_breakdown: dict[str, int] = field(default_factory=dict)
    instructions_per_inference: int | None = None
    cycles_per_instruction: float | None = None     # the assumption behind latency_ms
    latency_ms: float | None = None                 # instructions x CPI / clock
    mcu_mhz: float | None = None
    build_seconds: float | None = None
    run_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        """Tried and not passed: the program failed to build, or ran and failed."""
        return self.status in ("fail", "build_failed")

    @property
    def on_32_bit_target(self) -> bool:
        """A Cortex-M result: its arena and memory figures are the ones firmware needs."""
        return self.target != "host"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def missing_tools(target: Target) -> str | None:
    """Why the target cannot be built or run on this machine, or None."""
    compiler = "arm-none-eabi-g++" if target.cortex_m else "g++"
    if shutil.which(compiler) is None:
        package = ("gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
                   if target.cortex_m else "g++")
        return f"{compiler} not installed (apt-get install {package})"
    if target.cortex_m and not qemu_available():
        return "qemu-system-arm not installed (apt-get install qemu-system-arm)"
    return None


def run_self_test(library: Library, folder: Path, model_id: str, work: Path, mcu_mhz: float,
                  count: bool = True) -> TargetResult:
    """Build the variant's self-test for the library's target, run it, and measure it."""
    target = library.target
    base = {"target": target.name, "kernels": target.kernels,
            "machine": target.qemu_machine or "this machine (native)"}
    started = time.monotonic()
    try:
        build = compile_self_test(library, folder, model_id, work)
        program = build.link()
    except BuildError as error:
        return TargetResult(status="build_failed", message=str(error), **base)
    built = time.monotonic()
    run = run_program(target, program.path)
    arena_linked = _header_arena(folder, model_id)
    if "FAIL: AllocateTensors" in run.output:
        first_message = _tflm_message(run)
        try:
            build = compile_self_test(library, folder, model_id, work / "large-arena", RETRY_ARENA_BYTES)
            program = build.link()
        except BuildError as error:
            return TargetResult(status="build_failed", message=str(error), **base)
        run = run_program(target, program.path)
        arena_linked = RETRY_ARENA_BYTES
        if "FAIL: AllocateTensors" in run.output:
            return TargetResult(status="fail", message=first_message, build_seconds=built - started, **base)
    ran = time.monotonic()
    result = _parse(run, base)
    memory = read_map(program.map_path, model_id) if target.cortex_m else None
    fields: dict[str, Any] = {"arena_linked_bytes": arena_linked, "build_seconds": round(built - started, 2),
                              "run_seconds": round(ran - built, 2)}
    if memory is not None:
        fields.update(flash_bytes=memory.flash_bytes, flash_bytes_without_self_test=memory.flash_without_self_test,
                      flash_breakdown=memory.flash_breakdown, ram_bytes=memory.ram_bytes,
                      ram_breakdown=memory.ram_breakdown)
    if target.cortex_m and count and result.passed:
        instructions = _instructions_per_inference(build, target)
        if instructions is not None:
            fields.update(instructions_per_inference=instructions, cycles_per_instruction=target.cycles_per_instruction,
                          mcu_mhz=mcu_mhz,
                          latency_ms=round(instructions * target.cycles_per_instruction / (mcu_mhz * 1e3), 3))
    return TargetResult(**{**asdict(result), **fields})


def _instructions_per_inference(build: Any, target: Target) -> int | None:
    """Instructions of a run with one vector minus a run with none: one inference, plus copying its
    input and comparing its output (a few hundred instructions)."""
    none, one = (count_instructions(target, build.link(vectors).path) for vectors in (0, 1))
    return one - none if none is not None and one is not None and one > none else None


def _parse(run: ProgramRun, base: dict[str, Any]) -> TargetResult:
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
    passed = verdict is not None and verdict.group(1) == "PASS" and run.returncode == 0
    message = None if passed else _tflm_message(run)
    return TargetResult(status="pass" if passed else "fail", message=message,
                        vectors=int(verdict.group(3)) if verdict else None,
                        vectors_matching=int(verdict.group(2)) if verdict else None,
                        metrics=metrics or None, arena_used_bytes=int(arena.group(1)) if arena else None, **base)


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


def _header_arena(folder: Path, model_id: str) -> int | None:
    """The arena size the generated header recommends (what the self-test is built with)."""
    header = (folder / f"{model_id}_model_data.h").read_text(errors="replace")
    found = re.search(r"TensorArenaSize = (\d+)", header)
    return int(found.group(1)) if found else None
