"""Atomic export: write into a staging directory beside the destination, rename when complete.

A run that fails or is interrupted leaves the previous export exactly as it was and no
partial one: the staging directory is removed, and the destination is only replaced by a
rename once every file is written. A run that is killed (SIGKILL, the OOM killer, a CI timeout)
cannot remove its staging directory, so every run holds a lock on a file beside it,
`.NAME.run-S.lock` for `.NAME.partial-S` (and `.NAME.old-S` during a two-rename swap), from
before the directory exists until after it is gone; a run starting removes every such folder
whose lock nobody holds, and never one of a live concurrent run.
"""
from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from helpers.errors import ExportError

log = logging.getLogger("mcu_deploy")


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


def _lock_name(destination: Path, suffix: str) -> Path:
    return destination.parent / f".{destination.name}.run-{suffix}.lock"


def _suffix(folder: Path, destination: Path) -> str:
    """S of `.NAME.partial-S` / `.NAME.old-S` / `.NAME.run-S.lock`."""
    name = folder.name
    for prefix in (f".{destination.name}.partial-", f".{destination.name}.old-", f".{destination.name}.run-"):
        if name.startswith(prefix):
            return name[len(prefix):].removesuffix(".lock")
    return name


def _held(lock: Path) -> bool:
    """Whether a live run holds this lock (a missing lock file: nobody does)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock, if this probe took it
    return False


def recover_interrupted_swap(destination: Path) -> None:
    """Put back the previous export if a run died between the two renames of the fallback swap
    (the destination is gone and a `.NAME.old-*` folder whose run is dead holds it)."""
    if destination.exists():
        return
    backups = sorted((p for p in destination.parent.glob(f".{destination.name}.old-*")
                      if not _held(_lock_name(destination, _suffix(p, destination)))),
                     key=lambda p: p.stat().st_mtime)
    if backups:
        backups[-1].rename(destination)


def remove_stale_staging(destination: Path) -> list[str]:
    """Remove the staging and backup folders (and lock files) of runs that died; returns their names."""
    parent = destination.parent
    removed = []
    candidates = [*parent.glob(f".{destination.name}.partial-*"), *parent.glob(f".{destination.name}.old-*")]
    for folder in sorted(candidates):
        if folder.is_dir() and not _held(_lock_name(destination, _suffix(folder, destination))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    for lock in parent.glob(f".{destination.name}.run-*.lock"):
        suffix = _suffix(lock, destination)
        alone = not any(parent.joinpath(f".{destination.name}.{kind}-{suffix}").exists() for kind in ("partial", "old"))
        if alone and not _held(lock):
            lock.unlink(missing_ok=True)
    return removed


class StagedExport:
    """`with StagedExport(dest) as staging:` write into `staging`; swapped into `dest` on success.

    The swap is one atomic step where Linux allows it (renameat2 RENAME_EXCHANGE): at every moment
    `dest` holds either the complete previous export or the complete new one. Elsewhere it is two
    renames, and a run killed between them leaves a backup the next run puts back first."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination.resolve()
        self.staging: Path | None = None
        self._lock: tuple[int, Path] | None = None
        self._suffix = ""

    def __enter__(self) -> Path:
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            recover_interrupted_swap(self.destination)
            removed = remove_stale_staging(self.destination)
            if removed:
                log.info("removed what killed runs left beside the export: %s", ", ".join(removed))
            self.staging = self.destination.parent / f".{self.destination.name}.partial-{self._suffix}"
            self.staging.mkdir()
        except OSError as exc:
            self._release()
            raise ExportError(f"cannot create the export directory ({exc.strerror})",
                              "choose a writable --export_dir", self.destination) from None
        return self.staging

    def _take_lock(self) -> None:
        """The run's lock, taken before its staging folder exists (so no other run ever sees the
        folder unlocked while this run lives)."""
        fd, name = tempfile.mkstemp(prefix=f".{self.destination.name}.run-", suffix=".lock",
                                    dir=self.destination.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock = (fd, Path(name))
        self._suffix = _suffix(Path(name), self.destination)

    def _release(self) -> None:
        """After the staging folder is gone: the lock file removed, then the lock let go."""
        if self._lock is not None:
            fd, path = self._lock
            path.unlink(missing_ok=True)
            os.close(fd)
            self._lock = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.staging is not None
        try:
            if exc_type is not None:  # failure or Ctrl-C: drop the partial export, keep the old one
                shutil.rmtree(self.staging, ignore_errors=True)
                return
            self._replace()
        finally:
            self._release()

    def _replace(self) -> None:
        assert self.staging is not None
        if not self.destination.exists():
            self.staging.rename(self.destination)
            return
        if _exchange(self.staging, self.destination):
            shutil.rmtree(self.staging, ignore_errors=True)  # now holds the previous export
            return
        previous = self.destination.parent / f".{self.destination.name}.old-{self._suffix}"
        self.destination.rename(previous)
        try:
            self.staging.rename(self.destination)
        except OSError:
            previous.rename(self.destination)
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        shutil.rmtree(previous, ignore_errors=True)
