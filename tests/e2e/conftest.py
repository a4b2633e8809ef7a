"""End-to-end tests call the converter in this process too (test_evaluate, the debugger tests):
its children fork from a zygote that must start before the fixtures run any TensorFlow op."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from helpers.convert import zygote
from helpers.frontend.tf_runtime import tf  # noqa: F401  (TensorFlow imported, no op run yet)
from tests.conftest import ALL_TARGETS, MICROPYTHON_DIR, ROOT, TFLM_DIR, require_tool, run_main

zygote.start()

def _require_targets() -> None:
    for tool in ("tflm", "c++", "arm-none-eabi-gcc", "qemu-system-arm", "micropython-tree"):
        require_tool(tool)


def _shared_export(tmp_path_factory, name: str, *args: str) -> Path:
    """One run per test session, shared by both pytest-xdist workers: the first to get here runs
    it under a lock, the other waits and reads the same export (whichever worker pytest sends
    these tests to, the run and the library build happen once). The run records every file it
    writes in <export>.writes (tests/count_writes.py). It also takes the MicroPython engines to
    MicroPython's own 32-bit port (--micropython_dir: tests/e2e/test_micropython_boards.py)."""
    _require_targets()
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "targets-shared"
    shared.mkdir(parents=True, exist_ok=True)
    export = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (export / "report.json").is_file():
            writes = shared / f"{name}.writes"
            writes.unlink(missing_ok=True)
            result = run_main(*args, "-e", "--export_dir", str(export), "--tflm_dir", str(TFLM_DIR),
                              "--target", ALL_TARGETS, "--micropython_dir", str(MICROPYTHON_DIR), timeout=2400,
                              script=ROOT / "tests" / "count_writes.py",
                              script_args=(str(writes),))
            # the run's progress lines, each stage's seconds included: where this fixture's time goes
            (shared / f"{name}.log").write_text(result.stderr, encoding="utf-8")
            assert result.returncode == 0, result.stderr[-2000:]
    return export


@pytest.fixture(scope="session")
def digits_targets(tmp_path_factory) -> Path:
    """The shipped digits CNN, self-test on all three targets, every C engine packaged for every
    build system (tests/e2e/test_packages.py). The quantizations the target tests read: float32
    (always built), int8, integer_with_float_fallback and int16x8. dynamic_range and float16 are
    left to the zoo's `-q all` runs, which convert and evaluate them: here no target ran them and no
    test read them, yet they cost their conversions and MicroPython runs in the suite's longest run."""
    return _shared_export(tmp_path_factory, "digits", "--input_dir", str(ROOT / "models/digits_cnn"),
                          "--PTQ", "-q", "int8,integer_with_float_fallback,int16x8", "--package", "all")


@pytest.fixture(scope="session")
def lstm_targets(tmp_path_factory) -> Path:
    """The shipped LSTM (int8 with int16 state, and float32) on all three targets."""
    # --max_drop 10: the shipped LSTM's int8 loses 6.6% MAE (docs/output.md, "Recurrent models")
    return _shared_export(tmp_path_factory, "co2", "--input_dir", str(ROOT / "models/co2_lstm"), "--PTQ",
                          "-q", "int8", "--max_drop", "10")
