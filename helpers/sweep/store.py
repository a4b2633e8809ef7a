"""Finished combinations, one JSON file each, in the sweep's own folder beside the export: written
the moment a result arrives (atomically), read back by a rerun so nothing finished runs again."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from helpers.sweep.grid import Combination


class ResultStore:
    """`<export parent>/.<export name>.sweep/<key>.json`: kept across runs (delete it to start over)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def beside(cls, export_dir: Path) -> "ResultStore":
        return cls(export_dir.parent / f".{export_dir.name}.sweep")

    def has(self, key: str) -> bool:
        return (self.folder / f"{key}.json").is_file()

    def save(self, key: str, combination: Combination, row: dict[str, Any]) -> None:
        path = self.folder / f"{key}.json"
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"combination": asdict(combination), "row": row}, indent=1) + "\n")
        temporary.replace(path)

    def load(self, key: str) -> dict[str, Any]:
        return json.loads((self.folder / f"{key}.json").read_text())["row"]


def task_key(model_dir: Path, combination: Combination, extra_flags: tuple[str, ...]) -> str:
    """Changes when the model directory's files, the combination or the shared flags change."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    digest.update(json.dumps([asdict(combination), list(extra_flags)]).encode())
    return digest.hexdigest()[:16]
