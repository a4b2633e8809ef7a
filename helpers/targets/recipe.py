"""How TFLM's own Makefile builds a target: compilers, flags, include paths and the library's
sources, read once from make (`print-VAR`) and kept in the cache as JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from helpers.targets.target import Target
from helpers.targets.tree import MAKEFILE, TflmTree

MAKE_TIMEOUT_S = 300
_VARIABLES = ("CXX", "CC", "CXXFLAGS", "CCFLAGS", "INCLUDES", "LDFLAGS", "MICROLITE_LIBS",
              "CORE_OPTIMIZATION_LEVEL", "KERNEL_OPTIMIZATION_LEVEL", "THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL",
              "MICROLITE_CC_SRCS", "MICROLITE_CC_KERNEL_SRCS", "THIRD_PARTY_CC_SRCS", "THIRD_PARTY_KERNEL_CC_SRCS")


class RecipeError(Exception):
    """TFLM's make could not tell how to build the target."""


@dataclass(frozen=True)
class Recipe:
    """Everything needed to compile TFLM's library sources for one target, as make would."""

    cxx: str
    cc: str
    cxxflags: tuple[str, ...]
    ccflags: tuple[str, ...]
    includes: tuple[str, ...]      # relative to the tree, as make passes them (compiles run in the tree)
    ldflags: tuple[str, ...]
    libs: tuple[str, ...]
    core_optimization: str         # what the program's own files compile with
    sources: dict[str, str]        # library source -> the optimization level make compiles it with

    def flags_for(self, source: str) -> list[str]:
        """Compiler, flags and optimization level make would use for a library source."""
        compiler, flags = (self.cc, self.ccflags) if source.endswith(".c") else (self.cxx, self.cxxflags)
        return [compiler, *flags, self.sources.get(source, self.core_optimization), *self.includes]


def read_recipe(tree: TflmTree, target: Target, cache_dir: Path) -> Recipe:
    """The target's recipe: from the cache, else from one `make print-...` run (about 5 s: the
    Makefile generates its examples' sources while it parses)."""
    saved = cache_dir / "recipe.json"
    if saved.is_file():
        data = json.loads(saved.read_text())
        known = {item.name for item in fields(Recipe)}  # a recipe saved by an older version may hold more
        return Recipe(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()
                         if key in known})
    values = _make_variables(tree, target, cache_dir)
    sources: dict[str, str] = {}
    for name, level in (("MICROLITE_CC_SRCS", "CORE_OPTIMIZATION_LEVEL"),
                        ("MICROLITE_CC_KERNEL_SRCS", "KERNEL_OPTIMIZATION_LEVEL"),
                        ("THIRD_PARTY_CC_SRCS", "CORE_OPTIMIZATION_LEVEL"),
                        ("THIRD_PARTY_KERNEL_CC_SRCS", "THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL")):
        for source in values[name].split():
            if source.endswith((".c", ".cc")) and not source.endswith("_test.cc"):
                sources[source] = values[level].strip()
    recipe = Recipe(cxx=values["CXX"].strip(), cc=values["CC"].strip(), cxxflags=tuple(values["CXXFLAGS"].split()),
                    ccflags=tuple(values["CCFLAGS"].split()), includes=tuple(values["INCLUDES"].split()),
                    ldflags=tuple(values["LDFLAGS"].split()), libs=tuple(values["MICROLITE_LIBS"].split()),
                    core_optimization=values["CORE_OPTIMIZATION_LEVEL"].strip(), sources=sources)
    if not recipe.sources:
        raise RecipeError(f"TFLM's make listed no library sources for {target.name}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = saved.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(recipe), indent=1))
    temporary.replace(saved)
    return recipe


def _make_variables(tree: TflmTree, target: Target, cache_dir: Path) -> dict[str, str]:
    # make runs `python3` while parsing (its examples' generated sources): the running Python has
    # numpy and Pillow (matplotlib needs it), so its folder goes first on PATH.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = ["make", "-s", "-f", MAKEFILE, *target.make_args, f"BASE_GENDIR={cache_dir / 'make-gen'}",
               *(f"print-{name}" for name in _VARIABLES)]
    try:
        result = subprocess.run(command, cwd=tree.root, env=env, capture_output=True, text=True,
                                timeout=MAKE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RecipeError(f"TFLM's make did not run: {error}") from error
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, equals, value = line.partition("=")
        if equals and name in _VARIABLES and name not in values:
            values[name] = value
    missing = [name for name in _VARIABLES if name not in values]
    if result.returncode != 0 or missing:
        said = [line for line in result.stderr.splitlines() if "already exists" not in line]
        raise RecipeError(f"TFLM's make failed for {target.name}: " + (said[-1][:200] if said else
                                                                        f"no value for {', '.join(missing)}"))
    return values
