"""The engines' dead-channel pass (helpers/lowering/passes.py) on a model of our own making: the
digits CNN with filters and units zeroed after training (tests/zoo_dead_channels.py). The engines
drop them and the matching input channels of the next layer; TFLM runs the .tflite as converted.
The proof is the self-tests: the C engine's outputs identical to TFLM's on every vector, on the
host and on the Cortex-M4 (by digest against TFLM's own run there), and the MicroPython engine's
too; report.json and report.md say what was removed, and the profile shows the layers' cost fall."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TFLM_DIR, require_tool, run_main
from tests.zoo_dead_channels import DEAD, DEPTHWISE_DEAD, make, make_depthwise

pytestmark = pytest.mark.xdist_group("targets")


def _export(model: Path) -> Path:
    for tool in ("tflm", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    export = model.parent / "export"
    done = run_main("--input_dir", str(model), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export),
                    "--tflm_dir", str(TFLM_DIR), "--target", "host,cortex-m4", "--profile", timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return export


@pytest.fixture(scope="session")
def dead_export(tmp_path_factory) -> Path:
    return _export(make(tmp_path_factory.mktemp("dead") / "dead_channels"))


@pytest.fixture(scope="session")
def depthwise_export(tmp_path_factory) -> Path:
    return _export(make_depthwise(tmp_path_factory.mktemp("dead_depthwise") / "dead_depthwise"))


def test_dead_channels_are_removed_and_outputs_stay_identical(dead_export):
    report = json.loads((dead_export / "report.json").read_text())
    firmware = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]
    engine = firmware["c_engine"]
    assert engine["status"] == "pass", engine
    # conv -> pool -> conv, conv -> pool -> flatten -> dense, dense -> dense: op positions 0, 2, 5
    removed = {p["producer"]: p for p in engine["graph_passes"]}
    assert {position: tuple(p["channels"]) for position, p in removed.items()} == {
        0: DEAD["conv2d"], 2: DEAD["conv2d_1"], 5: DEAD["dense"]}
    assert [removed[0]["consumer"], removed[2]["consumer"], removed[5]["consumer"]] == [2, 5, 6]
    assert removed[0]["through"] == 1 and removed[2]["through"] == 1 and removed[5]["through"] == 0
    # 2 of conv2d's 3x3x1 filters and their 3x3 slices of conv2d_1's 16 filters; 4 of conv2d_1's
    # 3x3x6 filters (after the first removal) and their 4 positions x 32 units of dense's; 3 units
    assert [removed[p]["weights_removed"] for p in (0, 2, 5)] == [2 * 9 + 2 * 9 * 16, 4 * 54 + 4 * 4 * 32,
                                                                   3 * 48 + 3 * 10]
    for name in ("host", "cortex-m4"):
        mine, tflm = engine["targets"][name], firmware["targets"][name]
        assert mine["status"] == tflm["status"] == "pass"
        assert mine["vectors"] == mine["vectors_matching"] == tflm["vectors"] > 100
        assert mine["identical_to_tflm"] is True and mine["outputs_digest"] == tflm["outputs_digest"]
    assert firmware["micropython"]["status"] == "pass", firmware["micropython"]
    markdown = (dead_export / "report.md").read_text()
    assert markdown.count("dead channels removed (identical outputs)") == 3
    assert "2 of 8 output channels of op 0 (CONV_2D: all-zero weights and bias)" in markdown
    # the layers that lost channels cost the engine less than TFLM on the Cortex-M4
    rows = firmware["profile"]["cortex-m4"]["layers"]
    for position in (0, 2, 5, 6):
        assert rows[position]["engine_instructions"] < rows[position]["tflm_instructions"], rows[position]


def test_dead_channels_through_a_depthwise_layer_fold_into_the_next_bias(depthwise_export):
    """conv -> depthwise -> 1x1 conv: the depthwise layer makes each dead channel a nonzero constant
    (its bias, requantized), folded into the 1x1 convolution's bias; still identical to TFLM."""
    report = json.loads((depthwise_export / "report.json").read_text())
    firmware = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]
    engine = firmware["c_engine"]
    assert engine["status"] == "pass", engine
    (removed,) = engine["graph_passes"]
    assert (removed["producer"], removed["folded_through"], removed["consumer"]) == (0, 1, 2)
    assert tuple(removed["channels"]) == DEPTHWISE_DEAD
    assert removed["weights_removed"] == 3 * 9 + 3 * 9 + 3 * 16   # conv filters, depthwise taps, 1x1 columns
    for name in ("host", "cortex-m4"):
        mine, tflm = engine["targets"][name], firmware["targets"][name]
        assert mine["status"] == tflm["status"] == "pass"
        assert mine["vectors"] == mine["vectors_matching"] == tflm["vectors"] > 100
        assert mine["identical_to_tflm"] is True and mine["outputs_digest"] == tflm["outputs_digest"]
    assert firmware["micropython"]["status"] == "pass", firmware["micropython"]
    assert "whose constant outputs there are folded into the consumer's bias" in (depthwise_export / "report.md").read_text()
