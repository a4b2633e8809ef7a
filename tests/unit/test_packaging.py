"""pyproject.toml pins what requirements*.txt pin: scripts/test.sh and CI install from those files,
`pip install .` from pyproject.toml, and the two must install the same versions."""
from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def _pins(name: str) -> set[str]:
    """A requirements file's pins, without comments or `-r` includes."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text(encoding="utf-8").splitlines())
    return {re.sub(r"\s+", "", line) for line in lines if line and not line.startswith("-")}


def test_pyproject_pins_what_the_requirements_files_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert set(project["dependencies"]) == _pins("requirements.txt")
    extras = project["optional-dependencies"]
    assert set(extras["torch"]) == _pins("requirements-torch.txt")
    assert set(extras["dev"]) == _pins("requirements-dev.txt")


def test_console_command_is_mains_cli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"] == {"mcu-deploy": "main:cli"}
    import main

    assert main.cli.__doc__ and callable(main.main)
