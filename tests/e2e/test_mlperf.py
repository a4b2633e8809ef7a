"""A model of MLPerf Tiny's real size through the whole flow: the keyword-spotting DS-CNN of
tests/zoo_mlperf.py (about 25 k parameters, 2.7 M MACs, a SavedModel) with `--PTQ -q int8 -e` on
TFLM and the Cortex-M4 target. One run, many assertions. The other three (ResNet-8, the FC
autoencoder, MobileNetV1) and every other path run in bench/mlperf_bench.py, not per CI run
(BENCHMARKS.md, "Real-size models")."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TFLM_DIR, require_tool, run_main


@pytest.fixture(scope="module")
def ds_cnn_export(tmp_path_factory) -> Path:
    for tool in ("tflm", "c++", "arm-none-eabi-gcc", "qemu-system-arm", "micropython"):
        require_tool(tool)
    from tests.zoo_mlperf import ds_cnn

    model = ds_cnn(tmp_path_factory.mktemp("mlperf") / "ds_cnn")
    export = tmp_path_factory.mktemp("mlperf-export") / "out"
    result = run_main("--input_dir", str(model), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export),
                      "--tflm_dir", str(TFLM_DIR), "--target", "cortex-m4", timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return export


def test_the_ds_cnn_is_real_size_and_every_int8_check_passes(ds_cnn_export):
    report = json.loads((ds_cnn_export / "report.json").read_text())
    variants = {v["name"]: v for v in report["variants"]}
    int8 = variants["int8"]
    assert int8["within_tolerance"] and 20_000 < int8["size_bytes"] < 60_000  # 25 k int8 weights and the graph
    firmware = int8["firmware"]
    # TFLM runs it with its metric; LiteRT's optimized kernels round a few outputs differently from
    # TFLM's (up to a few steps here), and what is flashed is judged against TFLM, as below.
    assert firmware["tflm_runnable"] and firmware["tflm_metrics"]["accuracy"] == pytest.approx(
        int8["metrics"]["accuracy"], abs=0.01)
    m4 = firmware["targets"]["cortex-m4"]
    assert m4["status"] == "pass" and m4["vectors_matching"] == m4["vectors"] > 0
    # 2.7 M MACs: millions of instructions even with CMSIS-NN, read from the timer under -icount
    assert 2_000_000 < m4["instructions_per_inference"] < 50_000_000
    engine = firmware["c_engine"]["targets"]["cortex-m4"]
    assert engine["status"] == "pass" and engine["identical_to_tflm"] is True
    assert engine["instructions_per_inference"] <= 1.05 * m4["instructions_per_inference"]
    assert engine["flash_bytes_without_self_test"] < m4["flash_bytes_without_self_test"]
    # The MicroPython engine: identical on every row it checked, and the rows it did not check said.
    python = firmware["micropython"]
    assert python["status"] == "pass" and python["mismatched_rows"] == 0 and python["rows"] > 0
    if python["rows"] < python["evaluation_rows"]:
        assert f"of {python['evaluation_rows']:,} evaluation rows" in python["reason"]
    # The float32 engine is slow on a model this size: its check is bounded, never the whole run.
    float_python = variants["float32"]["firmware"]["micropython"]
    assert float_python["status"] == "pass"
    assert float_python["rows"] < float_python["evaluation_rows"] and "budget" in float_python["reason"]
    assert float_python["reason"] in (ds_cnn_export / "report.md").read_text()


def test_the_ds_cnn_export_has_its_firmware_files(ds_cnn_export):
    folder = ds_cnn_export / "int8"
    names = {path.name for path in folder.iterdir()}
    stem = "mlperf_ds_cnn"
    for wanted in ("main.cc", f"{stem}_model_data.c", f"{stem}_engine.c", f"{stem}_infer.py", f"{stem}_infer.mpy"):
        assert wanted in names, sorted(names)
