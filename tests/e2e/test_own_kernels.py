"""The C engine's own kernels (issue 36; helpers/emit/c_own_conv.py for Armv7E-M, c_own_v6m.py for
Armv6-M) on the boards: a small
depthwise-separable CNN whose layers reach every path of them (1x1 convolutions with 8 and 16
inputs, the unrolled and the plain inner loop, an odd pixel count and an odd channel count; a 3x3
depthwise of 8 channels, two of stride 2 (padded on every side, and not on top), and one of 7 that stays
with CMSIS-NN; a padded 3x3 convolution of one
input channel and a 1x1 of 7 inputs through the im2col kernel; two dense layers through the fully
connected kernel, its plain and its unrolled loop and an odd output count), exported once with
`--PTQ -q int8 -e --target cortex-m4,cortex-m0plus`. The Cortex-M4 runs the Armv7E-M kernels, the
Cortex-M0+ the plain-C Armv6-M ones (every layer here, the 7-channel depthwise too); both must give
TFLM's outputs on every vector."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.emit.c_own_conv import DSP_ONLY
from helpers.emit.c_own_v6m import V6M_ONLY
from tests.conftest import TFLM_DIR, require_tool, run_main

pytestmark = pytest.mark.xdist_group("targets")


def _model(folder: Path) -> Path:
    from tests.zoo import _k2, _write

    keras = _k2()
    layers = keras.layers
    rng = np.random.default_rng(36)
    x = rng.normal(0.0, 1.0, (240, 7, 5, 1)).astype(np.float32)
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype(np.int64) + (x[:, 4:].mean(axis=(1, 2, 3)) > 0)
    inputs = keras.Input((7, 5, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)    # own im2col: 9 columns padded to 12
    h = layers.DepthwiseConv2D(3, padding="same", activation="relu")(h)     # own depthwise: 8 channels
    h = layers.Conv2D(16, 1, activation="relu")(h)                         # own pointwise: 8 in, plain loop
    h = layers.DepthwiseConv2D(3, strides=2, padding="same")(h)            # own depthwise, stride 2: 7x5 -> 4x3, pads 1
    h = layers.Conv2D(7, 1, activation="relu")(h)                          # own pointwise: 16 in, unrolled, odd out
    h = layers.DepthwiseConv2D(3, padding="same", activation="relu")(h)     # 7 channels: CMSIS-NN's
    h = layers.Conv2D(8, 1)(h)                                             # 7 inputs: own im2col, 8 columns
    h = layers.DepthwiseConv2D(3, strides=2, padding="same")(h)            # stride 2: 4x3 -> 2x2, pad top 0, left 1
    h = layers.Dense(16, activation="relu")(layers.GlobalAveragePooling2D()(h))  # own dense: 8 in, plain loop
    outputs = layers.Dense(3, activation="softmax")(h)                    # own dense: 16 in, unrolled, odd out
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    frame = pd.DataFrame(x.reshape(len(x), -1), columns=[f"v{i}" for i in range(35)])
    frame["label"] = y
    specs = {"name": "own_kernels", "task": "classification", "input": {"shape": [7, 5, 1]},
             "output": {"shape": [3]}}
    return _write(folder, model, specs, frame, "model.keras")


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    for tool in ("tflm", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    model = _model(tmp_path_factory.mktemp("own") / "model")
    out = tmp_path_factory.mktemp("own-export") / "out"
    result = run_main("--input_dir", str(model), "--PTQ", "-q", "int8", "-e", "--export_dir", str(out),
                      "--tflm_dir", str(TFLM_DIR), "--target", "cortex-m4,cortex-m0plus", "--max_drop", "100",
                      timeout=1800)
    assert result.returncode in (0, 3), result.stderr[-3000:]
    return out


def test_the_own_kernels_give_tflms_outputs_on_the_m4_and_the_m0plus(export):
    report = json.loads((export / "report.json").read_text())
    firmware = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]
    for core in ("cortex-m4", "cortex-m0plus"):
        tflm, engine = firmware["targets"][core], firmware["c_engine"]["targets"][core]
        assert tflm["status"] == "pass" and engine["status"] == "pass", (core, engine.get("message"))
        assert engine["identical_to_tflm"] is True and engine["outputs_digest"] == tflm["outputs_digest"]
        assert engine["vectors"] == engine["vectors_matching"] > 0
        assert engine["instructions_per_inference"] > 0
    # the own kernels' gain on the M4 (measured 63,360 against TFLM's 138,720: 0.46x)
    m4 = firmware["c_engine"]["targets"]["cortex-m4"]["instructions_per_inference"]
    assert m4 < 0.6 * firmware["targets"]["cortex-m4"]["instructions_per_inference"]
    # and the Armv6-M kernels' on the M0+ (measured 260,360 against TFLM's 379,520: 0.69x)
    m0 = firmware["c_engine"]["targets"]["cortex-m0plus"]["instructions_per_inference"]
    assert m0 < 0.8 * firmware["targets"]["cortex-m0plus"]["instructions_per_inference"]


def test_the_engine_names_the_layers_its_own_kernels_run(export):
    source = next((export / "int8").glob("*_engine.c")).read_text()
    assert source.count("  mcu_pointwise_s8(") == 2 and source.count("  mcu_depthwise_3x3_s8(") == 3
    # every own call sits under the Armv7E-M guard, with CMSIS-NN's call in its #else
    assert source.count("  mcu_conv_s8(") == 2  # the first layer, and the 1x1 of 7 inputs
    assert source.count(f"#if {DSP_ONLY}\n  (void)") == 9
    # the Armv6-M kernels take those nine (in the same chain) and the 7-channel depthwise alone
    assert source.count(f"#elif {V6M_ONLY}\n  (void)") == 9 and source.count(f"#if {V6M_ONLY}\n  (void)") == 1
    assert source.count("  mcu_v6m_rows_s8(") == 5 and source.count("  mcu_v6m_depthwise_s8(") == 4  # 1x1s, dense
    assert source.count("  mcu_v6m_conv_s8(") == 1
    assert source.count("  mcu_fully_connected_s8(") == 2 and "arm_fully_connected_per_channel_s8(" in source
    assert "FULLY_CONNECTED 8 -> 16: mcu_fully_connected_s8" in source
    assert "FULLY_CONNECTED 16 -> 3: mcu_fully_connected_s8" in source
    # report.json and report.md name them too
    report = json.loads((export / "report.json").read_text())
    layers = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["c_engine"]["own_kernel_layers"]
    assert len(layers) == 9 and "FULLY_CONNECTED 16 -> 3: mcu_fully_connected_s8" in layers
    assert "the engine's own kernels run 9 layers on Armv7E-M cores" in (export / "report.md").read_text()
    v6m = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["c_engine"]["own_kernel_layers_v6m"]
    assert len(v6m) == 10 and "DEPTHWISE_CONV_2D 3x3/1x1 4x3x7: mcu_v6m_depthwise_s8" in v6m
    assert "own plain-C kernels run 10 layers on Armv6-M (Cortex-M0+)" in (export / "report.md").read_text()
    assert "arm_convolve_1x1_s8_fast(" in source and "arm_depthwise_conv_3x3_s8(" in source
    assert "1x1 7x5x8 -> 16: mcu_pointwise_s8" in source and "3x3 7x5x8: mcu_depthwise_3x3_s8" in source
    assert "1x1 4x3x16 -> 7: mcu_pointwise_s8" in source and "3x3/1x1 7x5x1 -> 8: mcu_conv_s8" in source
    assert "3x3/2x2 7x5x16: mcu_depthwise_3x3_s8" in source and "3x3/2x2 4x3x8: mcu_depthwise_3x3_s8" in source


def test_each_own_kernel_layer_was_measured_against_cmsis_nn_on_the_m4_and_the_m0plus_and_the_faster_kept(export):
    """The export's kernel choice: both builds of the engine timed per layer on the Cortex-M4 (the
    run's first Armv7E-M target) and on the Cortex-M0+ (its Armv6-M target); a layer keeps the own
    kernel only where it took fewer instructions. On this model each did (BENCHMARKS.md), so all
    nine Armv7E-M and all ten Armv6-M layers stay."""
    report = json.loads((export / "report.json").read_text())
    engine = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["c_engine"]
    choice = engine["kernel_choice"]
    assert choice["target"] == "cortex-m4" and "note" not in choice, choice
    kept = [layer["layer"] for layer in choice["layers"] if layer["kept"] == "own"]
    assert kept == engine["own_kernel_layers"] and len(choice["layers"]) == 9, choice
    for layer in choice["layers"]:
        assert layer["own_instructions"] > 0 and layer["cmsis_nn_instructions"] > 0
        assert layer["kept"] == ("own" if layer["own_instructions"] < layer["cmsis_nn_instructions"] else "cmsis_nn")
    # the layers timed are a part of the M4 engine's whole inference, measured apart by its self-test
    assert sum(layer["own_instructions"] for layer in choice["layers"]) < \
        engine["targets"]["cortex-m4"]["instructions_per_inference"]
    assert "kernels chosen by measuring each layer both ways on cortex-m4" in (export / "report.md").read_text()
    # the Armv6-M kernels, the same way on the Cortex-M0+ (the run's Armv6-M target): all ten kept
    choice = engine["kernel_choice_v6m"]
    assert choice["target"] == "cortex-m0plus" and "note" not in choice, choice
    assert [layer["layer"] for layer in choice["layers"] if layer["kept"] == "own"] == engine["own_kernel_layers_v6m"]
    assert len(choice["layers"]) == 10 and all(layer["kept"] == "own" for layer in choice["layers"]), choice
    assert "Armv6-M kernels chosen by measuring each layer both ways on cortex-m0plus" in \
        (export / "report.md").read_text()
