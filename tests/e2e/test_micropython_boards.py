"""The MicroPython engine on MicroPython's own 32-bit Cortex-M port (ports/qemu, Cortex-M3 and
Cortex-M4F under QEMU) and with the CMSIS-NN kernels module: on the shared digits and LSTM exports
(tests/e2e/conftest.py runs them with --micropython_dir), every engine path identical to TFLM on
every row it checked, no int8 path allocating anything, the native path (one call into the model's own
native module) close to TFLM + CMSIS-NN's count, the kernels module's path beside it, the modules
exported beside the engine, and the engine falling back when the module is absent."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers.micropython.board_check import SWITCH_BACK_TOLERANCE
from helpers.micropython.native_module import ARCHS
from helpers.micropython.runtime import find_micropython
from tests.conftest import require_tool

# The goal: the native engine within 1.5x of TFLM + CMSIS-NN's instructions per inference.
NATIVE_GOAL = 1.5
# On the worker that runs test_targets' shared exports: the other worker goes on with other tests
# instead of waiting on the export's lock.
pytestmark = pytest.mark.xdist_group("targets")


def _variants(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


def _check_int8_engine(export, variant, stem):
    report = json.loads((export / "report.json").read_text())
    firmware = _variants(export)[variant]["firmware"]
    engine = firmware["micropython"]
    assert engine["status"] == "pass" and engine["engine"] == "native", engine
    assert engine["native_ops"] >= 1 and engine["invoke_alloc_bytes"] == 0
    assert engine["us_per_inference"]["native"] < engine["us_per_inference"]["viper"]
    assert engine["boards_reason"] is None
    tflm_m4 = firmware["targets"]["cortex-m4"]["instructions_per_inference"]
    boards = {b["board"]: b for b in engine["boards"]}
    assert set(boards) == {"cortex-m3", "cortex-m4f"}
    for name, board in boards.items():
        assert board["status"] == "pass", board
        assert board["module_heap_bytes"] > 0 and board["kernels_mpy_bytes"] > 0
        # native: one call into the model's own native module (the C engine built for the board's
        # architecture with the exported <id>_native.mk); kernels: the kernels module, a call per layer
        model = export / variant / f"{stem}_native_{board['arch']}.mpy"
        assert board["native_module"] == model.stem and board["model_mpy_bytes"] == model.stat().st_size
        paths = {p["path"]: p for p in board["paths"]}
        assert list(paths) == ["native", "kernels", "viper", "plain"]
        for path in paths.values():
            assert path["rows"] >= 1 and path["mismatched_rows"] == 0, (name, path)
            # 32-bit clean: no path makes a big int (or any other object) per inference
            assert path["invoke_alloc_bytes"] == 0, (name, path)
            assert path["instructions_per_inference"] > 0
            assert path["ratio_to_tflm"] == round(path["instructions_per_inference"] / tflm_m4, 2)
        native = paths["native"]
        # every row fits the native path's budget; nothing is allocated per inference
        assert native["rows"] == report["evaluation_rows"] and native["invoke_alloc_bytes"] == 0
        # native again after viper and plain: as fast, within the board's timing noise (UART interrupts in
        # timed runs: 2.8% measured under load; board_check.SWITCH_BACK_TOLERANCE), nothing allocated
        again = board["switched_back"]
        assert again["path"] == "native" and again["rows"] == native["rows"] and again["mismatched_rows"] == 0
        assert again["invoke_alloc_bytes"] == 0 and board["compared_with"] == "cortex-m4"  # no M3 target: the M4's
        assert abs(again["instructions_per_inference"] - native["instructions_per_inference"]) \
            <= SWITCH_BACK_TOLERANCE * native["instructions_per_inference"]
        assert native["instructions_per_inference"] < paths["viper"]["instructions_per_inference"] \
            < paths["plain"]["instructions_per_inference"]
        assert paths["kernels"]["instructions_per_inference"] < paths["viper"]["instructions_per_inference"]
    assert boards["cortex-m4f"]["paths"][0]["ratio_to_tflm"] <= NATIVE_GOAL
    folder = export / variant
    for arch in ARCHS:
        module = folder / f"mcu_kernels_{arch}.mpy"
        assert module.read_bytes()[:1] == b"M", arch
    assert boards["cortex-m4f"]["kernels_mpy_bytes"] == (folder / "mcu_kernels_armv7emsp.mpy").stat().st_size
    assert boards["cortex-m3"]["kernels_mpy_bytes"] == (folder / "mcu_kernels_armv7m.mpy").stat().st_size
    markdown = (export / "report.md").read_text()
    assert "## On MicroPython's 32-bit bare-metal port" in markdown
    assert f"| `{variant}` | Cortex-M4F | native ({stem}_native_armv7emsp) | identical, {report['evaluation_rows']} / " \
        in markdown
    assert (folder / f"{stem}_native.c").is_file() and f"include $(MPY_DIR)/py/dynruntime.mk" in \
        (folder / f"{stem}_native.mk").read_text()
    _check_fallback(folder, stem)


def _check_fallback(folder, stem):
    """The engine imports the kernels module when it is beside it, else runs viper; both pass the
    self-test on TFLM's vectors."""
    require_tool("micropython")
    script = f"import {stem}_infer as m\nprint(m.ENGINE, m.self_test())"
    work = Path(tempfile.mkdtemp(prefix="mcu-deploy-fallback-")) / folder.name  # never inside the export
    shutil.copytree(folder, work)
    run = lambda: subprocess.run([find_micropython(), "-c", script], cwd=work, capture_output=True, text=True,  # noqa: E731
                                 timeout=120).stdout.split()
    assert run() == ["native", "True"]  # the unix port: no model module for x64, so the kernels module
    for module in work.glob("mcu_kernels_*.mpy"):
        module.unlink()
    assert run() == ["viper", "True"]
    shutil.rmtree(work.parent)


def test_digits_int8_engine_on_the_32_bit_port_and_with_the_kernels(digits_targets):
    _check_int8_engine(digits_targets, "int8", "digits_cnn")


def test_lstm_int8_engine_on_the_32_bit_port_and_with_the_kernels(lstm_targets):
    _check_int8_engine(lstm_targets, "int8", "co2_lstm")


def test_float_engines_run_their_portable_path_on_the_boards(digits_targets):
    engine = _variants(digits_targets)["float32"]["firmware"]["micropython"]
    assert engine["native_ops"] == 0 and engine["engine"] == "plain" and engine["kernels_mpy_bytes"] is None
    assert not list((digits_targets / "float32").glob("mcu_kernels_*.mpy"))
    assert not list((digits_targets / "float32").glob("*_native*"))  # no native path: no module of its own
    for board in engine["boards"]:
        assert board["status"] == "pass" and [p["path"] for p in board["paths"]] == ["plain"]
        # the budget bounds the rows: float32 plain code costs tens of millions of instructions a row
        assert 1 <= board["paths"][0]["rows"] < board["evaluation_rows"]
        assert "no native path" in board["reason"]
