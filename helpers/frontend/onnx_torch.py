"""Models from PyTorch (`.pt2`) and ONNX (`.onnx`): converted to a TensorFlow SavedModel with onnx2tf.

Path: PyTorch ExportedProgram -> ONNX (torch.onnx.export) -> SavedModel (onnx2tf) -> the usual
TFLite variants. onnx2tf turns channels-first models channels-last; `layout_permutation` says how
the specs layout (the original model's, which the CSV follows) maps onto the converted model's, so
rows are fed correctly and the firmware artifacts say which layout to feed. --keep_layout asks
onnx2tf to keep the original order.

The reference for these models is the original itself: onnxruntime for `.onnx`, PyTorch for `.pt2`.
"""
from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.core.specs import Specs
from helpers.errors import ModelError, first_line
from helpers.native_output import native_stderr_silenced

log = logging.getLogger("mcu_deploy")

ONNX_OPSET = 18


@dataclass(frozen=True)
class SavedModelCallable:
    """A loaded SavedModel's serving signature, callable like a Keras model on one input tensor."""

    loaded: Any
    function: Any
    input_key: str
    output_key: str
    input_shape: tuple[Any, ...]
    output_shape: tuple[Any, ...]

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        return self.function(**{self.input_key: inputs})[self.output_key]

    @property
    def variables(self) -> list[Any]:
        """The SavedModel's variables (the converter's trackable holds them)."""
        return list(getattr(self.loaded, "variables", []))


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ModelError(f"{module} is not installed, so .onnx and .pt2 models cannot be read",
                         "pip install -r requirements-torch.txt") from None


def pt2_to_onnx(path: Path, specs: Specs, folder: Path) -> Path:
    """torch.export.load the ExportedProgram and export it to ONNX."""
    torch = _require("torch")
    _require("onnxscript")
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # torch raises many types for a corrupt archive
        raise ModelError(f"cannot load the ExportedProgram ({first_line(exc, 150)})",
                         "save it with torch.export.save(torch.export.export(model, example), path)", path) from None
    target = folder / "model.onnx"
    example = (torch.zeros((1,) + specs.input.shape),)
    try:
        with native_stderr_silenced():
            torch.onnx.export(program, example, str(target), dynamo=True, opset_version=ONNX_OPSET)
    except Exception as exc:  # noqa: BLE001 - the exporter raises its own types for unsupported graphs
        raise ModelError(f"PyTorch could not export the program to ONNX ({first_line(exc, 150)})",
                         "export the model to ONNX yourself (torch.onnx.export) and pass the .onnx file",
                         path) from None
    return target


def read_onnx(onnx_path: Path) -> list[str]:
    """The ONNX model's one input name, after onnx's own checker (a damaged file that still parses
    as a protobuf fails here in one line, before onnx2tf sees it)."""
    onnx = _require("onnx")
    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
        onnx.checker.check_model(str(onnx_path))  # by path: external data is checked where it lies
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError, the checker ValidationError
        raise ModelError(f"cannot read the ONNX model ({first_line(exc, 150)})",
                         "export it again with torch.onnx.export", onnx_path) from None
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelError("the ONNX model must have exactly one input and one output",
                         "export a model that takes one tensor and returns one tensor", onnx_path)
    return inputs


def onnx_to_saved_model(onnx_path: Path, folder: Path, keep_layout: bool) -> Path:
    """onnx2tf: ONNX -> SavedModel (channels-last unless keep_layout)."""
    _require("onnx2tf")
    import onnx2tf

    inputs = read_onnx(onnx_path)
    output = folder / "saved_model"
    # onnx2tf may write its input back (shape inference, fixes): it gets a copy, never the user's file
    onnx2tf_input = folder / "onnx2tf_input.onnx"
    shutil.copyfile(onnx_path, onnx2tf_input)
    options: dict[str, Any] = {"input_onnx_file_path": str(onnx2tf_input), "output_folder_path": str(output),
                               "non_verbose": True, "not_use_onnxsim": True}
    if keep_layout:
        options["keep_ncw_or_nchw_or_ncdhw_input_names"] = inputs
    try:
        with native_stderr_silenced():
            onnx2tf.convert(**options)
    except KeyboardInterrupt:
        raise  # Ctrl-C stays Ctrl-C: exit 130, the previous export intact
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - onnx2tf calls sys.exit on some failures
        raise ModelError(f"onnx2tf could not convert the model ({first_line(exc, 150)})",
                         "check the ONNX opset (17 or 18 work) and that every op is supported by onnx2tf",
                         onnx_path) from None
    return output


def load_saved_model(folder: Path) -> SavedModelCallable:
    """The serving signature of the SavedModel onnx2tf wrote."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(folder))
        function = loaded.signatures["serving_default"]
        (input_key, input_spec), = function.structured_input_signature[1].items()
        (output_key, output_spec), = function.structured_outputs.items()
    except Exception as exc:  # noqa: BLE001 - a missing signature (KeyError), several inputs (ValueError), ...
        raise ModelError(f"the SavedModel onnx2tf wrote cannot be used ({first_line(exc, 150)})",
                         "the model needs exactly one input and one output and a serving signature; "
                         "check it converts with onnx2tf on its own", folder) from None
    return SavedModelCallable(loaded=loaded, function=function, input_key=input_key, output_key=output_key,
                              input_shape=tuple(input_spec.shape.as_list()),
                              output_shape=tuple(output_spec.shape.as_list()))


def layout_permutation(specs_shape: tuple[int, ...], model_shape: tuple[Any, ...], path: Path) -> tuple[int, ...]:
    """Axes permutation from the specs layout to the converted model's (per sample, no batch)."""
    identity = tuple(range(len(specs_shape)))
    model = tuple(model_shape[1:])
    if all(m is None or m == s for m, s in zip(model, specs_shape)) and len(model) == len(specs_shape):
        return identity
    channels_last = identity[1:] + (0,)  # (C, H, W) -> (H, W, C)
    if len(model) == len(specs_shape) and tuple(specs_shape[i] for i in channels_last) == model:
        return channels_last
    raise ModelError(f"the converted model takes shape {list(model)}, which does not match specs input.shape "
                     f"{list(specs_shape)} in either channel order", "set input.shape to the original model's "
                     "input shape without the batch dimension", path)


def reference_outputs(path: Path, onnx_path: Path, x: np.ndarray) -> tuple[str, np.ndarray]:
    """The original model's outputs on rows in the specs layout: onnxruntime, or PyTorch for `.pt2`."""
    if path.suffix == ".pt2":
        torch = _require("torch")
        module = torch.export.load(str(path)).module()
        with torch.no_grad():
            rows = [module(torch.from_numpy(row[np.newaxis])).numpy() for row in x]
        return "pytorch", np.concatenate(rows, axis=0)
    onnxruntime = _require("onnxruntime")
    try:
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"onnxruntime cannot run the original model ({first_line(exc, 150)})",
                         "check the ONNX model loads in onnxruntime; the reference row needs it", onnx_path) from None
    name = session.get_inputs()[0].name
    batch = session.get_inputs()[0].shape[0]
    if isinstance(batch, int):  # a fixed batch: one row at a time
        rows = [session.run(None, {name: row[np.newaxis]})[0] for row in x]
        return "onnxruntime", np.concatenate(rows, axis=0)
    return "onnxruntime", session.run(None, {name: x})[0]


def convert_to_saved_model(path: Path, specs: Specs, keep_layout: bool, workdir: Path) -> tuple[Path, Path]:
    """(onnx path, SavedModel path) for a `.onnx` or `.pt2` model, inside workdir."""
    onnx_path = path if path.suffix == ".onnx" else pt2_to_onnx(path, specs, workdir)
    log.info("converting %s to a TensorFlow SavedModel with onnx2tf%s", path.name,
             " (keeping the original layout)" if keep_layout else "")
    return onnx_path, onnx_to_saved_model(onnx_path, workdir, keep_layout)


_WORKDIRS: list[Path] = []


def new_workdir() -> Path:
    """A temporary folder for the ONNX and SavedModel files (never the user's model directory);
    remove_workdirs() deletes it when the run ends, however it ends."""
    workdir = Path(tempfile.mkdtemp(prefix="mcu-deploy-onnx2tf-"))
    _WORKDIRS.append(workdir)
    return workdir


def remove_workdirs() -> None:
    """Delete every temporary folder this process made for onnx2tf."""
    while _WORKDIRS:
        shutil.rmtree(_WORKDIRS.pop(), ignore_errors=True)


atexit.register(remove_workdirs)  # a backstop for exits that skip the pipeline's finally
