"""Model files that carry executable content are refused unless the user trusts them
(--trust_model_code), and the check runs nothing the file holds:

- `.h5`: the `model_config` attribute read with h5py (and a SavedModel's keras_metadata.pb), and
  `.keras`: the archive's config.json, walked for Lambda layers, Python lambdas, custom objects
  (a `registered_name`, a module outside Keras, a class Keras does not define) and TensorFlow
  functions called by name that reach outside the model (TFOpLambda `io.write_file`);
- a SavedModel: saved_model.pb parsed with the protobuf classes, every graph def's and library
  function's op types against unsafe_ops.SIDE_EFFECT_OPS;
- a PyTorch `.pt2`: every pickle in the archive opened with PyTorch's safe loader
  (`torch.load(weights_only=True)`, which refuses any global it does not know before calling it),
  bare pickles scanned with pickletools for any opcode that could call code.

The refusal is one line naming the layer, object or op and how to opt in."""
from __future__ import annotations

import io
import json
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

from helpers.errors import ModelError, first_line
from helpers.frontend import unsafe_ops

OPT_IN = "if you trust whoever made this file, run again with --trust_model_code (it lets the file's code run)"


class UntrustedCodeError(ModelError):
    """The model file carries executable content and --trust_model_code was not given."""


def refuse(what: str, path: Path) -> UntrustedCodeError:
    return UntrustedCodeError(f"the model carries code that would run on this machine: {what}", OPT_IN, path)


def check_model_code(path: Path, model_format: str) -> None:
    """UntrustedCodeError for the first executable content found in the model; nothing is loaded.
    A file too damaged to read is left to the loader, which says so in one line."""
    checks = {"h5": _check_h5, "keras": _check_keras_archive, "saved_model": _check_saved_model,
              "pt2": _check_pt2}
    check = checks.get(model_format)
    if check is not None:
        check(path)


# ---- Keras configurations ----------------------------------------------------------------------

def _check_h5(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            config = handle.attrs.get("model_config")
    except Exception:  # noqa: BLE001 - h5py raises OSError, KeyError... on a damaged file: the loader says so
        return
    if config is None:
        return
    if isinstance(config, bytes):
        config = config.decode("utf-8", errors="replace")
    _check_config_text(str(config), path)


def _check_keras_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read("config.json").decode("utf-8", errors="replace")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RuntimeError, EOFError):
        return
    _check_config_text(text, path)


def _check_config_text(text: str, path: Path) -> None:
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        return
    finding = keras_config_finding(config)
    if finding:
        raise refuse(finding, path)


def keras_config_finding(config: Any) -> str | None:
    """The first executable content in a Keras model configuration (JSON), described, or None."""
    known = _known_keras_names()
    for node, layer in _objects(config, None):
        finding = _object_finding(node, layer, known)
        if finding:
            return finding
    return None


def _objects(value: Any, layer: str | None, depth: int = 0) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every {"class_name": ...} object in a configuration, with the name of the layer holding it."""
    if depth > 200:  # deeper than any model: refused rather than left unread
        yield {"class_name": "__too_deep__"}, layer
        return
    if isinstance(value, dict):
        if isinstance(value.get("class_name"), str):
            inner = value.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            layer = name if isinstance(name, str) else layer
            yield value, layer
        for item in value.values():
            yield from _objects(item, layer, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item, layer, depth + 1)


def _object_finding(node: dict[str, Any], layer: str | None, known: frozenset[str]) -> str | None:
    class_name = node["class_name"]
    where = f" (layer '{layer}')" if layer else ""
    if class_name in unsafe_ops.CODE_CLASS_NAMES:
        return f"{class_name}{where}: {unsafe_ops.CODE_CLASS_NAMES[class_name]}"
    if class_name in ("TFOpLambda", "SlicingOpLambda"):
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        function = str(inner.get("function", ""))
        for prefix, reason in unsafe_ops.TF_FUNCTION_PREFIXES.items():
            if function.startswith(prefix):
                return f"{class_name} calling tf.{function}{where}, which {reason}"
        raw_op = unsafe_ops.SIDE_EFFECT_OPS.get(function.removeprefix("raw_ops.")) if function.startswith("raw_ops.") \
            else None
        return f"{class_name} calling tf.{function}{where}, which {raw_op}" if raw_op else None
    if class_name in unsafe_ops.VALUE_WRAPPERS:
        return None
    if class_name.startswith("Custom>") and class_name[7:] in known:  # tf_keras names its optimizers so
        return None
    registered = node.get("registered_name")
    module = node.get("module")
    custom = (isinstance(registered, str) and registered not in (class_name, "function")) or (
        isinstance(module, str) and module.split(".")[0] not in unsafe_ops.KERAS_MODULE_ROOTS) or (
        module == "builtins" and class_name == "function" and not _names_keras_function(node, known)) or (
        module is None and class_name not in known)
    if custom:
        label = registered if isinstance(registered, str) and registered != "function" else class_name
        source = f" from module {module}" if isinstance(module, str) else ""
        return f"custom object {label}{source}{where}: its Python class or function would run"
    return None


def _names_keras_function(node: dict[str, Any], known: frozenset[str]) -> bool:
    """tf_keras writes a loss or metric given by name ("sparse_categorical_crossentropy") as a
    function of module builtins; Keras looks the name up among its own functions, so only a name
    Keras does not define (eval, open, a user's function) would run code."""
    name = node.get("config")
    return isinstance(name, str) and name in known and not hasattr(__import__("builtins"), name)


_KNOWN: list[frozenset[str]] = []


def _known_keras_names() -> frozenset[str]:
    """Class names Keras itself defines (layers, models, initializers, ...), in Keras 2 and 3."""
    if not _KNOWN:
        import keras

        from helpers.frontend.tf_runtime import tf_keras

        names: set[str] = {"Functional", "Sequential", "Model", "Policy", "DTypePolicy", "function",
                            "TensorShape", "TypeSpec", "TensorSpec"}
        for library in (tf_keras, keras):
            for part in ("layers", "initializers", "regularizers", "constraints", "activations", "models",
                         "optimizers", "losses", "metrics", "mixed_precision", "dtype_policies"):
                names.update(dir(getattr(library, part, None)) if hasattr(library, part) else ())
        _KNOWN.append(frozenset(names))
    return _KNOWN[0]


# ---- SavedModel ----------------------------------------------------------------------------------

def _check_saved_model(folder: Path) -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: the loader says so in one line
        return
    for graph in saved.meta_graphs:
        places = [("the graph", graph.graph_def.node)]
        places += [(f"function {f.signature.name}", f.node_def) for f in graph.graph_def.library.function]
        for place, nodes in places:
            saver = place.startswith("function ") and place[9:].startswith(unsafe_ops.SAVER_FUNCTION_PREFIXES)
            for node in nodes:
                reason = unsafe_ops.SIDE_EFFECT_OPS.get(node.op) or (
                    None if saver else unsafe_ops.CHECKPOINT_OPS.get(node.op))
                if reason:
                    raise refuse(f"op {node.op} ('{node.name}' in {place}), which {reason}", folder)
    _check_keras_metadata(folder)


def _check_keras_metadata(folder: Path) -> None:
    """A tf_keras SavedModel revives its layers from the configs in keras_metadata.pb (a Lambda's
    function among them)."""
    metadata_file = folder / "keras_metadata.pb"
    if not metadata_file.is_file():
        return
    from tf_keras.protobuf import saved_metadata_pb2

    metadata = saved_metadata_pb2.SavedMetadata()
    try:
        metadata.ParseFromString(metadata_file.read_bytes())
    except Exception:  # noqa: BLE001 - damaged: the loader says so
        return
    for node in metadata.nodes:
        try:
            config = json.loads(node.metadata)
        except (ValueError, RecursionError):
            continue
        finding = keras_config_finding(config)
        if finding:
            raise refuse(finding, folder / "keras_metadata.pb")


# ---- PyTorch -------------------------------------------------------------------------------------

_CALLING_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2",
                    "EXT4", "BUILD"}


def _check_pt2(path: Path) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return
    with archive:
        for member in archive.infolist():
            if member.file_size > 2**31:
                continue
            try:
                content = archive.read(member)
            except Exception:  # noqa: BLE001 - a damaged member: torch's loader says so
                continue
            finding = _pickle_finding(content, member.filename)
            if finding:
                raise refuse(finding, path)


def _pickle_finding(content: bytes, name: str) -> str | None:
    """Pickled content PyTorch's safe loader would refuse: a torch.save file (a zip holding
    data.pkl, or the legacy format) opened with weights_only=True; a bare pickle with any opcode
    that imports or calls."""
    if content.startswith(b"PK\x03\x04") and b"data.pkl" in content:
        import torch

        try:
            torch.load(io.BytesIO(content), weights_only=True, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - an UnpicklingError names the refused global
            if "weights_only" in str(exc) or "Unsupported" in str(exc) or exc.__class__.__name__ == "UnpicklingError":
                return f"pickled Python objects in {name} ({_refused_global(exc)})"
        return None
    base = name.rsplit("/", 1)[-1]
    if name.endswith(".pkl") or base.startswith(("custom_obj", "opaque_obj")):
        calls = _pickle_calls(content)
        if calls:
            return f"pickled Python objects in {name} ({calls})"
    return None


def _refused_global(exc: BaseException) -> str:
    found = re.search(r"GLOBAL [\w.]+", str(exc))
    return f"{found.group(0)}, which torch.load(weights_only=True) refuses" if found else first_line(exc, 120)


def _pickle_calls(content: bytes) -> str | None:
    """The first opcode of a pickle that would import or call something; None for plain data (or
    bytes that are not a pickle at all)."""
    try:
        for opcode, argument, _ in pickletools.genops(content):
            if opcode.name in _CALLING_OPCODES:
                return f"{opcode.name} {argument}" if argument is not None else opcode.name
            if opcode.name == "STOP":
                return None
    except Exception:  # noqa: BLE001 - not a pickle: raw tensor bytes
        return None
    return None
