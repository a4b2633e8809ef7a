"""A TensorFlow Lite Micro source tree (--tflm_dir or TFLM_DIR) and its identity for the cache.

The tree is only read: every build output goes to the cache (make's BASE_GENDIR is pointed
there), so a shared or read-only checkout works.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers.errors import ConfigError

MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
# What TFLM's make would otherwise download, and which targets need it.
REQUIRED_DOWNLOADS = {"flatbuffers/include": "every target", "gemmlowp": "every target", "ruy": "every target"}
CMSIS_DOWNLOADS = ("cmsis/CMSIS/Core/Include", "cmsis_nn/Include")


@dataclass(frozen=True)
class TflmTree:
    """A TFLM checkout whose make downloads are in place."""

    root: Path
    revision: str       # the git commit, or the one PINNED.md names, or "unknown"
    fingerprint: str    # changes whenever a source file changes: part of every cache key

    @property
    def has_cmsis_nn(self) -> bool:
        """Whether the CMSIS and CMSIS-NN downloads (for the Cortex-M kernels) are present."""
        return all((self.root / DOWNLOADS / part).is_dir() for part in CMSIS_DOWNLOADS)


def find_tree(explicit: Path | None) -> TflmTree | None:
    """The tree from --tflm_dir, else $TFLM_DIR, else None (target checks are then skipped)."""
    if explicit is None and not os.environ.get("TFLM_DIR"):
        return None
    root = (explicit or Path(os.environ["TFLM_DIR"])).expanduser().resolve()
    source = "--tflm_dir" if explicit is not None else "TFLM_DIR"
    if not (root / MAKEFILE).is_file():
        raise ConfigError(f"{source} is not a TensorFlow Lite Micro checkout (no {MAKEFILE})",
                          "point it at a clone of github.com/tensorflow/tflite-micro", root)
    for part, needed_by in REQUIRED_DOWNLOADS.items():
        if not (root / DOWNLOADS / part).is_dir():
            raise ConfigError(f"the TFLM tree lacks its make downloads ({DOWNLOADS}/{part}, needed by {needed_by})",
                              "run `make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads` in it "
                              "once with internet access", root)
    return TflmTree(root=root, revision=_revision(root), fingerprint=_fingerprint(root))


def _revision(root: Path) -> str:
    if (root / ".git").exists():
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.strip()
    pinned = root / "PINNED.md"
    if pinned.is_file():
        found = re.search(r"tflite-micro\s*\|[^|]*\|\s*([0-9a-f]{40})", pinned.read_text(errors="replace"))
        if found:
            return found.group(1)
    return "unknown"


def _fingerprint(root: Path) -> str:
    """Paths, sizes and modification times of the sources a build reads (about 10k files, tens of
    milliseconds): an edited tree never reuses objects built from the old one."""
    digest = hashlib.sha256()
    for top in ("tensorflow/lite", "tensorflow/compiler", "signal", "third_party"):
        base = root / top
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if d != "gen")
            for name in sorted(files):
                path = Path(directory) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
