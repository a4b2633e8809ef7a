"""Precompiled headers for a library's C++ compiles: the same objects, a third of the time.

Nearly every C++ source of TFLM includes the flatbuffers schema (`schema_generated.h`, about
100,000 lines once preprocessed), and so does the self-test's main.cc. Parsing it is five of the
six seconds a source takes to compile, on every target. GCC can parse it once per set of flags into
a `.gch` file and load that instead: sources are compiled with `-include <header>`, and GCC takes
the `.gch` beside it.

Why this leaves the build as TFLM's make would do it:
- the header only includes the schema, which is guarded and defines no macro a source tests
  before including it, so the code each source compiles to is the same (tests check the
  disassembly of TFLM sources compiled both ways);
- GCC refuses a `.gch` made with other flags, and then parses the header itself, so a mismatch
  costs time, never correctness; a compile that fails with a header is tried again without it.

A `.gch` is large (about 250 MB for an Arm target) and takes two or three sources' time to build,
so where it lives is a choice (`headers_for`):
- by default, for one run: built for a batch of at least MINIMUM_BATCH sources with the same flags,
  reused by the run's later batches and self-tests, deleted when the run ends (a killed run's are
  deleted by the next run that opens the library);
- with MCU_DEPLOY_KEEP_PCH=1, kept in the cache beside the objects and built for any batch, so every
  later run on the machine compiles its self-tests and new kernels without parsing the schema
  (the test suite and CI builds, which compile hundreds of self-tests, set it).
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

# What the header holds: the one include that dominates TFLM's compile times.
HEADER_TEXT = '#include "tensorflow/lite/schema/schema_generated.h"\n'
SCHEMA_HEADER = "tensorflow/lite/schema/schema_generated.h"
# Building the .gch costs two or three sources' compile; within one run, fewer sources than this
# with the same flags do not pay it back.
MINIMUM_BATCH = 6
BUILD_TIMEOUT_S = 600
KEEP_ENVIRONMENT = "MCU_DEPLOY_KEEP_PCH"
KEPT_FOLDER = "kept"
RUN_PREFIX = "run-"


def keep_across_runs() -> bool:
    """Whether MCU_DEPLOY_KEEP_PCH asks for the headers to stay in the cache between runs."""
    return os.environ.get(KEEP_ENVIRONMENT, "").strip() not in ("", "0", "false", "no")


class PrecompiledHeaders:
    """One `.gch` per distinct compile command (sources at another optimization level get a header
    of their own), in `folder`. Safe for the compiling threads of one process; another process that
    shares the folder (the kept headers) only ever sees a finished `.gch`, renamed into place."""

    def __init__(self, folder: Path, tree_root: Path, kept: bool = False) -> None:
        self.folder = folder
        self.tree_root = tree_root
        self.kept = kept  # in the cache for later runs: worth building for a single source
        self.minimum_batch = 1 if kept else MINIMUM_BATCH
        self._headers: dict[tuple[str, ...], Path] = {}
        self._failed: set[tuple[str, ...]] = set()
        self._guard = threading.Lock()

    def prepare(self, commands: dict[str, list[str]]) -> None:
        """Build a header for every set of flags that at least `minimum_batch` of these C++
        sources share (`commands`: source -> compiler and flags, without -c and -o). Never
        raises: a header that cannot be built leaves its sources to compile without one."""
        if not (self.tree_root / SCHEMA_HEADER).is_file():
            return
        groups: dict[tuple[str, ...], int] = {}
        for source, command in commands.items():
            if source.endswith(".cc"):
                groups[tuple(command)] = groups.get(tuple(command), 0) + 1
        for command, count in groups.items():
            if count >= self.minimum_batch:
                self.ensure(list(command))

    def ensure(self, command: Sequence[str]) -> Path | None:
        """The header for this compile command, built now if there is none yet."""
        key = tuple(command)
        if self._find(key) is None and key not in self._failed and (self.tree_root / SCHEMA_HEADER).is_file():
            header = self._build(list(command))
            with self._guard:
                if header is None:
                    self._failed.add(key)
                else:
                    self._headers[key] = header  # one assignment: safe for the compiling threads
        return self._find(key)

    def flags_for(self, command: Sequence[str]) -> list[str]:
        """The extra flags that make a source with this compile command use a prepared header;
        none while its header is still being built (`prepare` runs beside the compiles)."""
        header = self._find(tuple(command))
        return ["-include", str(header)] if header else []

    def discard(self, command: Sequence[str]) -> None:
        """Forget (and delete) the header of a command whose compile failed with it: the next
        sources compile without one."""
        key = tuple(command)
        with self._guard:
            header = self._headers.pop(key, None)
            self._failed.add(key)
        if header is not None:
            shutil.rmtree(header.parent, ignore_errors=True)

    def _header_path(self, command: Sequence[str]) -> Path:
        name = hashlib.sha256(repr(list(command)).encode()).hexdigest()[:12]
        return self.folder / name / "tflm_schema.h"

    def _find(self, key: tuple[str, ...]) -> Path | None:
        header = self._headers.get(key)
        if header is None and key not in self._failed:
            # kept by an earlier run (or another process) in the shared folder
            candidate = self._header_path(key)
            if Path(f"{candidate}.gch").is_file() and candidate.is_file():
                with self._guard:
                    self._headers[key] = header = candidate
        return header

    def _build(self, command: list[str]) -> Path | None:
        header = self._header_path(command)
        header.parent.mkdir(parents=True, exist_ok=True)
        header.write_text(HEADER_TEXT, encoding="utf-8")
        # A fresh name per build, renamed into place: a process that shares the folder never
        # reads a half-written .gch.
        partial = Path(f"{header}.gch.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            result = subprocess.run([*command, "-x", "c++-header", str(header), "-o", str(partial)],
                                    cwd=self.tree_root, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            partial.unlink(missing_ok=True)
            return None
        # Without its .gch the header is still correct, only slow: compile as make would instead.
        if result.returncode != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            return None
        partial.replace(f"{header}.gch")
        return header


def headers_for(library_folder: Path, tree_root: Path) -> PrecompiledHeaders:
    """The headers a library's compiles use in this process: kept in the cache when
    MCU_DEPLOY_KEEP_PCH asks for it, else this run's own, deleted when it exits."""
    root = library_folder / "pch"
    if keep_across_runs():
        return PrecompiledHeaders(root / KEPT_FOLDER, tree_root, kept=True)
    owner = os.getpid()
    folder = root / f"{RUN_PREFIX}{owner}"

    def remove_at_exit() -> None:
        if os.getpid() == owner:  # not in a forked child, which inherits the handler
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove_at_exit)
    return PrecompiledHeaders(folder, tree_root)


def remove_abandoned(library_folder: Path) -> None:
    """Delete the headers of runs that are no longer alive (a killed run's hundreds of MB), and
    whatever an older layout left; the kept headers and live runs' stay."""
    root = library_folder / "pch"
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.name == KEPT_FOLDER:
            for stray in entry.glob("*/*.tmp"):  # a build killed before its rename
                if not _alive(_pid_of_partial(stray.name)):
                    stray.unlink(missing_ok=True)
            continue
        if entry.name.startswith(RUN_PREFIX) and _alive(entry.name[len(RUN_PREFIX):]):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _pid_of_partial(name: str) -> str:
    """`tflm_schema.h.gch.<pid>.<thread>.tmp` -> pid."""
    parts = name.split(".")
    return parts[-3] if len(parts) >= 3 else ""


def _alive(pid_text: str) -> bool:
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
