"""Atomic export: write into a staging directory beside the destination, rename when complete.

A run that fails or is interrupted leaves the previous export exactly as it was and no
partial one: the staging directory is removed, and the destination is only replaced by a
rename once every file is written.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from helpers.errors import ExportError


def check_destination(destination: Path, model_dir: Path) -> None:
    """Fail early if the export cannot be written, or would write into the user's model directory."""
    resolved = destination.resolve()
    model_root = model_dir.resolve()
    if resolved == model_root or resolved.is_relative_to(model_root) or model_root.is_relative_to(resolved):
        raise ExportError("the export directory overlaps the model directory",
                          "choose an --export_dir outside the model directory", destination)
    if resolved.exists() and not resolved.is_dir():
        raise ExportError("the export path is a file, not a directory",
                          "remove the file or choose another --export_dir", destination)
    parent = resolved.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(f"{existing} is a file, so the export directory cannot be created",
                          "choose another --export_dir", destination)
    # Try for real: os.access says yes to root even on read-only file systems.
    try:
        shutil.rmtree(tempfile.mkdtemp(prefix=".mcu-deploy-write-test-", dir=existing))
    except OSError:
        raise ExportError("the export directory is not writable",
                          "choose a writable --export_dir or fix the permissions", existing) from None


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 with RENAME_EXCHANGE); False where
    the system or the file system cannot, and the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE)
    return result == 0


_RENAME_EXCHANGE = 2


def recover_interrupted_swap(destination: Path) -> None:
    """Put back the previous export if a run died between the two renames of the fallback swap
    (the destination is gone and a `.NAME.old-*` folder holds it)."""
    if destination.exists():
        return
    backups = sorted(destination.parent.glob(f".{destination.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if backups:
        backups[-1].rename(destination)


class StagedExport:
    """`with StagedExport(dest) as staging:` write into `staging`; swapped into `dest` on success.

    The swap is one atomic step where Linux allows it (renameat2 RENAME_EXCHANGE): at every moment
    `dest` holds either the complete previous export or the complete new one. Elsewhere it is two
    renames, and a run killed between them leaves a backup the next run puts back first."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination.resolve()
        self.staging: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            recover_interrupted_swap(self.destination)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.partial-",
                                                 dir=self.destination.parent))
        except OSError as exc:
            raise ExportError(f"cannot create the export directory ({exc.strerror})",
                              "choose a writable --export_dir", self.destination) from None
        return self.staging

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.staging is not None
        if exc_type is not None:  # failure or Ctrl-C: drop the partial export, keep the old one
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        self._replace()

    def _replace(self) -> None:
        assert self.staging is not None
        if not self.destination.exists():
            self.staging.rename(self.destination)
            return
        if _exchange(self.staging, self.destination):
            shutil.rmtree(self.staging, ignore_errors=True)  # now holds the previous export
            return
        previous = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.old-", dir=self.destination.parent))
        previous.rmdir()
        self.destination.rename(previous)
        try:
            self.staging.rename(self.destination)
        except OSError:
            previous.rename(self.destination)
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        shutil.rmtree(previous, ignore_errors=True)
