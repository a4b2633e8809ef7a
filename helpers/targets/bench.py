"""The run's targets: their TFLM libraries (opened once per run, compiled into the cache once per
machine) and the self-test of each variant on each of them."""
from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from helpers.core.checks import Status, TargetResult
from helpers.core.kernel_choice import KernelChoice
from helpers.core.profile import TargetProfile
from helpers.errors import ConfigError
from helpers.lowering.program import Program
from helpers.targets.engine_test import cmsis_library, run_engine_test
from helpers.targets.kernel_choice import measure_kernel_choice
from helpers.targets.library import BuildError, Library, ToolBuildError, default_cache_root, open_library
from helpers.targets.profile import ProfileJob, profile_target
from helpers.targets.program import compile_self_test
from helpers.targets.recipe import RecipeError
from helpers.targets.runner import run_program
from helpers.targets.selftest import missing_tools, run_self_test
from helpers.targets.target import TARGETS, Target
from helpers.targets.tree import TflmTree, find_tree

log = logging.getLogger("mcu_deploy")

# The header's arena, once a 32-bit target has reported what it used: that figure plus 10% (a
# newer TFLM or another compiler may lay the arena out a little differently), rounded up to 16
# bytes, then proven: arena_used_bytes() does not count the memory planner's scratch during
# AllocateTensors (the int8 digits CNN used 2,596 bytes but fails in 2,864 with "Too many buffers
# (max is 10)"), so the size is raised by 25% until the self-test passes in exactly that arena on
# every Cortex-M target.
TARGET_ARENA_MARGIN = 0.10
ARENA_GROWTH = 1.25
ARENA_ATTEMPTS = 6
# The arena proof runs the first vector only: the arena a model needs is fixed once
# AllocateTensors has planned it, whatever the inputs (main.cc.j2), and the ordinary self-test
# has already checked every vector. Running them all again doubled TFLM's emulated time.
ARENA_PROOF_DEFINES = ("-DMCU_DEPLOY_FIRST_VECTOR_ONLY",)


@dataclass
class TargetBench:
    """Builds and runs self-tests on the chosen targets, keeping each target's library."""

    tree: TflmTree
    targets: tuple[Target, ...]
    mcu_mhz: float
    cache_root: Path
    profile: bool = False     # --profile: also the per-layer profile on each Cortex-M target
    _libraries: dict[str, Library | TargetResult] = field(default_factory=dict)  # name -> library, or why none
    _cmsis: dict[str, Library | TargetResult] = field(default_factory=dict)      # the same for CMSIS-NN alone

    @classmethod
    def create(cls, tflm_dir: Path | None, target_names: tuple[str, ...], mcu_mhz: float,
               profile: bool = False) -> "TargetBench | None":
        """The bench for a run, or None when no targets were asked for (no TFLM tree)."""
        if not target_names:
            return None
        tree = find_tree(tflm_dir)
        if tree is None:
            return None
        targets = tuple(TARGETS[name] for name in target_names)
        if any(t.kernels == "cmsis_nn" for t in targets) and not tree.has_cmsis_nn:
            raise ConfigError("the TFLM tree lacks the CMSIS and CMSIS-NN downloads the Cortex-M targets build with",
                              "run TFLM's `make ... OPTIMIZED_KERNEL_DIR=cmsis_nn third_party_downloads` once, "
                              "or choose --target host", tree.root)
        return cls(tree=tree, targets=targets, mcu_mhz=mcu_mhz, cache_root=default_cache_root(), profile=profile)

    def library(self, target: Target) -> Library | TargetResult:
        """The target's library, or the result every self-test gets without one: not checked (a
        tool is not installed) or not built (make or the cache failed). Asked once per run."""
        if target.name not in self._libraries:
            base = {"target": target.name, "kernels": target.kernels}
            missing = missing_tools(target)
            if missing:
                self._libraries[target.name] = TargetResult(status=Status.NOT_CHECKED, message=missing, **base)
            else:
                try:
                    library = open_library(self.tree, target, self.cache_root)
                except (RecipeError, OSError) as error:
                    self._libraries[target.name] = TargetResult(status=Status.NOT_BUILT,
                                                                message=f"not built: {error}", **base)
                else:
                    self._libraries[target.name] = library
                    if library.rebuilt:
                        log.warning("warning: %d cached TFLM objects for %s failed their check (truncated or "
                                    "altered) and are compiled again: %s", len(library.rebuilt), target.name,
                                    ", ".join(Path(source).name for source in library.rebuilt[:12])
                                    + (" ..." if len(library.rebuilt) > 12 else ""))
        return self._libraries[target.name]

    def check(self, folder: Path, model_id: str, compressed: bool,
              arena_bytes: int | None) -> tuple[TargetResult, ...]:
        """The variant's self-test on every target, in order, built with an arena of `arena_bytes`."""
        results = []
        for target in self.targets:
            base = {"target": target.name, "kernels": target.kernels}
            if compressed:
                results.append(TargetResult(status=Status.NOT_CHECKED, message="LUT-compressed: needs a TFLM library "
                                            "built with USE_TFLM_COMPRESSION=1, which mcu-deploy does not build",
                                            **base))
                continue
            library = self.library(target)
            if isinstance(library, TargetResult):
                results.append(library)
                continue
            with tempfile.TemporaryDirectory(prefix=f"mcu-deploy-{target.name}-") as work:
                result = run_self_test(library, folder, model_id, Path(work), self.mcu_mhz, arena_bytes)
            _log_result(library, target.label, result)
            results.append(result)
        return tuple(results)


    def cmsis(self, target: Target) -> Library | TargetResult:
        """CMSIS-NN alone for the target (the C engine links nothing else), or why there is none."""
        if target.name not in self._cmsis:
            library = self.library(target)
            if isinstance(library, TargetResult):
                self._cmsis[target.name] = replace(library, kernels="cmsis_nn")
            else:
                try:
                    self._cmsis[target.name] = cmsis_library(library)
                except OSError as error:
                    self._cmsis[target.name] = TargetResult(target=target.name, kernels="cmsis_nn",
                                                            status=Status.NOT_BUILT, message=f"not built: {error}")
        return self._cmsis[target.name]

    def check_engine(self, folder: Path, model_id: str,
                     tflm_results: tuple[TargetResult, ...]) -> tuple[TargetResult, ...]:
        """The C engine's self-test on every target, compared there with TFLM's outputs (by digest)."""
        results = []
        for target in self.targets:
            cmsis = self.cmsis(target)
            if isinstance(cmsis, TargetResult):
                results.append(cmsis)
                continue
            tflm = next((r for r in tflm_results if r.target == target.name), None)
            with tempfile.TemporaryDirectory(prefix=f"mcu-deploy-engine-{target.name}-") as work:
                try:
                    result = run_engine_test(cmsis, folder, model_id, Path(work), self.mcu_mhz,
                                             tflm.outputs_digest if tflm is not None else None)
                except ToolBuildError as error:
                    result = TargetResult(target=target.name, kernels="cmsis_nn", status=Status.NOT_BUILT,
                                          message=f"not built: {error}")
            _log_result(cmsis, f"C engine on {target.name}", result)
            results.append(result)
        return tuple(results)

    def choose_kernels(self, folder: Path, model_id: str, layers: tuple[str, ...],
                       steps: tuple[int, ...], family: str) -> KernelChoice | None:
        """The own-kernel layers of a family (`layers`, at engine steps `steps`) measured against
        CMSIS-NN's on the run's first target of that family; None when the run has none (the rule
        then stands)."""
        target = next((t for t in self.targets if t.kernel_family == family), None)
        if target is None or not steps:
            return None
        cmsis = self.cmsis(target)
        if isinstance(cmsis, TargetResult):
            return KernelChoice(target=target.name, note=f"not measured: {cmsis.message}")
        with tempfile.TemporaryDirectory(prefix=f"mcu-deploy-kernels-{target.name}-") as work:
            try:
                choice = measure_kernel_choice(cmsis, folder, model_id, layers, steps, Path(work))
            except OSError as error:  # QEMU missing or refusing to start: the rule stands, and says why
                choice = KernelChoice(target=target.name, note=f"not measured: {error}")
        given_back = [layer for layer in choice.layers if not layer.own_kept]
        log.info("    kernel choice on %s: %d of %d layers keep the own kernel%s", target.name,
                 len(choice.layers) - len(given_back), len(steps),
                 f"; {choice.note}" if choice.note else
                 "".join(f"; step {layer.step} back to CMSIS-NN ({layer.cmsis_nn_instructions:,} against "
                         f"{layer.own_instructions:,} instructions)" for layer in given_back))
        return choice

    def profile_layers(self, folder: Path, model_id: str, arena_bytes: int | None, program: Program | None,
                       tflm_results: tuple[TargetResult, ...],
                       engine_results: tuple[TargetResult, ...]) -> tuple[TargetProfile, ...]:
        """The per-layer profile on every emulated target whose library opened (the host has no
        timer to read)."""
        profiles = []
        job = ProfileJob(folder=folder, model_id=model_id, arena_bytes=arena_bytes, program=program)
        for target in self.targets:
            library = self.library(target)
            if not target.emulated or isinstance(library, TargetResult):
                continue
            cmsis = self.cmsis(target) if program is not None else None
            tflm = next((r for r in tflm_results if r.target == target.name), None)
            engine = next((r for r in engine_results if r.target == target.name), None)
            with tempfile.TemporaryDirectory(prefix=f"mcu-deploy-profile-{target.name}-") as work:
                profile = profile_target(library, cmsis if isinstance(cmsis, Library) else None, job, Path(work),
                                         tflm, engine)
            log.info("    per-layer profile on %s: %d ops", target.name, len(profile.layers))
            profiles.append(profile)
        return tuple(profiles)


def _log_result(library: Library, label: str, result: TargetResult) -> None:
    """What a self-test compiled of the library (once), and its verdict."""
    if library.compiled_count:
        log.info("    built %d sources of %s for %s in %.0f s (cached for later runs)", library.compiled_count,
                 library.name, library.target.name, library.compiled_seconds)
        library.compiled_count, library.compiled_seconds = 0, 0.0
    log.info("    %s: %s%s", label, result.status.upper().replace("_", " "),
             f" ({result.message})" if result.message and not result.passed else "")


@dataclass(frozen=True)
class ProvenArena:
    """The arena the header recommends, and the target figure it was derived from."""

    size: int           # bytes the self-test passed in on every Cortex-M target
    used: int           # the largest arena_used_bytes() those targets reported
    measured_on: str    # "cortex-m4 (cmsis_nn)": the target that reported it


def proven_arena(bench: TargetBench, folder: Path, model_id: str,
                 results: tuple[TargetResult, ...]) -> ProvenArena | None:
    """The smallest size tried (from target_arena, growing by ARENA_GROWTH) in which the self-test
    passes on every Cortex-M target that passed; None when no such target or no size worked."""
    arena = target_arena(results)
    if arena is None:
        return None
    reported = [r for r in _passed_32_bit(results) if r.arena_used_bytes]
    source = max(reported, key=lambda r: r.arena_used_bytes or 0)
    targets = [t for t in bench.targets if t.emulated and any(r.target == t.name and r.passed for r in results)]
    for _ in range(ARENA_ATTEMPTS):
        if all(_passes_in(bench, target, folder, model_id, arena) for target in targets):
            return ProvenArena(size=arena, used=source.arena_used_bytes or 0,
                               measured_on=f"{source.target} ({source.kernels})")
        arena = int(math.ceil(arena * ARENA_GROWTH / 16) * 16)
    return None


def _passed_32_bit(results: tuple[TargetResult, ...]) -> list[TargetResult]:
    return [r for r in results if r.passed and r.on_32_bit_target]


def fails_everywhere(results: tuple[TargetResult, ...]) -> bool:
    """Some target was tried, and none of those tried passed: no firmware should be handed out."""
    tried = [r for r in results if r.passed or r.failed]
    return bool(tried) and not any(r.passed for r in tried)


def _passes_in(bench: TargetBench, target: Target, folder: Path, model_id: str, arena: int) -> bool:
    library = bench.library(target)
    if isinstance(library, TargetResult):
        return False
    with tempfile.TemporaryDirectory(prefix=f"mcu-deploy-arena-{target.name}-") as work:
        try:
            program = compile_self_test(library, folder, model_id, Path(work), arena, ARENA_PROOF_DEFINES).link()
        except BuildError:
            return False
        run = run_program(target, program.path)
    return run.returncode == 0 and "PASS:" in run.output


def target_arena(results: tuple[TargetResult, ...]) -> int | None:
    """The arena to recommend from what the 32-bit targets used (None: none reported)."""
    used = [r.arena_used_bytes for r in _passed_32_bit(results) if r.arena_used_bytes]
    if not used:
        return None
    return int(math.ceil(max(used) * (1 + TARGET_ARENA_MARGIN) / 16) * 16)


def with_arena(results: tuple[TargetResult, ...], arena: int) -> tuple[TargetResult, ...]:
    """RAM figures with the arena counted at the size the header now recommends (the rest of .data
    and .bss as linked)."""
    adjusted = []
    for result in results:
        linked = result.ram_breakdown.get("tensor_arena")
        if result.ram_bytes is None or linked is None:
            adjusted.append(result)
            continue
        breakdown = dict(result.ram_breakdown, tensor_arena=arena)
        adjusted.append(replace(result, ram_bytes=result.ram_bytes - linked + arena, ram_breakdown=breakdown))
    return tuple(adjusted)
