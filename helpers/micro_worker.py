"""TFLM host interpreter, run in a child process: `python -m helpers.micro_worker ...`.

An arena that is too small, or a kernel TFLM lacks, can abort the whole process (a C++
check failure, not a Python exception), so every TFLM call happens here, never in the
pipeline's own process, and each arena probe runs in its own fork. Imports only numpy and
tflite_micro, never TensorFlow, so it starts fast.

    check MODEL INPUTS.npy OUTPUTS.npy ARENA [reset]
                                               -> outputs of every row with a generous arena (with
                                                  `reset`, variable tensors are reset before each row),
                                                  then prints {"arena": smallest working arena} (16-byte steps)
    probe MODEL INPUTS.npy ARENA               -> exit 0 if the first row runs with that arena
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

ARENA_STEP = 16


def _interpreter(content: bytes, arena: int):  # type: ignore[no-untyped-def]
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(content, arena_size=arena)


def run_rows(content: bytes, inputs: np.ndarray, arena: int, reset: bool = False) -> np.ndarray:
    """Every row through TFLM, one invoke per row (as on the MCU); `reset` clears the variable
    tensors (LSTM state) before each row, as the generated main.cc does."""
    interpreter = _interpreter(content, arena)
    outputs = []
    for row in inputs:
        if reset:
            interpreter.reset()
        interpreter.set_input(row[np.newaxis, ...], 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)).copy())
    return np.concatenate(outputs, axis=0)


def _probe(content: bytes, row: np.ndarray, arena: int) -> bool:
    """Does the model allocate and run with this arena? Decided in a fork so an abort is just a 'no'."""
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            run_rows(content, row[np.newaxis, ...], arena)
            os._exit(0)
        except BaseException:  # noqa: BLE001 - any failure means "does not fit"
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def smallest_arena(content: bytes, row: np.ndarray, high: int) -> int:
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
    inputs = np.load(argv[2])
    if command == "check":
        generous = int(argv[4])
        np.save(argv[3], run_rows(content, inputs, generous, reset=argv[5:6] == ["reset"]))
        print(json.dumps({"arena": smallest_arena(content, inputs[0], generous)}))
        return 0
    if command == "probe":
        return 0 if _probe(content, inputs[0], int(argv[3])) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
