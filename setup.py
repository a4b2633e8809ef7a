"""The package list for `pip install .`; everything else is in pyproject.toml.

templates/ and dataset/ stay at the repository root (the layout the project keeps) but are read at
run time, so they are installed inside helpers/ (helpers/core/paths.py looks there first). A find
directive in pyproject.toml cannot add such mapped folders to what it finds, hence this file.
"""
from pathlib import Path

from setuptools import find_namespace_packages, setup

SHIPPED_FOLDERS = ("templates", "dataset")  # top-level folders read at run time


def _mapped(folder: str) -> dict[str, str]:
    """helpers.<folder> and each of its subfolders (templates/multi_io/, ...) as a package read from <folder>."""
    root = Path(folder)
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__")]
    return {"helpers." + ".".join(f.parts): f.as_posix() for f in folders}


MAPPED = {name: path for folder in SHIPPED_FOLDERS for name, path in _mapped(folder).items()}

# Namespace packages: some of helpers' folders (emit/, the C kernels, the QEMU harness) have no __init__.py.
setup(packages=find_namespace_packages(include=["helpers", "helpers.*"], exclude=["*.__pycache__"]) + list(MAPPED),
      package_dir=MAPPED)
