"""Where the repository's own folders are: the one place that computes the repository root."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_SCRIPT = REPO_ROOT / "main.py"
TEMPLATE_DIR = REPO_ROOT / "templates"
SHARED_DATASET_DIR = REPO_ROOT / "dataset"
DEFAULT_EXPORT_ROOT = REPO_ROOT / "export"
