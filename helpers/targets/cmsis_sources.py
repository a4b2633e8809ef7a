"""Which CMSIS-NN sources a generated engine needs: the files that define the functions it calls,
and the files those call in turn, read from the CMSIS-NN tree TFLM downloaded. The make and
CMake fragments list exactly these, and the header names the revision."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from helpers.targets.tree import DOWNLOADS

CMSIS_NN_DIR = f"{DOWNLOADS}/cmsis_nn"
_DOWNLOAD_SCRIPT = "tensorflow/lite/micro/tools/make/ext_libs/cmsis_nn_download.sh"
# A definition: the name at the start of a line's declarator, its line not ending in ';'.
_DEFINITION = re.compile(r"^[A-Za-z_][\w \t*]*?\b(arm_\w+)\s*\((?![^\n]*;\s*$)", re.M)
# A constant table defined at file level (sigmoid_table_uint16, ...): a source that names it needs its file.
_TABLE = re.compile(r"^const\s+\w+\s+(\w+)\s*\[", re.M)
_WORD = re.compile(r"\b\w+\b")


def cmsis_nn_revision(root: Path) -> str:
    """The CMSIS-NN commit TFLM's download script pins (the tree's downloads/cmsis_nn), or "unknown"."""
    script = root / _DOWNLOAD_SCRIPT
    if script.is_file():
        found = re.search(r'ZIP_PREFIX_NN="([0-9a-f]{7,40})"', script.read_text(errors="replace"))
        if found:
            return found.group(1)
    return "unknown"


@lru_cache(maxsize=4)
def _definitions(cmsis_root: Path) -> dict[str, str]:
    """function -> the source (relative to the CMSIS-NN folder) that defines it."""
    found: dict[str, str] = {}
    for path in sorted((cmsis_root / "Source").glob("*/*.c")):
        text = path.read_text(errors="replace")
        for name in _DEFINITION.findall(text) + _TABLE.findall(text):
            found.setdefault(name, str(path.relative_to(cmsis_root)))
    return found


def _references(text: str, definitions: dict[str, str]) -> set[str]:
    """The functions and tables CMSIS-NN defines that the text names (calls, or a table's name)."""
    return {name for name in set(_WORD.findall(text)) if name in definitions}


def needed_sources(root: Path, engine_text: str) -> tuple[str, ...]:
    """The CMSIS-NN sources (relative to its folder) the engine's calls reach, sorted."""
    cmsis_root = root / CMSIS_NN_DIR
    definitions = _definitions(cmsis_root)
    pending = sorted(_references(engine_text, definitions))
    sources: set[str] = set()
    while pending:
        source = definitions[pending.pop()]
        if source in sources:
            continue
        sources.add(source)
        text = (cmsis_root / source).read_text(errors="replace")
        pending += [name for name in _references(text, definitions) if definitions[name] not in sources]
    return tuple(sorted(sources))
