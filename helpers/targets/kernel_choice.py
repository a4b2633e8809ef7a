"""The C engine's kernel per layer, chosen by measuring both on the target at export (issue 36).

The engine file is one for every core: on Armv7E-M each layer an own kernel can take runs it (the
rule of helpers/emit/c_own_conv.py), elsewhere CMSIS-NN's call. Here the engine's profiling build
(-DMCU_ENGINE_PROFILE: the board's timer read before every kernel call) runs twice on one Armv7E-M
target, once as written and once with -DMCU_ENGINE_CMSIS_NN_ONLY (every layer on CMSIS-NN), and
each layer keeps the faster kernel. Only the own-kernel layers differ between the two builds, so
their step times are compared as measured; everything else is the same code."""
from __future__ import annotations

from pathlib import Path

from helpers.core.kernel_choice import KernelChoice, LayerTiming
from helpers.targets.engine_test import compile_engine_test
from helpers.targets.library import Library
from helpers.targets.profile import ENGINE_DEFINES, ENGINE_STEP_LINE, run_profiling_build

CMSIS_NN_ONLY_DEFINES = (*ENGINE_DEFINES, "-DMCU_ENGINE_CMSIS_NN_ONLY")


def measure_kernel_choice(cmsis: Library, folder: Path, model_id: str, layers: tuple[str, ...],
                          steps: tuple[int, ...], work: Path) -> KernelChoice:
    """Both builds of the engine in `folder` on the library's target; `layers` and `steps`: the
    own-kernel layers (CEngine.own_kernel_layers, own_kernel_steps)."""
    target = cmsis.target
    timings = []
    for name, defines in (("own", ENGINE_DEFINES), ("cmsis_nn", CMSIS_NN_ONLY_DEFINES)):
        run = run_profiling_build(target, lambda: compile_engine_test(cmsis, folder, model_id, work / name, defines))
        if isinstance(run, str):
            return KernelChoice(target=target.name, note=f"not measured ({name} build): {run}")
        ticks = {int(step): int(count) for step, count in ENGINE_STEP_LINE.findall(run.output)}
        if any(step not in ticks for step in steps):
            return KernelChoice(target=target.name, note=f"not measured: the {name} build printed no time for "
                                "some own-kernel layer")
        timings.append({step: round(ticks[step] * target.instructions_per_tick) for step in steps})
    own, reference = timings
    return KernelChoice(target=target.name, layers=tuple(
        LayerTiming(step=step, layer=layer, own_instructions=own[step], cmsis_nn_instructions=reference[step])
        for step, layer in zip(steps, layers)))
