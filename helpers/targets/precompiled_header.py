"""A precompiled header for a batch of TFLM's C++ sources: the same objects, a third of the time.

Nearly every C++ source of TFLM includes the flatbuffers schema (`schema_generated.h`, about
100,000 lines once preprocessed). Parsing it is five of the six seconds a source takes to compile,
on every target. GCC can parse it once per set of flags into a `.gch` file and load that instead:
the batch's sources are compiled with `-include <header>`, and GCC takes the `.gch` beside it.

Why this leaves the build as TFLM's make would do it:
- the header only includes the schema, which is guarded and defines no macro a source tests
  before including it, so the code each source compiles to is the same (tests check the
  disassembly of TFLM sources compiled both ways);
- GCC refuses a `.gch` made with other flags, and then parses the header itself, so a mismatch
  costs time, never correctness.

The `.gch` is large (about 250 MB for an Arm target), so it lives only while its batch compiles.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# What the header holds: the one include that dominates TFLM's compile times.
HEADER_TEXT = '#include "tensorflow/lite/schema/schema_generated.h"\n'
SCHEMA_HEADER = "tensorflow/lite/schema/schema_generated.h"
# Building the .gch costs about two sources' compile; with the batch's compiles shared out over
# the cores, fewer than this many sources with the same flags do not pay it back.
MINIMUM_BATCH = 6
BUILD_TIMEOUT_S = 600


class PrecompiledHeaders:
    """One `.gch` per distinct compile command among a batch's C++ sources (sources at another
    optimization level get a header of their own), in a folder removed when the batch is done."""

    def __init__(self, folder: Path, tree_root: Path) -> None:
        self.folder = folder
        self.tree_root = tree_root
        self._headers: dict[tuple[str, ...], Path] = {}

    def prepare(self, commands: dict[str, list[str]]) -> None:
        """Build a header for every set of flags that at least MINIMUM_BATCH of these C++
        sources share (`commands`: source -> compiler and flags, without -c and -o). Never
        raises: a header that cannot be built leaves its sources to compile without one."""
        if not (self.tree_root / SCHEMA_HEADER).is_file():
            return
        groups: dict[tuple[str, ...], int] = {}
        for source, command in commands.items():
            if source.endswith(".cc"):
                groups[tuple(command)] = groups.get(tuple(command), 0) + 1
        for command, count in groups.items():
            if count >= MINIMUM_BATCH:
                header = self._build(list(command))
                if header is not None:
                    self._headers[command] = header  # one assignment: safe for the compiling threads

    def flags_for(self, command: Sequence[str]) -> list[str]:
        """The extra flags that make a source with this compile command use a prepared header;
        none while its header is still being built (`prepare` runs beside the compiles)."""
        header = self._headers.get(tuple(command))
        return ["-include", str(header)] if header else []

    def _build(self, command: list[str]) -> Path | None:
        name = hashlib.sha256(repr(command).encode()).hexdigest()[:12]
        header = self.folder / name / "tflm_schema.h"
        header.parent.mkdir(parents=True, exist_ok=True)
        header.write_text(HEADER_TEXT, encoding="utf-8")
        try:
            result = subprocess.run([*command, "-x", "c++-header", str(header), "-o", f"{header}.gch"],
                                    cwd=self.tree_root, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return None
        # Without its .gch the header is still correct, only slow: compile as make would instead.
        return header if result.returncode == 0 and Path(f"{header}.gch").is_file() else None


@contextmanager
def precompiled_headers(parent: Path, tree_root: Path) -> Iterator[PrecompiledHeaders]:
    """Headers for one batch, in a fresh folder under `parent` that is deleted afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="pch-", dir=parent))
    try:
        yield PrecompiledHeaders(folder, tree_root)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
