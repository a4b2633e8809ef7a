"""Several inputs and outputs (issue 35, item 3), without TensorFlow: specs.json's `inputs` and
`outputs`, the CSV's column order, packed rows, each output's metric and each output's guard."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.core.dataset import load_dataset, split_dataset
from helpers.core.packing import cut, pack, split_features, split_labels
from helpers.core.specs import Task, parse_specs
from helpers.errors import DatasetError, SpecsError
from helpers.measure.metrics import compute_metrics, guarded_metrics, higher_is_better, primary_metric
from helpers.measure.tolerance import judge, tolerance_for

TWO_HEADS = {"name": "two_heads",
             "inputs": [{"name": "accel", "shape": [2, 2], "mean": 1.0, "std": 2.0},
                        {"name": "gyro", "shape": [3], "mean": [0.0, 1.0, 2.0], "std": [1.0, 1.0, 4.0]}],
             "outputs": [{"name": "activity", "shape": [3], "task": "classification", "classes": ["a", "b", "c"]},
                         {"name": "speed", "shape": [2], "task": "regression", "mean": 10.0, "std": 5.0}]}


def _specs(raw: dict, path: Path = Path("specs.json")):
    return parse_specs(raw, path, "model")


def test_inputs_and_outputs_lists_parse_in_order_with_each_outputs_task() -> None:
    specs = _specs(TWO_HEADS)
    assert [t.name for t in specs.inputs] == ["accel", "gyro"]
    assert [(t.name, t.task) for t in specs.outputs] == [("activity", Task.CLASSIFICATION), ("speed", Task.REGRESSION)]
    assert specs.multi_input and specs.multi_output and specs.multi_io
    assert specs.input is specs.inputs[0] and specs.output is specs.outputs[0] and specs.task is Task.CLASSIFICATION
    assert [o.label_columns for o in specs.outputs] == [1, 2]


def test_the_single_form_still_parses_as_one_input_and_one_output() -> None:
    specs = _specs({"task": "regression", "input": {"shape": [4]}, "output": {"shape": [1]}})
    assert len(specs.inputs) == 1 and len(specs.outputs) == 1 and not specs.multi_io
    assert specs.outputs[0].task is Task.REGRESSION


@pytest.mark.parametrize("change, words", [
    (lambda r: r.update(input={"shape": [3]}), "both `input` and `inputs`"),
    (lambda r: r["outputs"][1].pop("task"), "`outputs[1]` has no task"),
    (lambda r: r["inputs"][1].update(name="accel"), "`inputs` has duplicate names"),
    (lambda r: r["inputs"][0].update(name="2 words"), "`inputs[0].name` must be a name"),
    (lambda r: r.update(outputs=[]), "`outputs` must be a non-empty list"),
    (lambda r: r["outputs"].__setitem__(0, 3), "`outputs[0]` must be an object"),
    (lambda r: r["outputs"][0].update(shape=[4]), "`outputs[0].shape` [4] does not fit 3 classes"),
])
def test_bad_lists_get_one_line_naming_the_field(change, words) -> None:
    raw = json.loads(json.dumps(TWO_HEADS))
    change(raw)
    with pytest.raises(SpecsError) as error:
        _specs(raw)
    assert words in str(error.value) and "\n" not in str(error.value)


def _csv(folder: Path, rows: int = 24) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a0,a1,a2,a3,g0,g1,g2,activity,speed0,speed1"]
    for i in range(rows):
        values = rng.integers(0, 9, 7)
        lines.append(",".join(map(str, values)) + f",{'abc'[i % 3]},{i},{2 * i}")
    path = folder / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_csv_maps_columns_to_inputs_then_outputs_and_rows_stay_packed(tmp_path) -> None:
    specs = _specs(TWO_HEADS)
    path = _csv(tmp_path)
    data = load_dataset(path, specs)
    raw = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(7), dtype=np.float32)
    assert data.x.shape == (24, 7) and data.y.shape == (24, 3)
    accel, gyro = split_features(data.x, specs.inputs)
    assert accel.shape == (24, 2, 2) and gyro.shape == (24, 3)
    np.testing.assert_allclose(accel.reshape(24, 4), (raw[:, :4] - 1.0) / 2.0)        # its own normalisation
    np.testing.assert_allclose(gyro, (raw[:, 4:] - [0.0, 1.0, 2.0]) / [1.0, 1.0, 4.0])
    activity, speed = split_labels(data.y, specs.outputs)
    assert activity.tolist() == [i % 3 for i in range(24)]                          # class names -> indices
    assert speed.tolist() == [[float(i), 2.0 * i] for i in range(24)]                # output units, as given
    split = split_dataset(data)                                                      # packed rows split as one array
    assert split.evaluation.x.shape[1] == 7 and split.evaluation.y.shape[1] == 3


def test_a_csv_with_the_wrong_column_count_names_the_inputs_shapes(tmp_path) -> None:
    specs = _specs(TWO_HEADS)
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n" + "1,2,3\n" * 30)
    with pytest.raises(DatasetError, match=r"the inputs' shapes \[2, 2\] \+ \[3\] need 7"):
        load_dataset(path, specs)


def test_pack_and_cut_are_inverse_and_mixed_dtypes_pack_exactly() -> None:
    a = np.arange(12, dtype=np.int8).reshape(3, 2, 2)
    b = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    packed = pack([a, b])
    assert packed.dtype == np.float64 and packed.shape == (3, 6)
    back = cut(packed, [(2, 2), (2,)])
    assert np.array_equal(back[0], a) and np.array_equal(back[1].astype(np.float32), b)
    assert pack([a, a]).dtype == np.int8
    with pytest.raises(ValueError):
        cut(packed, [(2, 2)])


def test_each_output_gets_its_own_metrics_and_the_first_is_primary() -> None:
    specs = _specs(TWO_HEADS)
    labels = np.array([[0, 10.0, 20.0], [2, 15.0, 5.0]])
    outputs = np.array([[0.9, 0.05, 0.05, 0.0, 2.0], [0.6, 0.3, 0.1, 1.0, -1.0]], dtype=np.float32)
    metrics = compute_metrics(outputs, labels, specs)
    assert metrics["activity.accuracy"] == 0.5
    # speed in output units: y * 5 + 10 -> [10, 20] and [15, 5]: exact on every value
    assert metrics["speed.mae"] == 0.0 and metrics["speed.rmse"] == 0.0
    assert primary_metric(specs) == "activity.accuracy"
    assert guarded_metrics(specs) == ("activity.accuracy", "speed.mae")
    assert higher_is_better("activity.accuracy") and not higher_is_better("speed.mae")


def test_the_guard_judges_every_output_in_its_own_unit() -> None:
    from helpers.core.results import VariantReport

    def row(name: str, accuracy: float, mae: float) -> VariantReport:
        return VariantReport(name=name, path=None, format="tflite", quantization="int8", pruned=False, qat=False,
                             metrics={"activity.accuracy": accuracy, "speed.mae": mae}, size_bytes=1)

    specs = _specs(TWO_HEADS)
    limit = tolerance_for(primary_metric(specs), None, guarded_metrics(specs)[1:])
    reference = row("keras", 0.90, 1.00)
    fine, worse_head = row("a", 0.89, 1.04), row("b", 0.90, 1.20)   # 1 point, +4%; 0 points, +20% MAE
    judged = judge([reference, fine, worse_head], limit)
    assert [v.within_tolerance for v in judged[1:]] == [True, False]
    assert limit.describe(limit.drop(fine, reference)) == "-1.0 activity.accuracy points"
    strict = tolerance_for(primary_metric(specs), 0.5, guarded_metrics(specs)[1:])  # --max_drop applies to each
    assert [v.within_tolerance for v in judge([reference, fine, worse_head], strict)[1:]] == [False, False]
