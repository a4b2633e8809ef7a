"""Nothing left behind, nothing misattributed: a run killed during a cold library build, cached
objects truncated behind the tool's back, runs killed at several moments, and two runs sharing a
nearly cold cache. Each uses a cache of its own (host target: TFLM's reference kernels, about a minute
to build for the iris MLP on 2 cores)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, TFLM_DIR, require_tool

BUILT = re.compile(r"built (\d+) sources of TFLM's library for host")


def _command(model: Path, export: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "--input_dir", str(model), "--PTQ", "-q", "int8", "-e",
            "--export_dir", str(export), *extra]


def _host_run(model: Path, export: Path, cache: Path) -> subprocess.Popen:
    # each run's own precompiled headers, as a user's runs have them (not the session's kept ones)
    env = dict(os.environ, PYTHONHASHSEED="0", MCU_DEPLOY_CACHE=str(cache), MCU_DEPLOY_KEEP_PCH="0")
    return subprocess.Popen(_command(model, export, "--tflm_dir", str(TFLM_DIR), "--target", "host"), cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=1200)
    return process.returncode, stderr


def _objects(cache: Path) -> list[Path]:
    return [p for p in cache.glob("tflm/*/host/*/objects/*.o") if not p.name.endswith(".tmp.o")]


def _host_verdicts(export: Path) -> dict[str, tuple]:
    report = json.loads((export / "report.json").read_text())
    return {v["name"]: (v["firmware"]["targets"]["host"]["status"], v["firmware"]["targets"]["host"]["vectors"],
                        v["firmware"]["targets"]["host"]["vectors_matching"],
                        json.dumps(v["firmware"]["targets"]["host"]["metrics"], sort_keys=True))
            for v in report["variants"] if v["format"] == "tflite"}


def _require() -> None:
    for tool in ("tflm", "c++"):
        require_tool(tool)


def test_a_killed_cold_build_resumes_and_a_broken_cache_is_rebuilt_not_blamed_on_the_model(iris_dir, tmp_path):
    _require()
    cache = tmp_path / "cache"
    killed = _host_run(iris_dir, tmp_path / "run", cache)
    deadline = time.monotonic() + 600
    while len(_objects(cache)) < 8 and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)  # in the middle of compiling TFLM's library
    killed.wait()
    kept = len(_objects(cache))
    assert 8 <= kept

    # The same export resumed, and a second run at the same moment on the same nearly cold cache:
    # the two share the build (one cold build serves both checks, which halves this file's time).
    resumed, beside = _host_run(iris_dir, tmp_path / "run", cache), _host_run(iris_dir, tmp_path / "beside", cache)
    (code, stderr), (code_beside, stderr_beside) = _finish(resumed), _finish(beside)
    assert code == 0 and code_beside == 0, (stderr[-1500:], stderr_beside[-1500:])
    total = len(_objects(cache))
    compiled = sum(int(n) for n in BUILT.findall(stderr + stderr_beside))
    # only what was missing compiles, each object once by one of the two (an object renamed into
    # place in the instant before the kill recorded it may be compiled again: at most one per core)
    assert total - kept <= compiled <= total - kept + 2 and compiled < total, (kept, compiled, total)
    assert _host_verdicts(tmp_path / "run") == _host_verdicts(tmp_path / "beside")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beside", "cache", "run"]  # the killed run's staging is gone
    assert not list(cache.glob("tflm/*/*/*/pch/*"))  # nor any run's precompiled headers (hundreds of MB)

    code, stderr = _finish(_host_run(iris_dir, tmp_path / "clean", cache))
    assert code == 0 and not BUILT.search(stderr)  # a warm cache compiles nothing
    clean = _host_verdicts(tmp_path / "clean")
    assert _host_verdicts(tmp_path / "run") == clean
    assert all(verdict[0] == "pass" for verdict in clean.values())

    # Truncate three cached objects, as a disk fault or an interrupted copy would leave them.
    broken = sorted(_objects(cache))[:3]
    for path in broken:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, stderr = _finish(_host_run(iris_dir, tmp_path / "repaired", cache))
    assert code == 0, stderr[-2000:]
    named = re.search(r"(\d+) cached TFLM objects for host failed their check.*?: (.*)", stderr)
    assert named and int(named.group(1)) == 3, stderr[-2000:]
    for path in broken:
        stem = path.name.rsplit("__", 1)[-1].removesuffix(".o")
        assert stem in named.group(2)
    assert sum(int(n) for n in BUILT.findall(stderr)) <= 3  # those alone, where a link needs them
    assert _host_verdicts(tmp_path / "repaired") == clean

    # A broken toolchain: the compiler crashes. The tool's own build failed, so nothing is said
    # about the model: `not built`, the firmware stays, exit 4.
    compiler = tmp_path / "broken-g++"
    compiler.write_text("#!/bin/sh\necho 'internal compiler error: Segmentation fault' >&2\nexit 1\n")
    compiler.chmod(0o755)
    recipe_path = next(cache.glob("tflm/*/host/recipe.json"))
    recipe = json.loads(recipe_path.read_text())
    recipe.update(cxx=str(compiler), cc=str(compiler))
    recipe_path.write_text(json.dumps(recipe))
    code, stderr = _finish(_host_run(iris_dir, tmp_path / "broken", cache))
    assert code == 4, stderr[-2000:]
    assert "could not be built on host (the tool's own build, not the model" in stderr
    report = json.loads((tmp_path / "broken" / "report.json").read_text())
    int8 = next(v for v in report["variants"] if v["name"] == "int8")
    assert int8["firmware"]["targets"]["host"]["status"] == "not_built"
    assert "internal compiler error" in int8["firmware"]["targets"]["host"]["message"]
    assert int8["firmware"]["tflm_runnable"] is True
    assert (tmp_path / "broken" / "int8" / "main.cc").is_file() and not (tmp_path / "broken" / "int8" /
                                                                        "NOT_FOR_MCU.md").exists()


def test_runs_killed_at_several_moments_leave_nothing_after_the_next_run(iris_dir, tmp_path):
    export = tmp_path / "out"
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = _command(iris_dir, export, "--skip_firmware_checks")
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=600, check=True)
    before = (export / "report.json").read_text()
    for moment in ("staging", "variant", "late"):
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            staging = list(tmp_path.glob(".out.partial-*"))
            if moment == "staging" and staging:
                break
            if moment == "variant" and staging and list(staging[0].glob("*/model.tflite")):
                break
            if moment == "late" and staging and list(staging[0].glob("int8/*_infer.py")):
                break
            time.sleep(0.05)
        if process.poll() is not None:  # it finished before that moment came: its export is the new one
            before = (export / "report.json").read_text()
            continue
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        after = (export / "report.json").read_text()
        if after != before:
            # "late" is the last file before the run publishes: it may have published in the instant
            # before the kill. Then the export is the new one, and whole: every variant it lists is there.
            assert moment == "late"
            listed = [v["name"] for v in json.loads(after)["variants"] if v.get("path")]
            assert listed and all((export / name / "model.tflite").is_file() for name in listed)
            before = after
        assert (export / "report.json").read_text() == before  # the export stayed whole
        if moment != "late":
            assert list(tmp_path.glob(".out.partial-*"))  # the killed run left its staging behind
    # (each killed run already removed the one before it; the next run removes what the last one left)
    left = sorted(p.name for p in tmp_path.glob(".out.partial-*"))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    if left:
        assert f"removed what killed runs left beside the export: {', '.join(left)}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
