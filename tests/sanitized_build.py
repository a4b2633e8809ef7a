"""CMSIS-NN and the programs that call it built for this machine under AddressSanitizer and
UndefinedBehaviorSanitizer (gcc), for tests/e2e/test_sanitizers.py: the host target's recipe with
the sanitizers added to every compile and to the link, its objects cached apart from the plain
host build's, and the first line a sanitizer reports, read from a program's stderr."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from helpers.targets.library import Library

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
_REPORT = re.compile(r"(ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer)")
_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (?!__asan|__ubsan)(\S+) (\S+)$", re.M)


def sanitized_cmsis(host: Library) -> Library:
    """CMSIS-NN for this machine with the sanitizers, as a library in `host`'s cache folder (the
    host's TFLM library: its recipe and tree); its objects are compiled on first use, then kept."""
    from helpers.targets.engine_test import cmsis_library

    recipe = host.recipe
    sanitized = replace(recipe, ccflags=(*recipe.ccflags, *SANITIZE), cxxflags=(*recipe.cxxflags, *SANITIZE),
                        ldflags=(*recipe.ldflags, *SANITIZE))
    folder = host.folder / "sanitized"
    (folder / "objects").mkdir(parents=True, exist_ok=True)
    return cmsis_library(Library(tree=host.tree, target=host.target, recipe=sanitized, folder=folder,
                                 name="TFLM's library (sanitized)", seeded=False))


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
