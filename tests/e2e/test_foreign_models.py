"""PyTorch (.pt2) and ONNX models through the same pipeline; TF Select ops only on request."""
from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from helpers.emit.identifiers import identifier
from tests.conftest import ROOT, require_tool, run_main


@pytest.fixture(autouse=True)
def _onnx2tf_installed():
    require_tool("onnx2tf")


ONNX_DIR = ROOT / "models" / "digits_torch_onnx"
PT2_DIR = ROOT / "models" / "digits_torch_pt2"
# Tolerance: the int8 variant loses at most 2 accuracy points against the original model.
INT8_TOLERANCE = 0.02


def _variants(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


@pytest.mark.parametrize("model_dir, reference", [(ONNX_DIR, "onnxruntime"), (PT2_DIR, "pytorch")])
def test_onnx_and_pt2_go_through_every_ptq_type(model_dir, reference, tmp_path):
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "all", "-e", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    variants = _variants(export)
    assert list(variants)[0] == reference and variants[reference]["format"] == reference
    accuracy = variants[reference]["metrics"]["accuracy"]
    assert accuracy > 0.9
    assert variants["int8"]["metrics"]["accuracy"] >= accuracy - INT8_TOLERANCE
    assert variants["float32"]["reference_difference"]["relative_to_range"] < 1e-4
    assert (export / "int8" / f"{identifier('digits_torch')}_model_data.h").is_file()


def _module(path):
    spec = importlib.util.spec_from_file_location("m", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("keep_layout", [False, True])
def test_channels_first_model_gets_the_right_answers_in_both_layouts(keep_layout, tmp_path):
    export = tmp_path / "out"
    flags = ["--keep_layout"] if keep_layout else []
    result = run_main("--input_dir", str(ONNX_DIR), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export), *flags)
    assert result.returncode == 0, result.stderr
    variants = _variants(export)
    assert variants["float32"]["metrics"] == variants["onnxruntime"]["metrics"]
    specs = json.loads((export / "int8" / "specs.json").read_text())
    layout = specs["input_layout"]
    assert layout["channels_last"] is (not keep_layout)
    assert specs["input_tensor"]["shape"][1:] == layout["firmware_shape"]
    assert layout["firmware_shape"] == ([1, 8, 8] if keep_layout else [8, 8, 1])
    header = (export / "int8" / "digits_torch_model_data.h").read_text()
    assert f"DIGITS_TORCH_INPUT_CHANNELS_LAST {0 if keep_layout else 1}" in header

    # The MicroPython helper reorders a CSV row into the model's layout.
    module = _module(export / "int8" / "digits_torch_model.py")
    row = list(range(64))
    ordered = module.to_model_layout(row)
    expected = np.arange(64).reshape(1, 8, 8).transpose(tuple(layout["permutation"])).reshape(-1).tolist()
    assert ordered == expected


def test_prune_on_an_onnx_model_fails_cleanly_before_any_work(tmp_path):
    result = run_main("--input_dir", str(ONNX_DIR), "--prune", "--PTQ", "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--prune needs a Keras model" in result.stderr and "Traceback" not in result.stderr
    assert "onnx2tf" not in result.stderr  # refused before the conversion
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def erf_model_dir(iris_dir, tmp_path_factory):
    """The iris MLP with sinh in the middle: tf.Sinh has no TFLite builtin (an erf would not do: the
    gelu_erf_to_logistic rewrite turns every Erf into ops TFLite has)."""
    from helpers.frontend.tf_runtime import seed_everything, tf_keras

    model_dir = tmp_path_factory.mktemp("erf") / "m"
    shutil.copytree(iris_dir, model_dir)
    seed_everything()
    model = tf_keras.Sequential([tf_keras.layers.Input((4,)), tf_keras.layers.Dense(8),
                                 tf_keras.layers.Lambda(lambda x: __import__("tensorflow").math.sinh(x)),
                                 tf_keras.layers.Dense(3, activation="softmax")])
    (model_dir / "model.h5").unlink()
    model.save(model_dir / "model.h5")
    return model_dir


def test_a_model_needing_a_tf_op_fails_naming_it_and_the_flag(erf_model_dir, tmp_path):
    result = run_main("--input_dir", str(erf_model_dir), "--export_dir", str(tmp_path / "o"), "--trust_model_code")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "tf.Sinh" in last and "--allow_select_ops" in last


def test_select_ops_convert_on_request_and_are_flagged_not_for_microcontrollers(erf_model_dir, tmp_path):
    export = tmp_path / "o"
    result = run_main("--input_dir", str(erf_model_dir), "--allow_select_ops", "-e", "--export_dir", str(export),
                      "--trust_model_code")
    # written, but nothing in it can be flashed: exit 3, one line naming the op and the way out
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "FlexSinh (float32)" in errors[0] and "drop --allow_select_ops" in errors[0], errors
    float32 = _variants(export)["float32"]
    assert float32["firmware"]["tflm_runnable"] is False and "Select" in float32["firmware"]["tflm_reason"]
    assert "FlexSinh" in float32["ops"] and "(Flex) delegate" in float32["evaluation"]
    assert {p.name for p in (export / "float32").iterdir()} == {"model.tflite", "specs.json", "NOT_FOR_MCU.md"}
    # The same flatbuffer given as the model (a .tflite with TF Select ops from elsewhere): one line, exit 2.
    given = tmp_path / "given"
    given.mkdir()
    shutil.copy(export / "float32" / "model.tflite", given / "sinh.tflite")
    for name in ("specs.json", "data.csv"):
        shutil.copy(erf_model_dir / name, given / name)
    refused = run_main("--input_dir", str(given), "-e", "--export_dir", str(tmp_path / "given_out"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-2000:]
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TF Select ops (FlexSinh)" in errors[0]
    assert not (tmp_path / "given_out").exists()
