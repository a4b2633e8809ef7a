"""The model's own native module (helpers/emit/native_model.py) built for a board's architecture
with the variant's exported <id>_native.mk, the way its header tells a user to build it, so the
recipe shipped is the one proven. Built in a scratch copy of the engine's files and kept in the
cache under a digest of everything the build reads, so a run or test worker that exports the same
engine again reuses it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from helpers.micropython.build_cache import built_once
from helpers.micropython.native_module import NativeBuildError, missing_tools, run_make
from helpers.targets.cmsis_sources import CMSIS_NN_DIR

# What make reads besides the CMSIS-NN sources and MicroPython's build tools.
_ENGINE_FILES = ("{id}_native.c", "{id}_native.mk", "{id}_engine.c", "{id}_engine.h", "{id}_engine.mk")
_TOOLS = ("py/dynruntime.mk", "py/dynruntime.h", "tools/mpy_ld.py", "py/nativeglue.h")


@dataclass(frozen=True)
class ModelModule:
    """<id>_native_<arch>.mpy, in the cache."""

    arch: str
    path: Path
    size_bytes: int

    @property
    def filename(self) -> str:
        return self.path.name


def _key(files: dict[str, bytes], micropython_dir: Path, cmsis: Path, arch: str) -> str:
    digest = hashlib.sha256(arch.encode())
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + data)
    # The engine's .mk names the CMSIS-NN sources; their tree's revision stands for their text.
    for path in [micropython_dir / part for part in _TOOLS] + sorted((cmsis / "Include").glob("*.h")):
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:16]


def build_model_module(folder: Path, model_id: str, micropython_dir: Path, tflm_root: Path, arch: str,
                       cache_root: Path) -> ModelModule:
    """<id>_native_<arch>.mpy from the variant folder's engine files (NativeBuildError says why not)."""
    micropython_dir, cmsis = micropython_dir.resolve(), (tflm_root / CMSIS_NN_DIR).resolve()
    lacking = missing_tools(arch)
    if lacking:
        raise NativeBuildError(lacking)
    if not (micropython_dir / "py" / "dynruntime.mk").is_file():
        raise NativeBuildError(f"{micropython_dir} is not a MicroPython tree (no py/dynruntime.mk)")
    names = [pattern.format(id=model_id) for pattern in _ENGINE_FILES]
    files = {name: (folder / name).read_bytes() for name in names}
    product = f"{model_id}_native_{arch}.mpy"
    place = cache_root / "micropython-models" / _key(files, micropython_dir, cmsis, arch)

    def build(work: Path) -> Path:
        work.mkdir()
        for name, data in files.items():
            (work / name).write_bytes(data)
        return run_make(work, ["-f", f"{model_id}_native.mk", f"ARCH={arch}", f"MPY_DIR={micropython_dir}",
                               f"CMSIS_NN={cmsis}"], arch, work / product)

    built = built_once(place, product, build)
    return ModelModule(arch, built, built.stat().st_size)
