"""The package list for `pip install .`; everything else is in pyproject.toml.

templates/ and dataset/ stay at the repository root (the layout the project keeps) but are read at
run time, so they are installed inside helpers/ (helpers/core/paths.py looks there first). A find
directive in pyproject.toml cannot add such mapped folders to what it finds, hence this file.
"""
from setuptools import find_namespace_packages, setup

MAPPED = {"helpers.templates": "templates", "helpers.templates.multi_io": "templates/multi_io",
          "helpers.dataset": "dataset"}

# Namespace packages: some of helpers' folders (emit/, the C kernels, the QEMU harness) have no __init__.py.
setup(packages=find_namespace_packages(include=["helpers", "helpers.*"], exclude=["*.__pycache__"]) + list(MAPPED),
      package_dir=MAPPED)
