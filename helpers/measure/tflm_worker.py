"""TFLM host interpreter, run in a child process: forked from a forkserver that has numpy and
tflite_micro imported already (helpers/measure/tflm.py, `run_command`), or `python -m helpers.measure.tflm_worker ...`.

An arena that is too small, or a kernel TFLM lacks, can abort the whole process (a C++
check failure, not a Python exception), so every TFLM call happens here, never in the
pipeline's own process, and each arena probe runs in its own fork. Imports only numpy and
tflite_micro, never TensorFlow.

    check MODEL INPUTS.npy OUTPUTS.npy ARENA [reset]
                                               -> outputs of every row with a generous arena, over
                                                  several processes for large inputs (with
                                                  `reset`, variable tensors are reset before each row),
                                                  then prints {"arena": smallest working arena} (16-byte steps)
    probe MODEL INPUTS.npy ARENA               -> exit 0 if the first row runs with that arena
    run MODEL INPUTS.npy OUTPUTS.npy ARENA [reset]
                                               -> outputs of every row (over several processes for
                                                  large inputs), nothing else: the engines' lookup
                                                  tables, filled by TFLM's own kernel; the proof of
                                                  the passes TFLM's CMSIS-NN kernels need

A model with several inputs or outputs gets INPUTS.npz instead: `input_00`, `input_01`, ... (each
input's rows in its dtype) and `output_count`; its outputs are saved packed, row `i` every output's
values in order (core/packing.py, which this module does not import to stay light).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

ARENA_STEP = 16
# Rows run in parallel processes from this many on; below it a fork costs more than it saves.
PARALLEL_MIN_ROWS = 5000
WORKERS = max(1, min(4, os.cpu_count() or 1))


def _interpreter(content: bytes, arena: int):  # type: ignore[no-untyped-def]
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(content, arena_size=arena)


class Rows:
    """The rows to run: one array per model input (rows first), and how many outputs to read."""

    def __init__(self, parts: list[np.ndarray], output_count: int = 1) -> None:
        self.parts, self.output_count = parts, output_count

    @classmethod
    def of(cls, inputs: "np.ndarray | Rows") -> "Rows":
        """Rows of a model with one input and one output from a bare array."""
        return inputs if isinstance(inputs, Rows) else cls([inputs])

    def __len__(self) -> int:
        return len(self.parts[0])

    def slice(self, start: int, stop: int) -> "Rows":
        """Rows `start` to `stop`."""
        return Rows([part[start:stop] for part in self.parts], self.output_count)

    @property
    def several(self) -> bool:
        """Several inputs or outputs: the outputs are packed."""
        return len(self.parts) > 1 or self.output_count > 1


def load_rows(path: str) -> Rows:
    """INPUTS.npy (one input and one output) or INPUTS.npz (several)."""
    if not path.endswith(".npz"):
        return Rows([np.load(path)])
    with np.load(path) as archive:
        names = sorted(name for name in archive.files if name.startswith("input_"))
        return Rows([archive[name] for name in names], int(archive["output_count"]))


def run_rows(content: bytes, inputs: "np.ndarray | Rows", arena: int, reset: bool = False) -> np.ndarray:
    """Every row through TFLM, one invoke per row (as on the MCU); `reset` clears the variable
    tensors (LSTM state) before each row, as the generated main.cc does."""
    rows = Rows.of(inputs)
    interpreter = _interpreter(content, arena)
    outputs = []
    for index in range(len(rows)):
        if reset:
            interpreter.reset()
        for number, part in enumerate(rows.parts):
            interpreter.set_input(part[index][np.newaxis, ...], number)
        interpreter.invoke()
        if not rows.several:
            outputs.append(np.array(interpreter.get_output(0)).copy())
            continue
        values = [np.array(interpreter.get_output(j)).reshape(1, -1) for j in range(rows.output_count)]
        dtypes = {v.dtype for v in values}
        outputs.append(np.concatenate(values if len(dtypes) == 1 else [v.astype(np.float64) for v in values], axis=1))
    return np.concatenate(outputs, axis=0)


def run_rows_parallel(content: bytes, inputs: "np.ndarray | Rows", arena: int, reset: bool = False,
                      workers: int = WORKERS, min_rows: int = PARALLEL_MIN_ROWS) -> np.ndarray:
    """run_rows with the rows split over `workers` forked processes, same outputs in the same order.

    Rows are independent (no variable tensors, or `reset` before each), so any split gives the
    answers of one long run. The first row runs before any fork: a model TFLM cannot run stops
    here, once, with TFLM's own message."""
    inputs = Rows.of(inputs)
    if workers < 2 or len(inputs) < min_rows:
        return run_rows(content, inputs, arena, reset)
    first = run_rows(content, inputs.slice(0, 1), arena, reset)
    shards = [shard for shard in np.array_split(np.arange(1, len(inputs)), workers) if len(shard)]
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-tflm-rows-") as tmp:
        children = []
        for number, shard in enumerate(shards[1:], start=1):
            path = Path(tmp) / f"{number}.npy"
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    np.save(path, run_rows(content, inputs.slice(shard[0], shard[-1] + 1), arena, reset))
                    status = 0
                finally:
                    os._exit(status)
            children.append((pid, path, shard))
        parts = [first, run_rows(content, inputs.slice(shards[0][0], shards[0][-1] + 1), arena, reset)]
        for pid, path, shard in children:
            _, status = os.waitpid(pid, 0)
            if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                raise RuntimeError(f"TFLM stopped on rows {shard[0]} to {shard[-1]} in a worker process")
            parts.append(np.load(path))
    return np.concatenate(parts, axis=0)


def _probe(content: bytes, row: "np.ndarray | Rows", arena: int) -> bool:
    """Does the model allocate and run with this arena? Decided in a fork so an abort is just a 'no'."""
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            run_rows(content, row if isinstance(row, Rows) else row[np.newaxis, ...], arena)
            os._exit(0)
        except BaseException:  # noqa: BLE001 - any failure means "does not fit"
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def smallest_arena(content: bytes, row: "np.ndarray | Rows", high: int) -> int:
    """Bisection over arena sizes in 16-byte steps; `high` is known to work."""
    low = 0  # known not to work
    while high - low > ARENA_STEP:
        middle = (low + high) // 2 // ARENA_STEP * ARENA_STEP
        if middle <= low:
            break
        if _probe(content, row, middle):
            high = middle
        else:
            low = middle
    return high


def main(argv: list[str]) -> int:
    command, model_path = argv[0], Path(argv[1])
    content = model_path.read_bytes()
    inputs = load_rows(argv[2])
    first = inputs.slice(0, 1) if inputs.several else inputs.parts[0][0]
    if command == "check":
        generous = int(argv[4])
        np.save(argv[3], run_rows_parallel(content, inputs, generous, reset=argv[5:6] == ["reset"]))
        print(json.dumps({"arena": smallest_arena(content, first, generous)}))
        return 0
    if command == "run":
        np.save(argv[3], run_rows_parallel(content, inputs, int(argv[4]), reset=argv[5:6] == ["reset"]))
        return 0
    if command == "probe":
        return 0 if _probe(content, first, int(argv[3])) else 1
    return 2


def run_command(argv: list[str], folder: str) -> None:
    """`main(argv)` in a forked worker, its stdout and stderr (TFLM writes its errors to fd 2) in
    `folder`/stdout.txt and stderr.txt; the process exits with main's code, or is killed by TFLM."""
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        target = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    code = 1
    try:
        code = main(argv)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception of `python -m`
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
