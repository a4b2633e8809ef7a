"""A model with two inputs (`imu` (6,), `audio` (4, 3)) and two outputs (`kind`, a softmax of 3,
and `level`, a regression value), float32, int8 and int16x8 (tests/golden/multiio): lowered once,
its C engine built against CMSIS-NN on this machine and its MicroPython engine run on the unix
port (viper and plain), each identical to TFLM's host interpreter on every row (float32 within
1e-5 relative); the engine's self-test and the TFLM firmware files render for every tensor."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.micropython.runtime import find_micropython
from tests.conftest import TFLM_DIR, require_tool
from tests.multiio_case import QUANTIZATIONS, render_case

CMSIS_INCLUDE = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn/Include"
STRICT = ["-Wall", "-Wextra", "-Wconversion", "-Werror"]

_DRIVER = """
import json
import fusion_infer as m
rows = [json.loads(line) for line in open("rows.jsonl")]
for path in ("viper", "plain"):
    used = m.use_engine(path)
    for row in rows:
        print(path, used, json.dumps([list(o) for o in m.invoke(tuple(row))]))
print("self_test", m.self_test())
"""


@pytest.fixture(scope="module", params=QUANTIZATIONS)
def case(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    return {**render_case(request.param, folder), "folder": folder, "quantization": request.param}


@pytest.fixture(scope="module")
def cmsis_host():
    require_tool("tflm")
    require_tool("cc")
    from helpers.targets.engine_test import cmsis_library
    from helpers.targets.library import open_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    return cmsis_library(open_library(find_tree(TFLM_DIR), TARGETS["host"]))


def _same(got: list[np.ndarray], want: list[np.ndarray], integer: bool) -> bool:
    for g, w in zip(got, want):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        if g.shape != w.shape:
            return False
        if integer and not np.array_equal(g, w):
            return False
        if not integer and np.any(np.abs(g - w) > 1e-5 * (1 + np.abs(w))):
            return False
    return True


def test_the_program_takes_every_input_and_gives_every_output(case):
    program = case["program"]
    assert [p.size for p in program.inputs] == [6, 12] and [p.size for p in program.outputs] == [3, 1]
    ids = [p.operand for p in program.inputs + program.outputs]
    assert len(set(ids)) == 4  # each in a buffer of its own
    live = {b.id: b for b in program.buffers}
    for port in program.outputs:  # outputs stay in the arena until the end
        assert live[port.operand].last_step == len(program.steps) - 1


def test_c_engine_api_has_one_pointer_per_tensor(case):
    header = (case["folder"] / "fusion_engine.h").read_text()
    ctype = {"float32": "float", "int8": "int8_t", "int16x8": "float"}[case["quantization"]]
    assert (f"int fusion_engine_invoke(const {ctype} *imu, const {ctype} *audio, {ctype} *kind, {ctype} *level);"
            in header)
    for name, size in (("IMU", 6), ("AUDIO", 12), ("KIND", 3), ("LEVEL", 1)):
        assert f"#define FUSION_ENGINE_{name}_SIZE {size}" in header


def test_c_engine_self_test_passes_on_host(case, cmsis_host):
    from helpers.targets.program import compile_source, link_with_library

    folder = case["folder"]
    for compiler in (["gcc", "-std=c99"], ["g++", "-x", "c++"]):
        for source in ("fusion_engine.c", "fusion_engine_selftest.c", "fusion_model_data.c"):
            result = subprocess.run([*compiler, *STRICT, f"-I{folder}", f"-I{CMSIS_INCLUDE}", "-c",
                                     str(folder / source), "-o", str(folder / "strict.o")],
                                    capture_output=True, text=True)
            assert result.returncode == 0, f"{compiler[0]} {source}: {result.stderr[:1500]}"
    objects = [compile_source(cmsis_host, folder / name, folder / f"{Path(name).stem}.o", [f"-I{folder}"])
               for name in ("fusion_engine.c", "fusion_engine_selftest.c", "fusion_model_data.c")]
    link_with_library(cmsis_host, objects, folder / "selftest", folder / "selftest.map")
    run = subprocess.run([str(folder / "selftest")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-1500:]
    assert f"PASS: {len(case['rows'])} of {len(case['rows'])} vectors match" in run.stdout
    assert re.search(r"^accuracy kind: \d+ of \d+ correct$", run.stdout, re.M)
    assert re.search(r"^mae level: [0-9.]+ over \d+ vectors$", run.stdout, re.M)
    from helpers.targets.runner import ProgramRun
    from helpers.targets.selftest import parse_run

    parsed = parse_run(ProgramRun(returncode=0, output=run.stdout, timed_out=False), {"target": "host",
                                                                                       "kernels": "cmsis_nn",
                                                                                       "machine": "native"})
    assert parsed.passed and set(parsed.metrics) == {"kind.accuracy", "level.mae"}


def test_micropython_engine_is_identical_to_tflm(case):
    command = find_micropython()
    if command is None:
        pytest.skip("no MicroPython unix port")
    folder = case["folder"]
    with open(folder / "rows.jsonl", "w") as handle:
        for row in case["rows"]:
            handle.write(json.dumps([part.reshape(-1).tolist() for part in row]) + "\n")
    (folder / "driver.py").write_text(_DRIVER)
    run = subprocess.run([command, "-X", "heapsize=16M", "driver.py"], cwd=folder, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    lines = run.stdout.splitlines()
    assert lines[-1] == "self_test True"
    integer = case["program"].outputs[0].dtype in ("int8", "int16")
    rows = len(case["rows"])
    for number, line in enumerate(lines[:-1]):
        path, used, values = line.split(" ", 2)
        assert used in (path, "plain")  # a float32 engine has no integer hot loops: plain code
        assert _same(json.loads(values), case["expected"][number % rows], integer), f"{path} row {number % rows}"
    assert len(lines) == 2 * rows + 1


def test_the_bytes_module_and_the_engine_read_as_python(case):
    folder = case["folder"]
    namespace: dict = {}
    exec(compile((folder / "fusion_model.py").read_text(), "fusion_model.py", "exec"), namespace)
    assert namespace["INPUT_NAMES"] == ("imu", "audio") and namespace["OUTPUT_NAMES"] == ("kind", "level")
    assert namespace["OUTPUT_TASKS"] == ("classification", "regression")
    assert namespace["CLASSES"] == (("rest", "walk", "run"), ())
    raws = ([0.5] * 6, [0.0, 1.0, -1.0] * 4)
    assert all(v == 0.0 for v in namespace["normalise"](raws[1], 1))
    quantized = namespace["quantize_inputs"](raws)
    assert [len(q) for q in quantized] == [6, 12]
    assert namespace["self_test"](lambda inputs: [list(v) for v in namespace["TEST_VECTORS"][0][1]]) in (True, False)


def test_the_pipelines_micropython_check_splits_rows_and_scores_each_output(case, tmp_path):
    """helpers/micropython/runtime.py as the pipeline calls it: a row is every input's values one
    after the other, TFLM's outputs and the labels every output's, one after the other."""
    from helpers.micropython.runtime import EngineInputs, run_engine

    if find_micropython() is None:
        pytest.skip("no MicroPython unix port")
    rows = np.stack([np.concatenate([part.reshape(-1).astype(np.float64) for part in row]) for row in case["rows"]])
    expected = np.stack([np.concatenate([part.astype(np.float64) for part in outs]) for outs in case["expected"]])
    labels = np.asarray([[float(np.argmax(outs[0])), 1.0] for outs in case["expected"]])
    integer = case["program"].outputs[0].dtype in ("int8", "int16")
    result = run_engine(case["folder"] / "fusion_infer.py", EngineInputs(rows, expected, labels, "classification"),
                        integer_output=integer, timed_rows=2, budget_seconds=20.0)
    assert result.status.value == "pass", result.reason
    assert result.rows == len(rows) and result.mismatched_rows == 0
    assert set(result.metrics) == {"kind.accuracy", "level.mae"} and result.metrics["kind.accuracy"] == 1.0


def test_exported_specs_hold_every_tensors_quantization(case):
    exported = json.loads((case["folder"] / "specs.json").read_text())
    info = case["info"]
    assert [b["name"] for b in exported["inputs"]] == ["imu", "audio"]
    for block, tensor in zip(exported["inputs"] + exported["outputs"], info.input_tensors + info.output_tensors):
        assert (block["dtype"], block["scale"], block["zero_point"]) == (tensor.dtype, tensor.scale, tensor.zero_point)
    assert [t["shape"] for t in exported["input_tensors"]] == [[1, 6], [1, 4, 3]]
    assert len(exported["output_tensors"]) == 2 and "input_tensor" not in exported


def test_targets_md_gives_each_outputs_metric(case):
    from helpers.core.checks import Status, TargetResult
    from helpers.render.firmware_files import render_targets_md

    result = TargetResult(status=Status.PASS, target="host", kernels="reference", machine="native", vectors=8,
                          vectors_matching=8, metrics={"kind.accuracy": 0.875, "level.mae": 0.25})
    text = render_targets_md(case["context"], (result,), "0123456789abcdef").text
    assert "| host | reference | PASS | kind 87.50%, level 0.25 |" in text


def test_a_target_that_fails_is_named_in_targets_md_and_the_report(case):
    """A self-test that passes on the host and fails on a target: TARGETS.md says where not to flash
    it, with TFLM's message, and the report's firmware block is not runnable. (The digits CNN's
    int16x8 on CMSIS-NN once showed this, end to end; int16_per_channel_fc_as_conv made it pass,
    so the failure is constructed here, with the message TFLM printed then.)"""
    from helpers.core.checks import Status, TargetResult
    from helpers.core.flatbuffer import inspect_tflite
    from helpers.core.quantization import Quantization
    from helpers.core.variant import TfliteModel, converted_plan
    from helpers.measure.variant import Measurement, TflmVerdict
    from helpers.pipeline.rows import firmware_result
    from helpers.render.firmware_files import render_targets_md
    from tests.multiio_case import model_bytes

    message = "cmsis_nn/fully_connected.cc:116 !data->reference_op_data.is_per_channel || ... was not true."
    results = (TargetResult(status=Status.PASS, target="host", kernels="reference", vectors=8, vectors_matching=8),
               TargetResult(status=Status.FAIL, target="cortex-m4", kernels="cmsis_nn", message=message))
    text = render_targets_md(case["context"], results, "0123456789abcdef").text
    assert "| cortex-m4 | cmsis_nn | FAIL |" in text and "| host | reference | PASS |" in text
    assert "**Does not run on:** cortex-m4. Do not flash it there." in text
    assert f"- cortex-m4 (fail): {message}" in text
    content = model_bytes(case["quantization"])
    tflite = TfliteModel(plan=converted_plan(Quantization.INT8), content=content, info=inspect_tflite(content))
    measurement = Measurement(metrics={}, evaluation="LiteRT", outputs=None, tflm=TflmVerdict(runnable=True))
    firmware = firmware_result(tflite, measurement, None, results)
    assert firmware.tflm_runnable is False and firmware.tflm_reason == f"fails on cortex-m4 (cmsis_nn): {message}"


def test_tensor_names_are_distinct_identifiers_and_engine_parameters_never_collide():
    from helpers.emit.ports import engine_parameters, tensor_names

    names = tensor_names(["x", "int", "X"], 4, "input")
    assert names[0] == "x" and names[3] == "input3" and len(set(names)) == 4
    assert all(n.isidentifier() and n == n.lower() and n != "int" for n in names)
    inputs, outputs = engine_parameters(["x", "memcpy", "mcu_a"], ["x", "y"])
    assert inputs == ["x_in", "memcpy_tensor", "mcu_a_tensor"] and outputs == ["x_out", "y"]
