"""Run TensorFlow's converter where a crash cannot take the run down: a forked child process.

The converter and its calibrator are C++ and can die of a signal (a GRU's int8 calibration
segfaults in TensorFlow 2.21). In a child forked from the loaded pipeline the conversion sees
everything already in memory (the model, the rows) at the cost of a fork; a crash ends only the
child, and the variant becomes a failed row with the signal's name. What the converter leaks per
call also goes with the child.
"""
from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Callable

CONVERSION_TIMEOUT_S = 1800


class ConverterCrashed(Exception):
    """The child died of a signal, or did not finish in time."""


class ConverterFailed(Exception):
    """The converter raised an exception; its message is kept for the user."""


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def run_forked(work: Callable[[], bytes], timeout_s: float = CONVERSION_TIMEOUT_S) -> bytes:
    """work() in a forked child; its bytes, or ConverterFailed / ConverterCrashed."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-convert-") as tmp:
        result, error = Path(tmp) / "model.tflite", Path(tmp) / "error.txt"
        pid = os.fork()
        if pid == 0:  # the child: never returns, never runs the parent's exit handlers
            code = 0
            try:
                result.write_bytes(work())
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
                error.write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8", errors="replace")
                code = 3
            os._exit(code)
        status = _wait(pid, timeout_s)
        if status is None:
            raise ConverterCrashed(f"did not finish within {timeout_s:.0f} s")
        if os.WIFSIGNALED(status):
            raise ConverterCrashed(f"crashed with {_signal_name(os.WTERMSIG(status))}")
        if os.WEXITSTATUS(status) != 0 or not result.is_file():
            raise ConverterFailed(error.read_text(encoding="utf-8") if error.is_file() else
                                  f"the conversion process ended with exit code {os.WEXITSTATUS(status)}")
        return result.read_bytes()


def _wait(pid: int, timeout_s: float) -> int | None:
    """The child's wait status, or None after killing it at the timeout."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
