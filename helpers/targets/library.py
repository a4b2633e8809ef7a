"""TFLM's library for one target, compiled into a cache outside the export, one object per source.

A self-test links only the library members its op resolver reaches, so only those are compiled:
the link's undefined symbols name what is missing, and the sources that define them are found
by their definitions (a line at column 0 that names the function and is not a declaration).
What that search cannot place is settled by compiling the whole library, once. Objects are keyed
by the tree's fingerprint, the target and make's flags, so a second run compiles nothing.

The cache checks itself: every object is written to a temporary name and renamed into place,
then recorded in `manifest.json` (size and SHA-256) under the cache's lock. Opening the library
verifies the objects against the manifest; one that is truncated, altered or unrecorded (a disk
fault, a copy interrupted outside the tool, a run killed before it recorded it) is deleted and
compiled again alone, and the run says which.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from helpers.progress import Progress
from helpers.targets.precompiled_header import PrecompiledHeaders, headers_for, remove_abandoned
from helpers.targets.recipe import Recipe, read_recipe
from helpers.targets.target import HARNESS, Target
from helpers.targets.tree import TflmTree

COMPILE_TIMEOUT_S = 600


class BuildError(Exception):
    """A compile or link failed; the message is the compiler's own first error."""


class ToolBuildError(BuildError):
    """The tool's own part of the build failed (TFLM's library, the archive, a link that misses a
    library symbol): a fault of the tool or the toolchain, not a verdict on the model."""


def default_cache_root() -> Path:
    """$MCU_DEPLOY_CACHE, else ~/.cache/mcu-deploy: where built TFLM objects are kept."""
    configured = os.environ.get("MCU_DEPLOY_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "mcu-deploy"


@dataclass
class Library:
    """The compiled part of TFLM's library for one target, grown on demand."""

    tree: TflmTree
    target: Target
    recipe: Recipe
    folder: Path                  # objects/, recipe.json, the lock
    compiled_seconds: float = 0.0  # compile time this run spent (0 when everything was cached)
    compiled_count: int = 0
    rebuilt: tuple[str, ...] = ()  # cached objects that failed verification at open (compiled again)
    name: str = "TFLM's library"   # what progress lines and errors call it
    archive_name: str = "libtensorflow-microlite.a"
    seeded: bool = True            # TFLM's runtime is compiled before the first link; CMSIS-NN has no seed
    _manifest: dict = field(default_factory=dict)  # type: ignore[type-arg]
    _manifest_guard: threading.Lock = field(default_factory=threading.Lock)
    # the precompiled schema headers this process compiles with (precompiled_header.headers_for)
    _headers: PrecompiledHeaders | None = field(init=False, default=None, repr=False, compare=False)

    @classmethod
    def open(cls, tree: TflmTree, target: Target, cache_root: Path) -> "Library":
        """The target's library in the cache (its recipe read from make the first time)."""
        base = cache_root / "tflm" / f"{tree.revision[:12]}-{tree.fingerprint}" / target.name
        recipe = target.adapt(read_recipe(tree, target, base), str(HARNESS))
        # make may list sources of downloads the tree lacks (RISC-V's printf): nothing links them
        recipe = replace(recipe, sources={source: level for source, level in recipe.sources.items()
                                          if (tree.root / source).is_file()})
        key = repr((recipe.cxxflags, recipe.ccflags, recipe.includes)).replace(str(HARNESS), "{harness}")
        flags = hashlib.sha256(key.encode()).hexdigest()[:10]
        folder = base / flags
        (folder / "objects").mkdir(parents=True, exist_ok=True)
        library = cls(tree=tree, target=target, recipe=recipe, folder=folder)
        library.rebuilt = library.verify()
        return library

    # ---- the manifest
    def _manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def _read_manifest(self) -> dict[str, list]:  # type: ignore[type-arg]
        try:
            data = json.loads(self._manifest_path().read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_manifest(self, manifest: dict[str, list]) -> None:  # type: ignore[type-arg]
        temporary = self._manifest_path().with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(manifest, indent=0, sort_keys=True), encoding="utf-8")
        temporary.replace(self._manifest_path())

    def verify(self) -> tuple[str, ...]:
        """Delete every cached object the manifest does not vouch for (size and hash); returns the
        library sources whose objects were deleted (they compile again when a link needs them)."""
        with self._lock():
            manifest = self._read_manifest()
            bad = []
            for source in self.recipe.sources:
                path = self.object_path(source)
                if not path.is_file():
                    manifest.pop(path.name, None)
                    continue
                if manifest.get(path.name) != _fingerprint(path):
                    path.unlink(missing_ok=True)
                    manifest.pop(path.name, None)
                    bad.append(source)
            for stray in self.folder.glob("objects/*.tmp.o"):  # a compile killed before its rename
                stray.unlink(missing_ok=True)
            # a run killed while it compiled leaves its precompiled headers (250 MB each)
            remove_abandoned(self.folder)
            self._write_manifest(manifest)
        return tuple(bad)

    def object_path(self, source: str) -> Path:
        """Where a library source's object lives (the path flattened: archive members need unique names)."""
        return self.folder / "objects" / (source.replace("/", "__").rsplit(".", 1)[0] + ".o")

    def compiled(self) -> list[str]:
        """Library sources whose objects are in the cache."""
        return [source for source in self.recipe.sources if self.object_path(source).is_file()]

    def ensure(self, sources: Iterable[str]) -> None:
        """Compile whichever of these library sources are not cached yet, on every core."""
        import time

        with self._lock():
            missing = [source for source in dict.fromkeys(sources) if not self.object_path(source).is_file()]
            if not missing:
                return
            started = time.monotonic()
            self._manifest = self._read_manifest()
            headers = self.headers()
            with Progress(f"compiling {self.name} for {self.target.name}", len(missing), "sources") as progress:
                def compile_one(source: str) -> str | None:
                    error = self._compile(source, headers)
                    progress.advance()
                    return error

                with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                    # The headers build on one core while the other cores start on the sources
                    # (without a header until it is ready).
                    pool.submit(headers.prepare, {source: self.recipe.flags_for(source) for source in missing
                                                  if _includes_schema(source)})
                    errors = [error for error in pool.map(compile_one, missing) if error]
            self.compiled_seconds += time.monotonic() - started
            self.compiled_count += len(missing) - len(errors)
            if errors:
                raise ToolBuildError(f"{self.name}: {errors[0]}")

    def _compile(self, source: str, headers: PrecompiledHeaders) -> str | None:
        target = self.object_path(source)
        temporary = target.with_suffix(f".{os.getpid()}.tmp.o")
        flags = self.recipe.flags_for(source)
        pch = headers.flags_for(flags) if _includes_schema(source) else []
        try:
            result = self._run_compile([*flags, *pch, "-c", source, "-o", str(temporary)])
            if result.returncode != 0 and pch:
                # a damaged header (a disk fault) must not fail the build: without it, as make would
                headers.discard(flags)
                result = self._run_compile([*flags, "-c", source, "-o", str(temporary)])
        except OSError as error:  # the compiler itself is missing or cannot start
            return f"{source}: {error}"
        if result.returncode != 0:
            temporary.unlink(missing_ok=True)
            return f"{source}: {first_error(result.stderr)}"
        temporary.replace(target)
        # Recorded at once, so a run killed mid-build leaves every finished object usable.
        with self._manifest_guard:
            self._manifest[target.name] = _fingerprint(target)
            self._write_manifest(self._manifest)
        return None

    def _run_compile(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=self.tree.root, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)

    def headers(self) -> PrecompiledHeaders:
        """The precompiled schema headers this process's compiles for the library use."""
        if self._headers is None:
            self._headers = headers_for(self.folder, self.tree.root)
        return self._headers

    def program_header_flags(self) -> list[str]:
        """`-include` flags that let a program's C++ source compiled with the library's own flags
        (the self-test's main.cc) load the schema's precompiled header: one a batch of this run
        built, or, when headers are kept across runs, one built now for every later run."""
        if not self.recipe.sources:
            return []
        command = self.recipe.flags_for("main.cc")
        headers = self.headers()
        if headers.kept and not headers.flags_for(command):
            with self._lock():  # one process builds it; the others wait and load it
                headers.ensure(command)
        return headers.flags_for(command)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        # Parallel runs (pytest workers, sweeps) share the cache: one compiles, the others wait and reuse.
        with open(self.folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def seed_sources(self) -> list[str]:
        """What every program needs: the interpreter, allocator, planner, schema and logging (the
        library's sources outside kernels/, signal/ and third-party code, minus test helpers). The
        downloads (CMSIS-NN's 113 sources sit under tensorflow/lite/micro/tools/make/downloads/) are
        third-party code: the link asks for the few it calls."""
        if not self.seeded:
            return []
        return [source for source in self.recipe.sources
                if source.startswith(("tensorflow/lite/micro/", "tensorflow/lite/core/", "tensorflow/compiler/"))
                and "/kernels/" not in source and "/tools/make/downloads/" not in source and "/test" not in source and "fake_" not in source
                and "mock_" not in source and "recording_" not in source]

    def definers(self, symbols: Iterable[str]) -> set[str]:
        """Library sources that define these (demangled) symbols, by their definitions in the source."""
        found: set[str] = set()
        texts = self._texts()
        for symbol in symbols:
            for pattern in _definition_patterns(symbol):
                hits = {source for source, text in texts.items() if pattern.search(text)}
                if hits:
                    found |= hits
                    break
        return found

    def _texts(self) -> dict[str, str]:
        if not hasattr(self, "_text_cache"):
            self._text_cache = {source: (self.tree.root / source).read_text(errors="replace")
                                for source in self.recipe.sources}
        return self._text_cache


def _includes_schema(source: str) -> bool:
    """TFLM's own sources include the flatbuffers schema the precompiled header holds; third-party
    ones (CMSIS-NN, kissfft) may not, and get no header."""
    return source.startswith("tensorflow/")


def _fingerprint(path: Path) -> list:  # type: ignore[type-arg]
    data = path.read_bytes()
    return [len(data), hashlib.sha256(data).hexdigest()]


def first_error(stderr: str) -> str:
    """The compiler's or linker's first error line (or its last line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() or "undefined reference" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no message"


def _definition_patterns(symbol: str) -> list[re.Pattern[str]]:
    """Regexes for a symbol's definition, most specific first: `Class::method(` at column 0, then
    `name(` at column 0 on a line that is not a declaration, then a variable `name =`/`name[`."""
    text = symbol
    for prefix in ("vtable for ", "typeinfo for ", "non-virtual thunk to "):
        if text.startswith(prefix):
            owner = text[len(prefix):].split("::")[-1]
            return [re.compile(rf"^(?=[^\s#/]).*\b{re.escape(owner)}::~?\w+\s*\(", re.M)]
    name = _strip_arguments(text)
    parts = [part for part in re.split(r"::", name) if part]
    if not parts:
        return []
    last = re.sub(r"<.*", "", parts[-1]).strip()
    if not re.fullmatch(r"~?\w+", last):
        return []
    last = re.escape(last)
    patterns = []
    if len(parts) >= 2:
        owner = re.escape(re.sub(r"<.*", "", parts[-2]).strip())
        patterns.append(re.compile(rf"^(?=[^\s#/]).*\b{owner}::{last}\s*\((?![^\n]*\)\s*;\s*$)", re.M))
    patterns.append(re.compile(rf"^(?!extern\b)(?=[^\s#/])[^\n;]*\b{last}\s*\((?![^\n]*;\s*$)", re.M))
    patterns.append(re.compile(rf"^(?!extern\b)(?=[^\s#/])[^\n(]*\b{last}\s*(=|\[)", re.M))
    return patterns


def _strip_arguments(symbol: str) -> str:
    """`ns::f<int>(a, b) const` -> `ns::f<int>`: the name before its top-level argument list."""
    depth = 0
    for index, char in enumerate(symbol):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "(" and depth == 0 and index > 0:
            return symbol[:index]
    return symbol


def open_library(tree: TflmTree, target: Target, cache_root: Path | None = None) -> Library:
    """The target's library in `cache_root` (default: $MCU_DEPLOY_CACHE or ~/.cache/mcu-deploy)."""
    return Library.open(tree, target, cache_root or default_cache_root())
