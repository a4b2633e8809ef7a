"""The C engine's self-test on one target: CMSIS-NN compiled into the cache with the flags TFLM's
build gives it (the same sources, from --tflm_dir's downloads/cmsis_nn), the engine and its
self-test compiled with the program's flags, linked without any of TFLM, run, and measured."""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from helpers.core.checks import Status, TargetResult
from helpers.targets.library import Library
from helpers.targets.program import SelfTestObjects, compile_source, harness_objects
from helpers.targets.runner import run_program
from helpers.targets.selftest import board_figures, build_and_link, parse_run

CMSIS_NN = "tensorflow/lite/micro/tools/make/downloads/cmsis_nn"
# What the third-party kernels compile with in TFLM's make (THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL);
# the host build, whose recipe has no CMSIS-NN, uses the same.
CMSIS_OPTIMIZATION = "-O2"


def cmsis_library(library: Library) -> Library:
    """CMSIS-NN for the library's target, as a library of its own beside TFLM's objects. Cortex-M
    recipes list CMSIS-NN's sources with their flags; the host's (reference kernels) does not, so
    there every CMSIS-NN source is offered with the same level."""
    recipe = library.recipe
    sources = {source: level for source, level in recipe.sources.items() if f"{CMSIS_NN}/Source/" in source}
    if not sources:
        root = library.tree.root
        sources = {str(path.relative_to(root)): CMSIS_OPTIMIZATION
                   for path in sorted((root / CMSIS_NN / "Source").glob("*/*.c"))}
    includes = tuple(dict.fromkeys((*recipe.includes, f"-I{CMSIS_NN}", f"-I{CMSIS_NN}/Include")))
    folder = library.folder / "cmsis_nn"
    (folder / "objects").mkdir(parents=True, exist_ok=True)
    cmsis = Library(tree=library.tree, target=library.target,
                    recipe=replace(recipe, sources=sources, includes=includes), folder=folder, name="CMSIS-NN",
                    archive_name="libcmsis-nn.a", seeded=False)
    cmsis.rebuilt = cmsis.verify()
    return cmsis


def compile_engine_test(cmsis: Library, folder: Path, model_id: str, work: Path,
                        defines: tuple[str, ...] = ()) -> SelfTestObjects:
    """The engine, its self-test and the model data (its normalisation arrays), and the start-up
    code on Cortex-M, compiled into `work`; `defines`: more -D flags (the per-layer profile's)."""
    work.mkdir(parents=True, exist_ok=True)
    sources = [folder / f"{model_id}_engine.c", folder / f"{model_id}_engine_selftest.c",
               folder / f"{model_id}_model_data.c"]
    objects = tuple(compile_source(cmsis, source, work / f"{source.stem}.o", [*defines, f"-I{folder}"])
                    for source in sources) + harness_objects(cmsis, work)
    return SelfTestObjects(library=cmsis, objects=objects, work=work)


def run_engine_test(cmsis: Library, folder: Path, model_id: str, work: Path, mcu_mhz: float,
                    tflm_digest: str | None) -> TargetResult:
    """Build, run and measure the engine's self-test; `tflm_digest` is the digest of TFLM's
    outputs on the same target, when its self-test ran there."""
    target = cmsis.target
    base = {"target": target.name, "kernels": "cmsis_nn", "machine": target.qemu_machine or "this machine (native)"}
    started = time.monotonic()
    built_program = build_and_link(lambda: compile_engine_test(cmsis, folder, model_id, work), base)
    if isinstance(built_program, TargetResult):
        return built_program
    build, program = built_program
    built = time.monotonic()
    run = run_program(target, program.path)
    result = parse_run(run, base)
    fields: dict[str, Any] = {"build_seconds": round(built - started, 2),
                              "run_seconds": round(time.monotonic() - built, 2)}
    if result.outputs_digest and tflm_digest:
        fields["identical_to_tflm"] = result.outputs_digest == tflm_digest
        if result.failed and fields["identical_to_tflm"]:
            # TFLM's optimized kernels on this core round a few outputs differently from the host's
            # reference kernels; the engine calls the same CMSIS-NN kernels and matches them exactly.
            fields.update(status=Status.PASS, message="identical to TFLM on this core (which differs from the "
                          "host's reference kernels on some vectors)")
    if target.emulated:
        fields.update(board_figures(build, program, model_id, mcu_mhz, run if result.passed else None))
    return TargetResult(**{**asdict(result), **fields})
