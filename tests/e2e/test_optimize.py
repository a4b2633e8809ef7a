"""Pruning, clustering and QAT: measured on the exported TFLite weights."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_main


def _variants(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


def _run(model_dir, export, *flags):
    result = run_main("--input_dir", str(model_dir), "--export_dir", str(export), *flags)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return _variants(export)


@pytest.fixture(scope="module")
def pruned_iris(iris_dir, tmp_path_factory):
    export = tmp_path_factory.mktemp("pruned") / "out"
    return export, _run(iris_dir, export, "--prune", "--sparsity", "0.6", "--prune_epochs", "20", "--PTQ", "-q",
                        "all", "-e")


def test_pruned_tflite_weights_reach_the_requested_sparsity(pruned_iris):
    _, variants = pruned_iris
    for name in ("pruned_float32", "pruned_int8", "pruned_integer_with_float_fallback"):
        assert variants[name]["pruned"] is True
        assert abs(variants[name]["weights"]["sparsity"] - 0.6) <= 0.02, name
        for layer in variants[name]["weights"]["layers"]:
            assert abs(layer["sparsity"] - 0.6) <= 0.02, layer
    assert variants["float32"]["weights"]["sparsity"] < 0.05  # the baseline is not pruned
    assert variants["pruned_float32"]["compressed_size_bytes"] < variants["float32"]["compressed_size_bytes"]


def test_pruning_combines_with_every_ptq_type(pruned_iris):
    _, variants = pruned_iris
    for name in ("dynamic_range", "float16", "integer_with_float_fallback", "int8", "int16x8"):
        assert variants[f"pruned_{name}"]["metrics"]["accuracy"] > 0.8


def test_pruning_is_deterministic(iris_dir, pruned_iris, tmp_path):
    first_export, first = pruned_iris
    second = _run(iris_dir, tmp_path / "again", "--prune", "--sparsity", "0.6", "--prune_epochs", "20", "--PTQ",
                  "-q", "all", "-e")
    for name in first:
        assert first[name]["metrics"] == second[name]["metrics"], name
        assert first[name]["weights"] == second[name]["weights"], name
    assert (first_export / "pruned_int8" / "model.tflite").read_bytes() == \
        (tmp_path / "again" / "pruned_int8" / "model.tflite").read_bytes()


def test_clustering_leaves_at_most_n_unique_values_per_kernel(iris_dir, tmp_path):
    variants = _run(iris_dir, tmp_path / "c", "--cluster", "8", "--PTQ", "-q", "int8")
    layers = variants["clustered_float32"]["weights"]["layers"]
    assert layers and all(layer["unique_values"] <= 8 for layer in layers)
    # int8 weights are quantized per output channel, so each channel keeps at most 8 values
    assert all(layer["max_unique_per_channel"] <= 8 for layer in variants["clustered_int8"]["weights"]["layers"])
    assert variants["clustered_int8"]["metrics"]["accuracy"] > 0.8


def test_qat_int8_is_within_tolerance_of_the_float_model(iris_dir, tmp_path):
    variants = _run(iris_dir, tmp_path / "q", "--QAT", "-q", "int8", "-e")
    qat = variants["qat_int8"]
    assert qat["qat"] is True and qat["input_dtype"] == "int8"
    # tolerance: 5 accuracy points of the Keras reference on the evaluation rows
    assert qat["metrics"]["accuracy"] >= variants["keras"]["metrics"]["accuracy"] - 0.05
    assert qat["optimization"]["float_layers"] == []


def test_keras3_model_goes_through_prune_and_ptq(iris_keras3_dir, tmp_path):
    variants = _run(iris_keras3_dir, tmp_path / "k3", "--prune", "--PTQ", "-e")
    assert abs(variants["pruned_integer_with_float_fallback"]["weights"]["sparsity"] - 0.5) <= 0.02
    assert variants["keras"]["metrics"]["accuracy"] > 0.8
    # the Keras 3 model itself converts too, with the Keras model's answers (variables frozen)
    assert variants["float32"]["metrics"]["accuracy"] == pytest.approx(variants["keras"]["metrics"]["accuracy"])
    assert (tmp_path / "k3" / "pruned_integer_with_float_fallback" / "specs.json").is_file()


def test_lstm_goes_through_qat_with_the_lstm_left_in_float(tmp_path):
    # the shipped LSTM's int8 adds 6.6% MAE (0.024 ppm), which the default 5% guard flags (exit 3)
    variants = _run(ROOT / "models" / "co2_lstm", tmp_path / "lstm", "--QAT", "--max_drop", "10")
    assert variants["qat"]["optimization"]["float_layers"] == ["lstm"]
    assert variants["qat"]["optimization"]["qat_layers"]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in variants["qat"]["ops"]


def test_xnnpack_policy_on_a_model_it_does_not_fit_is_a_clear_error(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--export_dir", str(tmp_path / "x"), "--prune",
                      "--prune_policy", "xnnpack")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot prune this model")
    assert "Traceback" not in result.stderr and "converting" not in result.stderr  # fails before any conversion
