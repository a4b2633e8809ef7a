"""CMSIS-NN and the programs that call it built for this machine under AddressSanitizer and
UndefinedBehaviorSanitizer (gcc), for tests/e2e/test_sanitizers.py: the host target's recipe with
the sanitizers added to every compile and to the link, its objects cached apart from the plain
host build's, and the first line a sanitizer reports, read from a program's stderr."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from helpers.targets.library import Library, default_cache_root
from helpers.targets.recipe import Recipe, read_recipe
from helpers.targets.target import HARNESS, TARGETS
from helpers.targets.tree import TflmTree

# -fno-sanitize-recover: the first report stops the program (and the test) with its message.
# float-cast-overflow is not part of gcc's `undefined`: it is asked for because an engine that
# converts a float the firmware passes (NaN, 1e30) to an integer is undefined in C and answers
# differently on x86 (INT_MIN) and on a Cortex-M (saturated).
SANITIZE = ("-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer", "-g")
# The engines never allocate, so there is no leak to look for, and LeakSanitizer needs ptrace,
# which containers often refuse. UBSan prints the stack of what it reports.
RUNTIME = {"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
# CMSIS-NN's own findings (docs/sanitizers.md): these sources pack or scale signed values with `<<`
# (a negative value shifted left, 1 << 31 in an int), which ISO C leaves undefined and every compiler
# CMSIS-NN supports defines as the two's-complement shift it relies on (C++20 and C23 define it so).
# Only that check, only in these files, is off; a UBSan suppressions file cannot do it, because under
# -fno-sanitize-recover a suppressed report still stops the program. The engines' code has no exemption.
CMSIS_NN_SHIFT_BASE = ("arm_elementwise_add_s8.c", "arm_elementwise_add_s16.c", "arm_elementwise_mul_s16.c",
                       "arm_elementwise_mul_acc_s16.c", "arm_nn_softmax_common_s8.c")
EXEMPT = "-fno-sanitize=shift-base"


@dataclass(frozen=True)
class SanitizedRecipe(Recipe):
    """The host's recipe with the sanitizers, and CMSIS_NN_SHIFT_BASE compiled without shift-base."""

    def flags_for(self, source: str) -> list[str]:
        flags = super().flags_for(source)
        return [*flags, EXEMPT] if Path(source).name in CMSIS_NN_SHIFT_BASE else flags


_REPORT = re.compile(r"(ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer)")
_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (?!__asan|__ubsan)(\S+) (\S+)$", re.M)


def _sanitized_host(tree: TflmTree, cache_root: Path | None) -> Library:
    """The host target's recipe (as Library.open reads it) with SANITIZE added, cached in a folder of
    its own beside the host's (keyed by those flags); objects are compiled on first use, then kept.
    The host's plain TFLM objects are not used, so they are neither opened nor verified (which would
    wait on their lock while another run builds them)."""
    target = TARGETS["host"]
    base = (cache_root or default_cache_root()) / "tflm" / f"{tree.revision[:12]}-{tree.fingerprint}" / target.name
    recipe = target.adapt(read_recipe(tree, target, base), str(HARNESS))
    recipe = SanitizedRecipe(**{**asdict(recipe), "ccflags": (*recipe.ccflags, *SANITIZE),
                                "cxxflags": (*recipe.cxxflags, *SANITIZE), "ldflags": (*recipe.ldflags, *SANITIZE)})
    recipe = replace(recipe, sources={source: level for source, level in recipe.sources.items()
                                      if (tree.root / source).is_file()})
    key = hashlib.sha256(repr((recipe.cxxflags, recipe.ccflags, recipe.includes, CMSIS_NN_SHIFT_BASE, EXEMPT)
                              ).encode()).hexdigest()[:10]
    folder = base / f"sanitized-{key}"
    (folder / "objects").mkdir(parents=True, exist_ok=True)
    return Library(tree=tree, target=target, recipe=recipe, folder=folder, name="TFLM's library, sanitized")


def sanitized_cmsis(tree: TflmTree, cache_root: Path | None = None) -> Library:
    """CMSIS-NN for this machine with the sanitizers (in the sanitized host folder's cmsis_nn/)."""
    from helpers.targets.engine_test import cmsis_library

    return cmsis_library(replace(_sanitized_host(tree, cache_root), seeded=False))


def sanitized_tflm(tree: TflmTree, cache_root: Path | None = None) -> Library:
    """TFLM's library for this machine (its reference kernels, as the host target builds them) with
    the sanitizers, for the TFLM self-test: its runtime compiled before the first link, the kernels
    a program calls on demand."""
    return _sanitized_host(tree, cache_root)


def first_report(stderr: str) -> str | None:
    """A sanitizer's first line, with the first frame outside the sanitizer's runtime (where the
    fault is, file and line), or None when nothing was reported."""
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if _REPORT.search(line):
            frame = _FRAME.search("\n".join(lines[index:]))
            where = f" (in {frame.group(1)} at {Path(frame.group(2)).name})" if frame else ""
            return line.strip()[:400] + where
    return None
