"""--profile on the shipped digits CNN (int8, and the float32 baseline the run builds with it) on the
Cortex-M4 and the Cortex-M0+: every op of the model has a row on each target, TFLM's rows and the
C engine's line up by op, the rows sum to the whole inference within the profiling's own cost, and
report.md and the plots show it. One export for the module: the second builds cost a minute a
variant."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.lowering.graph import read_graph
from tests.conftest import ROOT, TFLM_DIR, require_tool, run_main

pytestmark = pytest.mark.xdist_group("targets")
TARGETS = ("cortex-m4", "cortex-m0plus")
# What the rows leave out or add, against the ordinary self-test's whole inference: TFLM's
# interpreter loop between ops and the timer reads around each op (tens of instructions an op),
# each row within one tick of the timer. Measured on the digits CNN: at most 80 instructions.
SLACK_PER_OP = 120


@pytest.fixture(scope="session")
def profiled_export(tmp_path_factory) -> Path:
    for tool in ("tflm", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    export = tmp_path_factory.mktemp("profile") / "export"
    done = run_main("--input_dir", str(ROOT / "models" / "digits_cnn"), "--PTQ", "-q", "int8", "-e",
                    "--export_dir", str(export), "--tflm_dir", str(TFLM_DIR), "--target", ",".join(TARGETS),
                    "--profile", "--plot_results", timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return export


def test_profile_lines_up_tflm_and_the_engine_per_layer(profiled_export):
    report = json.loads((profiled_export / "report.json").read_text())
    markdown = (profiled_export / "report.md").read_text()
    assert "## Per-layer profile (--profile)" in markdown
    variants = {v["name"]: v for v in report["variants"] if v["format"] == "tflite"}
    assert set(variants) == {"float32", "int8"}
    for name, variant in variants.items():
        ops = [op.name for op in read_graph((profiled_export / name / "model.tflite").read_bytes()).ops]
        firmware = variant["firmware"]
        assert set(firmware["profile"]) == set(TARGETS)
        for target in TARGETS:
            profile = firmware["profile"][target]
            rows = profile["layers"]
            # every op of the model has a row, in graph order, named as TFLM's profiler named it
            assert [row["op"] for row in rows] == ops and [row["position"] for row in rows] == list(range(len(ops)))
            assert profile["tflm_note"] is None and profile["engine_note"] is None
            for row in rows:
                assert row["tflm_instructions"] > 0, row   # TFLM runs every op, RESHAPE too
                # the engine: a kernel call per op, except the RESHAPE it aliases to its input's buffer
                if row["op"] == "RESHAPE":
                    assert row["engine_steps"] == 0 and row["engine_instructions"] == 0
                else:
                    assert row["engine_steps"] == 1 and row["engine_instructions"] > 0, row
            # sums agree with the ordinary self-test's whole inference (report.json's figure)
            tflm_total = firmware["targets"][target]["instructions_per_inference"]
            engine_total = firmware["c_engine"]["targets"][target]["instructions_per_inference"]
            assert profile["tflm_inference"] == tflm_total and profile["engine_inference"] == engine_total
            assert profile["tflm_sum"] == sum(row["tflm_instructions"] for row in rows)
            assert abs(profile["tflm_sum"] - tflm_total) <= SLACK_PER_OP * len(ops), profile
            assert abs(profile["engine_sum"] - engine_total) <= SLACK_PER_OP * len(ops), profile
            # and the profiling build's own whole inference holds its rows
            assert profile["tflm_sum"] <= profile["tflm_profiled"] and profile["engine_sum"] <= profile["engine_profiled"]
            heading = f"### `{name}` on {target}"
            assert heading in markdown
            table = markdown.split(heading, 1)[1].split("###", 1)[0]
            assert all(f"| {i} | {op} |" in table for i, op in enumerate(ops))
            assert f"| | sum of the ops | {profile['tflm_sum']:,} |" in table
            plot = profiled_export / "plots" / f"profile_{name}_{target}.png"
            assert plot.stat().st_size > 5000
    # the exported engine carries the hook, empty unless a build asks for it
    engine = (profiled_export / "int8" / "digits_cnn_engine.c").read_text()
    assert "#define MCU_ENGINE_PROFILE_STEP(i) ((void)0)" in engine
    calls = sum(row["engine_steps"] for row in variants["int8"]["firmware"]["profile"]["cortex-m4"]["layers"])
    assert engine.count("\n  MCU_ENGINE_PROFILE_STEP(") == calls + 1   # before each call, and after the last
