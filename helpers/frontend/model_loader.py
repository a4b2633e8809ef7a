"""The only place that finds and loads models: SavedModel directory, `.h5` or `.keras` (each
loaded by the Keras that wrote it: Keras 3, or Keras 2 through tf_keras)."""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import numpy as np

from helpers.core.packing import cut, pack, signature_name
from helpers.core.specs import Specs
from helpers.errors import ModelError, first_line
from helpers.frontend.model_code import check_model_code
from helpers.frontend.tf_runtime import tf, tf_keras

PREDICT_BATCH = 512


class ModelFormat(str, Enum):
    """How the model was saved."""

    SAVED_MODEL = "saved_model"
    H5 = "h5"
    KERAS3 = "keras"
    ONNX = "onnx"
    PT2 = "pt2"
    TFLITE = "tflite"   # already converted: nothing to load into TensorFlow


FOREIGN_FORMATS = (ModelFormat.ONNX, ModelFormat.PT2)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run and to convert. `keras` is the Keras object (Keras 2 or 3)."""

    keras: Any
    format: ModelFormat
    path: Path
    is_keras2: bool
    input_shape: tuple[int, ...] = ()
    permutation: tuple[int, ...] = ()   # specs layout -> model layout (ONNX/PyTorch models)
    onnx_path: Path | None = None       # the ONNX file the reference runs on (ONNX/PyTorch models)
    # A model with several inputs or outputs: each input's shape, in specs.json's order (its rows
    # come packed, core/packing.py), and how many outputs it returns (packed the same way).
    input_shapes: tuple[tuple[int, ...], ...] = ()
    output_count: int = 1

    @property
    def multi_io(self) -> bool:
        """Several inputs or several outputs: rows are packed, the function takes and returns lists."""
        return len(self.input_shapes) > 1 or self.output_count > 1

    @property
    def is_foreign(self) -> bool:
        """An ONNX or PyTorch model, converted with onnx2tf."""
        return self.format in FOREIGN_FORMATS

    @property
    def transposes_input(self) -> bool:
        """Whether the model takes its input in another layout than specs.json describes."""
        return self.permutation != tuple(range(len(self.permutation)))

    def to_model_layout(self, x: np.ndarray) -> np.ndarray:
        """Rows in the specs layout -> rows in the model's layout."""
        if not self.transposes_input:
            return x
        return np.ascontiguousarray(x.transpose((0,) + tuple(axis + 1 for axis in self.permutation)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Batched float inference on normalised inputs (packed rows for a model with several
        inputs; packed outputs for one with several outputs)."""
        outputs = [self._call(x[start:start + PREDICT_BATCH]) for start in range(0, len(x), PREDICT_BATCH)]
        return np.concatenate(outputs, axis=0)

    def _call(self, rows: np.ndarray) -> np.ndarray:
        if not self.multi_io:
            return np.asarray(self.keras(tf.constant(rows), training=False))
        inputs = [tf.constant(part) for part in cut(rows, self.input_shapes)]
        return pack([np.asarray(o) for o in _as_list(self.keras(inputs if len(inputs) > 1 else inputs[0],
                                                                training=False))])

    def concrete_function(self, input_shape: tuple[int, ...] | None = None) -> Any:
        """A concrete function with a fixed batch of 1.

        RNNs only convert to the fused TFLite ops (UNIDIRECTIONAL_SEQUENCE_LSTM, ...) from a static
        batch, and a microcontroller runs one sample at a time anyway.
        """
        if self.multi_io:
            concrete = self._multi_io_function()
        else:
            shape = self.input_shape or input_shape or ()
            function: Callable[[Any], Any] = tf.function(lambda inputs: self.keras(inputs, training=False))
            concrete = function.get_concrete_function(tf.TensorSpec((1,) + tuple(shape), tf.float32))
        if self.is_keras2:
            return concrete
        # Keras 3 variables are not captured as constants by the converter (it would emit
        # VAR_HANDLE/READ_VARIABLE ops reading uninitialised state): freeze them first.
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        return convert_variables_to_constants_v2(concrete)


    def _multi_io_function(self) -> Any:
        """The batch-1 function of a model with several inputs or outputs: inputs named `input_00`,
        `input_01`, ... and outputs `output_00`, ... in specs.json's order, so that the converter's
        signature (sorted by name) keeps that order (pipeline/io_order.py puts the graph in it)."""
        specs = [tf.TensorSpec((1,) + tuple(shape), tf.float32, name=signature_name("input", i))
                 for i, shape in enumerate(self.input_shapes)]

        def call(*inputs: Any) -> dict[str, Any]:
            outputs = _as_list(self.keras(list(inputs) if len(inputs) > 1 else inputs[0], training=False))
            return {signature_name("output", i): output for i, output in enumerate(outputs)}

        return tf.function(call).get_concrete_function(*specs)


def _as_list(outputs: Any) -> list[Any]:
    """A model's outputs as a list: a Keras model with several outputs returns a list (or a dict,
    kept in its order)."""
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def find_model(model_dir: Path) -> tuple[Path, ModelFormat]:
    """The one model in the directory, or a ModelError naming what was found."""
    candidates: list[tuple[Path, ModelFormat]] = []
    for saved_model_pb in sorted(model_dir.rglob("saved_model.pb")):
        candidates.append((saved_model_pb.parent, ModelFormat.SAVED_MODEL))
    candidates += [(p, ModelFormat.H5) for p in sorted(model_dir.glob("*.h5"))]
    candidates += [(p, ModelFormat.KERAS3) for p in sorted(model_dir.glob("*.keras"))]
    candidates += [(p, ModelFormat.ONNX) for p in sorted(model_dir.glob("*.onnx"))]
    candidates += [(p, ModelFormat.PT2) for p in sorted(model_dir.glob("*.pt2"))]
    candidates += [(p, ModelFormat.TFLITE) for p in sorted(model_dir.glob("*.tflite"))]
    if not candidates:
        raise ModelError("no model found",
                         "add a SavedModel directory, or one .h5, .keras, .onnx, .pt2 or .tflite file", model_dir)
    if len(candidates) > 1:
        names = ", ".join(str(p.relative_to(model_dir)) for p, _ in candidates)
        raise ModelError(f"several candidate models ({names})", "keep exactly one model in the directory", model_dir)
    return candidates[0]


def _keras_major_version(path: Path, model_format: ModelFormat) -> str | None:
    """The major version of the Keras that saved the file, from the file itself (a `.keras`
    archive's metadata.json, an `.h5` file's `keras_version` attribute), or None when the file does
    not say or cannot be read (the loader then says what is wrong with it). tf_keras writes "2.x"
    in both formats; Keras 3 writes "3.x", and its configs (`batch_shape`, DTypePolicy) are ones
    tf_keras cannot read, while Keras 3 cannot load tf_keras's `.keras` files."""
    try:
        if model_format is ModelFormat.KERAS3:
            with zipfile.ZipFile(path) as archive:
                version = json.loads(archive.read("metadata.json")).get("keras_version", "")
        else:
            import h5py

            with h5py.File(path, "r") as handle:
                version = handle.attrs.get("keras_version", "")
    except Exception:  # noqa: BLE001 - zipfile, json and h5py raise OSError, KeyError, ValueError... on a damaged file
        return None
    version = version.decode() if isinstance(version, bytes) else str(version)
    return version.split(".")[0] or None


def _loads_with_keras3(path: Path, model_format: ModelFormat) -> bool:
    """A `.keras` file unless tf_keras (Keras 1 or 2) saved it; an `.h5` file only when Keras 3 did."""
    if model_format not in (ModelFormat.KERAS3, ModelFormat.H5):
        return False
    major = _keras_major_version(path, model_format)
    return major not in ("1", "2") if model_format is ModelFormat.KERAS3 else major == "3"


def _load_keras(path: Path, model_format: ModelFormat, trust_code: bool) -> tuple[Any, bool]:
    if _loads_with_keras3(path, model_format):
        import keras  # Keras 3: the format TensorFlow 2.16+ saves by default

        return keras.saving.load_model(path, compile=False, safe_mode=not trust_code), False
    # tf_keras's own safe_mode guards its `.keras` files (an .h5 ignores it)
    return tf_keras.models.load_model(path, compile=False, safe_mode=not trust_code), True


def load_model(model_dir: Path, specs: Specs, keep_layout: bool = False, trust_code: bool = False) -> LoadedModel:
    """Find, load and check the model against the specs shapes. A model that carries code (a
    Lambda layer, custom objects, side-effect ops, pickles) is refused first unless `trust_code`
    (--trust_model_code): frontend/model_code.py checks it without running any of it."""
    path, model_format = find_model(model_dir)
    if not trust_code:
        check_model_code(path, model_format.value)
    if specs.multi_io and model_format in FOREIGN_FORMATS + (ModelFormat.TFLITE,):
        raise ModelError(f"a model with several inputs or outputs is taken as a Keras model only, and {path.name} "
                         f"is {model_format.value}", "save the model as .keras, .h5 or a SavedModel", path)
    if model_format is ModelFormat.TFLITE:  # read by pipeline/given.py, never loaded into TensorFlow
        return LoadedModel(keras=None, format=model_format, path=path, is_keras2=False,
                           input_shape=specs.input.shape, permutation=tuple(range(len(specs.input.shape))))
    if model_format in FOREIGN_FORMATS:
        return _load_foreign(path, model_format, specs, keep_layout)
    try:
        keras_model, is_keras2 = _load_keras(path, model_format, trust_code)
    except Exception as exc:  # loaders raise many unrelated types for a corrupt file
        raise ModelError(f"cannot load the model ({first_line(exc)})",
                         "check the file is complete and was saved with model.save()", path) from None
    _check_shapes(keras_model, specs, path)
    several = specs.multi_io
    return LoadedModel(keras=keras_model, format=model_format, path=path, is_keras2=is_keras2,
                       input_shape=specs.input.shape, permutation=tuple(range(len(specs.input.shape))),
                       input_shapes=tuple(t.shape for t in specs.inputs) if several else (),
                       output_count=len(specs.outputs))


def _load_foreign(path: Path, model_format: ModelFormat, specs: Specs, keep_layout: bool) -> LoadedModel:
    """ONNX or PyTorch: onnx2tf into a temporary SavedModel, then its serving signature."""
    from helpers.frontend import onnx_torch as foreign

    workdir = foreign.new_workdir()
    onnx_path, saved_model = foreign.convert_to_saved_model(path, specs, keep_layout, workdir)
    callable_model = foreign.load_saved_model(saved_model)
    permutation = foreign.layout_permutation(specs.input.shape, callable_model.input_shape, path)
    model_shape = tuple(specs.input.shape[axis] for axis in permutation)
    declared_out, actual_out = specs.output.shape, tuple(callable_model.output_shape[1:])
    if len(declared_out) != len(actual_out) or any(a is not None and a != d for a, d in zip(actual_out, declared_out)):
        raise ModelError(f"specs output.shape {list(declared_out)} does not match the model's output shape "
                         f"{list(actual_out)}", "set output.shape in specs.json to the model's shape", specs.path)
    # is_keras2=False: the signature's variables are frozen into constants before conversion
    return LoadedModel(keras=callable_model, format=model_format, path=path, is_keras2=False,
                       input_shape=model_shape, permutation=permutation, onnx_path=onnx_path)


def _tensor_shapes(keras_model: Any, which: str) -> list[tuple[Any, ...]]:
    """The batch-free shapes of the model's inputs or outputs, in its own order."""
    tensors = getattr(keras_model, which, None)
    if tensors is None:
        shape = getattr(keras_model, f"{which[:-1]}_shape")
        return [tuple(s)[1:] for s in shape] if isinstance(shape, list) else [tuple(shape)[1:]]
    return [tuple(tensor.shape)[1:] for tensor in tensors]


def _check_shapes(keras_model: Any, specs: Specs, path: Path) -> None:
    """The model's inputs and outputs against specs.json's, in order: the count, then each shape."""
    try:
        model_io = {"input": _tensor_shapes(keras_model, "inputs"), "output": _tensor_shapes(keras_model, "outputs")}
    except (AttributeError, ValueError, TypeError):
        raise ModelError("the model's inputs and outputs cannot be read",
                         "save a built Keras model (call it on data once, or give it an Input)", path) from None
    for what, declared in (("input", specs.inputs), ("output", specs.outputs)):
        actual = model_io[what]
        if len(actual) != len(declared):
            raise ModelError(f"the model has {len(actual)} {what}s and specs.json describes {len(declared)}",
                             f"describe each {what} in specs.json: \"{what}s\": [{{\"name\": ..., \"shape\": ...}}, ...] "
                             "in the model's order (docs/input.md, 'Several inputs, several outputs')", specs.path)
        for number, (tensor, shape) in enumerate(zip(declared, actual)):
            where = f"{what}.shape" if len(declared) == 1 else f"{what}s[{number}].shape"
            fits = len(tensor.shape) == len(shape) and all(a is None or a == d for a, d in zip(shape, tensor.shape))
            if not fits:
                raise ModelError(f"specs {where} {list(tensor.shape)} does not match the model's {what} shape "
                                 f"{list(shape)}", f"set {where} in specs.json to the model's shape", specs.path)
