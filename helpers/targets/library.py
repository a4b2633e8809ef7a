"""TFLM's library for one target, compiled into a cache outside the export, one object per source.

A self-test links only the library members its op resolver reaches, so only those are compiled:
the link's undefined symbols name what is missing, and the sources that define them are found
by their definitions (a line at column 0 that names the function and is not a declaration).
What that search cannot place is settled by compiling the whole library, once. Objects are keyed
by the tree's fingerprint, the target and make's flags, so a second run compiles nothing.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.targets.recipe import Recipe, read_recipe
from helpers.targets.target import Target
from helpers.targets.tree import TflmTree

COMPILE_TIMEOUT_S = 600


class BuildError(Exception):
    """A compile or link failed; the message is the compiler's own first error."""


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

    @classmethod
    def open(cls, tree: TflmTree, target: Target, cache_root: Path) -> "Library":
        """The target's library in the cache (its recipe read from make the first time)."""
        base = cache_root / "tflm" / f"{tree.revision[:12]}-{tree.fingerprint}" / target.name
        recipe = read_recipe(tree, target, base)
        flags = hashlib.sha256(repr((recipe.cxxflags, recipe.ccflags, recipe.includes)).encode()).hexdigest()[:10]
        folder = base / flags
        (folder / "objects").mkdir(parents=True, exist_ok=True)
        return cls(tree=tree, target=target, recipe=recipe, folder=folder)

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
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                errors = [error for error in pool.map(self._compile, missing) if error]
            self.compiled_seconds += time.monotonic() - started
            self.compiled_count += len(missing) - len(errors)
            if errors:
                raise BuildError(errors[0])

    def _compile(self, source: str) -> str | None:
        target = self.object_path(source)
        temporary = target.with_suffix(f".{os.getpid()}.tmp.o")
        command = [*self.recipe.flags_for(source), "-c", source, "-o", str(temporary)]
        result = subprocess.run(command, cwd=self.tree.root, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        if result.returncode != 0:
            temporary.unlink(missing_ok=True)
            return f"{source}: {first_error(result.stderr)}"
        temporary.replace(target)
        return None

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
        library's sources outside kernels/, signal/ and third-party code, minus test helpers)."""
        return [source for source in self.recipe.sources
                if source.startswith(("tensorflow/lite/micro/", "tensorflow/lite/core/", "tensorflow/compiler/"))
                and "/kernels/" not in source and "/test" not in source and "fake_" not in source
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
