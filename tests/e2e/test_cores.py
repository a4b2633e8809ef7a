"""The cores added after the Cortex-M4 and M0+ (Cortex-M33, Cortex-M7, Cortex-M55 with MVE, RV32)
on one model: the shipped digits CNN, int8. One run per test session, shared by the pytest
workers under a lock; each core's library is compiled once into the session's cache (only the
sources the self-tests link), so a new core costs one link-driven build per test run, not one
per test. The same run takes the MicroPython engine to MicroPython's own port for the Cortex-M55
and RV32 boards (each port and kernels module built once into the cache)."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from tests.conftest import MICROPYTHON_DIR, NEW_CORES, ROOT, TFLM_DIR, require_tool, run_main

# A group of its own: its four cores' libraries and MicroPython boards share nothing with the
# "targets" group's Cortex-M4/M0+ builds, so the other worker takes it while those run (the
# "targets" worker was the suite's critical path: 49 of its 55 minutes).
pytestmark = pytest.mark.xdist_group("cores")
# MicroPython's qemu port boards for the new cores (helpers/micropython/qemu_port.py).
NEW_BOARDS = ("cortex-m55", "riscv32")


@pytest.fixture(scope="session")
def cores_export(tmp_path_factory) -> Path:
    for tool in ("tflm", "arm-none-eabi-gcc", "qemu-system-arm", "riscv64-unknown-elf-gcc", "qemu-system-riscv32",
                 "micropython-tree"):
        require_tool(tool)
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "targets-shared"
    shared.mkdir(parents=True, exist_ok=True)
    export = shared / "cores"
    with open(shared / "cores.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (export / "report.json").is_file():
            result = run_main("--input_dir", str(ROOT / "models/digits_cnn"), "--PTQ", "-q", "int8", "-e",
                              "--export_dir", str(export), "--tflm_dir", str(TFLM_DIR), "--target", NEW_CORES,
                              "--micropython_dir", str(MICROPYTHON_DIR), "--micropython_boards", ",".join(NEW_BOARDS),
                              timeout=3600)
            assert result.returncode == 0, result.stderr[-2000:]
    return export


@pytest.mark.parametrize("core", NEW_CORES.split(","))
def test_tflm_and_the_c_engine_pass_identically_on_each_new_core(cores_export, core):
    report = json.loads((cores_export / "report.json").read_text())
    firmware = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]
    tflm, engine = firmware["targets"][core], firmware["c_engine"]["targets"][core]
    assert tflm["status"] == "pass" and engine["status"] == "pass", (tflm.get("message"), engine.get("message"))
    assert tflm["kernels"] == ("reference" if core == "riscv32" else "cmsis_nn")
    assert engine["identical_to_tflm"] is True and engine["outputs_digest"] == tflm["outputs_digest"]
    assert engine["vectors"] == engine["vectors_matching"] == tflm["vectors"] == 360
    for result in (tflm, engine):
        assert result["flash_bytes"] > 0 and result["ram_bytes"] > 0
        assert 10_000 < result["instructions_per_inference"] < 10_000_000
    assert "tflm_runtime" not in engine["flash_breakdown"]


def test_the_engine_make_and_cmake_files_name_each_cores_flags(cores_export):
    folder = cores_export / "int8"
    make = next(folder.glob("*_engine.mk")).read_text()
    cmake = next(folder.glob("*_engine.cmake")).read_text()
    for flags in ("-mcpu=cortex-m33", "-mcpu=cortex-m7", "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard",
                  "-march=rv32imc -mabi=ilp32"):
        assert flags in make and flags in cmake


@pytest.mark.parametrize("board", NEW_BOARDS)
def test_the_micropython_engine_on_each_new_cores_port(cores_export, board):
    """Every engine path (native: the model's own native module; kernels: the board's kernels module;
    viper, plain) identical to TFLM on
    every row it ran, nothing allocated per run, and the paths in their order of speed."""
    report = json.loads((cores_export / "report.json").read_text())
    engine = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["micropython"]
    boards = {b["board"]: b for b in engine["boards"]}
    assert set(boards) == set(NEW_BOARDS)
    run = boards[board]
    assert run["status"] == "pass" and run["reason"] is None, run
    assert run["arch"] == {"cortex-m55": "armv7emdp", "riscv32": "rv32imc"}[board]
    assert run["kernels_mpy_bytes"] == (cores_export / "int8" / f"mcu_kernels_{run['arch']}.mpy").stat().st_size
    # native: one call into the model's own native module, built for the board's architecture
    model = next((cores_export / "int8").glob(f"*_native_{run['arch']}.mpy"))
    assert run["native_module"] == model.stem and run["model_mpy_bytes"] == model.stat().st_size
    paths = {p["path"]: p for p in run["paths"]}
    assert list(paths) == ["native", "kernels", "viper", "plain"]
    for path in paths.values():
        assert path["rows"] >= 1 and path["mismatched_rows"] == 0, path
        assert path["invoke_alloc_bytes"] == 0, path
    assert paths["native"]["rows"] == report["evaluation_rows"]
    assert paths["native"]["instructions_per_inference"] < paths["viper"]["instructions_per_inference"] \
        < paths["plain"]["instructions_per_inference"]
    assert f"| `int8` | {run['core']} | native ({model.stem}) | identical, {report['evaluation_rows']} / " in \
        (cores_export / "report.md").read_text()
    # the ratio divides by TFLM's count on the board's own core (the run had that target), not the M4's
    tflm = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["targets"][board]
    assert run["compared_with"] == board
    assert paths["native"]["ratio_to_tflm"] == round(paths["native"]["instructions_per_inference"]
                                                      / tflm["instructions_per_inference"], 2)
    assert run["switched_back"]["invoke_alloc_bytes"] == 0 and run["switched_back"]["mismatched_rows"] == 0
