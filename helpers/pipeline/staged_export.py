"""Atomic export: write into a staging directory beside the destination, rename when complete.

A run that fails or is interrupted leaves the previous export exactly as it was and no
partial one: the staging directory is removed, and the destination is only replaced by a
rename once every file is written.
"""
from __future__ import annotations

import shutil
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


class StagedExport:
    """`with StagedExport(dest) as staging:` write into `staging`; renamed to `dest` on success."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination.resolve()
        self.staging: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
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
        previous = None
        if self.destination.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.old-", dir=self.destination.parent))
            previous.rmdir()
            self.destination.rename(previous)
        try:
            self.staging.rename(self.destination)
        except OSError:
            if previous is not None:
                previous.rename(self.destination)
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
