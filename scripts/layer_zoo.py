"""The layer zoo (issue 35): for each Keras 3 layer and activation a TinyML user reaches for, a tiny
model trained in seconds on scikit-learn's data (fixed seeds), saved as a user saves it (`.keras`,
specs.json, data.csv), run through `main.py --PTQ -q all -e` and summed up in a markdown table:
the exit code, whether the int8 variant runs on TFLM, the engines, and what blocks it.

    python scripts/layer_zoo.py [--only NAME,...] [--out docs/layer_zoo.md] [--timeout 240]
                                [--results rows.jsonl]
    python scripts/layer_zoo.py --render rows.jsonl [more.jsonl ...] --out docs/layer_zoo.md

`--results` appends each layer's row as it finishes; `--render` makes the table from such files
without surveying (the last row of a layer wins, so a rerun with `--only` replaces its rows).

Models and exports go to a temporary folder. `--max_drop 100 --no_recovery` keep the accuracy
guard and its recovery out of the survey: it asks which layers reach a microcontroller, and the
recovery's search would take minutes per layer.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DIGITS_ROWS = 600   # enough to train on and to measure; fewer rows make each run quicker
FLAGS = ("--PTQ", "-q", "all", "-e", "--max_drop", "100", "--no_recovery")


def _data(kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Rows, labels and the specs' input block of a kind: iris (4,), digits as an image (8, 8, 1), as a
    sequence of 8 rows of 8 pixels (8, 8), or as 64 integer tokens (64,)."""
    from sklearn.datasets import load_digits, load_iris

    if kind == "iris":
        data = load_iris()
        x = data.data.astype(np.float32)
        return x, data.target, {"shape": [4], "mean": x.mean(0).tolist(), "std": x.std(0).tolist()}
    data = load_digits()
    picked = np.random.default_rng(0).permutation(len(data.data))[:DIGITS_ROWS]
    x, y = data.data[picked].astype(np.float32), data.target[picked]
    shapes = {"image": [8, 8, 1], "sequence": [8, 8], "tokens": [64]}
    block: dict[str, Any] = {"shape": shapes[kind]}
    if kind != "tokens":
        block["std"] = 16.0
    return x, y, block


def _seq(*layers: Any, head: bool = True) -> Callable[[Any, Any], Any]:
    """A builder: the layers after the input, then Flatten and the classifier head."""
    def build(keras: Any, inputs: Any) -> Any:
        x = inputs
        for layer in layers:
            x = layer(keras)(x)
        if head:
            x = keras.layers.Flatten()(x)
        return x
    return build


def _merge(name: str) -> Callable[[Any, Any], Any]:
    """Two Dense branches of the input joined by a merge layer."""
    def build(keras: Any, inputs: Any) -> Any:
        a = keras.layers.Dense(8, activation="relu")(inputs)
        b = keras.layers.Dense(8, activation="tanh")(inputs)
        return getattr(keras.layers, name)()([a, b])
    return build


def _attention(keras: Any, inputs: Any) -> Any:
    x = keras.layers.Dense(8)(inputs)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    return keras.layers.Flatten()(x)


def _act(name: str) -> tuple[str, Callable[[Any, Any], Any]]:
    return "iris", _seq(lambda k: k.layers.Dense(16), lambda k: k.layers.Activation(name), head=False)


def _gelu_tanh(keras: Any) -> Any:
    """GELU's tanh form (`approximate=True`), which `Activation("gelu")` does not reach: a keras.ops
    call in the functional graph (saved and loaded without a Lambda's safe_mode)."""
    return lambda x: keras.ops.gelu(x, approximate=True)


def _L(name: str, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    return lambda keras: getattr(keras.layers, name)(*args, **kwargs)


CONV = _L("Conv2D", 8, 3, padding="same", activation="relu")
DOWN = _L("Conv2D", 4, 3, strides=2, padding="same", activation="relu")
CONV1 = _L("Conv1D", 8, 3, padding="same", activation="relu")
DOWN1 = _L("Conv1D", 4, 3, strides=2, padding="same", activation="relu")
DENSE = _L("Dense", 16, activation="relu")

# name -> (data kind, builder of the body; a Dense softmax head follows)
ZOO: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "Conv1D": ("sequence", _seq(CONV1)),
    "Conv2D": ("image", _seq(CONV)),
    "DepthwiseConv1D": ("sequence", _seq(CONV1, _L("DepthwiseConv1D", 3, activation="relu"))),
    "DepthwiseConv2D": ("image", _seq(CONV, _L("DepthwiseConv2D", 3, activation="relu"))),
    "SeparableConv1D": ("sequence", _seq(_L("SeparableConv1D", 8, 3, activation="relu"))),
    "SeparableConv2D": ("image", _seq(_L("SeparableConv2D", 8, 3, activation="relu"))),
    "Conv2DTranspose": ("image", _seq(DOWN, _L("Conv2DTranspose", 4, 3, strides=2, padding="same",
                                                activation="relu"))),
    "UpSampling1D": ("sequence", _seq(DOWN1, _L("UpSampling1D", 2))),
    "UpSampling2D nearest": ("image", _seq(DOWN, _L("UpSampling2D", 2))),
    "UpSampling2D bilinear": ("image", _seq(DOWN, _L("UpSampling2D", 2, interpolation="bilinear"))),
    "ZeroPadding1D": ("sequence", _seq(_L("ZeroPadding1D", 1), CONV1)),
    "ZeroPadding2D": ("image", _seq(_L("ZeroPadding2D", 1), CONV)),
    "Cropping1D": ("sequence", _seq(_L("Cropping1D", 1), CONV1)),
    "Cropping2D": ("image", _seq(_L("Cropping2D", 1), CONV)),
    "MaxPooling1D": ("sequence", _seq(CONV1, _L("MaxPooling1D", 2))),
    "MaxPooling2D": ("image", _seq(CONV, _L("MaxPooling2D", 2))),
    "AveragePooling1D": ("sequence", _seq(CONV1, _L("AveragePooling1D", 2))),
    "AveragePooling2D": ("image", _seq(CONV, _L("AveragePooling2D", 2))),
    "GlobalMaxPooling1D": ("sequence", _seq(CONV1, _L("GlobalMaxPooling1D"))),
    "GlobalMaxPooling2D": ("image", _seq(CONV, _L("GlobalMaxPooling2D"))),
    "GlobalAveragePooling1D": ("sequence", _seq(CONV1, _L("GlobalAveragePooling1D"))),
    "GlobalAveragePooling2D": ("image", _seq(CONV, _L("GlobalAveragePooling2D"))),
    "BatchNormalization": ("image", _seq(_L("Conv2D", 8, 3), _L("BatchNormalization"), _L("ReLU"))),
    "LayerNormalization": ("image", _seq(_L("Conv2D", 8, 3), _L("LayerNormalization"), _L("ReLU"))),
    "GroupNormalization": ("image", _seq(_L("Conv2D", 8, 3), _L("GroupNormalization", groups=2), _L("ReLU"))),
    "Dense": ("iris", _seq(DENSE, head=False)),
    "Embedding": ("tokens", _seq(_L("Embedding", 17, 4), _L("GlobalAveragePooling1D"), head=False)),
    "MultiHeadAttention": ("sequence", _attention),
    "LSTM": ("sequence", _seq(_L("LSTM", 12), head=False)),
    "GRU": ("sequence", _seq(_L("GRU", 12), head=False)),
    "SimpleRNN": ("sequence", _seq(_L("SimpleRNN", 12), head=False)),
    "Bidirectional LSTM": ("sequence", _seq(lambda k: k.layers.Bidirectional(k.layers.LSTM(8)), head=False)),
    "Bidirectional GRU": ("sequence", _seq(lambda k: k.layers.Bidirectional(k.layers.GRU(8)), head=False)),
    "Bidirectional SimpleRNN": ("sequence", _seq(lambda k: k.layers.Bidirectional(k.layers.SimpleRNN(8)),
                                                 head=False)),
    "TimeDistributed": ("sequence", _seq(lambda k: k.layers.TimeDistributed(k.layers.Dense(8, activation="relu")))),
    "Add": ("iris", _merge("Add")),
    "Subtract": ("iris", _merge("Subtract")),
    "Multiply": ("iris", _merge("Multiply")),
    "Average": ("iris", _merge("Average")),
    "Maximum": ("iris", _merge("Maximum")),
    "Concatenate": ("iris", _merge("Concatenate")),
    "Reshape": ("image", _seq(_L("Reshape", (16, 4)), CONV1)),
    "Flatten": ("image", _seq(_L("Flatten"), DENSE, head=False)),
    "Permute": ("sequence", _seq(_L("Permute", (2, 1)), CONV1)),
    "RepeatVector": ("iris", _seq(_L("Dense", 8, activation="relu"), _L("RepeatVector", 3), CONV1)),
    "Rescaling": ("image", _seq(_L("Rescaling", 2.0, offset=-1.0), CONV)),
    "Normalization": ("image", _seq(_L("Normalization", mean=0.3, variance=0.1), CONV)),
    "Resizing": ("image", _seq(_L("Resizing", 12, 12), DOWN)),
    "Dropout": ("iris", _seq(DENSE, _L("Dropout", 0.2), head=False)),
    "SpatialDropout1D": ("sequence", _seq(CONV1, _L("SpatialDropout1D", 0.2))),
    "SpatialDropout2D": ("image", _seq(CONV, _L("SpatialDropout2D", 0.2))),
    "GaussianNoise": ("iris", _seq(DENSE, _L("GaussianNoise", 0.1), head=False)),
    "PReLU": ("iris", _seq(lambda k: k.layers.Dense(16), _L("PReLU"), head=False)),
    **{f"activation {name}": _act(name) for name in (
        "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "hard_sigmoid", "hard_swish",
        "mish", "softplus", "softsign", "tanh", "sigmoid", "exponential", "log_softmax")},
    "activation gelu approximate": ("iris", _seq(lambda k: k.layers.Dense(16), _gelu_tanh, head=False)),
}


def build_model(name: str, folder: Path) -> Path:
    """The zoo entry's model directory: trained, saved as .keras, with specs.json and data.csv."""
    import keras

    kind, body = ZOO[name]
    keras.utils.set_random_seed(7)
    x, y, block = _data(kind)
    inputs = keras.Input(tuple(block["shape"]))
    outputs = keras.layers.Dense(len(set(y.tolist())), activation="softmax")(body(keras, inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    mean, std = np.asarray(block.get("mean", 0.0), np.float32), np.asarray(block.get("std", 1.0), np.float32)
    train = np.random.default_rng(1).permutation(len(x))[: int(len(x) * 0.6)]
    model.fit(((x[train] - mean) / std).reshape((-1, *block["shape"])), y[train], epochs=15 if kind == "iris" else 6,
              batch_size=32, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["label"] = y
    frame.to_csv(folder / "data.csv", index=False)
    specs = {"name": "zoo_" + "".join(c if c.isalnum() else "_" for c in name.lower()),
             "task": "classification", "input": block, "output": {"shape": [len(set(y.tolist()))]}}
    (folder / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
    return folder


def survey(name: str, work: Path, timeout: float) -> dict[str, Any]:
    """One zoo entry through main.py: its row of the table."""
    started = time.monotonic()
    model_dir = build_model(name, work / "models" / name.replace(" ", "_"))
    export = work / "exports" / name.replace(" ", "_")
    try:
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--input_dir", str(model_dir), *FLAGS,
                               "--export_dir", str(export)], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"layer": name, "exit": "timeout", "int8": "-", "engines": "-", "took": "-", "rewrites": "",
                "note": f"over {timeout:.0f} s",
                "traceback": None, "seconds": round(time.monotonic() - started)}
    row = {"layer": name, "exit": done.returncode, "seconds": round(time.monotonic() - started),
           "traceback": _traceback(done.stderr)}
    return {**row, **_from_report(export / "report.json"), **_note(done.stderr, export / "report.json")}


def _traceback(stderr: str) -> str | None:
    if "Traceback" not in stderr:
        return None
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "Traceback"


def _variants(report: Path) -> dict[str, dict[str, Any]]:
    if not report.is_file():
        return {}
    return {v["name"]: v for v in json.loads(report.read_text())["variants"]}


def _from_report(report: Path) -> dict[str, Any]:
    """The int8 variant's TFLM verdict and the engines that took it."""
    variants = _variants(report)
    int8, rewrites = variants.get("int8"), _rewrites(variants)
    if int8 is None:
        return {"int8": "-", "engines": "-", "took": "-", "rewrites": rewrites}
    if int8.get("error"):
        return {"int8": "not built", "engines": "-", "took": "-", "rewrites": rewrites}
    firmware = int8.get("firmware") or {}
    runs = {True: "yes", False: "no", None: "unchecked"}[firmware.get("tflm_runnable")]
    engines = []
    for label, key in (("C", "c_engine"), ("MicroPython", "micropython")):
        engine = firmware.get(key) or {}
        failed = f" ({' '.join(str(engine.get('reason')).split())[:120]})" if engine.get("status") == "fail" else ""
        engines.append(f"{label} {engine.get('status', '-')}{failed}")
    took = [label for label, key in (("C", "c_engine"), ("MicroPython", "micropython"))
            if (firmware.get(key) or {}).get("status") not in (None, "unsupported", "skipped", "fail")]
    return {"int8": runs, "engines": ", ".join(engines), "took": ", ".join(took) or "neither",
            "rewrites": rewrites}


def _rewrites(variants: dict[str, dict[str, Any]]) -> str:
    """The graph rewrites of the run: each pass with the variants it applied to (`all` when every
    TFLite variant had it)."""
    tflite = [n for n, v in variants.items() if v.get("format") == "tflite" and not v.get("error")]
    where: dict[str, list[str]] = {}
    for name in tflite:
        for rewrite in variants[name].get("rewrites") or []:
            where.setdefault(rewrite["name"], []).append(name)
    return "; ".join(f"{p} ({'all' if len(v) == len(tflite) else ', '.join(v)})" for p, v in where.items())


def _note(stderr: str, report: Path) -> dict[str, str]:
    """What blocks the int8 variant (its error or TFLM's reason), and the run's error line if any."""
    int8 = _variants(report).get("int8") or {}
    firmware = int8.get("firmware") or {}
    said = int8.get("error") or (firmware.get("tflm_reason") if firmware.get("tflm_runnable") is False else None)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    parts = ([f"int8: {said}"] if said else []) + errors[:1]
    note = re.sub(r" \([^()]*/specs\.json\)", "", " / ".join(parts))  # the temporary model folder says nothing
    return {"note": " ".join(note.split())[:400]}


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table, and its figures: how many reach an int8 variant TFLM runs, how many tracebacks."""
    reached = sum(1 for r in rows if r["int8"] == "yes")
    tracebacks = [r for r in rows if r["traceback"]]
    took = {label: sum(1 for r in rows if r["int8"] == "yes" and label in r.get("took", "").split(", "))
            for label in ("C", "MicroPython")}
    lines = [f"{reached} of {len(rows)} layers and activations reach an int8 variant TFLM runs; "
             f"the C engine took {took['C']} of those and the MicroPython engine {took['MicroPython']}; "
             f"{len(tracebacks)} traceback(s).", "",
             "| layer | exit | int8 on TFLM | engines took int8 | engines (int8) | rewrites | "
             "blocking op / first error line | s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        note = (f"TRACEBACK: {r['traceback']}" if r["traceback"] else r["note"]).replace("|", "\\|")
        lines.append(f"| {r['layer']} | {r['exit']} | {r['int8']} | {r.get('took', '-')} | {r['engines']} | "
                     f"{r.get('rewrites', '')} | {note} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def _rendered(files: list[Path]) -> list[dict[str, Any]]:
    """The rows of JSON-lines files, the last one of each layer, in the zoo's order."""
    latest = {}
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                latest[row["layer"]] = row
    return [latest[name] for name in ZOO if name in latest]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated zoo names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    parser.add_argument("--results", type=Path, default=None, help="JSON lines, one per layer, appended as they finish")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--render", type=Path, nargs="+", default=None, help="JSON-lines files to make the table of")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(ZOO)
    rows = _rendered(args.render) if args.render else []
    with tempfile.TemporaryDirectory(prefix="layer-zoo-") as tmp:
        for name in [] if args.render else names:
            row = survey(name, Path(tmp), args.timeout)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.results is not None:
                with args.results.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(row) + "\n")
    table = markdown(rows)
    if args.out is not None:
        args.out.write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
