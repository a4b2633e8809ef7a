"""The per-layer profile's rows without a target: TFLM's events and the engine's calls line up by
op (an op with no call, an op with two), and the firmware block reads back what it wrote."""
from __future__ import annotations

from helpers.core.profile import TargetProfile, line_up
from helpers.core.results import FirmwareResult


def test_calls_are_summed_per_op_and_line_up_with_tflm_events():
    graph_ops = ("CONV_2D", "RESHAPE", "TRANSPOSE_CONV", "SOFTMAX")
    step_ops = (0, 2, 2, 3)             # RESHAPE aliased; TRANSPOSE_CONV a gather and a convolution
    tflm = (("CONV_2D", 400), ("RESHAPE", 40), ("TRANSPOSE_CONV", 900), ("SOFTMAX", 120))
    rows = line_up(graph_ops, tflm, step_ops, (360, 200, 640, 80))
    assert [(r.op, r.tflm_instructions, r.engine_instructions, r.engine_steps) for r in rows] == [
        ("CONV_2D", 400, 360, 1), ("RESHAPE", 40, 0, 0), ("TRANSPOSE_CONV", 900, 840, 2), ("SOFTMAX", 120, 80, 1)]
    profile = TargetProfile(target="cortex-m4", instructions_per_tick=40.0, layers=rows)
    assert (profile.tflm_sum, profile.engine_sum) == (1460, 1280)


def test_a_side_not_profiled_has_no_figures_and_no_sum():
    rows = line_up(("FULLY_CONNECTED",), None, (0,), None)
    assert rows[0].tflm_instructions is None and rows[0].engine_instructions is None
    assert TargetProfile(target="cortex-m0plus", instructions_per_tick=40.0, layers=rows).tflm_sum is None
    # without a lowered program (no engine), TFLM's events name the ops
    assert [r.op for r in line_up((), (("ADD", 80), ("MUL", 40)), (), None)] == ["ADD", "MUL"]


def test_the_firmware_block_reads_back_its_profile():
    rows = line_up(("CONV_2D", "RESHAPE"), (("CONV_2D", 400), ("RESHAPE", 40)), (0,), (360,))
    profile = TargetProfile(target="cortex-m4", instructions_per_tick=40.0, layers=rows, tflm_profiled=520,
                            tflm_inference=480, engine_profiled=400, engine_inference=380)
    block = FirmwareResult(profile=(profile,)).to_dict()
    assert block["profile"]["cortex-m4"]["tflm_sum"] == 440
    assert FirmwareResult.from_dict(block) == FirmwareResult(profile=(profile,))
    assert "profile" not in FirmwareResult().to_dict()   # reports without it read back unchanged


def test_profile_needs_an_emulated_target(monkeypatch):
    import pytest

    from helpers.config import parse_args
    from helpers.errors import ConfigError

    monkeypatch.delenv("TFLM_DIR", raising=False)
    with pytest.raises(ConfigError, match="--profile times each layer on an emulated target"):
        parse_args(["--input_dir", "models/digits_cnn", "--profile"])
    with pytest.raises(ConfigError, match="--profile"):
        parse_args(["--input_dir", "models/digits_cnn", "--profile", "--tflm_dir", "/nonexistent", "--target", "host"])
    config = parse_args(["--input_dir", "models/digits_cnn", "--profile", "--tflm_dir", "/nonexistent"])
    assert config.profile and "cortex-m4" in config.targets
