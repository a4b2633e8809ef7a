"""`python main.py fetch` and `--tflm_dir auto`, offline: the pinned trees fetched from a local git
mirror made of the shared trees (tests/fetch_mirror.py), checked file for file against them."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.config import parse_args
from helpers.errors import FetchError
from helpers.fetch.digest import component_files, file_digest
from helpers.fetch.fetch import PARTIAL, ensure_tree
from helpers.fetch.pins import GENERATED, MICROPYTHON, TFLM, TREES
from helpers.targets.tree import find_tree
from tests.conftest import MICROPYTHON_DIR, ROOT, TFLM_DIR, require_tool
from tests.fetch_mirror import altered_copy, make_mirror

SHARED = {"tflm": TFLM_DIR, "micropython": MICROPYTHON_DIR}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    require_tool("tflm")
    require_tool("micropython-tree")
    folder = tmp_path_factory.mktemp("mirror")
    make_mirror(TFLM, TFLM_DIR, folder)
    make_mirror(MICROPYTHON, MICROPYTHON_DIR, folder)
    return folder


def _fetch(*args: str, mirror: Path, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MCU_DEPLOY_MIRROR=str(mirror), MCU_DEPLOY_CACHE=str(cache))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=600)


def _files(root: Path) -> dict[str, str]:
    return {name: file_digest(root / name) for name in component_files(root, (GENERATED,))}


@pytest.fixture(scope="module")
def fetched(mirror, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    cache = tmp_path_factory.mktemp("cache")
    return cache, _fetch("fetch", "--tflm", "--micropython", mirror=mirror, cache=cache)


def test_pins_are_the_revisions_the_shared_trees_name():
    require_tool("tflm")
    require_tool("micropython-tree")
    for name, tree in TREES.items():
        table = (SHARED[name] / "PINNED.md").read_text(encoding="utf-8")
        for component in tree.components:
            assert component.revision in table, component.name


def test_fetch_writes_the_trees_the_tests_prove_against(fetched):
    cache, result = fetched
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert [p.parent for p in paths] == [cache / "trees"] * 2 and all(p.is_dir() for p in paths)
    for name, path in zip(("tflm", "micropython"), paths):
        assert _files(path) == _files(SHARED[name]), name    # every file, byte for byte
    tree = find_tree(paths[0])
    assert tree is not None and tree.revision == TFLM.components[0].revision and tree.has_cmsis_nn
    said = [line.split(" from ")[0] for line in result.stderr.splitlines() if line.startswith("fetching")]
    assert said == [f"fetching {c.name} {c.revision[:12]}" for c in TFLM.components + MICROPYTHON.components]

    again = _fetch("fetch", "--tflm", "--micropython", mirror=Path("/nonexistent"), cache=cache)
    assert again.returncode == 0 and again.stdout == result.stdout   # verified in the cache: no network needed


def test_auto_takes_the_cached_trees(fetched, monkeypatch):
    cache, result = fetched
    monkeypatch.setenv("MCU_DEPLOY_CACHE", str(cache))
    monkeypatch.setenv("MCU_DEPLOY_MIRROR", "/nonexistent")
    config = parse_args(["--input_dir", "models/digits_cnn", "--tflm_dir", "auto", "--micropython_dir", "auto"])
    assert [str(config.tflm_dir), str(config.micropython_dir)] == result.stdout.splitlines()


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("fetching")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_mirror_with_other_content_is_refused(mirror, tmp_path):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    altered_copy(mirror / "micropython.git", bad / "micropython.git", MICROPYTHON.components[0], "py/obj.c")
    cache = tmp_path / "cache"
    line = _one_error_line(_fetch("fetch", "--micropython", mirror=bad, cache=cache))
    assert re.match(r"error: micropython from file://\S+ \(refs/tags/pinned/\w+\) is not the pinned content", line)
    assert "faithful mirror" in line
    assert [p.name for p in (cache / "trees").iterdir()] == [f".{MICROPYTHON.folder_name()}.lock"]  # nothing to take


def test_without_the_network_auto_says_what_to_do(tmp_path):
    """The README's first command has --tflm_dir auto: where the tree cannot be fetched, the run
    still converts, evaluates and exports, and says in a warning and in the report that no
    firmware was built and why; a run that named a target is refused in one line instead."""
    export = tmp_path / "export"
    result = _fetch("--input_dir", "models/digits_cnn", "--PTQ", "-q", "int8", "-e", "--export_dir", str(export),
                    "--tflm_dir", "auto", mirror=tmp_path / "nowhere", cache=tmp_path / "cache")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning: the firmware was not"))
    assert "the pinned TFLM tree could not be fetched (cannot fetch tflite-micro " \
           "90b983c2b3f1480642e040bbd2ddb37b998f3424 from file://" in warning
    assert "run `python main.py fetch --tflm` again, or pass --tflm_dir DIR" in warning
    report = json.loads((export / "report.json").read_text())
    assert [n for n in report["notices"] if n.startswith("the firmware was not built")] == [warning[len("warning: "):]]
    int8 = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]
    assert not int8["targets"] and int8["c_engine"]["status"] == "not_checked"
    assert not (tmp_path / "cache" / "tflm").exists()  # nothing was built, nothing half-fetched kept

    line = _one_error_line(_fetch("--input_dir", "models/digits_cnn", "--tflm_dir", "auto", "--target", "cortex-m4",
                                  mirror=tmp_path / "nowhere", cache=tmp_path / "cache"))
    assert line.startswith("error: cannot fetch tflite-micro 90b983c2b3f1480642e040bbd2ddb37b998f3424 from file://")
    assert "fetch needs to know which tree" in _one_error_line(_fetch("fetch", mirror=tmp_path, cache=tmp_path))


def test_a_killed_fetch_leaves_nothing_auto_would_take(mirror, tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, MCU_DEPLOY_MIRROR=str(mirror), MCU_DEPLOY_CACHE=str(cache))
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "fetch", "--tflm"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120   # killed while tflite-micro is being checked out
    while not list((cache / "trees").glob(f"{PARTIAL}*/tree/tensorflow")) and time.monotonic() < deadline:
        time.sleep(0.02)
    # the whole process group, as a killed terminal or a CI timeout kills it: a git checkout left
    # running would keep writing into the partial folder after the next fetch removed it
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    leftovers = list((cache / "trees").glob(f"{PARTIAL}*"))
    assert leftovers and not (cache / "trees" / TFLM.folder_name()).exists()   # half a tree, not under its name

    # The next fetch (here one that cannot reach its mirror: the full fetch is tested above) deletes it.
    with pytest.raises(FetchError, match="cannot fetch tflite-micro"):
        ensure_tree("tflm", cache_root=cache, mirror=str(tmp_path / "nowhere"))
    assert not any(p.exists() for p in leftovers) and not (cache / "trees" / TFLM.folder_name()).exists()


def test_an_edited_cached_tree_is_fetched_again(mirror, tmp_path):
    path = ensure_tree("micropython", cache_root=tmp_path, mirror=str(mirror))
    edited = path / "py" / "obj.c"
    original = edited.read_bytes()
    edited.write_bytes(b"/* edited */\n" + original)
    assert ensure_tree("micropython", cache_root=tmp_path, mirror=str(mirror)) == path
    assert edited.read_bytes() == original
