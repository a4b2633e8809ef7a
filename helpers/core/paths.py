"""Where the tool's own folders are: the one place that computes them.

Two layouts. In a checkout, templates/ and dataset/ sit beside helpers/ at the repository root.
`pip install .` puts them inside the installed helpers/ package instead (pyproject.toml maps
them there as package data), because site-packages has no "repository root" to put them beside.
"""
from __future__ import annotations

from pathlib import Path

HELPERS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = HELPERS_DIR.parent  # a checkout's root; site-packages for an installed copy
INSTALLED = (HELPERS_DIR / "templates").is_dir()  # a checkout never has helpers/templates/
_DATA_ROOT = HELPERS_DIR if INSTALLED else REPO_ROOT
MAIN_SCRIPT = REPO_ROOT / "main.py"  # installed as a top-level module too (py-modules), so the sweep finds it
TEMPLATE_DIR = _DATA_ROOT / "templates"
SHARED_DATASET_DIR = _DATA_ROOT / "dataset"
# An installed tool must not write into site-packages: its default export goes under the working directory.
DEFAULT_EXPORT_ROOT = Path.cwd() / "export" if INSTALLED else REPO_ROOT / "export"
