"""The generated C engine (<id>_engine.c calling CMSIS-NN, no TFLM) in the digits and LSTM exports
of test_targets: its self-test passed on host, Cortex-M4 and Cortex-M0+ with outputs identical to
TFLM's on the same core, its figures stand next to TFLM's in report.json, report.md and TARGETS.md,
and the files a firmware project takes (header, source, make and CMake fragments) are sound."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ALL_TARGETS, TFLM_DIR

pytestmark = pytest.mark.xdist_group("targets")
CMSIS_NN = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn"


def _firmware(export: Path, variant: str) -> dict:
    report = json.loads((export / "report.json").read_text())
    return next(v for v in report["variants"] if v["name"] == variant)["firmware"]


@pytest.mark.parametrize("variant", ["int8", "integer_with_float_fallback", "float32"])
def test_digits_engine_is_identical_to_tflm_on_every_target(digits_targets, variant):
    firmware = _firmware(digits_targets, variant)
    engine = firmware["c_engine"]
    assert engine["status"] == "pass", engine
    assert engine["uses_cmsis_nn"] is (variant != "float32")
    for name in ALL_TARGETS.split(","):
        mine, tflm = engine["targets"][name], firmware["targets"][name]
        assert mine["status"] == "pass", mine
        assert mine["identical_to_tflm"] is True and mine["outputs_digest"] == tflm["outputs_digest"]
        assert mine["vectors"] == mine["vectors_matching"] == tflm["vectors"] > 100
        assert mine["metrics"] == tflm["metrics"]
        if name == "host":
            continue
        # the figures come from the engine's own link map: no TFLM at all, CMSIS-NN only where int8
        assert "tflm_runtime" not in mine["flash_breakdown"] and "model_data" not in mine["flash_breakdown"]
        assert mine["ram_breakdown"]["engine_arena"] == engine["arena_bytes"]
        assert mine["instructions_per_inference"] > 1000


def test_digits_int8_engine_meets_the_size_goals_on_the_cortex_m4(digits_targets):
    """Sizes are deterministic for one toolchain and tree: the issue's goals, measured from the maps."""
    firmware = _firmware(digits_targets, "int8")
    mine, tflm = firmware["c_engine"]["targets"]["cortex-m4"], firmware["targets"]["cortex-m4"]

    def code(r: dict) -> int:
        return sum(r["flash_breakdown"].get(k, 0) for k in ("tflm_runtime", "kernels", "engine_code", "engine_data"))

    def model(r: dict) -> int:
        return sum(r["flash_breakdown"].get(k, 0) for k in ("model_data", "engine_constants"))

    def ram(r: dict) -> int:
        return sum(v for k, v in r["ram_breakdown"].items() if k not in ("c_runtime", "self_test", "padding"))

    assert code(mine) <= 0.25 * code(tflm)
    assert code(mine) + model(mine) <= 0.5 * (code(tflm) + model(tflm))
    assert ram(mine) <= 0.7 * ram(tflm)


def test_digits_engine_files(digits_targets):
    folder = digits_targets / "int8"
    header = (folder / "digits_cnn_engine.h").read_text()
    source = (folder / "digits_cnn_engine.c").read_text()
    assert "int digits_cnn_engine_invoke(const int8_t *input, int8_t *output);" in header
    assert "void digits_cnn_engine_reset(void);" in header and 'extern "C"' in header
    assert "on host, cortex-m4, cortex-m0plus" in header and "NOT CHECKED" not in header
    revision = re.search(r"CMSIS-NN ([0-9a-f]{40})", header)
    assert revision and revision.group(1) in (TFLM_DIR / "tensorflow/lite/micro/tools/make/ext_libs/"
                                              "cmsis_nn_download.sh").read_text()
    # sized per core family: a Helium (MVE) core's CMSIS-NN kernels ask for more scratch, so where the
    # figures differ the header picks one by __ARM_FEATURE_MVE, the MVE one first
    arenas = [int(value) for value in re.findall(r"DIGITS_CNN_ENGINE_ARENA_BYTES (\d+)", header)]
    assert arenas[-1] == _firmware(digits_targets, "int8")["c_engine"]["arena_bytes"] and arenas[0] >= arenas[-1]
    assert len(arenas) == 1 or "#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)" in header
    # no interpreter, no flatbuffer, no heap: direct CMSIS-NN calls in graph order
    assert not re.search(r"tflite|TfLite|malloc|g_digits_cnn_model_data", source)
    assert len(re.findall(r"if \(arm_convolve(_1x1|_1_x_n)?_s8(_fast)?\(", source)) == 2 and "arm_softmax_s8(" in source
    # the make fragment lists the engine and exactly the CMSIS-NN sources that exist in the tree
    listed = re.findall(r"\$\(CMSIS_NN\)/(\S+\.c)", (folder / "digits_cnn_engine.mk").read_text())
    assert listed and all((CMSIS_NN / path).is_file() for path in listed)
    assert "Source/SoftmaxFunctions/arm_softmax_s8.c" in listed
    cmake = (folder / "digits_cnn_engine.cmake").read_text()
    assert all(f"${{CMSIS_NN}}/{path}" in cmake for path in listed)
    targets_md = (folder / "TARGETS.md").read_text()
    assert "## The C engine" in targets_md and targets_md.count("| yes |") == 3


def test_report_shows_the_engine_next_to_tflm(digits_targets):
    report_md = (digits_targets / "report.md").read_text()
    section = report_md[report_md.index("## The C engine"):]
    rows = [line for line in section.splitlines() if line.startswith("| int8 | cortex-m4 |")]
    assert len(rows) == 1 and rows[0].count("x)") == 5  # code, model, both, RAM, instructions: each a ratio
    header = report_md.splitlines()[4]
    assert "C engine" in header and "C flash M4 (B)" in header
    # int16x8 has a C engine now (CMSIS-NN's s16 kernels): wherever it was built and run, it passed
    engine = _firmware(digits_targets, "int16x8").get("c_engine")
    if engine is not None:
        assert engine["status"] != "fail" and all(t["status"] != "fail" for t in engine["targets"].values()), engine


def test_lstm_engine_is_identical_to_tflm_on_every_target(lstm_targets):
    for variant in ("int8", "float32"):
        firmware = _firmware(lstm_targets, variant)
        engine = firmware["c_engine"]
        assert engine["status"] == "pass", engine
        for name in ALL_TARGETS.split(","):
            mine = engine["targets"][name]
            assert mine["status"] == "pass" and mine["identical_to_tflm"] is True, mine
    source = (lstm_targets / "int8" / "co2_lstm_engine.c").read_text()
    assert "void co2_lstm_engine_reset(void) {\n  for" in source  # the recurrent state is cleared
    # the own fused LSTM (c_kernels/lstm_s8.c), measured faster than CMSIS-NN's on both cores and kept
    engine = _firmware(lstm_targets, "int8")["c_engine"]
    for key in ("kernel_choice", "kernel_choice_v6m"):
        lstm = next(layer for layer in engine[key]["layers"] if layer["layer"].startswith("LSTM"))
        assert lstm["kept"] == "own" and lstm["own_instructions"] < lstm["cmsis_nn_instructions"], (key, lstm)
    assert "mcu_lstm_s8(" in source and "arm_lstm_unidirectional_s8(" in source  # CMSIS-NN's on the other cores


def test_documented_firmware_example_builds_and_runs_on_the_cortex_m4(digits_targets, tmp_path):
    """examples/firmware_m4 (docs/c-engine.md shows its main.c and Makefile) built as a firmware of its own
    with arm-none-eabi-gcc from the export's make fragment, run under QEMU."""
    import subprocess

    import numpy as np

    from tests.conftest import ROOT

    example = ROOT / "examples" / "firmware_m4"
    page = (ROOT / "docs" / "c-engine.md").read_text()
    assert (example / "main.c").read_text() in page  # the docs show exactly what CI builds
    assert "include $(ENGINE_DIR)/digits_cnn_engine.mk" in page
    result = subprocess.run(["make", "-s", "-C", str(example), f"ENGINE_DIR={digits_targets / 'int8'}",
                             f"CMSIS_NN={CMSIS_NN}", f"BUILD={tmp_path}", "run"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"predicted digit (\d) \(label (\d)\), score (-?\d+)", result.stdout)
    assert found, result.stdout
    test_data = (digits_targets / "int8" / "digits_cnn_test_data.h").read_text()
    outputs = test_data[test_data.index("g_digits_cnn_test_outputs"):]
    first = [int(v) for v in re.search(r"\{\s*\{([^}]*)\}", outputs).group(1).split(",")]
    assert int(found.group(1)) == int(np.argmax(first)) and int(found.group(3)) == max(first)
    assert not (example / "build").exists()

