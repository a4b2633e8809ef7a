"""The per-layer profile on one Cortex-M target (--profile): a second build of each self-test with
its timer read around every op, run once. TFLM's main.cc built with -DMCU_DEPLOY_PROFILE hands the
interpreter a MicroProfilerInterface that reads the harness's timer in BeginEvent and EndEvent; the
C engine built with -DMCU_ENGINE_PROFILE calls its self-test's hook before every kernel call. Under
QEMU's -icount a tick is the timer's period in instructions, as for the whole inference. A second
build, because the hooks cost instructions the ordinary self-test's figure must not include."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from helpers.core.checks import TargetResult
from helpers.core.profile import TargetProfile, line_up
from helpers.lowering.program import Program
from helpers.targets.engine_test import compile_engine_test
from helpers.targets.library import BuildError, Library
from helpers.targets.program import SelfTestObjects, compile_self_test
from helpers.targets.runner import ProgramRun, run_program
from helpers.targets.selftest import instructions_per_inference
from helpers.targets.target import Target

_OP = re.compile(r"^profile op (\d+) (\S+): (\d+) ticks", re.M)
ENGINE_STEP_LINE = re.compile(r"^profile step (\d+): (\d+) ticks", re.M)
TFLM_DEFINES = ("-DMCU_DEPLOY_PROFILE",)
ENGINE_DEFINES = ("-DMCU_ENGINE_PROFILE",)


@dataclass(frozen=True)
class ProfileJob:
    """A variant's self-tests to profile: its scratch folder, the arena TFLM's proved, and the
    engine's program (None: no engine), whose calls name their ops."""

    folder: Path
    model_id: str
    arena_bytes: int | None
    program: Program | None


def profile_target(library: Library, cmsis: Library | None, job: ProfileJob, work: Path,
                   tflm: TargetResult | None, engine: TargetResult | None) -> TargetProfile:
    """Both sides' profile on the library's target; a side whose ordinary self-test did not pass
    (or, for the engine, was not written) is left out with the reason."""
    target = library.target
    folder, model_id, arena_bytes, program = job.folder, job.model_id, job.arena_bytes, job.program
    per_tick = target.instructions_per_tick
    tflm_ops = tflm_profiled = engine_steps = engine_profiled = None
    tflm_note = engine_note = None
    if tflm is not None and tflm.passed:
        run = run_profiling_build(target, lambda: compile_self_test(library, folder, model_id, work / "tflm",
                                                                    arena_bytes, TFLM_DEFINES))
        if isinstance(run, str):
            tflm_note = run
        else:
            found = _OP.findall(run.output)
            tflm_ops = tuple((name, round(int(ticks) * per_tick)) for _, name, ticks in found) or None
            tflm_profiled = instructions_per_inference(run, per_tick)
            tflm_note = None if tflm_ops else "the profiling build printed no op times"
            if tflm_ops and program is not None and len(tflm_ops) != len(program.graph_ops):
                tflm_note = f"TFLM's profiler timed {len(tflm_ops)} of the graph's {len(program.graph_ops)} ops"
    else:
        tflm_note = "TFLM's self-test did not pass here"
    if program is None or cmsis is None:
        engine_note = "no C engine"
    elif engine is None or not engine.passed:
        engine_note = "the engine's self-test did not pass here"
    else:
        run = run_profiling_build(target, lambda: compile_engine_test(cmsis, folder, model_id, work / "engine",
                                                                      ENGINE_DEFINES))
        if isinstance(run, str):
            engine_note = run
        else:
            steps = sorted((int(s), int(ticks)) for s, ticks in ENGINE_STEP_LINE.findall(run.output))
            engine_steps = tuple(round(ticks * per_tick) for _, ticks in steps)
            engine_profiled = instructions_per_inference(run, per_tick)
            if len(engine_steps) != len(program.step_ops):
                engine_note = f"the profiling build printed {len(engine_steps)} of {len(program.step_ops)} call times"
                engine_steps = None
    layers = line_up(program.graph_ops if program is not None else (), tflm_ops,
                     program.step_ops if program is not None else (), engine_steps)
    return TargetProfile(target=target.name, instructions_per_tick=per_tick, layers=layers,
                         tflm_profiled=tflm_profiled, tflm_inference=tflm.instructions_per_inference if tflm else None,
                         engine_profiled=engine_profiled,
                         engine_inference=engine.instructions_per_inference if engine else None,
                         tflm_note=tflm_note, engine_note=engine_note)


def run_profiling_build(target: Target, compile_objects: Callable[[], SelfTestObjects]) -> ProgramRun | str:
    """Build and run one profiling program; what went wrong, as text, if it did not end with PASS."""
    try:
        linked = compile_objects().link()
    except BuildError as error:  # ToolBuildError too: a profile never changes a verdict
        return f"the profiling build failed: {error}"
    run = run_program(target, linked.path)
    # the verdict is the ordinary self-test's (which may pass a core whose TFLM differs from the
    # host's); here only the timing of a finished first inference matters
    if "first inference:" not in run.output:
        return "the profiling build did not finish an inference: " + \
            (run.output.strip().splitlines() or ["no output"])[-1][:200]
    return run
