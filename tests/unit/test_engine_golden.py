"""The MicroPython engines are byte-identical to those written before the lowering became a typed
program: tests/golden/engines/<model>__<variant>/ holds the variant's .tflite, the template
context it was rendered with and the engine module the earlier code wrote, for every engine of the
shipped examples and the zoo (`-q all -e`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.emit.micropython import render_infer_py
from helpers.lowering.graph import read_graph
from helpers.lowering.lower import lower

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "engines"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def test_the_goldens_cover_the_shipped_examples_and_the_zoo():
    models = {case.split("__")[0] for case in CASES}
    assert {"digits_cnn", "co2_lstm", "zoo_lstm", "zoo_gru", "zoo_cnn_bn", "zoo_simple_rnn"} <= models
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_engine_module_is_byte_identical(case):
    folder = GOLDEN / case
    context = json.loads((folder / "context.json").read_text())
    expected = next(folder.glob("*_infer.py"))
    program = lower(read_graph((folder / "model.tflite").read_bytes()))
    rendered = render_infer_py(program, context)
    assert rendered.filename == expected.name
    assert rendered.text == expected.read_text(), f"{case}: the engine module changed"
