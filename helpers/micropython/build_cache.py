"""One build product in the cache, built once: the first worker builds it in a private folder
beside its place and renames the finished folder into place whole, under a lock; the others wait
and reuse it. A build that fails or is killed leaves nothing behind in its place."""
from __future__ import annotations

import fcntl
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def built_once(folder: Path, product: str, build: Callable[[Path], Path]) -> Path:
    """folder/product, made first by `build(work)` (a scratch folder; it returns the file it made)."""
    built = folder / product
    if built.is_file():
        return built
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.is_file():
            with tempfile.TemporaryDirectory(prefix=f".build-{folder.name}-", dir=folder.parent) as tmp:
                made = build(Path(tmp) / "work")
                staged = Path(tmp) / "done"
                staged.mkdir()
                shutil.copy(made, staged / product)
                staged.rename(folder)
    return built
