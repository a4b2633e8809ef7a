"""Fuzz inputs: the base model directories (an iris MLP as .h5, SavedModel, int8 .tflite and .onnx,
built in seconds with fixed seeds) and seeded mutations of each model file, of specs.json and of
the CSV. Shared by tests/e2e/test_fuzz.py (CI) and bench/fuzz.py (the long run)."""
from __future__ import annotations

import copy
import json
import math
import random
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

KINDS = ("tflite", "h5", "saved_model", "onnx", "specs", "csv")
MODEL_FILE = {"tflite": "model.tflite", "h5": "model.h5", "saved_model": "saved_model/saved_model.pb",
              "onnx": "model.onnx"}


def _iris() -> tuple[np.ndarray, np.ndarray, pd.DataFrame, dict[str, Any]]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    x = iris.data.astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame["species"] = iris.target
    specs = {"name": "fuzz_iris", "task": "classification",
             "input": {"shape": [4], "mean": mean.round(4).tolist(), "std": std.round(4).tolist()},
             "output": {"shape": [3], "classes": [str(n) for n in iris.target_names]}}
    return (x - mean) / std, iris.target, frame, specs


def build_bases(folder: Path) -> dict[str, Path]:
    """One model directory per model kind (specs and CSV mutations use the .h5 one)."""
    from helpers.frontend.tf_runtime import seed_everything, tf, tf_keras

    x, y, frame, specs = _iris()
    seed_everything()
    model = tf_keras.Sequential([tf_keras.layers.Input((4,)), tf_keras.layers.Dense(8, activation="relu"),
                                 tf_keras.layers.Dense(3, activation="softmax")])
    model.compile(tf_keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    bases = {kind: folder / kind for kind in ("tflite", "h5", "saved_model", "onnx")}
    for directory in bases.values():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
        frame.to_csv(directory / "data.csv", index=False)
    model.save(bases["h5"] / "model.h5")
    model.save(bases["saved_model"] / "saved_model", save_format="tf")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[np.newaxis]] for row in x[:100])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    (bases["tflite"] / "model.tflite").write_bytes(converter.convert())
    _write_onnx(model, bases["onnx"] / "model.onnx")
    return {**bases, "specs": bases["h5"], "csv": bases["h5"]}


def _write_onnx(model: Any, path: Path) -> None:
    """The same MLP as ONNX (Gemm, Relu, Gemm, Softmax), built with onnx.helper: no exporter needed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    (k1, b1), (k2, b2) = [layer.get_weights() for layer in model.layers]
    weights = [numpy_helper.from_array(array.astype(np.float32), name)
               for array, name in ((k1, "k1"), (b1, "b1"), (k2, "k2"), (b2, "b2"))]
    nodes = [helper.make_node("Gemm", ["x", "k1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "k2", "b2"], ["z"]), helper.make_node("Softmax", ["z"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "fuzz_iris", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), str(path))


# ---- bytes -------------------------------------------------------------------------------------

_INTERESTING_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x01)
_INTERESTING_WORDS = (0, 1, -1, 0x7FFFFFFF, -0x80000000, 0xFFFF, 0x10000, 4096, 1 << 24)


def mutate_bytes(content: bytes, rng: random.Random) -> bytes:
    """Mostly one or two in-place edits (bit flips, interesting bytes and 32-bit words: offsets,
    lengths, indices), which keep a file parseable often enough to reach deeper code; sometimes up
    to 8, and sometimes truncation, deleted, inserted or duplicated chunks."""
    data = bytearray(content)
    for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3, rng.randint(4, 8)))):
        if not data:
            break
        where = rng.randrange(len(data))
        edit = rng.random()
        if edit < 0.35:
            data[where] ^= 1 << rng.randrange(8)
        elif edit < 0.55:
            data[where] = rng.choice(_INTERESTING_BYTES)
        elif edit < 0.88:
            aligned = where - where % 4
            word = rng.choice(_INTERESTING_WORDS) & 0xFFFFFFFF
            data[aligned:aligned + 4] = word.to_bytes(4, "little")[:len(data) - aligned]
        elif edit < 0.91:
            del data[rng.randrange(len(data)):]
        elif edit < 0.94:
            del data[where:where + rng.randint(1, 64)]
        elif edit < 0.97:
            data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            data[where:where] = data[where:where + rng.randint(1, 256)]
    return bytes(data)


# ---- specs.json --------------------------------------------------------------------------------

_ODD_VALUES: tuple[Any, ...] = (None, True, False, "x", "", -1, 0, 1, 2**63, -2**31, 1e308, math.nan, math.inf,
                                -math.inf, [], {}, [[[]]], [0], [-1], [10**9], [1e9, 1e9], [4] * 300, "four",
                                [4.5], ["4"], {"shape": [4]}, [[4]], 10**40)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def mutate_specs(text: str, rng: random.Random) -> str:
    """Wrong types, NaN, huge or negative shapes, unknown keys, removed keys, deep nesting, or
    text-level damage (truncation, a BOM, bytes that are not UTF-8)."""
    choice = rng.random()
    if choice < 0.08:
        return text[:rng.randrange(len(text))]
    if choice < 0.12:
        return "\ufeff" + text
    if choice < 0.16:
        return text.replace('"shape": [4]', f'"shape": {_deep(rng.choice([50, 1000, 100000]))}')
    if choice < 0.19:
        return _deep(rng.choice([1000, 200000]))
    if choice < 0.22:
        position = rng.randrange(len(text))
        return text[:position] + rng.choice(["\x00", "\udcff", "}", "{", ",", "NaN", "1e99999"]) + text[position:]
    document = json.loads(text)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(document))
        edit = rng.random()
        if edit < 0.6:
            document = _set(document, path, copy.deepcopy(rng.choice(_ODD_VALUES)))
        elif edit < 0.75 and path and isinstance(document, dict):
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        elif isinstance(document, dict):
            document[rng.choice(["unknown", "inputs", "outputs", "dataset", "name", "sweep", "pruning"])] = \
                copy.deepcopy(rng.choice(_ODD_VALUES + ("../../etc/passwd", "/etc/passwd", "data.csv")))
    return json.dumps(document, allow_nan=True)


# ---- the CSV -----------------------------------------------------------------------------------

_ODD_CELLS = ("nan", "NaN", "inf", "-inf", "1e309", "", " ", "abc", "0x10", "1,5", "--1", '"', "\x00", "9" * 400,
              "setosa", "-1", "3", "99999999999999999999", "1e-320")


def _edit_cells(lines: list[str], rng: random.Random) -> list[str]:
    for _ in range(rng.randint(1, 12)):
        row = rng.randrange(len(lines))
        cells = lines[row].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(_ODD_CELLS)
        lines[row] = ",".join(cells)
    return lines


def _ragged(lines: list[str], rng: random.Random) -> list[str]:
    for _ in range(rng.randint(1, 5)):
        row = rng.randrange(len(lines))
        cells = lines[row].split(",")
        shorter = rng.random() < 0.5
        lines[row] = ",".join(cells[:rng.randrange(len(cells))] if shorter else cells + ["1"] * rng.randint(1, 3))
    return lines


_CSV_EDITS: dict[str, Callable[[list[str], random.Random], list[str]]] = {
    "cells": _edit_cells,
    "ragged": _ragged,
    "bom": lambda lines, rng: ["\ufeff" + lines[0]] + lines[1:],
    "semicolons": lambda lines, rng: [line.replace(",", ";") for line in lines],
    "tabs": lambda lines, rng: [line.replace(",", "\t") for line in lines],
    "one row": lambda lines, rng: lines[:2],
    "header only": lambda lines, rng: lines[:1],
    "no header": lambda lines, rng: lines[1:],
    "empty": lambda lines, rng: [],
    "crlf": lambda lines, rng: [line + "\r" for line in lines],
    "shuffled columns": lambda lines, rng: [",".join(reversed(line.split(","))) for line in lines],
    "extra column": lambda lines, rng: [line + ",0" for line in lines],
    "duplicated rows": lambda lines, rng: lines + lines[1:] * rng.randint(1, 20),
    "unbalanced quote": lambda lines, rng: lines[:-1] + ['"' + lines[-1]],
}


def mutate_csv(text: str, rng: random.Random) -> str:
    """One or two of the edits above; rarely raw bytes damage."""
    lines = text.splitlines()
    if rng.random() < 0.05:
        return mutate_bytes(text.encode(), rng).decode("utf-8", errors="replace")
    for name in rng.sample(sorted(_CSV_EDITS), rng.randint(1, 2)):
        lines = _CSV_EDITS[name](list(lines), rng) if lines else lines
    return "\n".join(lines) + ("\n" if lines else "")


def million_rows(path: Path) -> None:
    """The base CSV repeated to a million rows (about 20 MB)."""
    frame = pd.read_csv(path)
    repeats = math.ceil(1_000_000 / len(frame))
    pd.concat([frame] * repeats, ignore_index=True).iloc[:1_000_000].to_csv(path, index=False)


def make_case(bases: dict[str, Path], kind: str, seed: int, target: Path) -> Path:
    """The base directory of `kind` copied to `target`, with its file mutated by `seed`. Seed 0 of
    the csv kind is the million rows."""
    shutil.copytree(bases[kind], target)
    rng = random.Random(f"{kind}-{seed}")
    if kind in MODEL_FILE:
        path = target / MODEL_FILE[kind]
        path.write_bytes(mutate_bytes(path.read_bytes(), rng))
    elif kind == "specs":
        path = target / "specs.json"
        path.write_text(mutate_specs(path.read_text(encoding="utf-8"), rng), encoding="utf-8", errors="surrogatepass")
    elif kind == "csv" and seed == 0:
        million_rows(target / "data.csv")
    else:
        path = target / "data.csv"
        path.write_text(mutate_csv(path.read_text(encoding="utf-8"), rng), encoding="utf-8", errors="replace")
    return target
