"""The CMSIS-NN files a package carries: exactly the sources the engine's calls reach
(helpers/targets/cmsis_sources), the headers those and the engine include (followed include by
include), and the licence, read from the TFLM tree's downloads/cmsis_nn."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from helpers.targets.cmsis_sources import CMSIS_NN_DIR, cmsis_nn_revision, needed_sources

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


@dataclass(frozen=True)
class CmsisCopy:
    """CMSIS-NN's files for one engine, as (path inside CMSIS-NN, text): Source/... and Include/..."""

    revision: str
    sources: tuple[tuple[str, str], ...]   # Source/<family>/<file>.c, and headers beside them
    headers: tuple[tuple[str, str], ...]   # Include/..., as CMSIS-NN lays them out
    licence: str                           # CMSIS-NN's LICENSE (Apache-2.0)

    @property
    def source_files(self) -> tuple[str, ...]:
        """The .c files, the ones a build compiles."""
        return tuple(path for path, _ in self.sources if path.endswith(".c"))


NO_CMSIS = CmsisCopy(revision="", sources=(), headers=(), licence="")


def _resolve(cmsis: Path, including: str, name: str) -> str | None:
    """Where `#include "name"` in `including` lands: its own folder first, then Include/."""
    for folder in (str(Path(including).parent) if including else None, "Include"):
        if folder is None:
            continue
        candidate = (cmsis / folder / name).resolve()
        if candidate.is_file() and cmsis.resolve() in candidate.parents:
            return str(candidate.relative_to(cmsis.resolve()))
    return None


@lru_cache(maxsize=8)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def cmsis_copy(tflm_root: Path, engine_text: str) -> CmsisCopy:
    """The files an engine (its <id>_engine.c text) needs from the tree's CMSIS-NN."""
    cmsis = tflm_root / CMSIS_NN_DIR
    sources = needed_sources(tflm_root, engine_text)
    files: dict[str, str] = {}
    # (the including file, the name it includes); None: a path in CMSIS-NN already (a needed source)
    pending: list[tuple[str | None, str]] = [("", name) for name in _INCLUDE.findall(engine_text)]
    pending += [(None, source) for source in sources]
    while pending:
        including, name = pending.pop()
        path = name if including is None else _resolve(cmsis, including, name)
        if path is None or path in files:
            continue
        files[path] = _read(cmsis / path)
        pending += [(path, included) for included in _INCLUDE.findall(files[path])]
    return CmsisCopy(revision=cmsis_nn_revision(tflm_root),
                     sources=tuple(sorted((p, t) for p, t in files.items() if p.startswith("Source/"))),
                     headers=tuple(sorted((p, t) for p, t in files.items() if p.startswith("Include/"))),
                     licence=_read(cmsis / "LICENSE"))
