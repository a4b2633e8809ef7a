"""Keras 3 layers users bring (issue 35): one that ended in a traceback, and one TFLM has no kernel
for, which must not end a run in success. Each model is made here, trained in seconds on
scikit-learn's data with fixed seeds, and run through main.py as a user runs it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_main


def _digits_cnn(folder: Path, activation: str) -> Path:
    """Conv2D -> BatchNormalization -> Activation(activation) -> pooling -> Dense, Keras 3 `.keras`."""
    import keras
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(7)
    data = load_digits()
    x = data.data.astype(np.float32).reshape(-1, 8, 8, 1)
    layers = keras.layers
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(8, 3, padding="same"),
                              layers.BatchNormalization(), layers.Activation(activation), layers.MaxPooling2D(2),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:1078]
    model.fit(x[order] / 16.0, data.target[order], epochs=3, batch_size=64, verbose=0)
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    frame = pd.DataFrame(data.data.astype(np.float32), columns=[f"p{i}" for i in range(64)])
    frame["digit"] = data.target
    frame.to_csv(folder / "data.csv", index=False)
    specs = {"name": f"cnn_{activation}", "task": "classification", "input": {"shape": [8, 8, 1], "std": 16.0},
             "output": {"shape": [10]}}
    (folder / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
    return folder


def test_a_keras3_swish_cnn_reaches_an_int8_variant_tflm_runs(tmp_path):
    # Keras 3's swish is tf.nn.silu, whose custom gradient captures its beta: saving the function
    # for the converter with its gradients ended in "Found invalid capture Tensor(.../beta:0)"
    model_dir = _digits_cnn(tmp_path / "swish", "swish")
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export))
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-2000:]
    variants = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}
    int8 = variants["int8"]
    assert not int8["error"] and int8["firmware"]["tflm_runnable"] is True, int8["firmware"]
    assert int8["within_tolerance"] is True
    assert (export / "int8" / "cnn_swish_model_data.c").is_file()


def test_a_failed_export_for_the_converter_is_one_line(tmp_path, monkeypatch):
    """Whatever TensorFlow's SavedModel export raises becomes the converter's failure, which the
    pipeline words as one line (or a failed row with -q all), never a traceback."""
    import keras

    from helpers.convert import converter, isolated
    from helpers.core.quantization import Quantization
    from helpers.core.specs import parse_specs
    from helpers.core.variant import converted_plan
    from helpers.errors import ModelError
    from helpers.frontend.model_loader import LoadedModel, ModelFormat

    def broken_save(*args, **kwargs):
        raise ValueError("Found invalid capture Tensor(\"x:0\")\nwhen saving custom gradients")

    monkeypatch.setattr(isolated.tf.saved_model, "save", broken_save)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model = LoadedModel(keras=net, format=ModelFormat.KERAS3, path=tmp_path / "m.keras", is_keras2=False,
                        input_shape=(4,))
    specs = parse_specs({"task": "regression", "input": {"shape": [4]}, "output": {"shape": [3]}},
                        tmp_path / "specs.json", "m")
    # the worker process may hold other tests' exports (cached by model): only this one must go
    before = set(isolated._root().glob("model_*"))
    try:
        converter.convert(model, specs, converted_plan(Quantization.NONE), np.zeros((4, 4), np.float32))
    except ModelError as exc:
        line = exc.one_line()
    else:
        raise AssertionError("a failed export converted")
    assert "\n" not in line and "exporting the model's function for the converter failed" in line, line
    assert "invalid capture" in line
    assert set(isolated._root().glob("model_*")) == before, "the half-written export stays behind"


def _x_sign(v):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    return v * tf.math.sign(v)


def _sign_mlp(folder: Path) -> Path:
    """Dense(16), x * sign(x), Dense(3, softmax) on iris, saved as a Keras 2 SavedModel (a Lambda
    there is a traced function, no Python to run): every variant holds SIGN, which TFLM has no
    kernel for and no rewrite replaces (GELU has one: gelu_erf_to_logistic)."""
    from helpers.frontend.tf_runtime import seed_everything, tf_keras
    from sklearn.datasets import load_iris

    seed_everything(7)
    keras = tf_keras
    data = load_iris()
    x = data.data.astype(np.float32)
    mean, std = x.mean(0), x.std(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(16),
                              keras.layers.Lambda(_x_sign),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    order = np.random.default_rng(0).permutation(len(x))[:90]
    model.fit((x[order] - mean) / std, data.target[order], epochs=40, batch_size=16, verbose=0)
    folder.mkdir(parents=True)
    model.save(folder / "saved_model", save_format="tf")
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame["species"] = data.target
    frame.to_csv(folder / "data.csv", index=False)
    specs = {"name": "mlp_sign", "task": "classification",
             "input": {"shape": [4], "mean": mean.tolist(), "std": std.tolist()}, "output": {"shape": [3]}}
    (folder / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
    return folder


@pytest.mark.parametrize("checks", [(), ("--skip_firmware_checks",)], ids=["checked", "skipped"])
def test_a_run_nothing_of_which_can_be_flashed_exits_3_naming_the_op(tmp_path, checks):
    # with the checks skipped, the op list alone says TFLM cannot run SIGN
    model_dir = _sign_mlp(tmp_path / "sign")
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "integer_with_float_fallback", "-e", *checks,
                      "--trust_model_code", "--export_dir", str(export))
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert ("no variant of the run can be flashed: TFLM has no kernel for SIGN (float32, integer_with_float_fallback)"
            in errors[0]) and "the export is written" in errors[0]
    assert "replace the layers that make SIGN" in errors[0]
    variants = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}
    fallback = variants["integer_with_float_fallback"]
    assert fallback["firmware"]["tflm_runnable"] is False and fallback["metrics"]
    assert (export / "integer_with_float_fallback" / "NOT_FOR_MCU.md").is_file()


def _diabetes_residual_h5(folder: Path) -> Path:
    """A Keras 3 functional regression with a residual Add, saved as `.h5` (what Keras 3 still writes
    for `model.save("x.h5")`): Dense -> PReLU, Dense -> BatchNormalization, Add, tanh, Dense."""
    import keras
    from sklearn.datasets import load_diabetes

    keras.utils.set_random_seed(3)
    x, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    inputs = keras.Input((10,))
    hidden = keras.layers.PReLU()(keras.layers.Dense(16)(inputs))
    branch = keras.layers.BatchNormalization()(keras.layers.Dense(16)(hidden))
    hidden = keras.layers.Activation("tanh")(keras.layers.Add()([hidden, branch]))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile("adam", "mse")
    model.fit(x, y, epochs=20, verbose=0)
    folder.mkdir(parents=True)
    model.save(folder / "model.h5")
    frame = pd.DataFrame(x.astype(np.float32), columns=[f"x{i}" for i in range(10)])
    frame["target"] = y
    frame.to_csv(folder / "diabetes.csv", index=False)
    specs = {"name": "diabetes_res", "task": "regression", "input": {"shape": [10]}, "output": {"shape": [1]}}
    (folder / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
    return folder


def test_a_keras3_h5_loads_with_keras3_and_pruning_its_branches_is_one_line(tmp_path):
    # tf_keras read every .h5 and refused Keras 3's configs ("Error when deserializing class
    # 'InputLayer'", blamed on the file); --prune then rebuilt the residual model as a Sequential
    # stack and ended in tf_keras's traceback
    model_dir = _diabetes_residual_h5(tmp_path / "diabetes")
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "--export_dir", str(tmp_path / "ptq"))
    assert result.returncode == 0, result.stderr[-2000:]
    variants = {v["name"]: v for v in json.loads((tmp_path / "ptq" / "report.json").read_text())["variants"]}
    assert variants["int8"]["within_tolerance"] is True, variants["int8"]

    pruned = run_main("--input_dir", str(model_dir), "--prune", "--PTQ", "-q", "int8", "--export_dir",
                      str(tmp_path / "pruned"))
    assert pruned.returncode != 0 and "Traceback" not in pruned.stderr, pruned.stderr[-3000:]
    last = pruned.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the Keras 3 model is not a plain stack of layers") and "--PTQ only" in last
    assert not (tmp_path / "pruned").exists()
