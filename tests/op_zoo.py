"""The op zoo's shared parts, without TensorFlow: the cases in tests/golden/ops (made by
scripts/make_op_zoo.py), the inputs every engine is given, the PENDING list, and TFLM's outputs,
computed in a child process (`python -m tests.op_zoo FOLDER`), each case in a fork of it, because a
TFLM kernel that refuses a model aborts the process it runs in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "tests" / "golden" / "ops"
PENDING = ZOO_DIR / "PENDING.txt"
ROWS = 8
# TFLM's arena for every case: the zoo's models need a few KiB; a generous one costs nothing.
ARENA = 256 * 1024
TFLM_TIMEOUT_S = 300
_INTEGER_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}


@dataclass(frozen=True)
class ZooCase:
    """One zoo model: `<case>_<type>`, its flatbuffer, and case.json (op, type, float input range)."""

    name: str
    content: bytes
    meta: dict[str, Any]


def zoo_cases() -> list[ZooCase]:
    """Every case in tests/golden/ops, by name."""
    folders = sorted(p for p in ZOO_DIR.iterdir() if (p / "model.tflite").is_file()) if ZOO_DIR.is_dir() else []
    return [ZooCase(name=p.name, content=(p / "model.tflite").read_bytes(),
                    meta=json.loads((p / "case.json").read_text(encoding="utf-8"))) for p in folders]


def read_pending() -> dict[str, str]:
    """PENDING.txt: the cases the engines do not lower yet, each with the reason the lowering gave."""
    if not PENDING.is_file():
        return {}
    entries = (line.split("#", 1) for line in PENDING.read_text(encoding="utf-8").splitlines())
    return {parts[0].strip(): (parts[1].strip() if len(parts) > 1 else "") for parts in entries if parts[0].strip()}


def write_pending(reasons: dict[str, str]) -> None:
    """Rewrite PENDING.txt from the lowering's reasons (scripts/make_op_zoo.py)."""
    header = ("# Zoo cases the engines do not lower yet, with the lowering's reason. The list only shrinks:\n"
              "# tests/unit/test_op_zoo.py fails on a case listed here that lowers (remove it then, or\n"
              "# rewrite the list with `python scripts/make_op_zoo.py --pending`).\n")
    width = max((len(name) for name in reasons), default=0)
    lines = [f"{name.ljust(width)}  # {reasons[name]}" for name in sorted(reasons)]
    PENDING.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")


def input_rows(case: ZooCase) -> np.ndarray:
    """ROWS inputs in the model's input type, seeded by the case's name: for integer inputs the
    zero point everywhere, both ends of the range everywhere (saturation), then uniform draws over
    the whole range; for float inputs halves and integers (ROUND, FLOOR, CEIL, comparisons), then
    uniform draws a quarter beyond the calibrated range (positive-only ops stay positive)."""
    from helpers.core.flatbuffer import inspect_tflite

    info = inspect_tflite(case.content).input
    shape = (ROWS, *info.shape[1:])
    rng = np.random.default_rng(sum(case.name.encode()) * 7919 + len(case.name))
    if info.dtype in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[info.dtype]
        low = integer_floor(case, info.dtype, info.zero_point)
        rows = rng.integers(low, high + 1, size=shape)
        rows[0], rows[1], rows[2] = max(info.zero_point, low), low, high
        rows[3].flat[::2] = max(info.zero_point, low)  # zero points among other values
        return rows.astype(info.dtype)
    low, high = float(case.meta["low"]), float(case.meta["high"])
    span = high - low
    wide_low = low if low >= 0 else low - span / 4
    rows = rng.uniform(wide_low, high + span / 4, size=shape)
    halves = np.arange(rows[0].size) * 0.5 + np.ceil(wide_low * 2) / 2
    rows[0] = np.clip(halves, wide_low, high + span / 4).reshape(rows[0].shape)
    rows[1] = np.round(rows[1])
    if low < 0 < high:
        rows[2].flat[::3] = 0.0
    return rows.astype(info.dtype)


def integer_floor(case: ZooCase, dtype: str, zero_point: int) -> int:
    """The smallest integer input: the type's, or for an op defined on positive reals only (TFLM's
    int16 RSQRT stops on a negative one) the zero point, or one above it for strictly positive."""
    low = float(case.meta["low"])
    if low < 0:
        return _INTEGER_RANGES[dtype][0]
    return max(_INTEGER_RANGES[dtype][0], zero_point + (1 if low > 0 else 0))


def run_tflm(batch: dict[str, tuple[bytes, np.ndarray]]) -> dict[str, np.ndarray | str]:
    """TFLM's outputs for every case (ROWS rows, flat per row), or TFLM's reason it cannot run it."""
    from helpers.rewrite.space_to_batch_pad import as_tflm_should_run_it  # noqa: PLC0415 - lazily, as input_rows

    with tempfile.TemporaryDirectory(prefix="mcu-deploy-opzoo-") as tmp:
        folder = Path(tmp)
        for name, (content, rows) in batch.items():
            (folder / name).mkdir()
            # TFLM is given the model as the tool gives it: a padding SPACE_TO_BATCH_ND would pad
            # with a field TFLM's kernel never sets (whatever the arena held)
            (folder / name / "model.tflite").write_bytes(as_tflm_should_run_it(content))
            np.save(folder / name / "inputs.npy", rows)
        subprocess.run([sys.executable, "-m", "tests.op_zoo", str(folder)], cwd=ROOT, check=True,
                       timeout=TFLM_TIMEOUT_S, capture_output=True)
        answers: dict[str, np.ndarray | str] = {}
        for name, (_, rows) in batch.items():
            outputs = folder / name / "outputs.npy"
            if outputs.is_file():
                answers[name] = np.load(outputs).reshape(len(rows), -1)
            else:
                error = folder / name / "stderr.txt"
                said = [line.strip() for line in error.read_text(errors="replace").splitlines()
                        if line.strip() and not line.startswith(("RuntimeError", "Traceback", " "))]
                answers[name] = ("; ".join(dict.fromkeys(said[:3])) or "TFLM stopped")[:200]
        return answers


def _run_case(folder: Path) -> None:
    """One case in a fork: TFLM's outputs into outputs.npy, its complaints into stderr.txt."""
    from helpers.measure.tflm_worker import run_rows

    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            errors = os.open(folder / "stderr.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(errors, 2)
            from helpers.core.flatbuffer import inspect_tflite  # noqa: PLC0415 - in the fork, as run_rows

            content = (folder / "model.tflite").read_bytes()
            # a stateful model (SVDF) from reset state every row, as the engines run it
            outputs = run_rows(content, np.load(folder / "inputs.npy"), ARENA, reset=inspect_tflite(content).stateful)
            np.save(folder / "outputs.npy", outputs)
            status = 0
        except BaseException as error:  # noqa: BLE001 - any failure is the case's reason
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(status)
    os.waitpid(pid, 0)


if __name__ == "__main__":
    import tflite_micro.python.tflite_micro.runtime  # noqa: F401 - imported once, before the forks

    for case_folder in sorted(Path(sys.argv[1]).iterdir()):
        _run_case(case_folder)
