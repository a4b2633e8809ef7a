"""The checks on a variant's firmware, run on scratch copies before anything is exported: the C
array's flash, the self-test on every target with the arena proof, then (on the final text)
mpy-cross and the MicroPython engine on a real MicroPython. Each returns a typed verdict; the
export is written afterwards from those verdicts, once."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from helpers.core.checks import MicroPythonResult, Status, TargetResult
from helpers.core.flatbuffer import TFLM_DECODE_OP
from helpers.core.kernel_choice import ARMV6M, ARMV7EM, KernelChoice
from helpers.core.profile import TargetProfile
from helpers.core.variant import TfliteModel
from helpers.emit.c_engine import CEngine
from helpers.emit.micropython_native import native_step_count
from helpers.lowering.lower import Lowered
from helpers.lowering.program import Program
from helpers.measure.toolchains import MpyResult, compile_mpy
from helpers.measure.variant import TflmVerdict
from helpers.micropython.bench import NO_TREE, MicroPythonBench
from helpers.micropython.runtime import EngineInputs, run_engine
from helpers.progress import Progress
from helpers.render.variant_folder import FolderContent
from helpers.targets.bench import TargetBench, fails_everywhere, proven_arena, with_arena


@dataclass(frozen=True)
class TargetVerdicts:
    """The targets' results, and TFLM's verdict as they leave it: the arena a 32-bit target proved,
    and not runnable when every target tried failed."""

    results: tuple[TargetResult, ...]
    tflm: TflmVerdict
    engine_results: tuple[TargetResult, ...] = ()   # the C engine's self-test, where one was written
    profiles: tuple[TargetProfile, ...] | None = None  # --profile: per layer, per Cortex-M target
    kernel_choice: KernelChoice | None = None  # the engine's Armv7E-M kernels measured against CMSIS-NN's
    kernel_choice_v6m: KernelChoice | None = None  # its Armv6-M kernels, the same way


@dataclass(frozen=True)
class EngineDraft:
    """The draft's C engine, whose own-kernel layers the export measures, and `rerender`: writes the
    variant's folder again with the kernels as measured (and TFLM's verdict as it now stands),
    returning the folder."""

    engine: CEngine
    rerender: Callable[[TflmVerdict, KernelChoice | None, KernelChoice | None], Path]


def check_targets(bench: TargetBench, scratch: Path, model_id: str, tflite: TfliteModel,
                  tflm: TflmVerdict, program: Program | None = None,
                  draft: EngineDraft | None = None) -> TargetVerdicts:
    """The self-test on every target (built from the scratch copy, with the host's arena), then the
    smallest arena that passes on every Cortex-M target; then, when the C engine has own-kernel
    layers, each measured against CMSIS-NN's on an Armv7E-M target and the engine rendered again
    (`draft.rerender`) with the faster kernel per layer, before the engine's own self-tests; with --profile, the
    per-layer profile (`program`: the engine's, whose steps it lines up with TFLM's ops)."""
    compressed = TFLM_DECODE_OP in tflite.info.custom_ops
    has_engine = (scratch / f"{model_id}_engine_selftest.c").is_file()
    # stages of about equal cost: TFLM's self-tests, the arena proof, the C engine's self-tests, the profile
    stages = 2 + has_engine + bench.profile
    with Progress(f"self-tests on {len(bench.targets)} target(s)", stages, "stages") as progress:
        results = bench.check(scratch, model_id, compressed, tflm.arena_recommended)
        progress.advance()
        arena = proven_arena(bench, scratch, model_id, results)
        progress.advance()
        if arena is not None:
            tflm = replace(tflm, arena_measured=arena.used, arena_recommended=arena.size,
                           arena_target=arena.measured_on)
            results = with_arena(results, arena.size)
        if fails_everywhere(results):
            tflm = replace(tflm, runnable=False, reason="fails on every target: " + "; ".join(
                f"{r.target}: {r.message}" for r in results if r.failed))
        engine_results: tuple[TargetResult, ...] = ()
        choice = choice_v6m = None
        folder = scratch
        if has_engine:
            if draft is not None:
                engine = draft.engine
                if engine.own_kernel_steps:
                    choice = bench.choose_kernels(scratch, model_id, engine.own_kernel_layers,
                                                  engine.own_kernel_steps, ARMV7EM)
                if engine.own_kernel_steps_v6m:
                    choice_v6m = bench.choose_kernels(scratch, model_id, engine.own_kernel_layers_v6m,
                                                      engine.own_kernel_steps_v6m, ARMV6M)
                # rendered again whatever was chosen, so the engine the self-tests prove is always
                # the one written (not a path taken only when a layer goes back to CMSIS-NN)
                if choice is not None or choice_v6m is not None:
                    folder = draft.rerender(tflm, choice, choice_v6m)
            engine_results = bench.check_engine(folder, model_id, results)
            progress.advance()
        profiles = None
        if bench.profile:
            profiles = bench.profile_layers(folder, model_id, tflm.arena_recommended,
                                            program if has_engine else None, results, engine_results)
            progress.advance()
    return TargetVerdicts(results=results, tflm=tflm, engine_results=engine_results, profiles=profiles,
                          kernel_choice=choice, kernel_choice_v6m=choice_v6m)


@dataclass(frozen=True)
class PythonChecks:
    """The MicroPython files compiled (their .mpy, to export beside them) and the engine's verdict."""

    model_mpy: MpyResult
    engine: MicroPythonResult
    compiled: tuple[tuple[str, bytes], ...]


def check_python(final: FolderContent, scratch: Path, lowered: Lowered, tflite: TfliteModel,
                 inputs: EngineInputs, bench: MicroPythonBench, tflm_counts: dict[str, int]) -> PythonChecks:
    """mpy-cross on the final MicroPython files (in `scratch`, a copy of the final folder), then the
    engine over the evaluation rows on the unix port (with the x64 kernels module when there is
    one) and on MicroPython's own 32-bit port per board (with --micropython_dir). The kernels
    modules are exported beside an engine that calls them."""
    model_mpy = compile_mpy(scratch / f"{final.model_id}_model.py")
    compiled = _read(model_mpy)
    if lowered.program is None or final.engine_module is None:
        return PythonChecks(model_mpy, MicroPythonResult(status=Status.UNSUPPORTED, reason=lowered.reason), compiled)
    engine_mpy = compile_mpy(scratch / final.engine_module)
    compiled += _read(engine_mpy)
    native_ops = native_step_count(lowered.program)
    kernels, kernels_reason = bench.kernels() if native_ops else ({}, None)
    compiled += tuple((module.filename, module.path.read_bytes()) for module in kernels.values())
    counts = {"engine_mpy_bytes": engine_mpy.size_bytes, "engine_ops": len(lowered.program.steps),
              "buffer_bytes": lowered.program.buffer_bytes, "native_ops": native_ops,
              "kernels_mpy_bytes": kernels["x64"].size_bytes if "x64" in kernels else None}
    if inputs.expected is None:
        result = MicroPythonResult(status=Status.NOT_CHECKED, reason="TFLM did not run the variant: no outputs to "
                                   "compare with", **counts)
        return PythonChecks(model_mpy, result, compiled)
    module = engine_mpy.path or scratch / final.engine_module
    result = run_engine(module, inputs, tflite.info.output.dtype != "float32",
                        kernels=kernels["x64"].path if "x64" in kernels else None, budget_seconds=bench.unix_seconds)
    boards: tuple = ()  # type: ignore[type-arg]
    boards_reason = NO_TREE
    native_model_reason: str | None = "not built: no board ran"
    if bench.micropython_dir is not None and engine_mpy.path is not None:
        rows = np.asarray(inputs.rows).reshape(len(inputs.rows), -1).astype(_DTYPES[tflite.info.input.dtype])
        expected = np.asarray(inputs.expected).reshape(len(inputs.rows), -1).astype(_DTYPES[tflite.info.output.dtype])
        models, native_model_reason = {}, final.native_model_reason
        if final.native_model is not None:
            models, native_model_reason = bench.model_modules(scratch, final.model_id)
            compiled += tuple((module.filename, module.path.read_bytes()) for module in models.values())
        boards = bench.boards(engine_mpy.path, rows, expected, tflm_counts, native=native_ops > 0, models=models)
        boards_reason = None
    elif bench.micropython_dir is not None:
        boards_reason = "not run on a 32-bit MicroPython: mpy-cross did not compile the engine"
    return PythonChecks(model_mpy, replace(result, **counts, boards=boards, boards_reason=boards_reason,
                                           kernels_reason=kernels_reason if native_ops and not kernels else None,
                                           native_model_reason=native_model_reason if native_ops else None),
                        compiled)


# The tensor dtypes the engine's INPUT and OUTPUT buffers hold.
_DTYPES = {"int8": np.int8, "int16": np.int16, "float32": np.float32}


def _read(compiled: MpyResult) -> tuple[tuple[str, bytes], ...]:
    return ((compiled.path.name, compiled.path.read_bytes()),) if compiled.path is not None else ()
