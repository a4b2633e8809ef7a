"""Compile a variant's self-test (main.cc, the C array, QEMU's start-up for Cortex-M) with the
target's flags and link it against the target's TFLM library, compiling the library members the
link asks for."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helpers.targets.library import COMPILE_TIMEOUT_S, BuildError, Library, ToolBuildError, first_error
from helpers.targets.target import HARNESS

MAX_LINK_ROUNDS = 12
_UNDEFINED = re.compile(r"undefined reference to [`'](.+?)'$", re.M)


@dataclass(frozen=True)
class Program:
    """A linked self-test and its link map."""

    path: Path
    map_path: Path


@dataclass(frozen=True)
class SelfTestObjects:
    """The variant's files compiled for one target, ready to link."""

    library: Library
    objects: tuple[Path, ...]
    work: Path

    def link(self) -> Program:
        """The self-test program."""
        objects = list(self.objects)
        name = "selftest"
        output = self.work / (f"{name}.elf" if self.library.target.emulated else name)
        map_path = self.work / f"{name}.map"
        link_with_library(self.library, objects, output, map_path)
        return Program(path=output, map_path=map_path)


def compile_self_test(library: Library, folder: Path, model_id: str, work: Path,
                      arena_bytes: int | None = None, defines: tuple[str, ...] = ()) -> SelfTestObjects:
    """Compile main.cc and the C array (and the start-up code on Cortex-M) into `work`.
    `arena_bytes` overrides the arena the header recommends; `defines` are more -D flags (the
    per-layer profile's)."""
    work.mkdir(parents=True, exist_ok=True)
    defines = (f"-DMCU_DEPLOY_TENSOR_ARENA_SIZE={arena_bytes}",) * bool(arena_bytes) + defines
    sources = [folder / "main.cc", folder / f"{model_id}_model_data.c"]
    objects = tuple(compile_source(library, source, work / f"{source.stem}.o", [*defines, f"-I{folder}"])
                    for source in sources) + harness_objects(library, work)
    return SelfTestObjects(library=library, objects=objects, work=work)


def harness_objects(library: Library, work: Path) -> tuple[Path, ...]:
    """The target's start-up code (vector table, timer), compiled with its board's defines."""
    target = library.target
    if not target.emulated:
        return ()
    source = HARNESS / target.startup
    return (compile_source(library, source, work / f"{source.stem}.o", list(target.harness_defines)),)


def compile_source(library: Library, source: Path, obj: Path, extra: list[str]) -> Path:
    recipe = library.recipe
    compiler, flags = (recipe.cc, recipe.ccflags) if source.suffix == ".c" else (recipe.cxx, recipe.cxxflags)
    includes = [f"-I{library.tree.root / flag[2:]}" if flag.startswith("-I") and not flag.startswith("-I/") else flag
                for flag in recipe.includes]  # make's include paths are relative to the tree
    command = [compiler, *flags, recipe.core_optimization, *extra, *includes, "-c", str(source), "-o", str(obj)]
    # main.cc includes TFLM's interpreter, and so the flatbuffers schema: the library's precompiled
    # header for these flags spares parsing it (library.program_header_flags)
    header = library.program_header_flags() if source.suffix == ".cc" else []
    # The generated sources compile on every supported toolchain: a failure here is the tool's or the
    # toolchain's (a broken compiler, a bad cache), never a verdict on the model.
    try:
        result = subprocess.run([*command[:1], *header, *command[1:]], capture_output=True, text=True,
                                timeout=COMPILE_TIMEOUT_S)
        if result.returncode != 0 and header:  # a damaged header: without it, as make would
            library.headers().discard(recipe.flags_for("main.cc"))
            result = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except OSError as error:
        raise ToolBuildError(f"compiling {source.name} for {library.target.name}: {error}") from None
    if result.returncode != 0:
        raise ToolBuildError(f"compiling {source.name} for {library.target.name}: {first_error(result.stderr)}")
    return obj


def link_with_library(library: Library, objects: list[Path], output: Path, map_path: Path) -> None:
    """Link, compiling the library members the link reports missing, round by round."""
    library.ensure(library.seed_sources())
    for _ in range(MAX_LINK_ROUNDS):
        undefined = _link(library, objects, output, map_path)
        if not undefined:
            return
        wanted = library.definers(undefined) - set(library.compiled())
        if not wanted:
            # The definition search could not place a symbol: compile the whole library, once.
            if len(library.compiled()) == len(library.recipe.sources):
                raise ToolBuildError(f"undefined even with all of {library.name}: {sorted(undefined)[0][:200]}")
            wanted = set(library.recipe.sources)
        library.ensure(sorted(wanted))
    raise ToolBuildError(f"the link still misses symbols after {MAX_LINK_ROUNDS} rounds")


def _link(library: Library, objects: list[Path], output: Path, map_path: Path) -> set[str]:
    """Link against an archive of the compiled members (only the members a symbol needs come in,
    as with the full library); returns the undefined symbols, empty when it linked."""
    recipe = library.recipe
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-link-") as tmp:
        archive = Path(tmp) / library.archive_name
        members = [str(library.object_path(source)) for source in library.compiled()]
        try:
            archived = subprocess.run([_binutil(recipe.cxx, "ar"), "rcs", str(archive), *members],
                                      capture_output=True, text=True)
        except OSError as error:
            raise ToolBuildError(f"archiving {library.name}'s objects: {error}") from None
        if archived.returncode != 0:
            raise ToolBuildError(f"archiving {library.name}'s objects: {first_error(archived.stderr)}")
        command = [recipe.cxx, *recipe.cxxflags, *map(str, objects), str(archive), *recipe.ldflags,
                   f"-Wl,-Map={map_path}", "-o", str(output), *recipe.libs]
        if library.target.emulated:
            command += [flag.replace("{harness}", str(HARNESS)) for flag in library.target.link_flags]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except OSError as error:
            raise ToolBuildError(f"linking the self-test for {library.target.name}: {error}") from None
    if result.returncode == 0:
        return set()
    undefined = set(_UNDEFINED.findall(result.stderr))
    if not undefined:
        raise BuildError(f"linking the self-test for {library.target.name}: {first_error(result.stderr)}")
    return undefined


def _binutil(compiler: str, name: str) -> str:
    """The binutils tool beside the compiler: arm-none-eabi-g++ -> arm-none-eabi-ar; g++ -> ar."""
    prefix = compiler[: -len("g++")] if compiler.endswith("g++") else ""
    return shutil.which(f"{prefix}{name}") or name

