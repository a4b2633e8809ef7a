"""The kernels module (native/mcu_kernels.c and the CMSIS-NN sources it reaches) built as a
MicroPython native module, one .mpy per architecture, with the given MicroPython tree's
py/dynruntime.mk. Built once into the cache (like TFLM's library) and shared by every run and test
worker: the build happens in a private folder and is renamed into place whole, under a lock."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.emit.micropython_native import KERNELS_VERSION
from helpers.micropython.build_cache import built_once
from helpers.targets.cmsis_sources import CMSIS_NN_DIR, needed_sources
from helpers.targets.library import first_error

SOURCE = Path(__file__).resolve().parent / "native" / "mcu_kernels.c"
# The C engine's own kernels mcu_kernels.c includes: its int8 kernels CMSIS-NN lacks (broadcast
# ADD, SUB and MUL, SQUARED_DIFFERENCE, BATCH_MATMUL) with their fixed point, and on Armv7E-M its
# convolutions and fully connected layers.
_C_KERNELS = Path(__file__).resolve().parent.parent / "emit" / "c_kernels"
OWN_KERNEL_FILES = tuple(_C_KERNELS / name for name in ("fixedpoint.c", "ops_int8.c", "conv_dsp.c"))
# The architectures built: the unix port (tests), Cortex-M0+, Cortex-M3, Cortex-M4F (and M7/M33
# with a single-precision FPU), Cortex-M7/M55 with the double-precision FPU (dynruntime.mk compiles
# it for the M7: Armv7E-M with DSP, which the M55 runs) and 32-bit RISC-V (rv32imc: dynruntime.mk
# compiles for rv32imac with picolibc; CMSIS-NN's portable C there).
ARCHS = ("x64", "armv6m", "armv7m", "armv7emsp", "armv7emdp", "rv32imc")
_COMPILER = {"x64": "x86_64-linux-gnu-gcc", "armv6m": "arm-none-eabi-gcc", "armv7m": "arm-none-eabi-gcc",
             "armv7emsp": "arm-none-eabi-gcc", "armv7emdp": "arm-none-eabi-gcc",
             "rv32imc": "riscv64-unknown-elf-gcc"}
# CMSIS-NN's level in TFLM's make (THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL); dynruntime.mk's -Os comes first.
_OPTIMIZATION = "-O2"
BUILD_TIMEOUT_S = 600


class NativeBuildError(RuntimeError):
    """The kernels module could not be built for an architecture (the first error says why)."""


@dataclass(frozen=True)
class KernelsModule:
    arch: str
    path: Path          # mcu_kernels_<arch>.mpy in the cache
    size_bytes: int

    @property
    def filename(self) -> str:
        return self.path.name


def module_name(arch: str) -> str:
    return f"mcu_kernels_{arch}"


def _key(micropython_dir: Path, tflm_root: Path, arch: str, sources: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{KERNELS_VERSION} {arch} {_OPTIMIZATION}\n".encode())
    digest.update(SOURCE.read_bytes() + b"".join(path.read_bytes() for path in OWN_KERNEL_FILES))
    cmsis = tflm_root / CMSIS_NN_DIR
    for path in [cmsis / source for source in sources] + sorted((cmsis / "Include").glob("*.h")):
        digest.update(path.name.encode() + path.read_bytes())
    for part in ("py/dynruntime.mk", "py/dynruntime.h", "tools/mpy_ld.py", "py/nativeglue.h"):
        file = micropython_dir / part
        digest.update(file.read_bytes() if file.is_file() else b"-")
    return digest.hexdigest()[:16]


def _makefile(micropython_dir: Path, cmsis: Path, arch: str, sources: list[str]) -> str:
    return "\n".join([
        f"MPY_DIR = {micropython_dir}",
        f"MOD = {module_name(arch)}",
        f"ARCH = {arch}",
        "SRC = " + " ".join(sources),
        "LINK_RUNTIME = 1",  # libgcc: the Cortex-M0+ has no divide instruction
        # CMSIS-NN is not written for -Wall -Werror, which dynruntime.mk sets for the module's own code.
        f"CFLAGS_EXTRA = -I{cmsis}/Include {_OPTIMIZATION} -Wno-error -DMCU_KERNELS_VERSION={KERNELS_VERSION}",
        "include $(MPY_DIR)/py/dynruntime.mk", ""])


def missing_tools(arch: str) -> str | None:
    """What the build for `arch` lacks on this machine, or None."""
    if shutil.which(_COMPILER[arch]) is None:
        return f"no {_COMPILER[arch]}"
    if shutil.which("make") is None:
        return "no make"
    try:
        import ar  # noqa: F401  (mpy_ld.py reads libgcc.a with it)
        import elftools  # noqa: F401
    except ImportError:
        return "mpy_ld.py needs pyelftools and ar (pip install pyelftools ar)"
    return None


def build_kernels(micropython_dir: Path, tflm_root: Path, arch: str, cache_root: Path) -> KernelsModule:
    """mcu_kernels_<arch>.mpy from the cache, built there first if it is not."""
    micropython_dir, tflm_root = micropython_dir.resolve(), tflm_root.resolve()
    cmsis = tflm_root / CMSIS_NN_DIR
    if not (cmsis / "Include" / "arm_nnfunctions.h").is_file():
        raise NativeBuildError(f"no CMSIS-NN in {tflm_root} (expected {CMSIS_NN_DIR})")
    if not (micropython_dir / "py" / "dynruntime.mk").is_file():
        raise NativeBuildError(f"{micropython_dir} is not a MicroPython tree (no py/dynruntime.mk)")
    lacking = missing_tools(arch)
    if lacking:
        raise NativeBuildError(lacking)
    sources = needed_sources(tflm_root, SOURCE.read_text(encoding="utf-8"))
    folder = cache_root / "micropython-kernels" / _key(micropython_dir, tflm_root, arch, sources)
    built = built_once(folder, f"{module_name(arch)}.mpy",
                       lambda work: _build(micropython_dir, cmsis, arch, sources, work))
    return KernelsModule(arch, built, built.stat().st_size)


def _build(micropython_dir: Path, cmsis: Path, arch: str, sources: tuple[str, ...], work: Path) -> Path:
    work.mkdir()
    names = [SOURCE.name]
    shutil.copy(SOURCE, work / SOURCE.name)
    for own in OWN_KERNEL_FILES:  # #included, not compiled on their own
        shutil.copy(own, work / own.name)
    for source in sources:  # CMSIS-NN's file names are unique across its folders
        shutil.copy(cmsis / source, work / Path(source).name)
        names.append(Path(source).name)
    (work / "Makefile").write_text(_makefile(micropython_dir, cmsis, arch, names), encoding="utf-8")
    return run_make(work, [], arch, work / f"{module_name(arch)}.mpy")


def run_make(work: Path, arguments: list[str], arch: str, product: Path) -> Path:
    """make (with `arguments`) of a native module in `work`: the .mpy it made, or NativeBuildError
    with the first error. mpy_ld.py runs with this Python (pyelftools and ar are installed here)."""
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = ["make", *arguments, f"-j{min(2, os.cpu_count() or 1)}", f"PYTHON={sys.executable}"]
    try:
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                                env=environment)
    except subprocess.TimeoutExpired as timeout:
        raise NativeBuildError(f"the {arch} build took over {BUILD_TIMEOUT_S} s") from timeout
    if result.returncode != 0 or not product.is_file():
        raise NativeBuildError(f"{arch}: {first_error(result.stderr + result.stdout)}")
    return product
