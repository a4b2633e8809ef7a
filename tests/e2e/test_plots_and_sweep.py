"""Plots, the quantization debugger, --keep_float and the sweep spreadsheet."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.core.flatbuffer import float_compute_ops
from helpers.render.plots import pareto_front
from helpers.sweep.engine import Task, run_tasks
from helpers.sweep.grid import Combination
from helpers.sweep.spreadsheet import write_tables
from helpers.sweep.store import ResultStore, task_key
from tests.conftest import run_main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_ok(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and 5_000 < len(data) < 2_000_000


@pytest.fixture(scope="module")
def plotted_iris(iris_dir, tmp_path_factory):
    export = tmp_path_factory.mktemp("plots") / "out"
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "all", "-e", "--plot_results",
                      "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    return export


def test_every_plot_is_a_valid_png_of_sensible_size(plotted_iris):
    names = {p.name for p in (plotted_iris / "plots").iterdir()}
    assert names == {"metric_per_variant.png", "size_vs_metric.png", "confusion_matrix.png",
                     "firmware_per_variant.png"}
    for path in (plotted_iris / "plots").iterdir():
        assert _png_ok(path), path
    report_md = (plotted_iris / "report.md").read_text()
    assert "![plots/metric_per_variant.png](plots/metric_per_variant.png)" in report_md


def test_regression_plots(diabetes_dir, tmp_path):
    result = run_main("--input_dir", str(diabetes_dir), "--PTQ", "-q", "int8", "--plot_results",
                      "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    for name in ("predicted_vs_true.png", "error_distribution.png", "size_vs_metric.png"):
        assert _png_ok(tmp_path / "o" / "plots" / name), name


def test_layer_errors_has_one_row_per_quantized_layer(plotted_iris):
    for variant in ("int8", "integer_with_float_fallback"):
        table = pd.read_csv(plotted_iris / variant / "layer_errors.csv")
        assert {"op_name", "tensor_name", "rmse/scale", "scale"} <= set(table.columns)
        assert (table["op_name"] == "FULLY_CONNECTED").sum() == 2  # Dense(16), Dense(3)
        assert _png_ok(plotted_iris / variant / "layer_errors.png")
    assert not (plotted_iris / "int16x8" / "layer_errors.csv").exists()  # the debugger cannot run on 16x8


def test_keep_float_named_layer_stays_float_in_the_flatbuffer(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "--keep_float", "dense",
                      "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    selective = report["variants"][-1]
    assert selective["name"] == "int8_keep_float" and "accuracy" in selective["metrics"]
    assert selective["optimization"]["kept_in_float"]
    content = (tmp_path / "o" / "int8_keep_float" / "model.tflite").read_bytes()
    assert "FULLY_CONNECTED" in float_compute_ops(content)
    assert float_compute_ops((tmp_path / "o" / "int8" / "model.tflite").read_bytes()) == ()


def test_keep_float_unknown_layer_is_a_clear_error(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "--keep_float", "nosuchlayer",
                      "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "no quantized op belongs to layer 'nosuchlayer'" in result.stderr


def test_pareto_front():
    points = [(10, 0.9), (5, 0.9), (20, 0.95), (6, 0.8), (5, 0.85)]
    assert pareto_front(points, higher_better=True) == [1, 2]
    assert pareto_front([(1, 0.5), (2, 0.4)], higher_better=False) == [0, 1]


def test_two_combination_sweep_writes_an_ods_that_matches_the_csv(iris_dir, tmp_path):
    combinations = [Combination("PTQ", "int8", None, None), Combination("PTQ", "int8", 0.5, None)]
    tasks = [Task("iris", str(iris_dir), c, task_key(iris_dir, c, ())) for c in combinations]
    table = pd.DataFrame(run_tasks(tasks, ResultStore(tmp_path / "results"), jobs=2, scheduler=None))
    ods, csv = write_tables(table, tmp_path)
    from_ods = pd.read_excel(ods, engine="odf", sheet_name="iris")
    from_csv = pd.read_csv(csv)
    from_csv = from_csv.drop(columns=["model"])
    assert len(from_ods) == len(from_csv) == 2
    assert list(from_ods.columns) == list(from_csv.columns)
    pd.testing.assert_frame_equal(from_ods, from_csv, check_dtype=False)
    assert from_csv.loc[1, "variant"] == "pruned_int8"
    assert abs(from_csv.loc[1, "sparsity"] - 0.5) <= 0.02
    assert from_csv["accuracy"].notna().all() and (from_csv["seconds"] > 0).all()


def test_a_failing_combination_is_a_row_not_the_end(iris_dir, tmp_path):
    combinations = [Combination("PTQ", "int9", None, None), Combination("PTQ", "float16", None, None)]
    tasks = [Task("iris", str(iris_dir), c, task_key(iris_dir, c, ())) for c in combinations]
    table = pd.DataFrame(run_tasks(tasks, ResultStore(tmp_path / "results"), jobs=1, scheduler=None))
    assert "did you mean" in table.loc[0, "error"]
    assert table.loc[1, "variant"] == "float16"


@pytest.fixture(scope="module")
def cancelling_dir(tmp_path_factory):
    """A regression model whose last layer sums nearly cancelling activations: its int8 error is far
    above the debugger's RMSE/scale threshold (1.1 steps), so --keep_float auto has a layer to keep."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_diabetes

    from helpers.frontend.tf_runtime import seed_everything, tf_keras
    from tests.conftest import write_model_dir

    seed_everything()
    data = load_diabetes()
    x = (data.data / 0.05).astype(np.float32)
    spread = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    # named layers: Keras' automatic names count up per process and would rename the other fixtures' layers
    model = tf_keras.Sequential([tf_keras.layers.Input((10,)), tf_keras.layers.Dense(16, use_bias=False, name="spread"),
                                 tf_keras.layers.Dense(1, use_bias=False, name="cancel")], name="cancelling")
    model.layers[0].set_weights([np.concatenate([spread, -0.98 * spread], axis=1)])
    model.layers[1].set_weights([np.ones((16, 1), np.float32)])
    frame = pd.DataFrame(data.data.astype(np.float32), columns=data.feature_names)
    frame["target"] = model.predict(x, verbose=0)[:, 0]
    specs = {"name": "cancel", "task": "regression", "input": {"shape": [10], "std": 0.05}, "output": {"shape": [1]}}
    return write_model_dir(tmp_path_factory.mktemp("models") / "cancel", model, specs, frame)


def test_keep_float_auto_keeps_the_bases_calibration_and_int8_io(cancelling_dir, tmp_path):
    from helpers.core.flatbuffer import inspect_tflite

    # --no_recovery: the twin is what this test is about (recovery could bring int8 itself back)
    result = run_main("--input_dir", str(cancelling_dir), "--PTQ", "-q", "int8", "--keep_float", "auto",
                      "--export_dir", str(tmp_path / "o"), "--no_recovery")
    # int8 is built to lose: the guard flags it (exit 3) and the export is still written
    assert result.returncode == 3 and "outside the accuracy tolerance" in result.stderr, result.stderr
    variants = {v["name"]: v for v in json.loads((tmp_path / "o" / "report.json").read_text())["variants"]}
    twin = variants["int8_keep_float"]
    assert twin["quantization"] == "int8" and twin["optimization"]["kept_in_float"]
    base = inspect_tflite((tmp_path / "o" / "int8" / "model.tflite").read_bytes())
    kept = inspect_tflite((tmp_path / "o" / "int8_keep_float" / "model.tflite").read_bytes())
    assert (kept.input.dtype, kept.output.dtype) == ("int8", "int8")  # the base's I/O types
    assert (kept.input.scale, kept.input.zero_point) == (base.input.scale, base.input.zero_point)  # its calibration
    assert (kept.output.scale, kept.output.zero_point) == (base.output.scale, base.output.zero_point)
    assert "FULLY_CONNECTED" in float_compute_ops((tmp_path / "o" / "int8_keep_float" / "model.tflite").read_bytes())


def test_keep_float_auto_says_when_no_layer_needs_it(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "--keep_float", "auto",
                      "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "no selective variant needed" in result.stderr
    assert not (tmp_path / "o" / "int8_keep_float").exists()
