"""The parent side of TensorFlow's converter: every conversion, calibration and debugger run
happens in a child process (convert/child/ is the child, convert/zygote.py forks it).

The converter and its calibrator are C++ and can die of a signal: a GRU's int8 calibration
segfaults in TensorFlow 2.21. A crash ends only the child, and the variant becomes a failed row
naming the signal. What the converter leaks per call goes with the child too. The model reaches
the child as the SavedModel of its batch-1 function, written once per model into a temporary
folder that remove_exports() deletes when the run ends.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np

from helpers.convert import zygote
from helpers.convert.jobs import ERROR, RESULT, Job
from helpers.core.packing import cut, signature_name
from helpers.core.rewrites import Rewrite
from helpers.frontend.graph_rewrites import rewritten_function
from helpers.frontend.model_loader import LoadedModel
from helpers.frontend.tf_runtime import collect_conversion_garbage, tf
from helpers.native_output import native_output_shown

JOB_TIMEOUT_S = 1800
# id(keras model) -> (the model, its export, the graph rewrites in it): holding the model keeps its
# id from being reused by a later one (--sparsity auto converts a candidate, drops it and builds the next).
_EXPORTS: dict[int, tuple[object, Path, tuple[Rewrite, ...]]] = {}
_ROOT: list[Path] = []


class ConverterCrashed(Exception):
    """The child died of a signal, or did not finish in time."""


class ConverterFailed(Exception):
    """The converter raised an exception; its text is kept for the user."""


def _root() -> Path:
    if not _ROOT:
        _ROOT.append(Path(tempfile.mkdtemp(prefix="mcu-deploy-convert-")))
    return _ROOT[0]


def saved_function(model: LoadedModel) -> Path:
    """The model's batch-1 function as a SavedModel, written once per loaded model.

    Only the function and the variables it reads are saved (a bare tf.Module holding them), which
    is what the converter itself would save of a concrete function: seconds faster than saving
    the Keras model, for the same flatbuffer. The graph rewrites before conversion
    (frontend/graph_rewrites.py) are applied here, so every conversion of the model, the
    recovery's and the debugger's included, converts the same rewritten function."""
    key = id(model.keras)
    if key not in _EXPORTS:
        folder = _root() / f"model_{len(_EXPORTS)}"
        try:
            applied = _save_function(model, folder)
        except Exception as exc:  # noqa: BLE001 - TensorFlow's tracing and export raise any type; the user gets a line
            shutil.rmtree(folder, ignore_errors=True)
            raise ConverterFailed(f"exporting the model's function for the converter failed: "
                                  f"{type(exc).__name__}: {exc}") from None
        collect_conversion_garbage()
        _EXPORTS[key] = (model.keras, folder, applied)
    return _EXPORTS[key][1]


def _save_function(model: LoadedModel, folder: Path) -> tuple[Rewrite, ...]:
    """The model's function, rewritten, saved into `folder`; the rewrites applied."""
    holder = tf.Module()
    holder.model_variables = list(getattr(model.keras, "variables", []))
    concrete, applied = rewritten_function(model.concrete_function())
    # No custom gradients: the converter never differentiates, and saving them fails on ops whose
    # gradient captures a tensor of the forward graph (tf.nn.silu's beta, i.e. Keras 3's swish:
    # "Found invalid capture Tensor(.../beta:0) when saving custom gradients").
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    tf.saved_model.save(holder, str(folder), signatures=concrete, options=options)
    return applied


def function_rewrites(model: LoadedModel) -> tuple[Rewrite, ...]:
    """The graph rewrites in the model's saved function (saved_function writes it first)."""
    saved_function(model)
    return _EXPORTS[id(model.keras)][2]


def rows_file(rows: np.ndarray, name: str, input_shapes: tuple[tuple[int, ...], ...] = ()) -> str:
    """Rows as .npy for a child (float32, as the converter feeds them); the packed rows of a model
    with several inputs (`input_shapes`) as .npz, one array per input under its signature name."""
    if input_shapes:
        path = _root() / f"{name}.npz"
        parts = cut(np.asarray(rows, dtype=np.float32), input_shapes)
        np.savez(path, **{signature_name("input", number): part for number, part in enumerate(parts)})
        return str(path)
    path = _root() / f"{name}.npy"
    np.save(path, np.ascontiguousarray(rows, dtype=np.float32))
    return str(path)


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def run_job(job: Job, timeout_s: float = JOB_TIMEOUT_S) -> bytes:
    """One worker job in a child process; its result bytes, or ConverterFailed / ConverterCrashed.

    The child is forked by the zygote (convert/zygote.py) when the pipeline started one right after
    importing TensorFlow; otherwise (library use) it is a fresh Python, slower but as safe."""
    with tempfile.TemporaryDirectory(prefix="mcu-deploy-job-", dir=_root()) as folder:
        silence = not native_output_shown()
        if zygote.started():
            status = zygote.current().run(job, folder, silence, timeout_s)
            code = None if status is None else (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                                else os.WEXITSTATUS(status))
        else:
            code = _run_spawned(job, folder, silence, timeout_s)
        if code is None:
            raise ConverterCrashed(f"did not finish within {timeout_s:.0f} s")
        if code < 0:
            raise ConverterCrashed(f"crashed with {_signal_name(-code)}")
        result, error = Path(folder, RESULT), Path(folder, ERROR)
        if code != 0 or not result.is_file():
            raise ConverterFailed(error.read_text(encoding="utf-8") if error.is_file()
                                  else f"the conversion process ended with exit code {code}")
        return result.read_bytes()


def _run_spawned(job: Job, folder: str, silence: bool, timeout_s: float) -> int | None:
    """The job in a fresh Python (multiprocessing spawn); its exit code (negative: signal) or None."""
    from helpers.convert.child.main import run_job as child_entry  # the fresh Python imports it, not this one

    child = multiprocessing.get_context("spawn").Process(target=child_entry, args=(job, folder, silence), daemon=True)
    child.start()
    child.join(timeout_s)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode if child.exitcode is not None else -signal.SIGKILL


def remove_exports() -> None:
    """Delete the SavedModels and row files written for the children."""
    _EXPORTS.clear()
    while _ROOT:
        shutil.rmtree(_ROOT.pop(), ignore_errors=True)


atexit.register(remove_exports)
