"""The TFLM self-test (main.cc) of the multi-input, multi-output model (tests/golden/multiio) built
against TFLM's library and run on this machine: it sets every input tensor, compares every output
with TFLM's host interpreter and computes each output's metric, and its outputs are byte for byte
the C engine's (tests/unit/test_multi_io_engines.py proves the engines)."""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import TFLM_DIR, require_tool
from tests.multiio_case import QUANTIZATIONS, render_case

pytestmark = pytest.mark.xdist_group("targets")  # the session's TFLM library, on one worker


@pytest.fixture(scope="module")
def host_library():
    require_tool("tflm")
    require_tool("cc")
    from helpers.targets.library import open_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    return open_library(find_tree(TFLM_DIR), TARGETS["host"])


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_tflm_self_test_passes_on_host_as_the_c_engine(quantization, host_library, tmp_path):
    """main.cc sets every input tensor, compares every output and computes each one's metric."""
    from helpers.targets.engine_test import cmsis_library, compile_engine_test
    from helpers.targets.selftest import run_self_test

    case = render_case(quantization, tmp_path)
    result = run_self_test(host_library, tmp_path, "fusion", tmp_path / "tflm_build", 100.0, None)
    assert result.passed, result.message
    assert result.vectors == len(case["rows"]) and set(result.metrics) == {"kind.accuracy", "level.mae"}
    engine = compile_engine_test(cmsis_library(host_library), tmp_path, "fusion", tmp_path / "engine_build").link()
    printed = subprocess.run([str(engine.path)], capture_output=True, text=True).stdout
    assert "PASS:" in printed and f"outputs digest: {result.outputs_digest} over" in printed
