"""Malformed input never crashes (issue 38): 500 seeded mutations of a .tflite, an .h5, a
SavedModel's saved_model.pb, an .onnx, specs.json and the CSV (a million rows among them), each
checked by the tool's own loading and validation functions in a worker process, and a few whole
`main.py` runs. Every case runs or ends in one line (exit 2): no traceback, no hang past the bound,
no native crash, nothing written into the model directory, the previous export intact.
bench/fuzz.py runs the same harness on 10,000 cases (BENCHMARKS.md has its counts)."""
from __future__ import annotations

import pytest

from tests.fuzz_inputs import build_bases
from tests.fuzz_run import as_json, run_in_process, run_main_case

# cases per kind: 500 in all; the model files get more, their loaders are native code
IN_PROCESS = {"tflite": 120, "h5": 80, "saved_model": 50, "onnx": 70, "specs": 90, "csv": 90}
# cases that once crashed (a RecursionError on deep specs, a 400-digit integer in the CSV), kept
FOUND = {"specs": [8, 10, 19], "csv": [1301]}
# whole runs (about 15 to 45 s each): .tflite 1 passes the flatbuffer reader and LiteRT's verifier
# refuses it (a traceback before), .tflite 3, .h5 1 and saved_model 0 are mutations that still run,
# onnx 0 runs too (onnx2tf wrote its input back into the model directory before)
MAIN_RUNS = [("tflite", 1), ("tflite", 3), ("h5", 1), ("saved_model", 0), ("onnx", 0), ("specs", 3), ("csv", 1)]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return build_bases(tmp_path_factory.mktemp("fuzz-bases"))


@pytest.mark.parametrize("kind", sorted(IN_PROCESS))
def test_mutated_inputs_run_or_end_in_one_line(kind, bases, tmp_path):
    seeds = list(range(IN_PROCESS[kind])) + FOUND.get(kind, [])
    tally = run_in_process([(kind, seed) for seed in seeds], bases, tmp_path, timeout_s=180)
    assert len(tally.outcomes) == len(seeds)
    assert tally.crashes == [], as_json(tally)
    assert tally.count("error") > 0  # the mutations do reach the checks


@pytest.mark.parametrize(("kind", "seed"), MAIN_RUNS, ids=[f"{k}-{s}" for k, s in MAIN_RUNS])
def test_a_whole_run_on_a_mutated_input_runs_or_ends_in_one_line(kind, seed, bases, tmp_path):
    outcome = run_main_case(kind, seed, bases, tmp_path, timeout_s=600)
    assert outcome.result in ("runs", "error"), outcome.detail
