"""Byte accounting of every variant, and --strip with its proof of identical TFLM outputs."""
from __future__ import annotations

import json

from helpers.convert.strip import strip_model
from helpers.core.byte_account import account
from helpers.core.flatbuffer import inspect_tflite
from tests.conftest import run_main


def test_every_byte_is_accounted_for(iris_export):
    for variant in json.loads((iris_export / "report.json").read_text())["variants"][1:]:
        parts = variant["bytes"]
        assert parts["total"] == variant["size_bytes"]
        assert parts["weights_and_biases"] + parts["structure"] == parts["total"]
        assert parts["tensor_names"] > 0 and parts["metadata"] > 0 and parts["signatures"] > 0
    int8 = next(v for v in json.loads((iris_export / "report.json").read_text())["variants"] if v["name"] == "int8")
    assert int8["bytes"]["quantization_parameters"] > 0


def test_strip_removes_names_signatures_metadata_and_keeps_tflm_outputs(iris_dir, tmp_path):
    export = tmp_path / "o"
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "-e", "--strip", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    variants = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}
    for name in ("float32", "int8"):
        strip = variants[name]["strip"]
        assert strip["applied"] and strip["tflm_outputs_identical"] and strip["saving_bytes"] > 0
        content = (export / name / "model.tflite").read_bytes()
        assert len(content) == strip["bytes_after"] == variants[name]["size_bytes"]
        parts = account(content)
        assert parts.tensor_names == parts.signatures == parts.metadata == 0
        assert variants[name]["firmware"]["tflm_runnable"] is True
    assert variants["int8"]["metrics"]["accuracy"] > 0.8


def test_strip_model_keeps_io_quantization(iris_export):
    content = (iris_export / "int8" / "model.tflite").read_bytes()
    before, after = inspect_tflite(content), inspect_tflite(strip_model(content))
    assert (after.input.scale, after.input.zero_point, after.input.shape) == \
        (before.input.scale, before.input.zero_point, before.input.shape)
    assert after.ops == before.ops
