"""Does a variant run on TensorFlow Lite for Microcontrollers, in how much RAM, with which answers?

All TFLM work happens in `helpers.measure.tflm_worker` child processes (an arena that is too small
aborts the process). This module prepares their inputs and reads their answers.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.core.flatbuffer import TFLM_CUSTOM_OPS, TfliteInfo
from helpers.core.packing import cut
from helpers.core.tflm_ops import ops_without_kernel
from helpers.measure import tflm_worker
from helpers.workers import CONTEXT

GENEROUS_ARENA = 4 * 1024 * 1024
# The arena is measured on a 64-bit host, whose pointers are twice as wide as a Cortex-M's, so
# the host figure already over-counts TFLM's bookkeeping. Optimized kernels (CMSIS-NN) may ask
# for scratch buffers the reference kernels do not; 20% plus 1 KiB covers that.
ARENA_MARGIN_FRACTION = 0.20
ARENA_MARGIN_BYTES = 1024
WORKER_TIMEOUT_S = 600
# Workers fork from the run's forkserver (helpers/workers.py), which has numpy and tflite_micro
# imported: a check starts in milliseconds instead of the 0.3 s a fresh Python needs, and each one
# still runs in its own process, so a TFLM abort takes down only that check.


@dataclass(frozen=True)
class MicroCheck:
    """TFLM's verdict on one variant."""

    runnable: bool
    reason: str = ""
    outputs: np.ndarray | None = None
    arena_measured: int | None = None
    arena_recommended: int | None = None


def recommended_arena(measured: int) -> int:
    """Measured arena plus the documented margin, rounded up to 16 bytes."""
    with_margin = measured * (1 + ARENA_MARGIN_FRACTION) + ARENA_MARGIN_BYTES
    return int(math.ceil(with_margin / 16) * 16)


# What TFLM's messages mean for the user, checked in order against its stderr.
_KNOWN_REASONS = (
    ("Hybrid models are not supported", "TFLM has no hybrid kernels: dynamic-range weights must be dequantized at run time"),
    ("DEQUANTIZE", "TFLM cannot dequantize float16 weights"),
    ("Didn't find op for builtin opcode", "TFLM lacks a kernel for an op of this model"),
)


def _failure_reason(stderr: str, returncode: int) -> str:
    detail = _tflm_messages(stderr, returncode)
    for pattern, meaning in _KNOWN_REASONS:
        if pattern in stderr:
            return f"{meaning} ({detail})"
    return detail


def _tflm_messages(stderr: str, returncode: int) -> str:
    lines = []
    for line in stderr.splitlines():
        text = line.strip()
        if not text or line.startswith((" ", "\t")) or text.startswith(("Traceback", "File ", "^")):
            continue
        if text.startswith("RuntimeError:") and lines:
            continue
        lines.append(text.replace("tensorflow/lite/micro/kernels/", ""))
    if not lines:
        return f"the TFLM interpreter stopped (exit code {returncode})"
    unique = [line for line in dict.fromkeys(lines) if not line.startswith("RuntimeError")] or lines
    return "; ".join(unique[:2])[:300]


def static_reason(info: TfliteInfo) -> str | None:
    """Why TFLM cannot run the model, known from the flatbuffer alone (None: nothing known)."""
    foreign = [op for op in info.custom_ops if op not in TFLM_CUSTOM_OPS]
    if foreign:
        return f"custom ops {', '.join(foreign)} (e.g. TF Select) do not exist in TFLM"
    missing = ops_without_kernel(info.ops)
    if missing:
        return f"TFLM has no kernel for {', '.join(missing)}"
    return None


@dataclass(frozen=True)
class WorkerRun:
    """How a worker ended, what it printed, and the outputs it saved (if any)."""

    returncode: int
    stdout: str
    stderr: str
    outputs: np.ndarray | None = None


def save_rows(folder: Path, rows: np.ndarray, info: TfliteInfo | None) -> Path:
    """The rows for a worker: inputs.npy, or for a model with several inputs or outputs its packed
    rows cut per input, each in its dtype, as inputs.npz (tflm_worker.load_rows reads both)."""
    if info is None or not info.multi_io:
        np.save(folder / "inputs.npy", rows)
        return folder / "inputs.npy"
    tensors = info.input_tensors
    parts = cut(rows, [tuple(t.shape[1:]) for t in tensors])
    np.savez(folder / "inputs.npz", output_count=np.int64(len(info.output_tensors)),
             **{f"input_{i:02d}": part.astype(t.dtype) for i, (part, t) in enumerate(zip(parts, tensors))})
    return folder / "inputs.npz"


def _run_worker(command: str, content: bytes, rows: np.ndarray, *args: str,
                info: TfliteInfo | None = None) -> WorkerRun:
    """tflm_worker `COMMAND model.tflite inputs.npy [outputs.npy] ARGS...` in a forked worker
    and a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-tflm-") as tmp:
        folder = Path(tmp)
        (folder / "model.tflite").write_bytes(content)
        inputs = save_rows(folder, rows, info)
        outputs = folder / "outputs.npy"
        paths = [str(folder / "model.tflite"), str(inputs)]
        if command in ("check", "run"):
            paths.append(str(outputs))
        # daemon: a Ctrl-C in the pipeline ends the check too instead of waiting for it
        worker = CONTEXT.Process(target=tflm_worker.run_command, args=([command, *paths, *args], tmp), daemon=True)
        worker.start()
        worker.join(WORKER_TIMEOUT_S)
        if worker.is_alive():
            worker.kill()
            worker.join()
            return WorkerRun(returncode=-9, stdout="", stderr=f"TFLM did not finish within {WORKER_TIMEOUT_S} s")
        returncode = worker.exitcode if worker.exitcode is not None else -9
        stdout, stderr = ((folder / name).read_text(errors="replace") if (folder / name).is_file() else ""
                          for name in ("stdout.txt", "stderr.txt"))
        saved = np.load(outputs) if returncode == 0 and outputs.is_file() else None
        return WorkerRun(returncode=returncode, stdout=stdout, stderr=stderr, outputs=saved)


def run_in_tflm(content: bytes, rows: np.ndarray, arena: int = 1 << 16, info: TfliteInfo | None = None) -> np.ndarray:
    """Every row through TFLM's interpreter in a forked worker; TFLM's own message when it refuses.
    With `info`, a model with several inputs or outputs takes its packed rows, and a stateful one
    starts every row from zero state, as check_variant runs them. Where the forkserver cannot start
    (a TMPDIR too long for its socket's path), in a fresh `python -m helpers.measure.tflm_worker`
    instead: slower to start, same answer."""
    args = (str(arena), *(("reset",) if info is not None and info.stateful else ()))
    try:
        run = _run_worker("run", content, rows, *args, info=info)
    except OSError:
        run = _run_subprocess("run", content, rows, *args, info=info)
    if run.outputs is None:
        raise RuntimeError(_failure_reason(run.stderr, run.returncode))
    return run.outputs


def _run_subprocess(command: str, content: bytes, rows: np.ndarray, *args: str,
                    info: TfliteInfo | None = None) -> WorkerRun:
    """tflm_worker as its own process (no forkserver)."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-tflm-") as tmp:
        folder = Path(tmp)
        (folder / "model.tflite").write_bytes(content)
        inputs = save_rows(folder, rows, info)
        outputs = folder / "outputs.npy"
        paths = [str(folder / "model.tflite"), str(inputs), str(outputs)]
        root = Path(__file__).resolve().parents[2]
        done = subprocess.run([sys.executable, "-m", "helpers.measure.tflm_worker", command, *paths, *args],
                              cwd=root, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
        saved = np.load(outputs) if done.returncode == 0 and outputs.is_file() else None
        return WorkerRun(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr, outputs=saved)


def check_variant(content: bytes, info: TfliteInfo, quantized_inputs: np.ndarray) -> MicroCheck:
    """Run every row through TFLM and find the smallest arena, in a child process."""
    static = static_reason(info)
    if static:
        return MicroCheck(runnable=False, reason=static)
    reset = ("reset",) if info.stateful else ()  # state tensors start from zero for every row
    result = _run_worker("check", content, quantized_inputs, str(GENEROUS_ARENA), *reset, info=info)
    if result.returncode != 0:
        return MicroCheck(runnable=False, reason=_failure_reason(result.stderr, result.returncode))
    arena = _reported_arena(result.stdout)
    if arena is None or result.outputs is None:
        return MicroCheck(runnable=False, reason="the TFLM check ended without reporting its arena and outputs "
                          f"(stdout: {result.stdout.strip()[-120:] or 'empty'})")
    return MicroCheck(runnable=True, outputs=result.outputs, arena_measured=arena,
                      arena_recommended=recommended_arena(arena))


def _reported_arena(stdout: str) -> int | None:
    """The arena the worker printed as its last line, or None when it printed none."""
    lines = stdout.strip().splitlines()
    try:
        return int(json.loads(lines[-1])["arena"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def probe_arena(content: bytes, quantized_row: np.ndarray, arena: int) -> bool:
    """Whether the model runs one row with exactly this arena (used by tests)."""
    return _run_worker("probe", content, quantized_row[np.newaxis, ...], str(arena)).returncode == 0


def max_difference(tflm: np.ndarray, litert: np.ndarray) -> float:
    """Largest absolute difference in raw output units (quantized steps for integer outputs)."""
    return float(np.max(np.abs(tflm.astype(np.float64) - litert.astype(np.float64)))) if tflm.size else 0.0
