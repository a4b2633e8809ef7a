"""`pip install .` gives a working `mcu-deploy` command (issue 39, item 1).

The package is really built and installed (setuptools, into a fresh virtual environment) and its
console script runs from a folder outside the repository, so a run-time file that pyproject.toml
or setup.py fails to ship (a template, a shared CSV, a C kernel) fails this test. To stay cheap the
dependencies are not installed again: the new environment sees this interpreter's site-packages
through a .pth file (a venv made with --system-site-packages would see the base Python's, which
has no TensorFlow), and `pip install --no-deps --no-build-isolation` uses the setuptools here.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.xdist_group("install")  # both tests on one worker: one install, not two

# What the build does not read: copying the rest keeps pip's in-tree build out of the checkout.
NOT_BUILT_FROM = (".git", ".venv", "export", "tests", "bench", "node_modules", "__pycache__", "build",
                  "*.egg-info", ".pytest_cache", ".hypothesis")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with mcu-deploy pip-installed from a copy of the checkout; its bin/."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_BUILT_FROM))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # addsitedir (not a bare path line) so this environment's own .pth files are processed too
    lines = [f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages()]
    (Path(purelib) / "mcu_deploy_test_deps.pth").write_text("".join(lines))
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                           "--no-build-isolation", "--no-index", str(source)],
                          capture_output=True, text=True, cwd=base, env=_clean_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


def _clean_env() -> dict[str, str]:
    """This environment without anything that would put the checkout on the import path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME")}


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "mcu-deploy"), *args], capture_output=True, text=True, cwd=cwd,
                          env=_clean_env(), timeout=600)


def test_installed_command_prints_help(installed, tmp_path):
    result = _run(installed, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mcu-deploy"), result.stdout[:200]
    assert "--input_dir" in result.stdout
    # the commands it suggests are ones this user can type (no main.py outside a checkout)
    assert "`mcu-deploy fetch --tflm --micropython`" in result.stdout and "python main.py" not in result.stdout


def test_installed_command_exports_the_shipped_cnn(installed, tmp_path):
    """The issue's command from outside the checkout: templates, C kernels, the MicroPython device
    code (all read by -e) and the shared dataset/ (digits_cnn's specs name dataset/digits.csv) must
    come from the installed package."""
    imports = "import helpers, main; print(helpers.__file__, main.__file__)"
    where = subprocess.run([str(installed / "python"), "-c", imports], capture_output=True, text=True, cwd=tmp_path,
                           env=_clean_env(), check=True).stdout
    assert str(ROOT) not in where and str(installed.parent) in where, where  # the installed copy runs
    export = tmp_path / "export"
    result = _run(installed, tmp_path, "--input_dir", str(ROOT / "models" / "digits_cnn"), "--PTQ", "-q", "int8",
                  "-e", "--skip_firmware_checks", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    variants = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}
    assert variants["int8"]["metrics"]["accuracy"] > 0.9
    files = {p.name for p in (export / "int8").iterdir()}
    for name in ("model.tflite", "digits_cnn_model_data.c", "digits_cnn_engine.c", "digits_cnn_infer.py",
                 "digits_cnn_op_resolver.h"):
        assert name in files, sorted(files)


def _files(folder: Path, prefix: str) -> set[str]:
    return {f"{prefix}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_every_run_time_file_of_the_checkout_is_installed(installed):
    """What one run reads is only part of it (the QEMU harness, the native module's C source are
    read with a TFLM tree): every file of helpers/, templates/ and dataset/ must be in the package."""
    site_packages = next((installed.parent / "lib").glob("python3*/site-packages"))
    expected = (_files(ROOT / "helpers", "helpers") | _files(ROOT / "templates", "helpers/templates")
                | _files(ROOT / "dataset", "helpers/dataset"))
    missing = expected - _files(site_packages / "helpers", "helpers")
    assert not missing, sorted(missing)
    assert (site_packages / "main.py").is_file()
