"""The content digest of a fetched component: what the pins record and every fetch checks.

A digest covers file paths and bytes only. Git commit hashes cannot be the check, because a mirror
(a company's, or the test's) holds the same files under other commits; file modes and empty
folders are left out because archives and checkouts disagree on them, and TFLM's build reads
neither.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath


def component_files(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """Every file under `root` as a POSIX path relative to it, sorted, leaving out the subtrees
    `exclude` names (nested components, files fetch writes itself) and any `.git`."""
    skipped = {PurePosixPath(part) for part in exclude}
    found: list[str] = []
    for directory, subdirs, files in os.walk(root):
        relative = PurePosixPath(Path(directory).relative_to(root).as_posix())
        subdirs[:] = sorted(d for d in subdirs if d != ".git" and relative / d not in skipped)
        found += [str(relative / name) if str(relative) != "." else name
                  for name in files if relative / name not in skipped]
    return sorted(found)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (a symbolic link's target text, so a link cannot point elsewhere unseen)."""
    if path.is_symlink():
        return hashlib.sha256(b"link:" + os.readlink(path).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path, exclude: tuple[str, ...] = ()) -> str:
    """SHA-256 over `path NUL file-sha256 LF` for every file of the component, in path order."""
    digest = hashlib.sha256()
    for name in component_files(root, exclude):
        digest.update(f"{name}\0{file_digest(root / name)}\n".encode())
    return digest.hexdigest()
