"""Issue 17, the parts inside TensorFlow's and PyTorch's reach: their errors become one line that
keeps their own words, Ctrl-C stays Ctrl-C, and onnx2tf's temporary folders go."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.core.quantization import Quantization
from helpers.core.specs import load_specs
from helpers.core.variant import converted_plan
from helpers.errors import ModelError
from tests.conftest import ROOT, require_tool, run_main

ONNX_DIR = ROOT / "models" / "digits_torch_onnx"
PT2_DIR = ROOT / "models" / "digits_torch_pt2"


def test_a_converter_failure_keeps_tensorflows_own_first_line():
    from helpers.convert.converter import _conversion_error

    specs = load_specs(ROOT / "models" / "digits_cnn")
    said = RuntimeError("loc(fused[...]): error: 'tfl.fully_connected' op quantization parameters violate the "
                        "same scale constraint\nsecond line")
    error = _conversion_error(said, converted_plan(Quantization.INT8), specs)
    assert "cannot express" in error.problem and "quantization parameters violate" in error.problem
    other = _conversion_error(ValueError("Something odd happened"), converted_plan(Quantization.NONE), specs)
    assert "Something odd happened" in other.problem and isinstance(other, ModelError)


def test_ctrl_c_during_onnx2tf_stays_ctrl_c(monkeypatch, tmp_path):
    require_tool("onnx2tf")
    import onnx2tf

    from helpers.frontend import onnx_torch

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx2tf, "convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        onnx_torch.onnx_to_saved_model(ONNX_DIR / "model.onnx", tmp_path, keep_layout=False)

    def gives_up(**kwargs):
        raise SystemExit(1)  # what onnx2tf does on some failures

    monkeypatch.setattr(onnx2tf, "convert", gives_up)
    with pytest.raises(ModelError, match="onnx2tf could not convert"):
        onnx_torch.onnx_to_saved_model(ONNX_DIR / "model.onnx", tmp_path, keep_layout=False)


def test_pytorch_export_failure_is_a_model_error(monkeypatch, tmp_path):
    require_tool("onnx2tf")
    import torch

    from helpers.frontend import onnx_torch

    def unsupported(*args, **kwargs):
        raise RuntimeError("Unsupported: aten::weird_op\nmore detail")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    with pytest.raises(ModelError, match="could not export the program to ONNX .Unsupported: aten::weird_op."):
        onnx_torch.pt2_to_onnx(PT2_DIR / "model.pt2", load_specs(PT2_DIR), tmp_path)


def test_onnxruntime_refusing_the_model_is_a_model_error(tmp_path):
    require_tool("onnx2tf")
    import numpy as np

    from helpers.frontend import onnx_torch

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="onnxruntime cannot run the original model"):
        onnx_torch.reference_outputs(broken, broken, np.zeros((1, 1, 8, 8), np.float32))


def test_a_savedmodel_without_a_serving_signature_is_a_model_error(tmp_path):
    import tensorflow as tf

    from helpers.frontend import onnx_torch

    tf.saved_model.save(tf.Module(), str(tmp_path / "sm"))
    with pytest.raises(ModelError, match="cannot be used"):
        onnx_torch.load_saved_model(tmp_path / "sm")


def test_onnx2tf_temporary_folders_are_removed(tmp_path):
    require_tool("onnx2tf")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env_before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(temp)
    try:
        result = run_main("--input_dir", str(ONNX_DIR), "--PTQ", "-q", "int8", "--skip_firmware_checks",
                          "--export_dir", str(tmp_path / "o"))
        failed = run_main("--input_dir", str(ONNX_DIR), "--PTQ", "-q", "int8", "--keep_float", "nosuchlayer",
                          "--skip_firmware_checks", "--export_dir", str(tmp_path / "o2"))  # fails after loading
    finally:
        if env_before is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = env_before
    assert result.returncode == 0, result.stderr
    assert failed.returncode == 2 and "nosuchlayer" in failed.stderr
    assert not list(Path(temp).glob("mcu-deploy-onnx2tf-*"))
