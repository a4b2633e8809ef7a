"""A model directory that holds a .tflite the project did not make: TFLM's own example models
(hello_world float and int8, micro_speech int8) go through every check as they are, and a bad
file or a flag that needs the source model ends in one line and exit 2."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TFLM_DIR, require_tool, run_main

EXAMPLES = TFLM_DIR / "tensorflow" / "lite" / "micro" / "examples"


def _sine_dir(folder: Path, model: str, input_shape: int = 1) -> Path:
    """hello_world learned y = sin(x) on [0, 2 pi]: its data set is the function itself."""
    require_tool("tflm")  # the model files are TFLM's own, in its tree
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLES / "hello_world" / "models" / model, folder / model)
    specs = {"name": "hello_world", "task": "regression", "input": {"shape": [input_shape]},
             "output": {"shape": [1]}}
    (folder / "specs.json").write_text(json.dumps(specs))
    x = np.random.default_rng(0).uniform(0, 2 * math.pi, (600, input_shape))
    lines = [",".join([f"x{i}" for i in range(input_shape)] + ["y"])]
    lines += [",".join(f"{v:.6f}" for v in row) + f",{math.sin(row[0]):.6f}" for row in x]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    return folder


def _report(export: Path) -> dict:
    return json.loads((export / "report.json").read_text())


def _rows(export: Path) -> dict[str, dict]:
    return {v["name"]: v for v in _report(export)["variants"]}


def test_tflms_int8_hello_world_is_proven_as_given(tmp_path):
    require_tool("tflm")
    require_tool("c++")
    model = _sine_dir(tmp_path / "hw", "hello_world_int8.tflite")
    export = tmp_path / "out"
    result = run_main("--input_dir", str(model), "-e", "--export_dir", str(export), "--tflm_dir", str(TFLM_DIR),
                      "--target", "host")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = _rows(export)
    assert list(rows) == ["tflite", "int8"]
    int8 = rows["int8"]
    assert int8["metrics"]["mae"] < 0.05 and int8["metrics"] == rows["tflite"]["metrics"]
    firmware = int8["firmware"]
    assert firmware["tflm_runnable"] is True and firmware["targets"]["host"]["status"] == "pass"
    assert firmware["micropython"]["status"] == "pass" and firmware["micropython"]["mismatched_rows"] == 0
    given = (model / "hello_world_int8.tflite").read_bytes()
    assert (export / "int8" / "model.tflite").read_bytes() == given  # the file itself, not a conversion
    assert (export / "int8" / "hello_world_model_data.c").is_file()


def test_a_float_file_and_another_tools_int8_keyword_model(tmp_path):
    float_export = tmp_path / "float_out"
    result = run_main("--input_dir", str(_sine_dir(tmp_path / "hwf", "hello_world_float.tflite")), "-e",
                      "--export_dir", str(float_export))
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(_rows(float_export)) == ["tflite", "float32"]
    assert _rows(float_export)["float32"]["firmware"]["micropython"]["status"] == "pass"

    # micro_speech: 49x40 spectrogram features, 4 classes (silence, unknown, yes, no). No speech
    # data ships in a package here, so the rows are features drawn over the model's input range:
    # the metric means nothing, the identity of every runtime's outputs is what is checked.
    speech = tmp_path / "speech"
    speech.mkdir()
    shutil.copy(EXAMPLES / "micro_speech" / "models" / "micro_speech_quantized.tflite", speech)
    (speech / "specs.json").write_text(json.dumps({
        "name": "micro_speech", "task": "classification", "input": {"shape": [1960]},
        "output": {"shape": [4], "classes": ["silence", "unknown", "yes", "no"]}}))
    rng = np.random.default_rng(1)
    features = rng.uniform(0.0, 25.0, (60, 1960)).round(2)
    labels = rng.integers(0, 4, 60)
    header = ",".join(f"f{i}" for i in range(1960)) + ",label"
    body = "\n".join(",".join(map(str, row)) + f",{label}" for row, label in zip(features, labels))
    (speech / "data.csv").write_text(header + "\n" + body + "\n")
    speech_export = tmp_path / "speech_out"
    result = run_main("--input_dir", str(speech), "-e", "--export_dir", str(speech_export))
    assert result.returncode == 0, result.stderr[-2000:]
    int8 = _rows(speech_export)["int8"]
    assert int8["ops"] == ["DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX"]
    # TFLM's reference kernels and LiteRT's optimized ones round this model's depthwise convolution
    # differently (a few quantized steps): what is flashed is judged against TFLM
    assert int8["firmware"]["tflm_runnable"] is True and int8["firmware"]["tflm_max_difference"] is not None
    assert int8["firmware"]["micropython"]["status"] == "pass"  # identical to TFLM on every row


@pytest.mark.parametrize("case", ["garbage", "truncated", "shape", "prune", "other_q"])
def test_bad_tflite_input_is_one_line_and_exit_2(tmp_path, case):
    model = _sine_dir(tmp_path / "m", "hello_world_float.tflite", input_shape=2 if case == "shape" else 1)
    flags = []
    if case in ("garbage", "truncated"):
        original = (model / "hello_world_float.tflite").read_bytes()
        (model / "hello_world_float.tflite").write_bytes(
            np.random.default_rng(2).bytes(1000) if case == "garbage" else original[: len(original) // 2])
    if case == "prune":
        flags = ["--prune"]
    if case == "other_q":
        flags = ["--PTQ", "-q", "int8"]
    result = run_main("--input_dir", str(model), "-e", "--export_dir", str(tmp_path / "out"), *flags)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    expected = {"garbage": "not a readable TFLite flatbuffer", "truncated": "not a readable TFLite flatbuffer",
                "shape": "does not match the .tflite's input shape", "prune": "--prune needs the source model",
                "other_q": "-q int8 needs the source model"}[case]
    assert expected in error[0]
    assert not (tmp_path / "out").exists()
